package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// TargetCheck says whether an environment can reach one target a version
// delivers to. A target whose kind needs no configuration (TargetKinds)
// always passes; one whose kind no transport serves never does.
type TargetCheck struct {
	Name string `json:"name"`
	// Uses is the environment target the flow's local name Name reaches
	// there (SetFlowTargetNames); empty when it is Name itself.
	Uses       string `json:"uses,omitempty"`
	Kind       string `json:"kind"`
	Configured bool   `json:"configured"`
	// UnknownKind: no transport of this installation delivers to Kind.
	UnknownKind bool `json:"unknownKind,omitempty"`
	// Problems are what the kind's transport finds wrong with the
	// target's configuration in the environment ("URL: enter …").
	Problems []string `json:"problems,omitempty"`
}

// TargetKinds is what the gates ask of a target's kind: whether a target
// of it must be configured in an environment, and whether any transport
// delivers to it at all. The transport registry of jobs/transport answers;
// callers (web, cmd) pass it in, so that mappings knows no kind by name.
type TargetKinds interface {
	NeedsConfiguration(kind string) (needed, known bool)
	// CheckTargetConfig returns what is wrong with a target's
	// configuration (stored, or about to be) for kind, field by field.
	CheckTargetConfig(kind string, cfg MaskedTargetConfig) []ConfigProblem
}

// ConfigProblem is one field of a target's configuration its kind finds
// wrong.
type ConfigProblem struct {
	Field   string // the field's name, as forms post it
	Label   string // the field's label, as forms show it
	Problem string // what to enter instead
}

func (p ConfigProblem) String() string { return p.Label + ": " + p.Problem }

// VariableCheck says whether an environment sets one variable a version
// reads with env("NAME").
type VariableCheck struct {
	Name string `json:"name"`
	Set  bool   `json:"set"`
}

// Gates are what a version must pass before it runs in an environment:
// it compiles, every target it delivers to is configured there, every
// variable it reads is set there, and every test case passes. They are
// stored with the deployment (or the promotion request) as they were at
// the time.
type Gates struct {
	Environment string              `json:"environment,omitempty"`
	CheckedAt   time.Time           `json:"checkedAt,omitzero"`
	Problems    []string            `json:"problems,omitempty"`
	Targets     []TargetCheck       `json:"targets,omitempty"`
	Variables   []VariableCheck     `json:"variables,omitempty"`
	Tests       []engine.TestResult `json:"tests,omitempty"`
}

// Checked reports whether gates were run at all (plain deploys, rollbacks
// and deployments recorded without gates carry none).
func (g Gates) Checked() bool { return !g.CheckedAt.IsZero() }

// Passed reports whether every gate passed.
func (g Gates) Passed() bool { return len(g.Failures()) == 0 }

// Failures lists every failed gate in words, naming the target, variable or
// test case, so the person promoting knows what to fix where.
func (g Gates) Failures() []string {
	var out []string
	for _, p := range g.Problems {
		out = append(out, "the definition does not compile: "+p)
	}
	for _, t := range g.Targets {
		name := "“" + t.Name + "”"
		if t.Uses != "" {
			name += " (the environment's “" + t.Uses + "”)"
		}
		switch {
		case t.UnknownKind:
			out = append(out, fmt.Sprintf("target %s has kind “%s”, which this installation cannot deliver to", name, t.Kind))
		case !t.Configured:
			out = append(out, fmt.Sprintf("target %s is not configured in %s", name, g.Environment))
		case len(t.Problems) > 0:
			out = append(out, fmt.Sprintf("target %s is configured in %s, but %s", name, g.Environment, strings.Join(t.Problems, "; ")))
		}
	}
	for _, v := range g.Variables {
		if !v.Set {
			out = append(out, fmt.Sprintf("variable “%s” is not set in %s", v.Name, g.Environment))
		}
	}
	for _, r := range g.Tests {
		if !r.Passed {
			out = append(out, "test case “"+r.Name+"” failed: "+testFailure(r))
		}
	}
	return out
}

// TestsPassed counts the passing test cases.
func (g Gates) TestsPassed() int {
	n := 0
	for _, r := range g.Tests {
		if r.Passed {
			n++
		}
	}
	return n
}

