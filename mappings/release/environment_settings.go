package release

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
)

// Retention bounds: how many days an environment keeps delivered messages
// and closed exceptions.
const (
	MinRetentionDays = 1
	MaxRetentionDays = 3650
)

// RetentionDays is env's retention in days.
func RetentionDays(ctx context.Context, db txn.DBTX, envID int64) (int, error) {
	var days int
	if err := db.QueryRow(ctx, retentionDaysSelect, envID).Scan(&days); err != nil {
		return 0, fmt.Errorf("retention of environment %d: %w", envID, err)
	}
	return days, nil
}

// SetRetention sets how many days env keeps delivered messages and closed
// exceptions, audited (environment.retention) with the days before and
// after. The release policy decides who may (MayConfigure): the page, the
// JSON API and the command line all come here.
func SetRetention(ctx context.Context, db DB, actor Actor, env Environment, days int) error {
	if err := actor.MayConfigure(env); err != nil {
		return err
	}
	if days < MinRetentionDays || days > MaxRetentionDays {
		return &fault.Error{Code: fault.Invalid, Fields: map[string]string{"days": fmt.Sprintf("%d to %d", MinRetentionDays, MaxRetentionDays)},
			Message: fmt.Sprintf("retention must be a whole number of days from %d to %d", MinRetentionDays, MaxRetentionDays)}
	}
	return txn.Run(ctx, db, func(tx pgx.Tx) error {
		var old int
		if err := tx.QueryRow(ctx, retentionDaysLock, env.ID).Scan(&old); err != nil {
			return fmt.Errorf("set retention of %s: %w", env.Name, err)
		}
		if _, err := tx.Exec(ctx, retentionSetUpdate, env.ID, days); err != nil {
			return fmt.Errorf("set retention of %s: %w", env.Name, err)
		}
		return account.Audit(ctx, tx, actor.audit(), "environment.retention", "environment", env.Name,
			map[string]int{"retentionDays": old}, map[string]int{"retentionDays": days})
	})
}

// ConfigureNotifications stores env's exception notification webhook (the
// URL sealed; an empty URL keeps the stored one), audited
// (notifications.configure) without the URL. Policy: MayConfigure.
func ConfigureNotifications(ctx context.Context, db DB, sealer *secret.Sealer, actor Actor, env Environment, cfg NotificationConfig) (NotificationConfig, error) {
	if err := actor.MayConfigure(env); err != nil {
		return NotificationConfig{}, err
	}
	cfg.EnvironmentID = env.ID
	var saved NotificationConfig
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		before, err := NotificationConfigGet(ctx, tx, sealer, env.ID)
		var beforeMasked any
		if err == nil {
			beforeMasked = before.Masked()
		} else if fault.CodeOf(err) != fault.NotFound {
			return err
		}
		if saved, err = NotificationConfigPut(ctx, tx, sealer, cfg, actor.editor()); err != nil {
			return err
		}
		return account.Audit(ctx, tx, actor.audit(), "notifications.configure", "environment", env.Name, beforeMasked, saved.Masked())
	})
	return saved, err
}

// RemoveNotifications removes env's exception notification webhook,
// audited (notifications.remove); NotFound when there is none.
func RemoveNotifications(ctx context.Context, db DB, sealer *secret.Sealer, actor Actor, env Environment) error {
	if err := actor.MayConfigure(env); err != nil {
		return err
	}
	return txn.Run(ctx, db, func(tx pgx.Tx) error {
		before, err := NotificationConfigGet(ctx, tx, sealer, env.ID)
		if err != nil {
			return err
		}
		if err := NotificationConfigDelete(ctx, tx, env.ID); err != nil {
			return err
		}
		return account.Audit(ctx, tx, actor.audit(), "notifications.remove", "environment", env.Name, before.Masked(), nil)
	})
}
