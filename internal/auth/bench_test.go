package auth

import (
	"testing"
	"time"
)

// The benchmarks go through Decide, so cold and warm differ only by the
// cache. Cold runs have the cache disabled.

func BenchmarkAPIKeyVerify(b *testing.B) {
	v := loadVectors(b)
	cfg := testConfig(cfgOpts{ingestKey: v[0].Hash})
	h := "Bearer " + v[0].Token
	b.Run("cold", func(b *testing.B) {
		a := mustNew(b, cfg, WithCacheSize(0))
		b.ReportAllocs()
		for b.Loop() {
			if !a.Decide(Ingest, h).Allow {
				b.Fatal("refused")
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		a := mustNew(b, cfg)
		a.Decide(Ingest, h)
		b.ReportAllocs()
		for b.Loop() {
			if !a.Decide(Ingest, h).Allow {
				b.Fatal("refused")
			}
		}
	})
	b.Run("keyset_only", func(b *testing.B) {
		ks, err := ParseKeySet(v[1].Hash + "," + v[0].Hash)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !ks.Verify(v[0].Token) {
				b.Fatal("refused")
			}
		}
	})
}

func BenchmarkJWTVerify(b *testing.B) {
	cfg := testConfig(cfgOpts{jwt: true, enforceConsumption: true})
	h := "Bearer " + signRS256(b, goodClaims())
	clock := WithClock(func() time.Time { return t0 })
	b.Run("cold", func(b *testing.B) {
		a := mustNew(b, cfg, clock, WithCacheSize(0))
		b.ReportAllocs()
		for b.Loop() {
			if !a.Decide(Consumption, h).Allow {
				b.Fatal("refused")
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		a := mustNew(b, cfg, clock)
		a.Decide(Consumption, h)
		b.ReportAllocs()
		for b.Loop() {
			if !a.Decide(Consumption, h).Allow {
				b.Fatal("refused")
			}
		}
	})
}

func BenchmarkDecide(b *testing.B) {
	v := loadVectors(b)
	c := testCreds(b)
	clock := WithClock(func() time.Time { return t0 })
	open := mustNew(b, testConfig(cfgOpts{}), clock)
	both := mustNew(b, testConfig(cfgOpts{jwt: true, ingestKey: v[0].Hash}), clock)
	both.Decide(Ingest, "Bearer "+v[0].Token)
	both.Decide(Ingest, "Bearer "+c.jwt)
	for _, bc := range []struct {
		name   string
		a      *Authenticator
		header string
		allow  bool
	}{
		{"open", open, "Bearer whatever", true},
		{"missing_token", both, "", false},
		{"malformed_header", both, "Basic abc", false},
		{"jwt_or_key/key_warm", both, "Bearer " + v[0].Token, true},
		{"jwt_or_key/jwt_warm", both, "Bearer " + c.jwt, true},
		{"jwt_or_key/wrong_key", both, "Bearer " + v[1].Token, false},
		{"jwt_or_key/jwt_other_key", both, "Bearer " + c.otherKeyJWT, false},
		{"jwt_or_key/shapeless", both, "Bearer not-a-token", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bc.a.Decide(Ingest, bc.header).Allow != bc.allow {
					b.Fatal("wrong decision")
				}
			}
		})
	}
}

func BenchmarkDecideParallelWarm(b *testing.B) {
	v := loadVectors(b)
	a := mustNew(b, testConfig(cfgOpts{ingestKey: v[0].Hash}))
	h := "Bearer " + v[0].Token
	a.Decide(Ingest, h)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !a.Decide(Ingest, h).Allow {
				b.Error("refused")
				return
			}
		}
	})
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := "Bearer " + loadVectors(b)[0].Token
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}
