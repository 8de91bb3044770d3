package main

import (
	"context"
	"errors"
)

var errNotYet = errors.New("not available in this build yet")

// Placeholders: moose plan, remote plan and apply are being built.

func runPlan(context.Context, *env, []string) error   { return errNotYet }
func runRemote(context.Context, *env, []string) error { return errNotYet }
func runApply(context.Context, *env, []string) error  { return errNotYet }
