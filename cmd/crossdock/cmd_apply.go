package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

const applyUsage = `Usage:
  crossdock apply -f DIR [--dry-run] [--prune]

Makes this installation match DIR (docs/environments-as-code.md):
flows/<slug>.json|yaml are flow definitions, environments/<env>.yaml|json
the targets, variables, deployments and flows' local target names of an
environment. Every file is read and checked first (unknown keys, target
settings, secrets, definitions that do not compile): any problem, and
nothing is changed. Then the plan is printed, one line per change, and
applied in one transaction through the operations the UI uses, as the
command line (release.CLI): a changed definition is published as a new
version, targets configured, variables set, versions promoted through
the gates — a protected environment gets a promotion request, never a
deployment. Applying the same DIR again prints "no changes".

Secrets are never in DIR: a target names its secret with
secretFrom: env:NAME or secretFrom: file:PATH; a missing one is an error
before anything changes. A target without secretFrom keeps its stored
secret. Stored secrets are decrypted only to compare, with
CROSSDOCK_SECRET_KEY (or the development key a server keeps under
CROSSDOCK_DATA_DIR; apply never generates one).

Targets, variables and local names that DIR does not list are left alone;
--prune removes them. --dry-run applies the plan in a transaction that is
rolled back, so it finds what applying would refuse and changes nothing.

Exit status: 0 applied or no changes, 1 a problem (nothing changed), 2 usage.
Needs DATABASE_URL.
`

// runApply is `crossdock apply`.
func runApply(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var raw rawConfig
	fs := newFlagSet("apply", "", getenv, stderr, &raw, "DATABASE_URL", "CROSSDOCK_SECRET_KEY", "CROSSDOCK_DATA_DIR",
		"CROSSDOCK_LOG_LEVEL", "CROSSDOCK_LOG_FORMAT", "CROSSDOCK_SESSION_IDLE", "CROSSDOCK_SESSION_LIFETIME", "CROSSDOCK_ADDR")
	fs.Usage = func() { fmt.Fprint(stderr, applyUsage); fs.PrintDefaults() }
	dir := fs.String("f", "", "the directory to apply")
	dryRun := fs.Bool("dry-run", false, "print the plan and check it against the installation; change nothing")
	prune := fs.Bool("prune", false, "remove targets, variables and local target names the directory does not list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	cd, err := readConfigDir(*dir, getenv)
	if err != nil {
		return err
	}
	// The secret key must be the server's: apply uses CROSSDOCK_SECRET_KEY,
	// or the development key the server keeps under CROSSDOCK_DATA_DIR —
	// but never generates one, which would seal secrets the server cannot
	// open. Without a key, a target with a secret (stored or in the
	// directory) is an error naming the variable.
	_, statErr := os.Stat(filepath.Join(raw.dataDir, "secret.key"))
	cfg, warnings, err := raw.resolve(getenv, raw.secretKey != "" || statErr == nil)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "crossdock apply:", w)
	}
	var sealer *secret.Sealer
	if cfg.SecretKey != nil {
		if sealer, err = secret.NewSealer(cfg.SecretKey); err != nil {
			return err
		}
	}
	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	a := &applier{dir: cd, sealer: sealer, kinds: pipeline.Transports(pool, nil), prune: *prune, now: time.Now(),
		reason: "crossdock apply " + filepath.Base(filepath.Clean(*dir))}
	errDryRun := errors.New("dry run")
	var steps []applyStep
	var results []string // said once committed
	err = txn.Run(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if steps, err = a.plan(ctx, tx); err != nil {
			return err
		}
		if len(steps) == 0 {
			return nil
		}
		fmt.Fprintf(stdout, "plan for %s:\n", *dir)
		for _, s := range steps {
			fmt.Fprintln(stdout, "  "+s.what)
		}
		for _, s := range steps {
			done, err := s.do(ctx, tx)
			if err != nil {
				return &stepError{what: s.what, err: cliFault(err)}
			}
			if done != "" {
				results = append(results, done)
			}
		}
		if *dryRun {
			return errDryRun
		}
		return account.Audit(ctx, tx, release.CLI().AuditActor(), "config.apply", "config", a.reason, nil, map[string]any{"changes": len(steps)})
	})
	var refused *stepError
	switch {
	case errors.As(err, &refused) && !*dryRun:
		// The refusal rolled the whole apply back; it is audited like a
		// refused promotion or import.
		if aerr := account.Audit(ctx, pool, release.CLI().AuditActor(), "config.refuse", "config", a.reason, nil,
			map[string]any{"step": refused.what, "why": refused.err.Error()}); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	case errors.Is(err, errDryRun):
		fmt.Fprintf(stdout, "dry run: %d change%s checked against the installation; nothing was changed\n", len(steps), plural(len(steps)))
		return nil
	case err != nil:
		return err
	case len(steps) == 0:
		fmt.Fprintln(stdout, "no changes: the installation matches", *dir)
		return nil
	}
	for _, r := range results {
		fmt.Fprintln(stdout, "  "+r)
	}
	fmt.Fprintf(stdout, "applied %d change%s\n", len(steps), plural(len(steps)))
	return nil
}

