package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
)

// MayConfigure says whether the actor may change how env reaches its
// targets and its variables: admins, API keys of env created with the
// configure permission, the command line, and Crossdock itself (the demo
// seed) where the environment is not protected.
func (a Actor) MayConfigure(env Environment) error {
	switch {
	case a.hasRole(account.RoleAdmin), a.kind == kindCLI, a.kind == kindSystem && !env.Protected:
		return nil
	case a.kind == kindKey && !a.key.CanConfigure:
		return fault.Errorf(fault.Forbidden, "the API key %s has no configure permission; configuring %s needs a key created with it (Admin → API keys, or crossdock apikey create --configure)", a.key.Prefix, env.Name)
	case a.kind == kindKey && a.key.Environment != env.Name:
		return fault.Errorf(fault.Forbidden, "the API key %s belongs to environment %s; configuring %s needs a key of %s", a.key.Prefix, a.key.Environment, env.Name, env.Name)
	case a.kind == kindKey:
		return nil
	case a.kind == kindUser:
		return fault.Errorf(fault.Forbidden, "configuring the targets of %s needs the admin role; you are signed in as %s", env.Name, a.role)
	}
	return fault.Errorf(fault.Forbidden, "configuring the targets of %s needs an admin or the command line", env.Name)
}

// TargetConfiguration is a target's configuration as a caller means to
// store it, for ConfigureTarget.
type TargetConfiguration struct {
	Environment Environment
	// Kind is the target's kind as the definitions routing to it name it
	// (TargetKindOf); its transport checks the configuration.
	Kind   string
	Config TargetConfig
}

// ConfigureTarget is the one way a person or a script changes a target's
// configuration in an environment: the actor's right, the common checks
// (TargetConfig.Check), the kind's own (its transport, through kinds),
// the store with the secret sealed, and the audit entry (masked), in one
// transaction. A refused configuration is a fault.Invalid whose Fields
// name every field to fix; nothing is stored then.
func ConfigureTarget(ctx context.Context, db DB, sealer *secret.Sealer, kinds TargetKinds, actor Actor, c TargetConfiguration) (TargetConfig, error) {
	env := c.Environment
	if err := actor.MayConfigure(env); err != nil {
		return TargetConfig{}, err
	}
	cfg := c.Config
	cfg.EnvironmentID = env.ID
	fields := map[string]string{}
	if err := cfg.Check(); err != nil {
		if fe, ok := fault.As(err); ok && fe.Code == fault.Invalid {
			for k, v := range fe.Fields {
				fields[k] = v
			}
		} else {
			return TargetConfig{}, err
		}
	}
	if _, known := kinds.NeedsConfiguration(c.Kind); !known {
		fields["kind"] = fmt.Sprintf("“%s” is not a kind this installation delivers to", c.Kind)
	} else {
		masked := cfg.Masked()
		masked.HasSecret = cfg.Secret != ""
		if cfg.KeepSecret && cfg.Secret == "" {
			stored, err := TargetConfigMasked(ctx, db, env.ID, cfg.Target)
			if err != nil && fault.CodeOf(err) != fault.NotFound {
				return TargetConfig{}, err
			}
			masked.HasSecret = stored.HasSecret
		}
		for _, p := range kinds.CheckTargetConfig(c.Kind, masked) {
			fields[p.Field] = p.Problem
		}
	}
	if len(fields) > 0 {
		return TargetConfig{}, &fault.Error{Code: fault.Invalid, Fields: fields,
			Message: fmt.Sprintf("fix the configuration of target “%s” in %s: %s; nothing was saved", cfg.Target, env.Name, strings.Join(sortedProblems(fields), "; "))}
	}
	var saved TargetConfig
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		var err error
		if saved, err = TargetConfigPut(ctx, tx, sealer, cfg, actor.editor()); err != nil {
			return err
		}
		return account.Audit(ctx, tx, actor.audit(), "target.configure", "target", env.Name+"/"+cfg.Target, nil, saved.Masked())
	})
	return saved, err
}

// TargetKindOf returns the kind the flows give target name: that of the
// most recently changed draft or version that defines it, "http" when
// none does or it names no kind.
func TargetKindOf(ctx context.Context, db txn.DBTX, name string) (string, error) {
	var kind string
	err := db.QueryRow(ctx, targetKindSelect, name).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return "http", nil
	}
	if err != nil {
		return "", fmt.Errorf("kind of target %s: %w", name, err)
	}
	return kind, nil
}

// TargetUse is a flow that delivers to a target: what runs in the
// environment, the flow's latest version, or its draft.
type TargetUse struct {
	Flow string // slug
	Kind string // the kind the flow gives the target
	// Deployed is the version running in the environment that delivers
	// to the target (0: none does); Latest the latest version that does
	// (0: only the draft).
	Deployed, Latest int
	InDraft          bool
	// As is the flow's local name for the target in the environment
	// (SetFlowTargetNames); empty when the flow names it as it is.
	As string
}

