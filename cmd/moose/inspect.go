package main

import "context"

// Placeholders: moose ls, peek, query and generate openapi are being built.

func runGenerateOpenAPI(context.Context, *env, []string) error { return errNotYet }
func runLs(context.Context, *env, []string) error              { return errNotYet }
func runPeek(context.Context, *env, []string) error            { return errNotYet }
func runQuery(context.Context, *env, []string) error           { return errNotYet }
