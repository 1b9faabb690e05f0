package web

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/alexedwards/scs/v2"
)

// hashedTokens is an scs store that keeps sessions in another store under
// the SHA-256 of their token, never the token itself: the cookie holds the
// token, the database only its hash, so reading the sessions table (a
// backup, a read replica, a leaked dump) gives nothing to sign in with.
// Tokens are 32 random bytes from scs, so a plain hash without salt or
// stretching is as good as a password hash would be, and cheap.
type hashedTokens struct{ store scs.Store }

// HashedTokens wraps store so that it keeps only hashes of session tokens.
// NewSessions applies it; a token stored before it cannot be found again.
func HashedTokens(store scs.Store) scs.Store { return hashedTokens{store} }

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Find returns the data of the session whose token hashes to the stored key.
func (h hashedTokens) Find(token string) ([]byte, bool, error) {
	return h.store.Find(hashToken(token))
}

// Commit stores the session's data under the hash of its token.
func (h hashedTokens) Commit(token string, b []byte, expiry time.Time) error {
	return h.store.Commit(hashToken(token), b, expiry)
}

// Delete removes the session stored under the hash of token.
func (h hashedTokens) Delete(token string) error {
	return h.store.Delete(hashToken(token))
}
