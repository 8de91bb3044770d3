// Package admin owns the admin plane: the pure schema diff between two sets
// of tables (Diff), the infrastructure map, and the /admin/* handlers that
// show and apply plans. Plan and apply share one function with execution
// switched off for plan, so the plan cannot drift from what apply does.
//
// admin imports olap (Migrator only), project, httpx and config; never
// auth, ingest, api or server. Authentication has already run.
package admin
