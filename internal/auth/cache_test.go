package auth

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/httpx"
)

func TestCacheJWTExpiresWithToken(t *testing.T) {
	clock := newFakeClock(t0)
	a := mustNew(t, testConfig(cfgOpts{jwt: true}), WithClock(clock.Now))
	exp := t0.Add(time.Minute) // earlier than the cache TTL
	tok := signRS256(t, with(goodClaims(), "exp", exp.Unix()))
	h := "Bearer " + tok
	deadline := exp.Add(DefaultLeeway) // first instant the full check refuses

	for _, step := range []struct {
		name  string
		at    time.Time
		allow bool
	}{
		{"fresh", t0, true},
		{"after exp, within leeway", exp.Add(time.Second), true},
		{"one nanosecond before exp+leeway", deadline.Add(-time.Nanosecond), true},
		{"at exp+leeway", deadline, false},
		{"after exp+leeway", deadline.Add(time.Hour), false},
	} {
		t.Run(step.name, func(t *testing.T) {
			clock.Set(step.at)
			d := a.Decide(Ingest, h)
			if d.Allow != step.allow {
				t.Fatalf("Allow = %v (reason %q), want %v", d.Allow, d.Reason, step.allow)
			}
			if step.allow && a.cache.len() != 1 {
				t.Fatalf("cache has %d entries, want 1", a.cache.len())
			}
			if !step.allow && d.Reason != "invalid_jwt: token is expired" {
				t.Fatalf("Reason = %q", d.Reason)
			}
		})
	}
}

// TestCacheAgreesWithFullCheck: around the expiry boundary, an
// Authenticator serving from a warm cache decides exactly as one without a
// cache.
func TestCacheAgreesWithFullCheck(t *testing.T) {
	clock := newFakeClock(t0)
	cached := mustNew(t, testConfig(cfgOpts{jwt: true}), WithClock(clock.Now), WithCacheTTL(time.Hour))
	full := mustNew(t, testConfig(cfgOpts{jwt: true}), WithClock(clock.Now), WithCacheSize(0))
	for _, expOffset := range []float64{10, 59.5, 120.999} {
		t.Run(fmt.Sprintf("exp=t0+%gs", expOffset), func(t *testing.T) {
			exp := float64(t0.Unix()) + expOffset
			h := "Bearer " + signRS256(t, with(goodClaims(), "exp", exp))
			clock.Set(t0)
			if !cached.Decide(Consumption, h).Allow {
				t.Fatal("warm-up refused")
			}
			for ms := int64(-3000); ms <= 3000; ms += 250 {
				at := time.Unix(int64(exp), 0).Add(DefaultLeeway).Add(time.Duration(ms) * time.Millisecond)
				clock.Set(at)
				c, f := cached.Decide(Consumption, h), full.Decide(Consumption, h)
				if c.Allow != f.Allow {
					t.Fatalf("at exp+leeway%+dms: cached Allow=%v, full Allow=%v", ms, c.Allow, f.Allow)
				}
			}
		})
	}
}

func TestCacheAPIKeyTTL(t *testing.T) {
	v := loadVectors(t)
	clock := newFakeClock(t0)
	a := mustNew(t, testConfig(cfgOpts{ingestKey: v[0].Hash}), WithClock(clock.Now), WithCacheTTL(time.Minute))
	h := "Bearer " + v[0].Token
	if !a.Decide(Ingest, h).Allow {
		t.Fatal("refused")
	}
	k := newCacheKey(Ingest, v[0].Token)
	for _, tc := range []struct {
		name string
		at   time.Time
		hit  bool
	}{
		{"at insert", t0, true},
		{"just before TTL", t0.Add(time.Minute - time.Nanosecond), true},
		{"at TTL", t0.Add(time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, hit := a.cache.get(k, tc.at); hit != tc.hit {
				t.Fatalf("hit = %v, want %v", hit, tc.hit)
			}
		})
	}
	clock.Set(t0.Add(2 * time.Minute))
	if !a.Decide(Ingest, h).Allow {
		t.Fatal("refused after TTL (full check must run again)")
	}
	if _, hit := a.cache.get(k, t0.Add(2*time.Minute)); !hit {
		t.Fatal("entry not renewed")
	}
}