// TargetUses lists the flows whose deployed version in env, latest
// version or draft name target, by slug. Targets are named per
// environment and shared: every flow naming "erp" is delivered to the
// one "erp" configuration of the environment — unless the flow gives
// another environment target the local name "erp" there
// (SetFlowTargetNames), which it then uses instead.
func TargetUses(ctx context.Context, db txn.DBTX, envID int64, target string) ([]TargetUse, error) {
	rows, err := db.Query(ctx, targetUsesSelect, envID, target)
	if err != nil {
		return nil, fmt.Errorf("flows using target %s: %w", target, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TargetUse, error) {
		var u TargetUse
		return u, r.Scan(&u.Flow, &u.Kind, &u.Deployed, &u.Latest, &u.InDraft, &u.As)
	})
}

func sortedProblems(fields map[string]string) []string {
	out := make([]string, 0, len(fields))
	for k, v := range fields {
		out = append(out, k+": "+v)
	}
	slices.Sort(out)
	return out
}

// RemoveTarget removes a target's configuration from env, audited. A
// target a version running in env delivers to, and whose kind needs
// configuration, is refused (Conflict, naming the flows): its deliveries
// would fail; deploy versions without it first.
func RemoveTarget(ctx context.Context, db DB, kinds TargetKinds, actor Actor, env Environment, target string) error {
	if err := actor.MayConfigure(env); err != nil {
		return err
	}
	return txn.Run(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, targetUsersSelect, env.ID, target)
		if err != nil {
			return fmt.Errorf("target %s in use: %w", target, err)
		}
		type use struct{ version, kind string }
		uses, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (use, error) {
			var u use
			return u, r.Scan(&u.version, &u.kind)
		})
		if err != nil {
			return fmt.Errorf("target %s in use: %w", target, err)
		}
		var users []string
		for _, u := range uses {
			if needed, _ := kinds.NeedsConfiguration(u.kind); needed {
				users = append(users, u.version)
			}
		}
		if len(users) > 0 {
			return fault.Errorf(fault.Conflict, "target “%s” is not removed: %s runs in %s and delivers to it; deploy a version that does not before removing it", target, strings.Join(users, ", "), env.Name)
		}
		before, err := TargetConfigMasked(ctx, tx, env.ID, target)
		if fault.CodeOf(err) == fault.NotFound {
			return fault.Errorf(fault.NotFound, "target “%s” is not configured in %s", target, env.Name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, targetConfigDelete, env.ID, target); err != nil {
			return fmt.Errorf("remove target %s: %w", target, err)
		}
		return account.Audit(ctx, tx, actor.audit(), "target.remove", "target", env.Name+"/"+target, before, nil)
	})
}

// MaxVariableLength bounds a variable's value: variables are short
// settings (a company code, a host name), not documents.
const MaxVariableLength = 4096

// SetVariable creates or replaces one of env's variables, audited with
// the value before and after.
func SetVariable(ctx context.Context, db DB, actor Actor, env Environment, name, value string) error {
	if err := actor.MayConfigure(env); err != nil {
		return err
	}
	if len(value) > MaxVariableLength {
		return &fault.Error{Code: fault.Invalid, Fields: map[string]string{"value": fmt.Sprintf("at most %d bytes", MaxVariableLength)},
			Message: fmt.Sprintf("the value of %s is %d bytes; a variable holds at most %d", name, len(value), MaxVariableLength)}
	}
	return txn.Run(ctx, db, func(tx pgx.Tx) error {
		before, err := Variables(ctx, tx, env.ID)
		if err != nil {
			return err
		}
		if err := VariableSet(ctx, tx, env.ID, name, value); err != nil {
			return err
		}
		var old any
		if v, ok := before[name]; ok {
			old = map[string]string{"value": v}
		}
		return account.Audit(ctx, tx, actor.audit(), "variable.set", "variable", env.Name+"/"+name, old, map[string]string{"value": value})
	})
}

// RemoveVariable removes one of env's variables, audited; NotFound when
// there is none of that name.
func RemoveVariable(ctx context.Context, db DB, actor Actor, env Environment, name string) error {
	if err := actor.MayConfigure(env); err != nil {
		return err
	}
	return txn.Run(ctx, db, func(tx pgx.Tx) error {
		if err := VariableDelete(ctx, tx, env.ID, name); err != nil {
			return err
		}
		return account.Audit(ctx, tx, actor.audit(), "variable.delete", "variable", env.Name+"/"+name, map[string]string{"name": name}, nil)
	})
}
