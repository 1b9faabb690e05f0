package account

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// Sign-in throttling: after AccountFailureLimit failed attempts on one account
// (since its last successful sign-in) or AddressFailureLimit from one address
// within ThrottleWindow, further attempts are refused until the window has
// passed. Attempts are counted in PostgreSQL so every serve process agrees.
const (
	ThrottleWindow      = 15 * time.Minute
	AccountFailureLimit = 5
	AddressFailureLimit = 20
)

// errBadCredentials is the one answer for unknown email and wrong password
// alike, so that sign-in cannot be used to find out who has an account.
var errBadCredentials = &fault.Error{Code: fault.Unauthorized, Message: "the email or password is wrong"}

// Beginner is a txn.DBTX that can also begin a transaction: a pool.
type Beginner interface {
	txn.DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Authenticate checks an email and password from address (the client IP),
// records the attempt and returns the user. Errors are faults: Unauthorized
// for wrong credentials or a deactivated account, TooMany when throttled.
//
// The attempt is reserved before the password is hashed: reserveAttempt
// records it as failed, or refuses it, in one short transaction, and a
// successful check then marks it succeeded. However many wrong guesses for
// one account arrive at once, at most AccountFailureLimit of them are
// checked; the rest are refused as throttled without hashing.
func Authenticate(ctx context.Context, db Beginner, email, password, address string, now time.Time) (User, error) {
	attempt, err := reserveAttempt(ctx, db, email, address, now)
	if err != nil {
		return User{}, err
	}
	var hash string
	u, err := scanUser(db.QueryRow(ctx, userByEmailForSignInSelect, email), &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		passwordMatches(password, dummyHash())
		return User{}, errBadCredentials
	case err != nil:
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	if !passwordMatches(password, hash) {
		return User{}, errBadCredentials
	}
	if !u.Active {
		return User{}, &fault.Error{Code: fault.Unauthorized, Message: "this account is deactivated; ask an admin to reactivate it"}
	}
	if _, err := db.Exec(ctx, attemptSucceeded, attempt); err != nil {
		return User{}, fmt.Errorf("record sign-in: %w", err)
	}
	if _, err := db.Exec(ctx, lastLoginUpdate, u.ID, now); err != nil {
		return User{}, fmt.Errorf("record sign-in: %w", err)
	}
	u.LastLoginAt = &now
	return u, nil
}

// reserveAttempt records a sign-in attempt as failed, unless the account or
// the address is throttled, and returns its id. Advisory locks on the
// account and the address serialize reservations for either, so the count
// and the insert are one atomic step across every serve process. (A single
// statement cannot do it: its snapshot is taken before any lock it waits
// for, so it would not see the attempt recorded by whoever held the lock.)
// Each statement after the lock takes a new snapshot (READ COMMITTED,
// PostgreSQL's default, which Crossdock keeps), so the counts see every
// attempt reserved before. The locks are held for two index reads and an
// insert, never while a password is hashed.
func reserveAttempt(ctx context.Context, db Beginner, email, address string, now time.Time) (int64, error) {
	var id int64
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		// Always the account first, then the address, so that two
		// reservations cannot wait for each other.
		if _, err := tx.Exec(ctx, signInLock, email, address); err != nil {
			return fmt.Errorf("sign-in throttle: %w", err)
		}
		if err := checkThrottle(ctx, tx, email, address, now); err != nil {
			return err
		}
		return tx.QueryRow(ctx, attemptInsert,
			email, address, now).Scan(&id)
	})
	return id, err
}

func checkThrottle(ctx context.Context, db txn.DBTX, email, address string, now time.Time) error {
	since := now.Add(-ThrottleWindow)
	var n int
	var oldest *time.Time
	err := db.QueryRow(ctx, accountFailuresSelect,
		email, since).Scan(&n, &oldest)
	if err != nil {
		return fmt.Errorf("sign-in throttle: %w", err)
	}
	if n >= AccountFailureLimit {
		return throttled("too many failed sign-ins for this account", oldest, now)
	}
	err = db.QueryRow(ctx, addressFailuresSelect,
		address, since).Scan(&n, &oldest)
	if err != nil {
		return fmt.Errorf("sign-in throttle: %w", err)
	}
	if n >= AddressFailureLimit {
		return throttled("too many failed sign-ins from your network address", oldest, now)
	}
	return nil
}

func throttled(what string, oldest *time.Time, now time.Time) error {
	wait := ThrottleWindow
	if oldest != nil {
		wait = oldest.Add(ThrottleWindow).Sub(now)
	}
	minutes := int(math.Ceil(wait.Minutes()))
	if minutes < 1 {
		minutes = 1
	}
	return &fault.Error{
		Code:              fault.TooMany,
		Message:           fmt.Sprintf("%s; try again in %d minute%s or ask an admin to reset the password", what, minutes, plural(minutes)),
		RetryAfterSeconds: int(math.Ceil(wait.Seconds())),
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
