package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moose-go/moose/internal/config"
)

// adminClient calls a running server's /admin routes with a plain token.
type adminClient struct {
	base  string // e.g. http://localhost:4000 (with path_prefix)
	token string
	hc    *http.Client
}

// adminTimeout bounds one admin request (a variable so tests can shorten it).
var adminTimeout = 60 * time.Second

var hashShape = regexp.MustCompile(`^[0-9a-fA-F]{40}(,[0-9a-fA-F]{40})*$`)

// adminToken applies the seed's precedence: --token, else MOOSE_ADMIN_TOKEN,
// else an error naming both. A PBKDF2 hash is refused with an explanation:
// the server keeps hashes, clients send the plain token.
func adminToken(e *env, flagToken string) (string, error) {
	tok, src := strings.TrimSpace(flagToken), "--token"
	if tok == "" {
		tok, src = strings.TrimSpace(e.getenv("MOOSE_ADMIN_TOKEN")), "MOOSE_ADMIN_TOKEN"
	}
	if tok == "" {
		msg := "no admin token: pass --token <token> or set MOOSE_ADMIN_TOKEN to the plain bearer token (from moose generate hash-token)"
		if cfg, _, err := config.Load(e.dir, config.ModeDev, e.environ); err == nil && !cfg.Authentication.AdminAPIKey.Empty() {
			msg += "; the admin_api_key in moose.config.toml is a hash the server checks against, it cannot be sent as a token"
		}
		return "", errors.New(msg)
	}
	if hashShape.MatchString(tok) {
		return "", fmt.Errorf("the token from %s looks like a PBKDF2 hash (40 hex characters); send the plain Bearer Token that moose generate hash-token printed with it, not the hash", src)
	}
	return tok, nil
}

// defaultURL is the project's server address from [http_server_config],
// else http://localhost:4000.
func defaultURL(e *env) string {
	if _, err := os.Stat(filepath.Join(e.dir, config.FileName)); err == nil {
		if cfg, _, err := config.Load(e.dir, config.ModeDev, e.environ); err == nil {
			host := cfg.HTTPServer.Host
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "localhost"
			}
			return "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.HTTPServer.Port)) + cfg.HTTPServer.PathPrefix
		}
	}
	return "http://localhost:4000"
}

func newAdminClient(e *env, rawURL, flagToken string) (*adminClient, error) {
	if rawURL == "" {
		rawURL = defaultURL(e)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url %q: want http(s)://host:port", rawURL)
	}
	tok, err := adminToken(e, flagToken)
	if err != nil {
		return nil, err
	}
	return &adminClient{base: strings.TrimRight(rawURL, "/"), token: tok, hc: &http.Client{Timeout: adminTimeout}}, nil
}

// call sends body (if not nil) as JSON and decodes a JSON answer into out.
// Every failure is one clear line.
func (c *adminClient) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, fmt.Errorf("moose at %s did not answer in time", c.base)
		}
		return 0, fmt.Errorf("cannot reach moose at %s: %v", c.base, rootCause(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading the answer from %s: %v", c.base, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return resp.StatusCode, errors.New("the server refused the admin token (401): check --token / MOOSE_ADMIN_TOKEN against the server's admin_api_key or MOOSE_ADMIN_TOKEN")
	}
	if !json.Valid(data) {
		return resp.StatusCode, fmt.Errorf("%s%s answered %s with something that is not JSON (is this a moose server?)", c.base, path, resp.Status)
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusConflict {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return resp.StatusCode, fmt.Errorf("the server answered %d: %s", resp.StatusCode, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("unexpected answer from %s%s: %v", c.base, path, err)
		}
	}
	return resp.StatusCode, nil
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
