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
// targets: admins, the command line, and Crossdock itself (the demo seed)
// where the environment is not protected.
func (a Actor) MayConfigure(env Environment) error {
	switch {
	case a.hasRole(account.RoleAdmin), a.kind == kindCLI, a.kind == kindSystem && !env.Protected:
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
			err := db.QueryRow(ctx, `select secret_ciphertext is not null from target_configs where environment_id = $1 and target_name = $2`,
				env.ID, cfg.Target).Scan(&masked.HasSecret)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return TargetConfig{}, fmt.Errorf("target %s: %w", cfg.Target, err)
			}
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
	err := db.QueryRow(ctx, `
		select coalesce(nullif(t->>'kind', ''), 'http') from (
			select definition, updated_at as at from flow_drafts
			union all
			select definition, created_at from flow_versions
		) d cross join lateral jsonb_array_elements(case jsonb_typeof(d.definition->'targets') when 'array' then d.definition->'targets' else '[]' end) t
		where t->>'name' = $1
		order by d.at desc limit 1`, name).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return "http", nil
	}
	if err != nil {
		return "", fmt.Errorf("kind of target %s: %w", name, err)
	}
	return kind, nil
}

func sortedProblems(fields map[string]string) []string {
	out := make([]string, 0, len(fields))
	for k, v := range fields {
		out = append(out, k+": "+v)
	}
	slices.Sort(out)
	return out
}