// applyStep is one change of the plan: what it does, in words, and the
// doing, which may say what came of it (a promotion request's id).
type applyStep struct {
	what string
	do   func(ctx context.Context, tx pgx.Tx) (string, error)
	// removal: a --prune step, made after the environment's other
	// changes (a local name or a deployment may stop using a target).
	removal bool
}

// stepError is a step of the plan refused while applying it (a gate, a
// kind's check, the policy): the whole apply is rolled back.
type stepError struct {
	what string
	err  error
}

func (e *stepError) Error() string { return e.what + ": " + e.err.Error() }

func (e *stepError) Unwrap() error { return e.err }

// applier plans and applies a configuration directory.
type applier struct {
	dir    *configDir
	sealer *secret.Sealer
	kinds  *transport.Registry
	prune  bool
	now    time.Time
	reason string
	// version is the version of each directory flow after the plan: the
	// one whose checksum is its file's.
	version map[string]int
	// published is set when the flow's version is published by this
	// plan.
	published map[string]bool
}

// plan compares the directory with the installation and returns the
// changes, in the order they must be made: flows first (a deployment
// needs the version), then environment by environment in promotion order
// its targets, variables, local names and deployments (the gates read the
// configuration). Problems the installation shows up (an unknown
// environment, a target setting its kind refuses, a definition that does
// not compile) are all returned together.
func (a *applier) plan(ctx context.Context, tx pgx.Tx) ([]applyStep, error) {
	var steps []applyStep
	var ps problems
	a.version, a.published = map[string]int{}, map[string]bool{}
	for _, ff := range a.dir.flows {
		s, err := a.planFlow(ctx, tx, ff, &ps)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s...)
	}
	envs, err := release.EnvironmentList(ctx, tx)
	if err != nil {
		return nil, err
	}
	byName := map[string]release.Environment{}
	var names []string
	for _, e := range envs {
		byName[e.Name] = e
		names = append(names, e.Name)
	}
	files := slices.Clone(a.dir.envs)
	for _, ef := range files {
		if _, ok := byName[ef.name]; !ok {
			ps.add(ef.file, 0, "", "this installation has no environment “%s” (it has %s); name the file after one", ef.name, strings.Join(names, ", "))
		}
	}
	slices.SortFunc(files, func(x, y envFile) int { return cmp.Compare(byName[x.name].Position, byName[y.name].Position) })
	for _, ef := range files {
		env, ok := byName[ef.name]
		if !ok {
			continue
		}
		s, err := a.planEnv(ctx, tx, env, ef, &ps)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s...)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return steps, nil
}

