package web

import (
	"github.com/crossdock/crossdock/internal/fault"
)

// DefaultPasswordHashes is how many argon2id password hashes a serve
// process computes at once unless Config.PasswordHashes says otherwise.
// Each takes 64 MiB for about 50 ms on two cores, so four cost 256 MiB at
// most and still check some 80 sign-ins a second.
const DefaultPasswordHashes = 4

// errHashingBusy answers a request that would hash a password while every
// slot is taken: at once, rather than queueing 64 MiB hashes until memory
// runs out under a burst of sign-ins.
var errHashingBusy = &fault.Error{
	Code:              fault.TooMany,
	Message:           "Crossdock is checking too many passwords at once; try again in a second",
	RetryAfterSeconds: 1,
}

// hashingPassword runs fn, which hashes or verifies a password, in one of
// the process's Config.PasswordHashes slots. With every slot taken it
// returns errHashingBusy (429 with Retry-After) without calling fn. Every
// handler that hashes on request goes through it: sign-in, changing one's
// own password, creating a user and resetting a password.
func (s *Server) hashingPassword(fn func() error) error {
	if !s.hashes.TryAcquire(1) {
		return errHashingBusy
	}
	defer s.hashes.Release(1)
	return fn()
}
