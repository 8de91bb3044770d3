package main

import (
	"context"
	"errors"
)

var errNotYet = errors.New("not available in this build yet")

func runGenerateOpenAPI(context.Context, *env, []string) error { return errNotYet }
func runPlan(context.Context, *env, []string) error            { return errNotYet }
func runRemote(context.Context, *env, []string) error          { return errNotYet }
func runApply(context.Context, *env, []string) error           { return errNotYet }
func runLs(context.Context, *env, []string) error              { return errNotYet }
func runPeek(context.Context, *env, []string) error            { return errNotYet }
func runQuery(context.Context, *env, []string) error           { return errNotYet }