func (a *applier) planFlow(ctx context.Context, tx pgx.Tx, ff flowFile, ps *problems) ([]applyStep, error) {
	// The file is compared as it would be stored: a version's checksum is
	// that of its stored form (mappings.StoredForm).
	def, err := mappings.StoredForm(ctx, tx, ff.def)
	if err != nil {
		return nil, err
	}
	checksum, err := def.Checksum()
	if err != nil {
		return nil, err
	}
	ff.def = def
	f, err := mappings.FlowBySlug(ctx, tx, ff.slug)
	isNew := fault.CodeOf(err) == fault.NotFound
	if err != nil && !isNew {
		return nil, err
	}
	var latest *mappings.Version
	if !isNew && f.LatestVersion > 0 {
		v, err := mappings.VersionGet(ctx, tx, f.ID, f.LatestVersion)
		if err != nil {
			return nil, err
		}
		if v.Checksum == checksum {
			a.version[ff.slug] = v.Number
			return nil, nil
		}
		latest = &v
	}
	if refused := mappings.Check(ff.def); refused != nil {
		ps.add(ff.file, 0, "", "%v", refused)
		return nil, nil
	}
	number := f.LatestVersion + 1
	a.version[ff.slug], a.published[ff.slug] = number, true
	var what string
	switch {
	case isNew:
		what = fmt.Sprintf("flow %s: create it and publish v1", ff.slug)
	case latest == nil:
		what = fmt.Sprintf("flow %s: publish v1 (no version yet)", ff.slug)
	default:
		n := len(mappings.Diff(latest.Definition, ff.def).Changes)
		what = fmt.Sprintf("flow %s: publish v%d (definition changed: %d change%s from v%d)", ff.slug, number, n, plural(n), latest.Number)
	}
	ed := mappings.Editor{Email: release.CLI().Name()}
	return []applyStep{{what: what, do: func(ctx context.Context, tx pgx.Tx) (string, error) {
		fl, err := mappings.FlowBySlug(ctx, tx, ff.slug)
		switch {
		case fault.CodeOf(err) == fault.NotFound:
			if fl, err = mappings.FlowCreate(ctx, tx, mappings.NewFlow{Name: ff.slug, Slug: ff.slug, Definition: ff.def}, ed); err != nil {
				return "", err
			}
			if err := account.Audit(ctx, tx, release.CLI().AuditActor(), "flow.create", "flow", fl.Slug, nil, map[string]any{"from": ff.file}); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		default:
			if _, err := mappings.DraftSave(ctx, tx, fl.ID, fl.DraftRevision, ff.def, ed); err != nil {
				return "", err
			}
		}
		d, err := mappings.DraftGet(ctx, tx, fl.ID)
		if err != nil {
			return "", err
		}
		v, err := mappings.Publish(ctx, tx, fl.ID, d.Revision, a.reason, ed)
		if err != nil {
			return "", err
		}
		if v.Number != number {
			return "", fmt.Errorf("%s was published as v%d meanwhile; apply again", ff.slug, v.Number)
		}
		return "", account.Audit(ctx, tx, release.CLI().AuditActor(), "flow.publish", "flow", ff.slug, nil,
			map[string]any{"version": v.Number, "checksum": v.Checksum, "note": v.Note})
	}}}, nil
}

func (a *applier) planEnv(ctx context.Context, tx pgx.Tx, env release.Environment, ef envFile, ps *problems) ([]applyStep, error) {
	var steps []applyStep
	s, err := a.planTargets(ctx, tx, env, ef, ps)
	if err != nil {
		return nil, err
	}
	steps = append(steps, s...)
	if s, err = a.planVariables(ctx, tx, env, ef, ps); err != nil {
		return nil, err
	}
	steps = append(steps, s...)
	if s, err = a.planNames(ctx, tx, env, ef, ps); err != nil {
		return nil, err
	}
	steps = append(steps, s...)
	if s, err = a.planDeployments(ctx, tx, env, ef, ps); err != nil {
		return nil, err
	}
	steps = append(steps, s...)
	slices.SortStableFunc(steps, func(x, y applyStep) int {
		switch {
		case x.removal == y.removal:
			return 0
		case y.removal:
			return -1
		}
		return 1
	})
	return steps, nil
}

// requestSettingNames are the names release.TargetConfig.Check gives the
// http settings it checks, by the settings' own names.
var requestSettingNames = map[string]string{
	"urlTemplate": "url", "method": "method", "auth": "auth", "authHeaderName": "auth_header_name", "username": "username",
}

