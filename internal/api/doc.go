// Package api owns the analytics (consumption) routes GET /api/<name> and
// GET /consumption/<name>[/<version>]: it validates and converts every
// query-string value in Go (unknown, missing, wrong type, out of range: 400
// naming the parameter), binds claim-bound parameters only from the
// verified JWT, runs the API's SQL through an olap.Reader with typed
// parameters (never by pasting text), and writes a JSON array of row
// objects with faithful JSON types.
//
// api imports olap, project, httpx and config; never auth, ingest, admin or
// server. Authentication has already run: the Principal is in the context.
package api
