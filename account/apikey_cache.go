package account

import (
	"context"
	"crypto/subtle"
	"github.com/crossdock/crossdock/internal/txn"
	"strings"
	"sync"
	"time"
)

// KeyCacheTTL is how long a process trusts an API key it has checked
// against the database. A key revoked by another process (the CLI, a
// second server) stops working within this time; one revoked through this
// process stops at once (KeyCache.Forget).
const KeyCacheTTL = time.Second

// KeyCache remembers recently authenticated API keys so that a busy
// trigger does not read api_keys on every request: that one query is
// about as much database work per accepted event as the group-committed
// insert itself, and caching it takes intake alone from about 1,500 to
// 2,200 accepts/s on two shared cores (docs/benchmarks.md). Only successful checks are kept, keyed
// by the key's prefix with the secret's hash, and every request's secret
// is compared with that hash again; unknown, mistyped and revoked keys
// always go to the database.
type KeyCache struct {
	ttl time.Duration
	mu  sync.Mutex
	by  map[string]cachedKey // by prefix
}

type cachedKey struct {
	key     APIKey
	hash    []byte
	checked time.Time
}

// NewKeyCache returns an empty cache whose entries live ttl.
func NewKeyCache(ttl time.Duration) *KeyCache {
	return &KeyCache{ttl: ttl, by: map[string]cachedKey{}}
}

// Authenticate is APIKeyAuthenticate with the cache in front.
func (kc *KeyCache) Authenticate(ctx context.Context, db txn.DBTX, token string, now time.Time) (APIKey, error) {
	m := tokenPattern.FindStringSubmatch(token)
	if m == nil {
		return APIKey{}, errBadKey
	}
	// The token may point into the HTTP server's reused buffers (fiber): the
	// prefix kept as a map key must be a copy of its own.
	prefix, hash := strings.Clone(m[1]), hashSecret(m[2])
	kc.mu.Lock()
	c, ok := kc.by[prefix]
	kc.mu.Unlock()
	if ok && now.Sub(c.checked) < kc.ttl && now.Sub(c.checked) >= 0 && subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		return c.key, nil
	}
	k, err := APIKeyAuthenticate(ctx, db, token, now)
	if err != nil {
		kc.Forget(prefix)
		return APIKey{}, err
	}
	kc.mu.Lock()
	kc.by[prefix] = cachedKey{key: k, hash: hash, checked: now}
	kc.mu.Unlock()
	return k, nil
}

// Forget drops a key, e.g. right after it was revoked.
func (kc *KeyCache) Forget(prefix string) {
	kc.mu.Lock()
	delete(kc.by, prefix)
	kc.mu.Unlock()
}