func testFailure(r engine.TestResult) string {
	if r.Error != "" {
		return r.Error
	}
	if len(r.Diffs) == 0 {
		return "the result differs from what it expects"
	}
	d := r.Diffs[0]
	where := d.Path
	if d.Route != "" {
		where = d.Route + " · " + d.Path
	}
	msg := d.Message
	if msg == "" {
		msg = "expected " + string(d.Expected) + ", got " + string(d.Actual)
	}
	if len(r.Diffs) > 1 {
		msg += fmt.Sprintf(" (and %d more difference%s)", len(r.Diffs)-1, plural(len(r.Diffs)-1))
	}
	return strings.TrimPrefix(where+": "+msg, ": ")
}

// CheckGates runs the gates of def against an environment's configuration
// as it is now; kinds says which targets need configuration. Target names
// are the environment's own; FlowGates resolves a flow's local names.
func CheckGates(ctx context.Context, db txn.DBTX, kinds TargetKinds, env Environment, def *engine.Definition, now time.Time) (Gates, error) {
	return checkGates(ctx, db, kinds, env, nil, def, now)
}

// FlowGates is CheckGates for a definition of flow: a target the flow
// gives a local name in env (SetFlowTargetNames) is checked as the
// environment target it reaches.
func FlowGates(ctx context.Context, db txn.DBTX, kinds TargetKinds, env Environment, flowID int64, def *engine.Definition, now time.Time) (Gates, error) {
	names, err := FlowTargetNames(ctx, db, env.ID, flowID)
	if err != nil {
		return Gates{}, err
	}
	return checkGates(ctx, db, kinds, env, names, def, now)
}

func checkGates(ctx context.Context, db txn.DBTX, kinds TargetKinds, env Environment, names map[string]string, def *engine.Definition, now time.Time) (Gates, error) {
	g := Gates{Environment: env.Name, CheckedAt: now.UTC()}
	canonical, err := def.Canonical()
	if err != nil {
		g.Problems = []string{err.Error()}
		return g, nil
	}
	parsed, err := engine.ParseDefinition(canonical)
	if err != nil {
		for _, d := range mappings.DiagnosticsOf(err) {
			g.Problems = append(g.Problems, d.String())
		}
		return g, nil
	}
	prog, err := engine.Compile(parsed, engine.Options{})
	if err != nil {
		for _, d := range mappings.DiagnosticsOf(err) {
			g.Problems = append(g.Problems, d.String())
		}
		return g, nil
	}
	list, err := TargetConfigList(ctx, db, env.ID)
	if err != nil {
		return Gates{}, fmt.Errorf("check targets: %w", err)
	}
	configured := make(map[string]MaskedTargetConfig, len(list))
	for _, c := range list {
		configured[c.Target] = c
	}
	for _, name := range prog.Targets() {
		kind := engine.TargetHTTP
		for _, t := range parsed.Targets {
			if t.Name == name && t.Kind != "" {
				kind = t.Kind
			}
		}
		needed, known := kinds.NeedsConfiguration(kind)
		uses := names[name]
		cfg, isSet := configured[cmp.Or(uses, name)]
		check := TargetCheck{Name: name, Uses: uses, Kind: kind, UnknownKind: !known, Configured: known && (!needed || isSet)}
		if known && isSet {
			for _, p := range kinds.CheckTargetConfig(kind, cfg) {
				check.Problems = append(check.Problems, p.String())
			}
		}
		g.Targets = append(g.Targets, check)
	}
	vars, err := Variables(ctx, db, env.ID)
	if err != nil {
		return Gates{}, err
	}
	for _, name := range prog.Vars() {
		_, set := vars[name]
		g.Variables = append(g.Variables, VariableCheck{Name: name, Set: set})
	}
	g.Tests = engine.RunTests(prog, parsed)
	return g, nil
}

// GatesFailedError refuses a promotion whose gates did not pass; it lists
// every failure.
type GatesFailedError struct {
	Flow    string
	Version int
	Gates   Gates
}

func (e *GatesFailedError) Error() string {
	return fmt.Sprintf("%s v%d cannot be promoted to %s: %s", e.Flow, e.Version, e.Gates.Environment, strings.Join(e.Gates.Failures(), "; "))
}

// Unwrap makes the refusal a fault.Invalid for the web layer.
func (e *GatesFailedError) Unwrap() error {
	return &fault.Error{Code: fault.Invalid, Message: e.Error()}
}

