package web

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/semaphore"

	"github.com/crossdock/crossdock/internal/fault"
)

// TestHashingPasswordRefusesAtOnceWhenFull: with every slot taken, the
// hash is not computed and the answer is 429 with Retry-After, not a wait.
func TestHashingPasswordRefusesAtOnceWhenFull(t *testing.T) {
	t.Parallel()
	s := &Server{hashes: semaphore.NewWeighted(2)}
	require.True(t, s.hashes.TryAcquire(2))
	called := false
	err := s.hashingPassword(func() error { called = true; return nil })
	require.False(t, called)
	fe, ok := fault.As(err)
	require.True(t, ok)
	require.Equal(t, fault.TooMany, fe.Code)
	require.Equal(t, 1, fe.RetryAfterSeconds)

	s.hashes.Release(1)
	require.NoError(t, s.hashingPassword(func() error { called = true; return nil }))
	require.True(t, called)
	require.True(t, s.hashes.TryAcquire(1), "the slot is given back")
}
