package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/time/rate"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// APIKey authenticates a system (a storefront, a CI pipeline) rather than a
// person. It is scoped to one environment and optionally to some flows, and
// has a rate. The secret part is never stored, only its hash.
type APIKey struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Prefix        string   `json:"prefix"` // cdk_dev_3f9a2b7c: visible, identifies the key
	Environment   string   `json:"environment"`
	Flows         []string `json:"flows"` // empty: every flow of the environment
	RatePerMinute int      `json:"ratePerMinute"`
	// CanManage lets the key use the management API (drafts, publish) on
	// its flows, for CI pipelines; without it the key only posts events.
	CanManage bool `json:"canManage"`
	// CanSupport lets the key use the exception inbox API as a support
	// person would (read, retry, replay, resolve, ignore, assign), on the
	// exceptions of its environment and flows only.
	CanSupport bool `json:"canSupport"`
	// CanConfigure lets the key configure its environment (targets and
	// variables) through the environment API, as an admin would, for
	// configuration kept in git and applied from CI.
	CanConfigure bool       `json:"canConfigure"`
	CreatedBy    string     `json:"createdBy"`
	CreatedAt    time.Time  `json:"createdAt"`
	RevokedAt    *time.Time `json:"revokedAt,omitempty"`
	LastUsedAt   *time.Time `json:"lastUsedAt,omitempty"`
}

// NewAPIKey is what creating a key needs.
type NewAPIKey struct {
	Name          string
	Environment   string
	Flows         []string
	RatePerMinute int // default 600
	CanManage     bool
	CanSupport    bool
	CanConfigure  bool
}

// DefaultRatePerMinute is a key's rate when none is given.
const DefaultRatePerMinute = 600

var (
	flowSlugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	tokenPattern    = regexp.MustCompile(`^(cdk_[a-z0-9-]{1,32}_[0-9a-f]{8})_([A-Za-z0-9_-]{43})$`)
)

// hashSecret hashes a key's secret part. Plain SHA-256 is right here (unlike
// passwords): the secret is 32 random bytes, so it cannot be guessed or
// looked up in a table, and a fast hash keeps every API call cheap.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// APIKeyCreate stores a new key and returns it with its full token, which
// is shown once and never again.
func APIKeyCreate(ctx context.Context, db txn.DBTX, nk NewAPIKey, actor Actor) (APIKey, string, error) {
	nk.Name = strings.TrimSpace(nk.Name)
	if nk.Name == "" || len(nk.Name) > 100 {
		return APIKey{}, "", &fault.Error{Code: fault.Invalid, Message: "give the key a name of 1–100 characters that says who uses it, e.g. “shopify-storefront”", Fields: map[string]string{"name": "required"}}
	}
	if nk.RatePerMinute == 0 {
		nk.RatePerMinute = DefaultRatePerMinute
	}
	if nk.RatePerMinute < 1 || nk.RatePerMinute > 100000 {
		return APIKey{}, "", fault.Errorf(fault.Invalid, "the rate must be between 1 and 100000 messages a minute (got %d)", nk.RatePerMinute)
	}
	for _, f := range nk.Flows {
		if !flowSlugPattern.MatchString(f) {
			return APIKey{}, "", fault.Errorf(fault.Invalid, "“%s” is not a flow slug (lowercase letters, digits and dashes)", f)
		}
	}
	if nk.Flows == nil {
		nk.Flows = []string{}
	}
	idPart := make([]byte, 4)
	secretPart := make([]byte, 32)
	// crypto/rand.Read never returns an error (since Go 1.24 it crashes the
	// program rather than hand out predictable bytes), so there is nothing
	// to check here.
	_, _ = rand.Read(idPart)
	_, _ = rand.Read(secretPart)
	prefix := "cdk_" + nk.Environment + "_" + hex.EncodeToString(idPart)
	secret := base64.RawURLEncoding.EncodeToString(secretPart)
	var k APIKey
	err := db.QueryRow(ctx, apiKeyInsert, nk.Name, prefix, hashSecret(secret), nk.Environment, nk.Flows, nk.RatePerMinute, nk.CanManage, nk.CanSupport, actor.Email, nk.CanConfigure).
		Scan(apiKeyDest(&k)...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation {
		return APIKey{}, "", fault.Errorf(fault.Invalid, "there is no environment “%s”; use one of the environments listed under Environments", nk.Environment)
	}
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create API key: %w", err)
	}
	if err := Audit(ctx, db, actor, "apikey.create", "apikey", k.Prefix, nil, k); err != nil {
		return APIKey{}, "", err
	}
	return k, prefix + "_" + secret, nil
}

func apiKeyDest(k *APIKey) []any {
	return []any{&k.ID, &k.Name, &k.Prefix, &k.Environment, &k.Flows, &k.RatePerMinute, &k.CanManage, &k.CanSupport, &k.CreatedBy, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt, &k.CanConfigure}
}

