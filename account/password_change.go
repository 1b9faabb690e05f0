package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// PasswordChange sets a signed-in user's own password after checking the
// current one, audits it as user.password_change and ends the user's
// sessions. It returns the new SessionGeneration, so that the session the
// change was made from can carry on.
//
// A wrong current password counts as a failed sign-in of the account
// (Authenticate's throttle), so a taken-over session cannot be used to
// guess the password faster than the sign-in form could.
func PasswordChange(ctx context.Context, db Beginner, actor Actor, current, next string, now time.Time) (generation int64, err error) {
	if current == "" {
		return 0, &fault.Error{Code: fault.Invalid, Message: "enter your current password", Fields: map[string]string{"current": "required"}}
	}
	if err := CheckPasswordStrength(next); err != nil {
		fe, _ := fault.As(err)
		return 0, &fault.Error{Code: fault.Invalid, Message: strings.Replace(fe.Message, "the password", "the new password", 1), Fields: map[string]string{"new": fe.Fields["password"]}}
	}
	if next == current {
		return 0, &fault.Error{Code: fault.Invalid, Message: "the new password is the current one; choose another", Fields: map[string]string{"new": "same as the current one"}}
	}
	attempt, err := reserveAttempt(ctx, db, actor.Email, actor.Address, now)
	if err != nil {
		return 0, err
	}
	var hash string
	err = db.QueryRow(ctx, passwordHashSelect, actor.UserID).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fault.Errorf(fault.NotFound, "no active user with id %d", actor.UserID)
	}
	if err != nil {
		return 0, fmt.Errorf("change password: %w", err)
	}
	if !passwordMatches(current, hash) {
		return 0, &fault.Error{Code: fault.Invalid, Message: "the current password is wrong", Fields: map[string]string{"current": "wrong"}}
	}
	err = txn.Run(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, attemptSucceeded, attempt); err != nil {
			return fmt.Errorf("change password: %w", err)
		}
		if generation, err = UserSetPassword(ctx, tx, actor.UserID, next); err != nil {
			return err
		}
		return Audit(ctx, tx, actor, "user.password_change", "user", fmt.Sprint(actor.UserID), nil, nil)
	})
	return generation, err
}
