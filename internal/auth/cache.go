package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/moose-go/moose/internal/httpx"
)

// Cache defaults.
const (
	// DefaultCacheSize bounds the number of cached successful verifications.
	DefaultCacheSize = 10_000
	// DefaultCacheTTL is the longest any entry lives (a JWT entry lives no
	// longer than its exp plus the leeway).
	DefaultCacheTTL = 5 * time.Minute
	cacheShards     = 16
)

// cacheKey identifies a (scope, token) pair by the token's SHA-256 digest;
// the token itself is never stored.
type cacheKey struct {
	scope  Scope
	digest [sha256.Size]byte
}

func newCacheKey(scope Scope, token string) cacheKey {
	return cacheKey{scope: scope, digest: sha256.Sum256([]byte(token))}
}

type cacheEntry struct {
	principal *httpx.Principal
	until     time.Time // valid while now is before until
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[cacheKey]cacheEntry
}

// verifyCache holds positive verification results only. It is bounded:
// when a shard is full, expired entries are swept and, if none were, an
// arbitrary entry is evicted. Entries are only ever added after a full
// check succeeded, so tokens that fail never grow it.
type verifyCache struct {
	shards   []cacheShard
	perShard int
}

// newVerifyCache returns a cache of about size entries, or nil (no cache)
// when size <= 0.
func newVerifyCache(size int) *verifyCache {
	if size <= 0 {
		return nil
	}
	n := cacheShards
	if size < n {
		n = 1
	}
	c := &verifyCache{shards: make([]cacheShard, n), perShard: size / n}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]cacheEntry)
	}
	return c
}

func (c *verifyCache) shard(k cacheKey) *cacheShard {
	return &c.shards[int(k.digest[0])%len(c.shards)]
}

// get returns the cached principal if an entry exists and is still valid
// at now.
func (c *verifyCache) get(k cacheKey, now time.Time) (*httpx.Principal, bool) {
	if c == nil {
		return nil, false
	}
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.principal, true
}

// put stores p until the given time; entries already expired at now are
// not stored.
func (c *verifyCache) put(k cacheKey, p *httpx.Principal, now, until time.Time) {
	if c == nil || !now.Before(until) {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[k]; !exists && len(s.m) >= c.perShard {
		for key, e := range s.m {
			if !now.Before(e.until) {
				delete(s.m, key)
			}
		}
		for key := range s.m { // map order is unspecified: an arbitrary victim
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, key)
		}
	}
	s.m[k] = cacheEntry{principal: p, until: until}
}

// len returns the number of entries, expired or not.
func (c *verifyCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
