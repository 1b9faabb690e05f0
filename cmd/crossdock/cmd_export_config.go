package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/crossdock/crossdock/engine/format"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

const exportConfigUsage = `Usage:
  crossdock export-config -o DIR [--overwrite]

Writes this installation as the directory crossdock apply reads
(docs/environments-as-code.md): flows/<slug>.json, the latest version of
every flow that has one, and environments/<env>.yaml with its targets,
variables, deployments and flows' local target names. No secret is ever
written: a target with a stored secret gets
secretFrom: env:<TARGET>_<FIELD> (e.g. env:ERP_SALES_ORDERS_SECRET), a
placeholder to provide when applying. Applied to the same installation
with those variables set to the stored secrets, the directory changes
nothing. Drafts and pending promotion requests are not configuration and
are not written.

DIR must not hold flows/ or environments/ files yet; --overwrite replaces
them. Needs DATABASE_URL.
`

// runExportConfig is `crossdock export-config`.
func runExportConfig(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var raw rawConfig
	fs := newFlagSet("export-config", "", getenv, stderr, &raw, "DATABASE_URL")
	fs.Usage = func() { fmt.Fprint(stderr, exportConfigUsage); fs.PrintDefaults() }
	dir := fs.String("o", "", "the directory to write")
	overwrite := fs.Bool("overwrite", false, "replace the flows/ and environments/ files already in the directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	for _, sub := range []string{"flows", "environments"} {
		entries, err := os.ReadDir(filepath.Join(*dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if len(entries) > 0 && !*overwrite {
			return fmt.Errorf("%s already holds files; export to an empty directory, or pass --overwrite to replace them", filepath.Join(*dir, sub))
		}
	}
	pool, err := poolFromEnv(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	files := map[string][]byte{}
	var skipped []string
	// One snapshot: what runs where is read at the same instant as the
	// versions and the configuration.
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		skipped, err = exportConfig(ctx, tx, pipeline.Transports(pool, nil), files)
		return err
	})
	if err != nil {
		return cliFault(err)
	}
	if *overwrite {
		for _, sub := range []string{"flows", "environments"} {
			if err := os.RemoveAll(filepath.Join(*dir, sub)); err != nil {
				return err
			}
		}
	}
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		path := filepath.Join(*dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "wrote", filepath.ToSlash(filepath.Join(*dir, name)))
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "crossdock export-config: %s has no published version; not written\n", s)
	}
	return account.Audit(ctx, pool, release.CLI().AuditActor(), "config.export", "config", "", nil, map[string]any{"files": names})
}

// Environment files as export-config writes them; apply reads the same
// keys (config_dir.go).
type envDoc struct {
	Targets     map[string]targetDoc    `yaml:"targets,omitempty"`
	Variables   map[string]string       `yaml:"variables,omitempty"`
	Deployments map[string]any          `yaml:"deployments,omitempty"`
	Flows       map[string]flowNamesDoc `yaml:"flows,omitempty"`
}

type targetDoc struct {
	Kind       string            `yaml:"kind"`
	Settings   map[string]string `yaml:"settings,omitempty"`
	SecretFrom string            `yaml:"secretFrom,omitempty"`
	Policy     policyDoc         `yaml:"policy"`
	// Format is left out for json, the default.
	Format *format.Spec `yaml:"format,omitempty"`
}

type policyDoc struct {
	Timeout          string  `yaml:"timeout"`
	RatePerSecond    float64 `yaml:"ratePerSecond"`
	MaxAttempts      int     `yaml:"maxAttempts"`
	BaseDelay        string  `yaml:"baseDelay"`
	MaxDelay         string  `yaml:"maxDelay"`
	Window           string  `yaml:"window"`
	FailureThreshold int     `yaml:"failureThreshold"`
	OpenFor          string  `yaml:"openFor"`
}

type flowNamesDoc struct {
	Targets map[string]string `yaml:"targets"`
}

// secretPlaceholder is the variable export-config names for a target's
// secret field: ERP_SALES_ORDERS_SECRET for erp-sales-orders' secret.
func secretPlaceholder(target, field string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return '_'
	}, target+"_"+field)
}