// PromotionPreview is what a promotion would do: the version, what the
// environment runs now, the definition diff between the two and the gates.
type PromotionPreview struct {
	Flow        mappings.Flow
	Environment Environment
	Version     mappings.Version
	// Current is what runs in the environment now; nil when nothing does.
	Current *Deployment
	// CurrentDefinition is Current's definition (nil when nothing runs).
	CurrentDefinition *engine.Definition
	Diff              mappings.DefinitionDiff
	Gates             Gates
}

// PreviewPromotion computes what promoting version number of a flow to env
// would change and runs the gates, without changing anything.
func PreviewPromotion(ctx context.Context, db txn.DBTX, kinds TargetKinds, f mappings.Flow, number int, env Environment, now time.Time) (PromotionPreview, error) {
	v, err := mappings.VersionGet(ctx, db, f.ID, number)
	if err != nil {
		return PromotionPreview{}, err
	}
	p := PromotionPreview{Flow: f, Environment: env, Version: v}
	cur, err := DeploymentCurrent(ctx, db, env.ID, f.ID)
	switch {
	case err == nil:
		p.Current = &cur
		old, err := mappings.VersionGet(ctx, db, f.ID, cur.VersionNumber)
		if err != nil {
			return PromotionPreview{}, err
		}
		p.CurrentDefinition = old.Definition
	case fault.CodeOf(err) != fault.Conflict:
		return PromotionPreview{}, err
	}
	p.Diff = mappings.Diff(p.CurrentDefinition, v.Definition)
	if p.Gates, err = FlowGates(ctx, db, kinds, env, f.ID, v.Definition, now); err != nil {
		return PromotionPreview{}, err
	}
	return p, nil
}

// PreviousEnvironment returns the environment before env in promotion
// order, or false when env is the first.
func PreviousEnvironment(ctx context.Context, db txn.DBTX, env Environment) (Environment, bool, error) {
	envs, err := EnvironmentList(ctx, db)
	if err != nil {
		return Environment{}, false, err
	}
	for i, e := range envs {
		if e.ID == env.ID && i > 0 {
			return envs[i-1], true, nil
		}
	}
	return Environment{}, false, nil
}

// NextEnvironment returns the environment after env in promotion order, or
// false when env is the last.
func NextEnvironment(ctx context.Context, db txn.DBTX, env Environment) (Environment, bool, error) {
	envs, err := EnvironmentList(ctx, db)
	if err != nil {
		return Environment{}, false, err
	}
	for i, e := range envs {
		if e.ID == env.ID && i+1 < len(envs) {
			return envs[i+1], true, nil
		}
	}
	return Environment{}, false, nil
}

// DefaultPromotionVersion is the version a promotion to env offers first:
// the one the previous environment runs, or the latest published version
// when the previous environment runs none (or env is the first).
func DefaultPromotionVersion(ctx context.Context, db txn.DBTX, f mappings.Flow, env Environment) (int, error) {
	prev, ok, err := PreviousEnvironment(ctx, db, env)
	if err != nil || !ok {
		return f.LatestVersion, err
	}
	d, err := DeploymentCurrent(ctx, db, prev.ID, f.ID)
	if fault.CodeOf(err) == fault.Conflict {
		return f.LatestVersion, nil
	}
	if err != nil {
		return 0, err
	}
	return d.VersionNumber, nil
}

// PromotionRequest is a promotion to a protected environment waiting for
// an approver, or decided.
type PromotionRequest struct {
	ID               int64      `json:"id"`
	FlowID           int64      `json:"-"`
	Flow             string     `json:"flow"`
	FlowName         string     `json:"flowName"`
	VersionNumber    int        `json:"version"`
	Checksum         string     `json:"checksum"`
	EnvironmentID    int64      `json:"-"`
	Environment      string     `json:"environment"`
	FromVersion      *int       `json:"fromVersion,omitempty"`
	Reason           string     `json:"reason"`
	Gates            Gates      `json:"gates"`
	RequestedByID    *int64     `json:"-"`
	RequestedByEmail string     `json:"requestedBy"`
	RequestedAt      time.Time  `json:"requestedAt"`
	Status           string     `json:"status"` // pending, approved, rejected, superseded
	DecidedByEmail   string     `json:"decidedBy,omitempty"`
	DecidedAt        *time.Time `json:"decidedAt,omitempty"`
	DecisionComment  string     `json:"comment,omitempty"`
	DeploymentID     *int64     `json:"deploymentId,omitempty"`
}

