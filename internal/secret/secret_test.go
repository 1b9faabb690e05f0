package secret_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/secret"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, secret.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := secret.NewSealer(newKey(t))
	require.NoError(t, err)
	sealed, err := s.Seal([]byte("sk_live_hunter2"))
	require.NoError(t, err)
	require.False(t, bytes.Contains(sealed, []byte("hunter2")), "ciphertext must not contain the plaintext")
	require.Equal(t, byte(1), sealed[0], "key version byte")
	again, err := s.Seal([]byte("sk_live_hunter2"))
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh nonce each time")

	plain, err := s.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "sk_live_hunter2", string(plain))

	empty, err := s.Seal(nil)
	require.NoError(t, err)
	plain, err = s.Open(empty)
	require.NoError(t, err)
	require.Empty(t, plain)
}

func TestOpenRefusesTamperingAndWrongKey(t *testing.T) {
	t.Parallel()
	s, err := secret.NewSealer(newKey(t))
	require.NoError(t, err)
	sealed, err := s.Seal([]byte("password"))
	require.NoError(t, err)

	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		_, err := s.Open(bad)
		require.ErrorIs(t, err, secret.ErrOpen, "flipping byte %d", i)
	}
	_, err = s.Open(sealed[:len(sealed)-1])
	require.ErrorIs(t, err, secret.ErrOpen, "truncated")
	_, err = s.Open(nil)
	require.ErrorIs(t, err, secret.ErrOpen)

	other, err := secret.NewSealer(newKey(t))
	require.NoError(t, err)
	_, err = other.Open(sealed)
	require.True(t, errors.Is(err, secret.ErrOpen), "another key cannot open it")
}

func TestNewSealerChecksKeyLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := secret.NewSealer(make([]byte, n))
		require.Error(t, err, "%d bytes", n)
		require.Contains(t, err.Error(), "must be 32 bytes")
	}
}
