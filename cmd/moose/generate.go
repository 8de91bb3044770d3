package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/moose-go/moose/internal/auth"
)

func runGenerate(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing what to generate: hash-token or openapi")
	}
	switch args[0] {
	case "hash-token":
		return runHashToken(e, args[1:])
	case "openapi":
		return runGenerateOpenAPI(ctx, e, args[1:])
	}
	return usagef("unknown generator %q: want hash-token or openapi", args[0])
}

func runHashToken(e *env, args []string) error {
	fs := newFlags("generate hash-token", e)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	token, hash, err := auth.GenerateToken()
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]string{"api_key_hash": hash, "bearer_token": token})
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprintf(e.stdout, "ENV API Key %s\nBearer Token %s\n", hash, token)
	return nil
}