// The states of a promotion request.
const (
	RequestPending    = "pending"
	RequestApproved   = "approved"
	RequestRejected   = "rejected"
	RequestSuperseded = "superseded"
)

func scanRequest(row pgx.Row) (PromotionRequest, error) {
	var r PromotionRequest
	err := row.Scan(&r.ID, &r.FlowID, &r.Flow, &r.FlowName, &r.VersionNumber, &r.Checksum, &r.EnvironmentID, &r.Environment, &r.FromVersion,
		&r.Reason, &r.Gates, &r.RequestedByID, &r.RequestedByEmail, &r.RequestedAt, &r.Status, &r.DecidedByEmail,
		&r.DecidedAt, &r.DecisionComment, &r.DeploymentID)
	return r, err
}

// PromotionRequestGet returns one request or NotFound.
func PromotionRequestGet(ctx context.Context, db txn.DBTX, id int64) (PromotionRequest, error) {
	r, err := scanRequest(db.QueryRow(ctx, requestByIDSelect, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return PromotionRequest{}, fault.Errorf(fault.NotFound, "no promotion request %d", id)
	}
	if err != nil {
		return PromotionRequest{}, fmt.Errorf("promotion request %d: %w", id, err)
	}
	return r, nil
}

// PromotionRequestList returns requests, pending first then newest first;
// status "" lists every state.
func PromotionRequestList(ctx context.Context, db txn.DBTX, status string, limit int) ([]PromotionRequest, error) {
	return PromotionRequestListOfFlows(ctx, db, status, nil, limit)
}

// PromotionRequestListOfFlows is PromotionRequestList kept to the flows
// named by slug (an API key limited to some flows); nil or empty: every
// flow.
func PromotionRequestListOfFlows(ctx context.Context, db txn.DBTX, status string, flows []string, limit int) ([]PromotionRequest, error) {
	if len(flows) == 0 {
		flows = nil
	}
	rows, err := db.Query(ctx, requestListSelect, status, limit, flows)
	if err != nil {
		return nil, fmt.Errorf("list promotion requests: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (PromotionRequest, error) { return scanRequest(r) })
}

// AwaitingDecision lists the pending requests a may decide, newest first:
// for approvers and admins every pending request someone else filed; for
// anyone else none. Pending requests are at most one per flow and
// environment, so the list is short enough to count on every page.
func AwaitingDecision(ctx context.Context, db txn.DBTX, a Actor) ([]PromotionRequest, error) {
	if a.MayDecide() != nil {
		return nil, nil
	}
	pending, err := PromotionRequestList(ctx, db, RequestPending, 1000)
	if err != nil {
		return nil, err
	}
	mine := pending[:0]
	for _, r := range pending {
		if !a.isRequester(r) {
			mine = append(mine, r)
		}
	}
	return mine, nil
}

// AwaitingDecisionCount is how many requests AwaitingDecision lists, counted
// in the database: the navigation shows it on every page.
func AwaitingDecisionCount(ctx context.Context, db txn.DBTX, a Actor) (int, error) {
	if a.MayDecide() != nil {
		return 0, nil
	}
	var n int
	if err := db.QueryRow(ctx, awaitingDecisionCount, a.userID, a.email).Scan(&n); err != nil {
		return 0, fmt.Errorf("promotion requests awaiting decision: %w", err)
	}
	return n, nil
}

// PromotionResult is what a promotion did: deployed at once, or filed a
// request for an approver. Gates are the checks it passed. Promotions are
// made by the release policy operations (Promote, Decide).
type PromotionResult struct {
	Deployment *Deployment
	Request    *PromotionRequest
	Gates      Gates
}

// MatrixCell is what one environment runs of one flow.
type MatrixCell struct {
	Environment string
	Deployment  *Deployment // nil: nothing deployed
	// Drift is set when this environment runs a version and an earlier
	// environment runs a newer one: something tested is waiting to be
	// promoted here. An environment running nothing has no drift.
	Drift bool
	// Ahead is the newest version an earlier environment runs when it is
	// newer than this one's (or this one runs nothing); 0 otherwise.
	Ahead int
	// Pending is a promotion request waiting for an approver, if any.
	Pending *PromotionRequest
}

// MatrixRow is one flow across every environment, in promotion order.
type MatrixRow struct {
	Flow  mappings.Flow
	Cells []MatrixCell
}

// EnvironmentMatrix returns flows × environments: which version of each
// published flow runs where, with drift marked.
func EnvironmentMatrix(ctx context.Context, db txn.DBTX) ([]Environment, []MatrixRow, error) {
	envs, err := EnvironmentList(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	flows, err := mappings.FlowList(ctx, db, mappings.FlowFilter{})
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(flows, func(a, b mappings.Flow) int { return strings.Compare(a.Slug, b.Slug) })
	current := map[[2]int64]Deployment{}
	for _, e := range envs {
		deps, err := DeploymentList(ctx, db, e.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range deps {
			current[[2]int64{e.ID, d.FlowID}] = d
		}
	}
	pending, err := PromotionRequestList(ctx, db, RequestPending, 1000)
	if err != nil {
		return nil, nil, err
	}
	var rows []MatrixRow
	for _, f := range flows {
		if f.LatestVersion == 0 {
			continue
		}
		row := MatrixRow{Flow: f}
		newestEarlier := 0
		for _, e := range envs {
			cell := MatrixCell{Environment: e.Name}
			if d, ok := current[[2]int64{e.ID, f.ID}]; ok {
				cell.Deployment = &d
				cell.Drift = newestEarlier > d.VersionNumber
				if cell.Drift {
					cell.Ahead = newestEarlier
				}
				newestEarlier = max(newestEarlier, d.VersionNumber)
			} else {
				cell.Ahead = newestEarlier
			}
			for i := range pending {
				if pending[i].FlowID == f.ID && pending[i].EnvironmentID == e.ID {
					cell.Pending = &pending[i]
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		rows = append(rows, row)
	}
	return envs, rows, nil
}

// EnvironmentCreate adds an environment at the end of the promotion order.
func EnvironmentCreate(ctx context.Context, db txn.DBTX, name string, protected bool) (Environment, error) {
	name = strings.TrimSpace(name)
	if mappings.CheckSlug(name) != nil || len(name) > 32 {
		return Environment{}, &fault.Error{Code: fault.Invalid, Message: "the environment name “" + name + "” must be 1–32 lowercase letters, digits and dashes (it appears in trigger URLs)", Fields: map[string]string{"name": "lowercase letters, digits and dashes"}}
	}
	var e Environment
	err := db.QueryRow(ctx, environmentInsert, name, protected).
		Scan(&e.ID, &e.Name, &e.Position, &e.Protected)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
		return Environment{}, &fault.Error{Code: fault.Conflict, Message: "an environment named “" + name + "” already exists", Fields: map[string]string{"name": "already in use"}}
	}
	if err != nil {
		return Environment{}, fmt.Errorf("create environment: %w", err)
	}
	return e, nil
}

// EnvironmentUpdate sets an environment's protected flag and its place in
// the promotion order (1 = first); the others shift to make room.
func EnvironmentUpdate(ctx context.Context, db txn.DBTX, id int64, protected bool, position int) (Environment, error) {
	envs, err := EnvironmentList(ctx, db)
	if err != nil {
		return Environment{}, err
	}
	idx := slices.IndexFunc(envs, func(e Environment) bool { return e.ID == id })
	if idx < 0 {
		return Environment{}, fault.Errorf(fault.NotFound, "no environment with id %d", id)
	}
	if position < 1 || position > len(envs) {
		return Environment{}, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("the position must be between 1 and %d", len(envs)), Fields: map[string]string{"position": "out of range"}}
	}
	e := envs[idx]
	envs = slices.Delete(envs, idx, idx+1)
	envs = slices.Insert(envs, position-1, e)
	for i, x := range envs {
		if _, err := db.Exec(ctx, environmentPositionUpdate, x.ID, i+1); err != nil {
			return Environment{}, fmt.Errorf("reorder environments: %w", err)
		}
	}
	if _, err := db.Exec(ctx, environmentProtectedUpdate, id, protected); err != nil {
		return Environment{}, fmt.Errorf("update environment: %w", err)
	}
	return EnvironmentByID(ctx, db, id)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
