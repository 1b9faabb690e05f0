package account

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"github.com/crossdock/crossdock/internal/fault"
)

// MinPasswordLength is the shortest password accepted. Length beats
// composition rules (NIST SP 800-63B).
const MinPasswordLength = 12

// hashParams are argon2id's RFC 9106 "second recommended" settings scaled to
// a sign-in taking ~50 ms on a 2-core machine.
var hashParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// HashPassword returns an argon2id hash in PHC string form.
func HashPassword(password string) (string, error) {
	if err := CheckPasswordStrength(password); err != nil {
		return "", err
	}
	return argon2id.CreateHash(password, hashParams)
}

// CheckPasswordStrength refuses passwords too short to resist guessing.
func CheckPasswordStrength(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return &fault.Error{Code: fault.Invalid, Message: "the password must have at least 12 characters", Fields: map[string]string{"password": "at least 12 characters"}}
	}
	if len(password) > 1024 {
		return &fault.Error{Code: fault.Invalid, Message: "the password is longer than 1024 bytes", Fields: map[string]string{"password": "at most 1024 bytes"}}
	}
	return nil
}

// passwordMatches compares in constant time; a malformed hash never matches.
func passwordMatches(password, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// dummyHash is compared against when the account does not exist, so that a
// missing account takes as long as a wrong password and emails can't be probed.
var dummyHash = sync.OnceValue(func() string {
	h, _ := argon2id.CreateHash("crossdock-no-such-user", hashParams)
	return h
})

// GeneratePassword returns a random 24-character password for first-start
// admins and resets.
func GeneratePassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
