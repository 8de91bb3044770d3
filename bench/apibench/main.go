// Command apibench prepares and measures the analytics-API benchmark:
//
//	apibench prepare DIR ROWS   load ROWS PageView rows into DIR's embedded engine
//	apibench compare DIR N      serve DIR in this process and run top_pages N times each way,
//	                            alternating: straight on the engine, and GET /api/top_pages; print p50/p99
//	apibench jwt OUTDIR         write an RSA public key (OUTDIR/jwt.pem) and a valid RS256 token (OUTDIR/jwt.token)
//
// bench/api.sh runs it beside the server, so both paths use the same data
// and the same SQL in one run.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/embedded"
	"github.com/moose-go/moose/internal/project"
	"github.com/moose-go/moose/internal/server"
)

// TopPagesSQL is the quickstart's API query.
const TopPagesSQL = `SELECT path, count() AS views FROM PageView
WHERE ts >= {since:DateTime}
GROUP BY path ORDER BY views DESC, path LIMIT {limit:UInt32}`

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: apibench prepare DIR ROWS | compare DIR N | jwt OUTDIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "prepare":
		err = prepare(os.Args[2], atoi(os.Args[3]))
	case "compare":
		err = compare(os.Args[2], atoi(os.Args[3]))
	case "jwt":
		err = mint(os.Args[2])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "apibench: not a number:", s)
		os.Exit(2)
	}
	return n
}

func open(dir string) (*embedded.Store, error) {
	return embedded.Open(context.Background(), embedded.Options{DataDir: filepath.Join(dir, ".moose", "data"),
		Logger: slog.New(slog.DiscardHandler)})
}

func prepare(dir string, rows int) error {
	p, _, err := project.Load(filepath.Join(dir, "app"))
	if err != nil {
		return err
	}
	s, err := open(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	var tables []olap.Change
	for _, t := range p.Tables() {
		tables = append(tables, olap.Change{Kind: olap.CreateTable, Table: t})
	}
	if err := s.Apply(ctx, tables); err != nil {
		return err
	}
	const chunk = 100_000
	for done := 0; done < rows; done += chunk {
		var b []byte
		for i := done; i < min(done+chunk, rows); i++ {
			b = fmt.Appendf(b, `{"id":"b%d","ts":"2024-01-%02d %02d:00:00","path":"/p/%d","user_id":"u%d","duration_ms":%d.5}`+"\n",
				i, 1+i%28, i%24, i%500, i%9973, i%1000)
		}
		if err := s.Insert(ctx, "PageView", b); err != nil {
			return err
		}
	}
	var prof []byte
	for i := 0; i < 10_000; i++ {
		prof = fmt.Appendf(prof, `{"user_id":"u%d","name":"user %d","plan":"p%d"}`+"\n", i, i, i%3)
	}
	if err := s.Insert(ctx, "Profile", prof); err != nil {
		return err
	}
	fmt.Printf("loaded %d rows\n", rows)
	return nil
}

// compare alternates the two paths so machine noise hits both alike.
func compare(dir string, n int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	srv, err := server.New(ctx, server.Options{Dir: dir, Mode: config.ModeDev, Environ: os.Environ(),
		Logger: slog.New(slog.DiscardHandler), Ready: func(main, _ string) { addr <- main }})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	base := "http://" + <-addr
	s, err := open(dir) // shares the server's engine (one per process)
	if err != nil {
		return err
	}
	defer s.Close()
	params := []olap.Param{
		{Name: "since", Type: "DateTime", Value: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Name: "limit", Type: "UInt32", Value: uint64(10)},
	}
	hc := &http.Client{}
	token := os.Getenv("TOKEN")
	var direct, viaServer []time.Duration
	for i := 0; i < n+5; i++ {
		start := time.Now()
		if _, err := s.Query(ctx, TopPagesSQL, params); err != nil {
			return err
		}
		d := time.Since(start)
		start = time.Now()
		req, _ := http.NewRequest("GET", base+"/api/top_pages?limit=10", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET /api/top_pages: %s", resp.Status)
		}
		if i >= 5 { // warm-up
			direct = append(direct, d)
			viaServer = append(viaServer, time.Since(start))
		}
	}
	cancel()
	<-done
	for _, r := range []struct {
		name string
		ds   []time.Duration
	}{{"direct-engine", direct}, {"through-server", viaServer}} {
		slices.Sort(r.ds)
		fmt.Printf("RESULT %s p50_ms=%.2f p99_ms=%.2f n=%d\n", r.name, ms(r.ds[len(r.ds)/2]), ms(r.ds[len(r.ds)*99/100]), len(r.ds))
	}
	slices.Sort(direct)
	slices.Sort(viaServer)
	fmt.Printf("RESULT ratio p50=%.2f p99=%.2f\n", float64(viaServer[len(viaServer)/2])/float64(direct[len(direct)/2]),
		float64(viaServer[len(viaServer)*99/100])/float64(direct[len(direct)*99/100]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mint(out string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "jwt.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		return err
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "https://bench.example/", "aud": "moose-bench", "sub": "u7",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "jwt.token"), []byte(tok), 0o600)
}