func TestCacheRefusalsDoNotGrowIt(t *testing.T) {
	v := loadVectors(t)
	a := mustNew(t, testConfig(cfgOpts{jwt: true, ingestKey: v[0].Hash}), WithClock(func() time.Time { return t0 }))
	other := sign(t, jwtRS256Method, goodClaims(), keys().other)
	for i := range 200 {
		var b [32]byte
		rand.Read(b[:])
		for _, tok := range []string{
			hex.EncodeToString(b[:16]) + "." + hex.EncodeToString(b[16:]), // API-key shaped, PBKDF2 runs
			hex.EncodeToString(b[:]),                         // shapeless
			other[:len(other)-8] + hex.EncodeToString(b[:4]), // JWT shaped, RSA runs
		} {
			if d := a.Decide(Ingest, "Bearer "+tok); d.Allow {
				t.Fatalf("random token %d allowed", i)
			}
		}
	}
	if n := a.cache.len(); n != 0 {
		t.Fatalf("cache has %d entries after refusals only", n)
	}
	a.Decide(Ingest, "Bearer "+v[0].Token)
	if n := a.cache.len(); n != 1 {
		t.Fatalf("cache has %d entries after one success, want 1", n)
	}
}

func TestCacheBounded(t *testing.T) {
	for _, size := range []int{5, 32} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			a := mustNew(t, testConfig(cfgOpts{jwt: true}), WithClock(func() time.Time { return t0 }), WithCacheSize(size))
			for i := range 100 {
				tok := signRS256(t, with(goodClaims(), "sub", fmt.Sprint("user-", i)))
				if !a.Decide(Consumption, "Bearer "+tok).Allow {
					t.Fatalf("token %d refused", i)
				}
				if n := a.cache.len(); n > size {
					t.Fatalf("cache has %d entries, bound %d", n, size)
				}
			}
		})
	}
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newVerifyCache(3)
	p := &httpx.Principal{Method: httpx.MethodAPIKey}
	k := func(i int) cacheKey { return newCacheKey(Ingest, fmt.Sprint(i)) }
	c.put(k(1), p, t0, t0.Add(time.Second)) // expires first
	c.put(k(2), p, t0, t0.Add(time.Hour))
	c.put(k(3), p, t0, t0.Add(time.Hour))
	now := t0.Add(time.Minute)
	c.put(k(4), p, now, now.Add(time.Hour))
	for i, want := range []bool{false, true, true, true} {
		if _, hit := c.get(k(i+1), now); hit != want {
			t.Errorf("entry %d: hit = %v, want %v", i+1, hit, want)
		}
	}
	t.Run("already expired is not stored", func(t *testing.T) {
		c.put(k(5), p, now, now)
		if _, hit := c.get(k(5), now.Add(-time.Second)); hit {
			t.Fatal("stored an entry whose validity had ended")
		}
	})
	t.Run("nil cache", func(t *testing.T) {
		var nc *verifyCache
		nc.put(k(1), p, t0, t0.Add(time.Hour))
		if _, hit := nc.get(k(1), t0); hit || nc.len() != 0 {
			t.Fatal("nil cache holds entries")
		}
	})
}

func TestReloadStartsWithEmptyCache(t *testing.T) {
	v := loadVectors(t)
	old := mustNew(t, testConfig(cfgOpts{ingestKey: v[0].Hash}))
	h := "Bearer " + v[0].Token
	if !old.Decide(Ingest, h).Allow {
		t.Fatal("old refused")
	}
	rotated := mustNew(t, testConfig(cfgOpts{ingestKey: v[1].Hash}))
	if rotated.Decide(Ingest, h).Allow {
		t.Fatal("rotated-out key accepted by the new Authenticator")
	}
}

func TestDecideConcurrent(t *testing.T) {
	v := loadVectors(t)
	c := testCreds(t)
	a := mustNew(t, testConfig(cfgOpts{jwt: true, ingestKey: v[0].Hash}), WithClock(func() time.Time { return t0 }), WithCacheSize(16))
	fresh := make([]string, 8*50)
	for i := range fresh {
		fresh[i] = signRS256(t, with(goodClaims(), "sub", fmt.Sprint("u-", i)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				var h string
				want := true
				switch (g + i) % 4 {
				case 0:
					h = "Bearer " + v[0].Token
				case 1:
					h = "Bearer " + c.jwt
				case 2:
					h, want = "Bearer "+v[1].Token, false
				case 3:
					h = "Bearer " + fresh[g*50+i]
				}
				if d := a.Decide(Ingest, h); d.Allow != want {
					t.Errorf("goroutine %d, call %d: Allow = %v (reason %q)", g, i, d.Allow, d.Reason)
				}
			}
		})
	}
	wg.Wait()
}
