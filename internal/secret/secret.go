// Package secret seals target credentials (bearer tokens, passwords, API
// keys) with AES-256-GCM under the installation's CROSSDOCK_SECRET_KEY, so
// the database, its backups and its replicas only ever hold ciphertext.
//
// A sealed value is laid out as
//
//	version (1 byte) | nonce (12 bytes) | ciphertext and GCM tag
//
// The version byte names the key that sealed it. Today there is one key
// (version 1); rotating keys later means a Sealer that knows several
// versions, seals with the newest and opens any, without touching stored
// rows until they are resealed. The version byte is also authenticated, so
// it cannot be flipped to steer Open to another key.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of CROSSDOCK_SECRET_KEY in bytes (AES-256).
const KeySize = 32

// currentVersion tags everything this Sealer seals.
const currentVersion byte = 1

// ErrOpen means a sealed value could not be opened: it was sealed under
// another key, sealed by a newer binary, truncated or tampered with. The
// cause is deliberately not more specific: GCM cannot tell those apart and
// guessing would only help an attacker.
var ErrOpen = errors.New("secret: cannot open sealed value (wrong CROSSDOCK_SECRET_KEY, or the value was altered)")

// Sealer seals and opens secrets. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: CROSSDOCK_SECRET_KEY must be %d bytes, got %d (generate one with `openssl rand -hex 32` and pass it hex-encoded)", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext under a fresh random nonce. Sealing the same value
// twice gives different bytes, so equal secrets cannot be spotted in a dump.
func (s *Sealer) Seal(plaintext []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.aead.Overhead())
	out[0] = currentVersion
	if _, err := rand.Read(out[1 : 1+ns]); err != nil {
		return nil, fmt.Errorf("secret: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+ns], plaintext, out[:1]), nil
}

// Open decrypts what Seal produced. Any alteration, a wrong key or an
// unknown key version returns an error wrapping ErrOpen.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrOpen)
	}
	if sealed[0] != currentVersion {
		return nil, fmt.Errorf("%w: sealed with key version %d, this binary knows version %d", ErrOpen, sealed[0], currentVersion)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], sealed[:1])
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