// targetConfig is what a target of the file means to store, and the
// transport of its kind; problems are added by file path.
func (a *applier) targetConfig(ctx context.Context, tx pgx.Tx, env release.Environment, ef envFile, ts targetSpec, stored *release.TargetConfig, ps *problems) (release.TargetConfig, transport.Transport, bool) {
	before := len(*ps)
	fail := func(field, format string, args ...any) {
		path := "targets." + ts.name
		if field != "" {
			path += "." + field
		}
		ps.add(ef.file, cmp.Or(ts.lines[field], ts.line), path, format, args...)
	}
	kind := ts.kind
	if kind == "" {
		var err error
		if kind, err = a.kindOf(ctx, tx, ef, ts.name); err != nil {
			return release.TargetConfig{}, nil, false
		}
	}
	t, ok := a.kinds.Get(transport.Kind(kind))
	if !ok {
		var kinds []string
		for _, k := range a.kinds.Kinds() {
			kinds = append(kinds, string(k))
		}
		fail("kind", "“%s” is not a kind this installation delivers to; one of %s", kind, strings.Join(kinds, ", "))
		return release.TargetConfig{}, nil, false
	}
	if err := release.CheckTargetName(ts.name); err != nil {
		fail("", "%v", err)
	}
	cfg := release.DefaultTargetConfig(env.ID, ts.name)
	p := ts.policy
	set := func(dst *time.Duration, v *time.Duration) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cfg.Timeout, p.timeout)
	set(&cfg.Retry.BaseDelay, p.baseDelay)
	set(&cfg.Retry.MaxDelay, p.maxDelay)
	set(&cfg.Retry.Window, p.window)
	set(&cfg.Breaker.OpenFor, p.openFor)
	if p.ratePerSecond != nil {
		cfg.RatePerSecond = *p.ratePerSecond
	}
	if p.maxAttempts != nil {
		cfg.Retry.MaxAttempts = *p.maxAttempts
	}
	if p.failureThreshold != nil {
		cfg.Breaker.FailureThreshold = *p.failureThreshold
	}
	cfg.Format = ts.format
	var fieldNames []string
	secretField := ""
	for _, f := range t.Fields() {
		fieldNames = append(fieldNames, f.Name)
		if f.Input == transport.Secret {
			secretField = f.Name
		}
	}
	for k := range ts.settings {
		switch {
		case k == secretField:
			fail("settings."+k, "secrets are never written in the file; name where it comes from with secretFrom: env:NAME or file:PATH")
		case !slices.Contains(fieldNames, k):
			fail("settings."+k, "not a setting of %s targets; they are %s", kind, strings.Join(slices.DeleteFunc(slices.Clone(fieldNames), func(n string) bool { return n == secretField }), ", "))
		}
	}
	if ts.secretFrom != "" && secretField == "" {
		fail("secretFrom", "%s targets have no secret", kind)
	}
	values := map[string]string{}
	for _, n := range fieldNames {
		values[n] = ts.settings[n]
	}
	if secretField != "" {
		values[secretField] = ts.secret
	}
	if stored != nil {
		cfg.HasSecret = stored.HasSecret
	}
	problemsOf := map[string]string{}
	for k, v := range t.Apply(&cfg, values) {
		problemsOf[k] = v
	}
	if ts.removeSecret {
		cfg.Secret, cfg.KeepSecret, cfg.HasSecret = "", false, false
		for k, v := range t.Validate(cfg.Masked()) {
			problemsOf[k] = v
		}
	}
	if err := cfg.Check(); err != nil {
		if fe, ok := fault.As(err); ok {
			for k, v := range fe.Fields {
				k = cmp.Or(requestSettingNames[k], k)
				if _, dup := problemsOf[k]; !dup {
					problemsOf[k] = v
				}
			}
		}
	}
	for field, v := range problemsOf {
		switch {
		case field == secretField && ts.secretFrom != "":
			fail("secretFrom", "%s", v)
		case field == secretField:
			fail("", "secret: %s; name where it comes from with secretFrom: env:NAME or file:PATH", v)
		case slices.Contains(fieldNames, field):
			fail("settings."+field, "%s", v)
		case slices.Contains(policyKeys, field):
			fail("policy."+field, "%s", v)
		case field == "settings":
			fail("settings", "%s", v)
		case strings.HasPrefix(field, "format."):
			ps.add(ef.file, cmp.Or(ts.lines["format"], ts.line), "targets."+ts.name+"."+field, "%s", v)
		default:
			fail("policy."+field, "%s", v)
		}
	}
	return cfg, t, len(*ps) == before
}

