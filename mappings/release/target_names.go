package release

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// Targets are named per environment and shared by flows: every flow whose
// definition names "erp" reaches the environment's one "erp". A flow may
// instead give an environment target a local name: in an environment, the
// flow's "erp" reaches, say, "erp-eu", so two teams' "erp" need not be the
// same system. Deliveries (FlowTargetConfigGet), the promotion gates and
// RemoveTarget all resolve a flow's local names.

// MaxTargetNameLength is the longest target name, in bytes.
const MaxTargetNameLength = 100

// FlowTargetNames returns a flow's local target names in an environment:
// definition target name → environment target. Names not in the map are
// the environment's own.
func FlowTargetNames(ctx context.Context, db txn.DBTX, envID, flowID int64) (map[string]string, error) {
	rows, err := db.Query(ctx, flowTargetNamesSelect, envID, flowID)
	if err != nil {
		return nil, fmt.Errorf("target names: %w", err)
	}
	out := map[string]string{}
	var name, target string
	_, err = pgx.ForEachRow(rows, []any{&name, &target}, func() error {
		out[name] = target
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("target names: %w", err)
	}
	return out, nil
}

// EnvironmentTargetNames returns every flow's local target names in an
// environment, by flow slug, for export and apply; flows without any are
// left out.
func EnvironmentTargetNames(ctx context.Context, db txn.DBTX, envID int64) (map[string]map[string]string, error) {
	rows, err := db.Query(ctx, environmentTargetNamesSelect, envID)
	if err != nil {
		return nil, fmt.Errorf("target names: %w", err)
	}
	out := map[string]map[string]string{}
	var slug, name, target string
	_, err = pgx.ForEachRow(rows, []any{&slug, &name, &target}, func() error {
		if out[slug] == nil {
			out[slug] = map[string]string{}
		}
		out[slug][name] = target
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("target names: %w", err)
	}
	return out, nil
}

// CheckTargetName refuses what cannot name a target: empty, longer than
// MaxTargetNameLength, or with spaces or control characters around it.
func CheckTargetName(name string) error {
	switch {
	case name == "":
		return errors.New("name the target")
	case len(name) > MaxTargetNameLength:
		return fmt.Errorf("at most %d bytes", MaxTargetNameLength)
	case strings.TrimSpace(name) != name || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("“%s” has spaces around it or control characters", name)
	}
	return nil
}

// SetFlowTargetNames is the one way to change a flow's local target names
// in env: names (definition target name → environment target) replace the
// flow's names there; an empty map removes them all. The actor needs
// MayConfigure(env): local names are environment configuration, like the
// targets themselves. Checked and audited ("target.names", before and
// after) in one transaction; a refusal is a fault.Invalid naming each
// name at fault.
func SetFlowTargetNames(ctx context.Context, db DB, actor Actor, env Environment, flow mappings.Flow, names map[string]string) error {
	if err := actor.MayConfigure(env); err != nil {
		return err
	}
	fields := map[string]string{}
	for name, target := range names {
		if err := CheckTargetName(name); err != nil {
			fields[name] = err.Error()
			continue
		}
		if err := CheckTargetName(target); err != nil {
			fields[name] = "the environment target: " + err.Error()
			continue
		}
		if name == target {
			fields[name] = "names the target it already is; leave it out"
		}
	}
	if len(fields) > 0 {
		return &fault.Error{Code: fault.Invalid, Fields: fields,
			Message: fmt.Sprintf("the target names of %s in %s were not saved: %s", flow.Slug, env.Name, strings.Join(sortedProblems(fields), "; "))}
	}
	return txn.Run(ctx, db, func(tx pgx.Tx) error {
		before, err := FlowTargetNames(ctx, tx, env.ID, flow.ID)
		if err != nil {
			return err
		}
		if maps.Equal(before, names) || len(before) == 0 && len(names) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, flowTargetNamesDelete, env.ID, flow.ID); err != nil {
			return fmt.Errorf("target names of %s: %w", flow.Slug, err)
		}
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if _, err := tx.Exec(ctx, flowTargetNameInsert, env.ID, flow.ID, name, names[name], actor.email); err != nil {
				return fmt.Errorf("target names of %s: %w", flow.Slug, err)
			}
		}
		return account.Audit(ctx, tx, actor.audit(), "target.names", "flow", env.Name+"/"+flow.Slug,
			map[string]any{"targets": before}, map[string]any{"targets": names})
	})
}

// FlowTargetConfigGet is TargetConfigGet for the target a flow's route
// names: the flow's local name in the environment is resolved first, so
// the configuration returned (and its Target) is the environment target
// the name reaches. NotFound names both when they differ.
func FlowTargetConfigGet(ctx context.Context, db txn.DBTX, sealer *secret.Sealer, envID, flowID int64, name string) (TargetConfig, error) {
	c, err := scanTarget(db.QueryRow(ctx, flowTargetConfigSelect, envID, flowID, name), sealer)
	if errors.Is(err, pgx.ErrNoRows) {
		var target string
		if err := db.QueryRow(ctx, flowTargetNameSelect, envID, flowID, name).Scan(&target); err == nil && target != name {
			return TargetConfig{}, fault.Errorf(fault.NotFound, "target “%s” (the environment's “%s” for this flow) is not configured in this environment; set its URL and credentials on the Environments page", name, target)
		}
		return TargetConfig{}, fault.Errorf(fault.NotFound, "target “%s” is not configured in this environment; set its URL and credentials on the Environments page", name)
	}
	if err != nil {
		return TargetConfig{}, fmt.Errorf("target %s: %w", name, err)
	}
	return c, nil
}