var errBadKey = &fault.Error{Code: fault.Unauthorized, Message: "this API key is not valid: it is unknown, revoked or mistyped"}

// APIKeyAuthenticate checks a token and returns its key. Unknown, malformed
// and revoked keys get the same Unauthorized answer. last_used_at is
// written at most once a minute per key, so a busy trigger is not a write
// per request.
func APIKeyAuthenticate(ctx context.Context, db txn.DBTX, token string, now time.Time) (APIKey, error) {
	m := tokenPattern.FindStringSubmatch(token)
	if m == nil {
		return APIKey{}, errBadKey
	}
	var k APIKey
	var hash []byte
	dest := append(apiKeyDest(&k), &hash)
	err := db.QueryRow(ctx, apiKeyByPrefixSelect, m[1]).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, errBadKey
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("API key: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, hashSecret(m[2])) != 1 || k.RevokedAt != nil {
		return APIKey{}, errBadKey
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= time.Minute {
		// The condition is repeated in SQL so that when many requests (or
		// processes) see a stale time together, only the first one writes.
		if _, err := db.Exec(ctx, apiKeyUsedUpdate, k.ID, now); err != nil {
			return APIKey{}, fmt.Errorf("API key: %w", err)
		}
		k.LastUsedAt = &now
	}
	return k, nil
}

// Allows says whether the key may post to flow in env, with a message that
// says what the key is scoped to when not.
func (k APIKey) Allows(env, flow string) error {
	if env != k.Environment {
		return fault.Errorf(fault.Forbidden, "this API key (%s) is scoped to environment %s; it cannot post to %s", k.Prefix, k.Environment, env)
	}
	if len(k.Flows) > 0 && !slices.Contains(k.Flows, flow) {
		return fault.Errorf(fault.Forbidden, "this API key (%s) may post only to %s; not to %s", k.Prefix, strings.Join(k.Flows, ", "), flow)
	}
	return nil
}

// MaySee says whether an exception or message of env and flow is within
// the key's scope: its environment, and its flows when it is limited to
// some.
func (k APIKey) MaySee(env, flow string) bool {
	return env == k.Environment && k.AllowsFlow(flow)
}

// AllowsFlow says whether the key's flow scope includes flow (any
// environment: management is not environment-bound).
func (k APIKey) AllowsFlow(flow string) bool {
	return len(k.Flows) == 0 || slices.Contains(k.Flows, flow)
}

// APIKeyList returns every key, newest first (revoked ones included, marked).
func APIKeyList(ctx context.Context, db txn.DBTX) ([]APIKey, error) {
	rows, err := db.Query(ctx, apiKeyListSelect)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := r.Scan(apiKeyDest(&k)...)
		return k, err
	})
}

// APIKeyRevoke revokes a key by prefix. Revoking an already revoked key is
// harmless: it succeeds, keeps the first revocation's time and actor, and
// writes no second audit entry because nothing changed. An unknown prefix
// is NotFound. Run it in a transaction to keep the change and its audit
// entry together.
func APIKeyRevoke(ctx context.Context, db txn.DBTX, prefix string, actor Actor) error {
	var k APIKey
	var wasRevokedAt *time.Time
	// The subquery locks the row and reads its state before the update, so
	// the audit entry's "before" is exact even with two revokes at once.
	err := db.QueryRow(ctx, apiKeyRevoke, prefix, actor.Email).
		Scan(append(apiKeyDest(&k), &wasRevokedAt)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.Errorf(fault.NotFound, "no API key with prefix %s (see the list of keys for the prefixes)", prefix)
	}
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	if wasRevokedAt != nil {
		return nil
	}
	before := k
	before.RevokedAt = nil
	return Audit(ctx, db, actor, "apikey.revoke", "apikey", prefix, before, k)
}

// prefixColumns qualifies every column of a comma-separated list with a
// table alias, for queries that join api_keys with itself.
func prefixColumns(alias, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = alias + c
	}
	return strings.Join(cols, ", ")
}

// KeyLimiter enforces each key's rate with a token bucket per key, in this
// process. With N serve processes behind a balancer the effective rate is up
// to N× the key's; a shared limiter is future work.
type KeyLimiter struct {
	mu       sync.Mutex
	limiters map[int64]*rate.Limiter
}

// NewKeyLimiter returns an empty limiter.
func NewKeyLimiter() *KeyLimiter { return &KeyLimiter{limiters: map[int64]*rate.Limiter{}} }

// Allow takes one request from the key's bucket; when empty it says how
// long until the next request would be allowed.
func (l *KeyLimiter) Allow(k APIKey, now time.Time) (bool, time.Duration) {
	per := rate.Limit(float64(k.RatePerMinute) / 60)
	burst := max(1, k.RatePerMinute/6) // ten seconds' worth
	l.mu.Lock()
	lim, ok := l.limiters[k.ID]
	if !ok || lim.Limit() != per || lim.Burst() != burst {
		lim = rate.NewLimiter(per, burst)
		l.limiters[k.ID] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