// kindOf is the kind of a target the file gives none: the kind a flow
// gives the local name that reaches it in this environment file (the
// flow's file, else its latest version), else the kind the flows naming it
// give it (release.TargetKindOf).
func (a *applier) kindOf(ctx context.Context, tx pgx.Tx, ef envFile, target string) (string, error) {
	for _, slug := range slices.Sorted(maps.Keys(ef.names)) {
		for local, to := range ef.names[slug] {
			if to != target {
				continue
			}
			var def *engine.Definition
			if i := slices.IndexFunc(a.dir.flows, func(f flowFile) bool { return f.slug == slug }); i >= 0 {
				def = a.dir.flows[i].def
			} else if f, err := mappings.FlowBySlug(ctx, tx, slug); err == nil && f.LatestVersion > 0 {
				v, err := mappings.VersionGet(ctx, tx, f.ID, f.LatestVersion)
				if err != nil {
					return "", err
				}
				def = v.Definition
			}
			if def == nil {
				continue
			}
			for _, t := range def.Targets {
				if t.Name == local {
					return cmp.Or(t.Kind, engine.TargetHTTP), nil
				}
			}
		}
	}
	return release.TargetKindOf(ctx, tx, target)
}

// targetChanges names what differs between a stored configuration and
// the one about to be stored.
func targetChanges(stored, want release.TargetConfig, t transport.Transport) []string {
	var out []string
	sv, wv := t.Values(stored), t.Values(want)
	for _, f := range t.Fields() {
		if f.Input != transport.Secret && sv[f.Name] != wv[f.Name] {
			out = append(out, "settings."+f.Name)
		}
	}
	switch {
	case want.KeepSecret:
	case want.Secret == "" && stored.HasSecret:
		out = append(out, "secret removed")
	case want.Secret != "" && !stored.HasSecret:
		out = append(out, "secret set")
	case want.Secret != stored.Secret:
		out = append(out, "secret changed")
	}
	policy := []struct {
		name string
		a, b any
	}{
		{"timeout", stored.Timeout, want.Timeout}, {"ratePerSecond", stored.RatePerSecond, want.RatePerSecond},
		{"maxAttempts", stored.Retry.MaxAttempts, want.Retry.MaxAttempts}, {"baseDelay", stored.Retry.BaseDelay, want.Retry.BaseDelay},
		{"maxDelay", stored.Retry.MaxDelay, want.Retry.MaxDelay}, {"window", stored.Retry.Window, want.Retry.Window},
		{"failureThreshold", stored.Breaker.FailureThreshold, want.Breaker.FailureThreshold}, {"openFor", stored.Breaker.OpenFor, want.Breaker.OpenFor},
	}
	for _, p := range policy {
		if p.a != p.b {
			out = append(out, "policy."+p.name)
		}
	}
	if !reflect.DeepEqual(stored.Format.Normalized(), want.Format.Normalized()) {
		out = append(out, "format")
	}
	return out
}

