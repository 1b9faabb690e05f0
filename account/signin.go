package account

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
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

// Authenticate checks an email and password from address (the client IP),
// records the attempt and returns the user. Errors are faults: Unauthorized
// for wrong credentials or a deactivated account, TooMany when throttled.
func Authenticate(ctx context.Context, db DBTX, email, password, address string, now time.Time) (User, error) {
	if err := checkThrottle(ctx, db, email, address, now); err != nil {
		return User{}, err
	}
	var hash string
	row := db.QueryRow(ctx, `select `+userColumns+`, password_hash from users where lower(email) = lower($1)`, email)
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt, &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		passwordMatches(password, dummyHash())
		return User{}, recordFailure(ctx, db, email, address, now, errBadCredentials)
	case err != nil:
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	if !passwordMatches(password, hash) {
		return User{}, recordFailure(ctx, db, email, address, now, errBadCredentials)
	}
	if !u.Active {
		return User{}, recordFailure(ctx, db, email, address, now,
			&fault.Error{Code: fault.Unauthorized, Message: "this account is deactivated; ask an admin to reactivate it"})
	}
	if _, err := db.Exec(ctx, `insert into login_attempts (email, address, succeeded, at) values ($1, $2, true, $3)`, u.Email, address, now); err != nil {
		return User{}, fmt.Errorf("record sign-in: %w", err)
	}
	if _, err := db.Exec(ctx, `update users set last_login_at = $2 where id = $1`, u.ID, now); err != nil {
		return User{}, fmt.Errorf("record sign-in: %w", err)
	}
	u.LastLoginAt = &now
	return u, nil
}

func recordFailure(ctx context.Context, db DBTX, email, address string, now time.Time, result error) error {
	if _, err := db.Exec(ctx, `insert into login_attempts (email, address, succeeded, at) values ($1, $2, false, $3)`, email, address, now); err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return result
}

func checkThrottle(ctx context.Context, db DBTX, email, address string, now time.Time) error {
	since := now.Add(-ThrottleWindow)
	var n int
	var oldest *time.Time
	err := db.QueryRow(ctx, `
		select count(*), min(at) from login_attempts
		where lower(email) = lower($1) and not succeeded and at > $2
		  and at > coalesce((select max(at) from login_attempts where lower(email) = lower($1) and succeeded), '-infinity')`,
		email, since).Scan(&n, &oldest)
	if err != nil {
		return fmt.Errorf("sign-in throttle: %w", err)
	}
	if n >= AccountFailureLimit {
		return throttled("too many failed sign-ins for this account", oldest, now)
	}
	err = db.QueryRow(ctx, `
		select count(*), min(at) from login_attempts where address = $1 and not succeeded and at > $2`,
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