// exportConfig puts the installation's files into files, by path in the
// directory, and returns the flows it left out (no version).
func exportConfig(ctx context.Context, tx pgx.Tx, kinds *transport.Registry, files map[string][]byte) ([]string, error) {
	flows, err := mappings.FlowList(ctx, tx, mappings.FlowFilter{})
	if err != nil {
		return nil, err
	}
	latest := map[int64]mappings.Flow{}
	defs := map[string]*engine.Definition{} // by slug, the latest version's
	var skipped []string
	for _, f := range flows {
		if f.LatestVersion == 0 {
			skipped = append(skipped, f.Slug)
			continue
		}
		latest[f.ID] = f
		v, err := mappings.VersionGet(ctx, tx, f.ID, f.LatestVersion)
		if err != nil {
			return nil, err
		}
		defs[f.Slug] = v.Definition
		canonical, err := v.Definition.Canonical()
		if err != nil {
			return nil, err
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, canonical, "", "  "); err != nil {
			return nil, err
		}
		pretty.WriteByte('\n')
		files["flows/"+f.Slug+".json"] = pretty.Bytes()
	}
	slices.Sort(skipped)
	envs, err := release.EnvironmentList(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, env := range envs {
		doc := envDoc{Targets: map[string]targetDoc{}, Deployments: map[string]any{}, Flows: map[string]flowNamesDoc{}}
		names, err := release.EnvironmentTargetNames(ctx, tx, env.ID)
		if err != nil {
			return nil, err
		}
		// A target flows reach only by a local name has the kind those
		// flows give the name.
		aliasKind := map[string]string{}
		for slug, n := range names {
			doc.Flows[slug] = flowNamesDoc{Targets: n}
			for local, target := range n {
				if def := defs[slug]; def != nil {
					for _, t := range def.Targets {
						if t.Name == local {
							aliasKind[target] = cmp.Or(t.Kind, engine.TargetHTTP)
						}
					}
				}
			}
		}
		targets, err := release.TargetConfigList(ctx, tx, env.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range targets {
			kind, err := release.TargetKindOf(ctx, tx, m.Target)
			if err != nil {
				return nil, err
			}
			if k, ok := aliasKind[m.Target]; ok {
				kind = k
			}
			td := targetDoc{Kind: kind, Policy: policyDoc{Timeout: m.Timeout.String(), RatePerSecond: m.RatePerSecond, MaxAttempts: m.Retry.MaxAttempts,
				BaseDelay: m.Retry.BaseDelay.String(), MaxDelay: m.Retry.MaxDelay.String(), Window: m.Retry.Window.String(),
				FailureThreshold: m.Breaker.FailureThreshold, OpenFor: m.Breaker.OpenFor.String()}}
			if f := m.Format.Normalized(); f.Kind != format.JSON {
				td.Format = &f
			}
			if t, ok := kinds.Get(transport.Kind(kind)); ok {
				td.Settings = map[string]string{}
				for k, v := range t.Values(m.Config()) {
					if v != "" {
						td.Settings[k] = v
					}
				}
				for _, f := range t.Fields() {
					if f.Input == transport.Secret && m.HasSecret {
						td.SecretFrom = "env:" + secretPlaceholder(m.Target, f.Name)
					}
				}
			}
			doc.Targets[m.Target] = td
		}
		if doc.Variables, err = release.Variables(ctx, tx, env.ID); err != nil {
			return nil, err
		}
		deployments, err := release.DeploymentList(ctx, tx, env.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range deployments {
			f, ok := latest[d.FlowID]
			if !ok {
				continue
			}
			if d.VersionNumber == f.LatestVersion {
				doc.Deployments[f.Slug] = "latest"
			} else {
				doc.Deployments[f.Slug] = d.VersionNumber
			}
		}
		var out bytes.Buffer
		fmt.Fprintf(&out, "# Environment %s, written by crossdock export-config; apply with crossdock apply -f.\n", env.Name)
		enc := yaml.NewEncoder(&out)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		files["environments/"+env.Name+".yaml"] = out.Bytes()
	}
	return skipped, nil
}