func (a *applier) planTargets(ctx context.Context, tx pgx.Tx, env release.Environment, ef envFile, ps *problems) ([]applyStep, error) {
	var steps []applyStep
	listed := map[string]bool{}
	for _, ts := range ef.targets {
		listed[ts.name] = true
		var stored *release.TargetConfig
		switch c, err := release.TargetConfigGet(ctx, tx, a.sealer, env.ID, ts.name); {
		case err == nil:
			stored = &c
		case fault.CodeOf(err) != fault.NotFound:
			return nil, fmt.Errorf("%s: target %s: %w", ef.file, ts.name, cliFault(err))
		}
		cfg, t, ok := a.targetConfig(ctx, tx, env, ef, ts, stored, ps)
		if !ok {
			continue
		}
		if cfg.Secret != "" && a.sealer == nil {
			ps.add(ef.file, ts.lines["secretFrom"], "targets."+ts.name+".secretFrom", "CROSSDOCK_SECRET_KEY is not set: set it to the key the server seals target secrets with")
			continue
		}
		var what string
		if stored == nil {
			what = fmt.Sprintf("%s: add target %s (%s)", env.Name, ts.name, t.Kind())
		} else {
			changes := targetChanges(*stored, cfg, t)
			if len(changes) == 0 {
				continue
			}
			what = fmt.Sprintf("%s: change target %s: %s", env.Name, ts.name, strings.Join(changes, ", "))
		}
		kind := string(t.Kind())
		steps = append(steps, applyStep{what: what, do: func(ctx context.Context, tx pgx.Tx) (string, error) {
			_, err := release.ConfigureTarget(ctx, tx, a.sealer, a.kinds, release.CLI(), release.TargetConfiguration{Environment: env, Kind: kind, Config: cfg})
			return "", err
		}})
	}
	if len(ef.targets) == 0 && !a.prune {
		return steps, nil
	}
	stored, err := release.TargetConfigList(ctx, tx, env.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range stored {
		if listed[m.Target] || !a.prune {
			continue
		}
		name := m.Target
		steps = append(steps, applyStep{what: fmt.Sprintf("%s: remove target %s (--prune: not in %s)", env.Name, name, ef.file), removal: true, do: func(ctx context.Context, tx pgx.Tx) (string, error) {
			return "", release.RemoveTarget(ctx, tx, a.kinds, release.CLI(), env, name)
		}})
	}
	return steps, nil
}

func (a *applier) planVariables(ctx context.Context, tx pgx.Tx, env release.Environment, ef envFile, ps *problems) ([]applyStep, error) {
	stored, err := release.Variables(ctx, tx, env.ID)
	if err != nil {
		return nil, err
	}
	var steps []applyStep
	for _, name := range slices.Sorted(maps.Keys(ef.variables)) {
		value := ef.variables[name]
		if err := release.CheckVariableName(name); err != nil {
			ps.add(ef.file, ef.varLines[name], "variables."+name, "%s", cliFault(err))
			continue
		}
		if len(value) > release.MaxVariableLength {
			ps.add(ef.file, ef.varLines[name], "variables."+name, "%d bytes; a variable holds at most %d", len(value), release.MaxVariableLength)
			continue
		}
		old, ok := stored[name]
		if ok && old == value {
			continue
		}
		what := fmt.Sprintf("%s: set variable %s to %s", env.Name, name, strconv.Quote(value))
		if ok {
			what += " (was " + strconv.Quote(old) + ")"
		}
		steps = append(steps, applyStep{what: what, do: func(ctx context.Context, tx pgx.Tx) (string, error) {
			return "", release.SetVariable(ctx, tx, release.CLI(), env, name, value)
		}})
	}
	if !a.prune {
		return steps, nil
	}
	for _, name := range slices.Sorted(maps.Keys(stored)) {
		if _, listed := ef.variables[name]; listed {
			continue
		}
		steps = append(steps, applyStep{what: fmt.Sprintf("%s: remove variable %s (--prune: not in %s)", env.Name, name, ef.file), removal: true, do: func(ctx context.Context, tx pgx.Tx) (string, error) {
			return "", release.RemoveVariable(ctx, tx, release.CLI(), env, name)
		}})
	}
	return steps, nil
}

// inDir reports whether the directory has the flow's definition.
func (a *applier) inDir(slug string) bool {
	return slices.ContainsFunc(a.dir.flows, func(f flowFile) bool { return f.slug == slug })
}

func (a *applier) planNames(ctx context.Context, tx pgx.Tx, env release.Environment, ef envFile, ps *problems) ([]applyStep, error) {
	stored, err := release.EnvironmentTargetNames(ctx, tx, env.ID)
	if err != nil {
		return nil, err
	}
	var steps []applyStep
	step := func(slug string, names map[string]string, what string) {
		steps = append(steps, applyStep{what: what, do: func(ctx context.Context, tx pgx.Tx) (string, error) {
			f, err := mappings.FlowBySlug(ctx, tx, slug)
			if err != nil {
				return "", err
			}
			return "", release.SetFlowTargetNames(ctx, tx, release.CLI(), env, f, names)
		}})
	}
	for _, slug := range slices.Sorted(maps.Keys(ef.names)) {
		names := ef.names[slug]
		if _, err := mappings.FlowBySlug(ctx, tx, slug); fault.CodeOf(err) == fault.NotFound && !a.inDir(slug) {
			ps.add(ef.file, ef.nameLines[slug], "flows."+slug, "no flow “%s” here or in flows/", slug)
			continue
		} else if err != nil && fault.CodeOf(err) != fault.NotFound {
			return nil, err
		}
		for name, target := range names {
			path := "flows." + slug + ".targets." + name
			if err := release.CheckTargetName(name); err != nil {
				ps.add(ef.file, ef.nameLines[slug], path, "%v", err)
			}
			if err := release.CheckTargetName(target); err != nil {
				ps.add(ef.file, ef.nameLines[slug], path, "the environment target: %v", err)
			}
			if name == target {
				ps.add(ef.file, ef.nameLines[slug], path, "names the target it already is; leave it out")
			}
		}
		if maps.Equal(stored[slug], names) || len(stored[slug]) == 0 && len(names) == 0 {
			continue
		}
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(names)) {
			parts = append(parts, name+" → "+names[name])
		}
		what := fmt.Sprintf("%s: flow %s reaches %s", env.Name, slug, strings.Join(parts, ", "))
		if len(parts) == 0 {
			what = fmt.Sprintf("%s: flow %s uses the environment's target names again", env.Name, slug)
		}
		step(slug, names, what)
	}
	if a.prune {
		for _, slug := range slices.Sorted(maps.Keys(stored)) {
			if _, listed := ef.names[slug]; !listed {
				step(slug, nil, fmt.Sprintf("%s: flow %s uses the environment's target names again (--prune: not in %s)", env.Name, slug, ef.file))
			}
		}
	}
	return steps, nil
}

func (a *applier) planDeployments(ctx context.Context, tx pgx.Tx, env release.Environment, ef envFile, ps *problems) ([]applyStep, error) {
	var steps []applyStep
	for _, d := range ef.deployments {
		path := "deployments." + d.flow
		want := d.version
		if want == 0 {
			v, ok := a.version[d.flow]
			if !ok {
				ps.add(ef.file, d.line, path, "latest is the version of flows/%s.json, which the directory does not have; give a version number", d.flow)
				continue
			}
			want = v
		}
		f, err := mappings.FlowBySlug(ctx, tx, d.flow)
		isNew := fault.CodeOf(err) == fault.NotFound
		if err != nil && !isNew {
			return nil, err
		}
		if isNew && !a.inDir(d.flow) {
			ps.add(ef.file, d.line, path, "no flow “%s” here or in flows/", d.flow)
			continue
		}
		if want > f.LatestVersion && !(a.published[d.flow] && want == a.version[d.flow]) {
			latest := fmt.Sprintf("its latest is v%d", f.LatestVersion)
			if a.published[d.flow] {
				latest = fmt.Sprintf("its latest is v%d once applied", a.version[d.flow])
			}
			ps.add(ef.file, d.line, path, "%s has no version %d (%s)", d.flow, want, latest)
			continue
		}
		running := 0
		if !isNew {
			cur, err := release.DeploymentCurrent(ctx, tx, env.ID, f.ID)
			switch {
			case err == nil:
				running = cur.VersionNumber
			case fault.CodeOf(err) != fault.Conflict:
				return nil, err
			}
		}
		if running == want {
			continue
		}
		was := ""
		if running > 0 {
			was = fmt.Sprintf("; runs v%d", running)
		}
		what := fmt.Sprintf("%s: deploy %s v%d%s", env.Name, d.flow, want, was)
		if env.Protected {
			pending, err := a.pendingRequest(ctx, tx, env, d.flow, want)
			if err != nil {
				return nil, err
			}
			if pending != nil {
				continue // asked already; an approver decides
			}
			what = fmt.Sprintf("%s: request promotion of %s v%d (protected%s)", env.Name, d.flow, want, was)
		}
		slug := d.flow
		steps = append(steps, applyStep{what: what, do: func(ctx context.Context, tx pgx.Tx) (string, error) {
			fl, err := mappings.FlowBySlug(ctx, tx, slug)
			if err != nil {
				return "", err
			}
			res, err := release.Promote(ctx, tx, release.CLI(), release.Promotion{Flow: fl, Environment: env, Version: want, Reason: a.reason, Now: a.now, Kinds: a.kinds})
			if err != nil {
				return "", err
			}
			if r := res.Request; r != nil {
				return fmt.Sprintf("%s: promotion request %d for %s v%d waits for an approver (gates passed)", env.Name, r.ID, slug, want), nil
			}
			return fmt.Sprintf("%s: %s v%d deployed (gates passed)", env.Name, slug, want), nil
		}})
	}
	return steps, nil
}

// pendingRequest is the pending promotion request of flow to version in
// env, if any: applying again does not file another.
func (a *applier) pendingRequest(ctx context.Context, tx pgx.Tx, env release.Environment, flow string, version int) (*release.PromotionRequest, error) {
	list, err := release.PromotionRequestListOfFlows(ctx, tx, release.RequestPending, []string{flow}, 100)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r.EnvironmentID == env.ID && r.VersionNumber == version {
			return &r, nil
		}
	}
	return nil, nil
}
