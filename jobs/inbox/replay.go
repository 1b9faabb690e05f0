package inbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/program"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// VersionChoice says which version of its flow a replay maps a message on.
type VersionChoice string

// The versions a replay may run.
const (
	// VersionRan is the version the message ran on (the default).
	VersionRan VersionChoice = "ran"
	// VersionDeployed is the version deployed in the message's environment
	// now.
	VersionDeployed VersionChoice = "deployed"
	// VersionDraft is the flow's unpublished draft. A message always runs
	// an immutable numbered version, so sending on the draft first
	// publishes it as the next version (audited, noted "published to
	// replay exception #N") and replays on that; the deployment does not
	// change. In a protected environment the draft is preview only: a
	// version reaches it by promotion, with its gates and approval.
	VersionDraft VersionChoice = "draft"
)

// ReplayRequest replays an exception's message as a new revision.
type ReplayRequest struct {
	ExceptionID int64
	Version     VersionChoice // default VersionRan
	// Payload is the edited payload; nil replays the original bytes.
	Payload []byte
	Reason  string
	Actor   account.Actor
	// DraftRevision is the draft revision the person previewed; required
	// with VersionDraft, so what is published is exactly what the preview
	// showed (a draft saved since is a Conflict). The caller has checked
	// that the actor may publish the flow.
	DraftRevision int
}

// chosenVersion is a version a replay or preview runs.
type chosenVersion struct {
	number   int // 0 for the draft
	checksum string
	prog     *program.Compiled
}

func chooseVersion(ctx context.Context, db txn.DBTX, m store.Message, choice VersionChoice) (chosenVersion, error) {
	switch choice {
	case "", VersionRan:
		p, err := program.Load(ctx, db, m.FlowID, m.VersionNumber, m.Checksum)
		return chosenVersion{number: m.VersionNumber, checksum: m.Checksum, prog: p}, err
	case VersionDeployed:
		d, err := release.DeploymentCurrent(ctx, db, m.EnvironmentID, m.FlowID)
		if fault.CodeOf(err) == fault.NotFound {
			return chosenVersion{}, fault.Errorf(fault.Conflict, "flow %s has no version deployed in %s now", m.FlowSlug, m.Environment)
		}
		if err != nil {
			return chosenVersion{}, err
		}
		p, err := program.Load(ctx, db, m.FlowID, d.VersionNumber, d.Checksum)
		return chosenVersion{number: d.VersionNumber, checksum: d.Checksum, prog: p}, err
	case VersionDraft:
		d, err := mappings.DraftGet(ctx, db, m.FlowID)
		if err != nil {
			return chosenVersion{}, err
		}
		p, err := program.Compile(d.Definition)
		if err != nil {
			return chosenVersion{}, fault.Errorf(fault.Invalid, "the draft of flow %s does not compile: %v", m.FlowSlug, err)
		}
		return chosenVersion{prog: p}, nil
	}
	return chosenVersion{}, fault.Errorf(fault.Invalid, "version “%s” is not one of ran, deployed, draft", choice)
}

// checkEditedPayload refuses a payload that is not a JSON object or array
// small enough to accept.
func checkEditedPayload(p []byte) error {
	if err := intake.CheckJSON(p); err != nil {
		msg := err.Error()
		if fe, ok := fault.As(err); ok {
			msg = strings.TrimPrefix(fe.Message, "the body is ")
		}
		return &fault.Error{Code: fault.Invalid, Err: err, Message: "the edited payload is " + msg,
			Fields: map[string]string{"payload": "invalid JSON"}}
	}
	return nil
}

// ExceptionReplay maps the exception's message again as a new message — a
// revision linked to the original, with the edited payload when one is
// given — on the chosen version, and resolves the exception as replayed.
// The new message goes through the whole pipeline and files its own
// exception if it fails too.
func ExceptionReplay(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], req ReplayRequest) (uuid.UUID, error) {
	if req.Payload != nil {
		if err := checkEditedPayload(req.Payload); err != nil {
			return uuid.Nil, err
		}
	}
	if req.Version == VersionDraft && req.DraftRevision <= 0 {
		return uuid.Nil, &fault.Error{Code: fault.Invalid, Fields: map[string]string{"draftRevision": "required"},
			Message: "preview the draft first: replaying on it publishes exactly the draft revision you previewed, so the replay needs that revision"}
	}
	e, err := lockOpenException(ctx, tx, req.ExceptionID, "replay")
	if err != nil {
		return uuid.Nil, err
	}
	orig, err := store.MessageByID(ctx, tx, e.MessageID)
	if err != nil {
		return uuid.Nil, err
	}
	var v chosenVersion
	published := 0 // the version published from the draft for this replay
	if req.Version == VersionDraft {
		v, published, err = publishDraftForReplay(ctx, tx, orig, e.ID, req)
	} else {
		v, err = chooseVersion(ctx, tx, orig, req.Version)
	}
	if err != nil {
		return uuid.Nil, err
	}
	payload, edited := []byte(orig.Payload), false
	diff := ""
	if req.Payload != nil && !jsonEqual(req.Payload, orig.Payload) {
		payload, edited = req.Payload, true
		diff = LineDiff(prettyJSON(orig.Payload), prettyJSON(req.Payload))
	}
	// A replay of a replay belongs to the same original.
	rootID := orig.ID
	var rootKey string
	if err := tx.QueryRow(ctx, replayOriginalSelect, orig.ID).Scan(&rootID); err != nil {
		return uuid.Nil, fmt.Errorf("revision of %s: %w", orig.ID, err)
	}
	var n int
	if err := tx.QueryRow(ctx, replayRevisionSelect, rootID).Scan(&rootKey, &n); err != nil {
		return uuid.Nil, fmt.Errorf("revision of %s: %w", rootID, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("message id: %w", err)
	}
	key := store.Truncate(rootKey, intake.MaxKeyLength-12)
	key = strings.TrimSuffix(key, "…") + fmt.Sprintf("#replay-%d", n)
	sum := sha256.Sum256(payload)
	now := time.Now()
	if _, err := tx.Exec(ctx, replayMessageInsert,
		id, orig.EnvironmentID, orig.FlowID, v.number, v.checksum, key, orig.CorrelationID, string(payload), sum[:], now, orig.ID); err != nil {
		return uuid.Nil, fmt.Errorf("replay message %s: %w", orig.ID, err)
	}
	if _, err := tx.Exec(ctx, revisionInsert, id, rootID, n, v.number, edited, diff, strings.TrimSpace(req.Reason), req.Actor.Email); err != nil {
		return uuid.Nil, fmt.Errorf("revision of %s: %w", rootID, err)
	}
	if err := store.AddLineage(ctx, tx, id, store.Lineage{At: now, Stage: store.StageReceived, Detail: map[string]any{
		"replayOf": orig.ID, "revision": n, "version": v.number, "edited": edited, "by": req.Actor.Email, "publishedFromDraft": published != 0}}); err != nil {
		return uuid.Nil, err
	}
	if err := store.AddLineage(ctx, tx, orig.ID, store.Lineage{At: now, Stage: store.StageReplayed, Detail: map[string]any{
		"as": id, "revision": n, "version": v.number, "edited": edited, "by": req.Actor.Email}}); err != nil {
		return uuid.Nil, err
	}
	if _, err := client.InsertTx(ctx, tx, intake.ProcessArgs{MessageIDs: []uuid.UUID{id}}, nil); err != nil {
		return uuid.Nil, fmt.Errorf("enqueue processing of %s: %w", id, err)
	}
	resolution := fmt.Sprintf("replayed as message %s (revision %d, version %d)", id, n, v.number)
	if edited {
		resolution = fmt.Sprintf("payload edited and replayed as message %s (revision %d, version %d)", id, n, v.number)
	}
	if published != 0 {
		resolution = strings.TrimSuffix(resolution, ")") + ", published from the draft)"
	}
	if _, err := tx.Exec(ctx, replayExceptionResolve,
		e.ID, resolution); err != nil {
		return uuid.Nil, fmt.Errorf("exception %d: %w", e.ID, err)
	}
	after := e.state()
	after.Status, after.Resolution, after.Version, after.ReplayedAs = store.ExceptionResolved, resolution, v.number, id.String()
	after.Action, after.PublishedFromDraft = "replay", published
	before := e.state()
	type replayAudit struct {
		exceptionState
		Payload json.RawMessage `json:"payload,omitempty"`
		Diff    string          `json:"diff,omitempty"`
	}
	afterAudit := replayAudit{exceptionState: after, Diff: diff}
	beforeAudit := replayAudit{exceptionState: before}
	if edited {
		beforeAudit.Payload, afterAudit.Payload = compactOrRaw(orig.Payload), compactOrRaw(payload)
	}
	return id, audit(ctx, tx, req.Actor, "replay", e.ID, beforeAudit, afterAudit)
}

// publishDraftForReplay makes the flow's draft the version a replay runs:
// the draft revision the person previewed is published as the next
// version with the note "published to replay exception #N" (the same gates
// as the designer's Publish: it compiles and its test cases pass), audited
// as flow.publish by the replaying actor. A draft identical to the latest
// version publishes nothing and runs that version. The deployment is left
// alone: only the replayed message runs the new version. A protected
// environment refuses: drafts reach it by promotion only. It returns the
// version and, when it published one, its number.
func publishDraftForReplay(ctx context.Context, tx pgx.Tx, m store.Message, exceptionID int64, req ReplayRequest) (chosenVersion, int, error) {
	env, err := release.EnvironmentByID(ctx, tx, m.EnvironmentID)
	if err != nil {
		return chosenVersion{}, 0, err
	}
	if env.Protected {
		return chosenVersion{}, 0, fault.Errorf(fault.Conflict, "%s is a protected environment: a draft never runs there, it arrives by promotion with its gates and approval. Publish the draft, promote it to %s, then replay on the deployed version", env.Name, env.Name)
	}
	d, err := mappings.DraftGet(ctx, tx, m.FlowID)
	if err != nil {
		return chosenVersion{}, 0, err
	}
	if d.Revision != req.DraftRevision {
		return chosenVersion{}, 0, fault.Errorf(fault.Conflict, "the draft of %s changed since your preview (it is revision %d now, you previewed %d); preview it again before replaying on it", m.FlowSlug, d.Revision, req.DraftRevision)
	}
	sum, err := d.Definition.Checksum()
	if err != nil {
		return chosenVersion{}, 0, fmt.Errorf("draft of %s: %w", m.FlowSlug, err)
	}
	versions, err := mappings.VersionList(ctx, tx, m.FlowID)
	if err != nil {
		return chosenVersion{}, 0, err
	}
	if len(versions) > 0 && versions[0].Checksum == sum {
		p, err := program.Load(ctx, tx, m.FlowID, versions[0].Number, sum)
		return chosenVersion{number: versions[0].Number, checksum: sum, prog: p}, 0, err
	}
	note := fmt.Sprintf("published to replay exception #%d", exceptionID)
	ver, err := mappings.Publish(ctx, tx, m.FlowID, req.DraftRevision, note, mappings.Editor{UserID: req.Actor.UserID, Email: req.Actor.Email})
	if err != nil {
		return chosenVersion{}, 0, err
	}
	if err := account.Audit(ctx, tx, req.Actor, "flow.publish", "flow", m.FlowSlug, nil,
		map[string]any{"version": ver.Number, "checksum": ver.Checksum, "note": ver.Note, "exception": exceptionID}); err != nil {
		return chosenVersion{}, 0, err
	}
	p, err := program.Load(ctx, tx, m.FlowID, ver.Number, ver.Checksum)
	return chosenVersion{number: ver.Number, checksum: ver.Checksum, prog: p}, ver.Number, err
}

func compactOrRaw(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		s, _ := json.Marshal(string(b))
		return s
	}
	return buf.Bytes()
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func prettyJSON(b []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return string(b)
	}
	return buf.String()
}

// RoutePreview is one route's output on the version that ran and on the
// chosen version, for the replay preview.
type RoutePreview struct {
	Route   string `json:"route"`
	Target  string `json:"target"`
	Before  string `json:"before"` // pretty JSON, or what stopped it
	After   string `json:"after"`
	Changed bool   `json:"changed"`
	Diff    string `json:"diff,omitempty"`
}

// ReplayPreview is what a replay would send, next to what the message's
// version made of the original payload. Nothing is written or sent.
type ReplayPreview struct {
	VersionRan    int            `json:"versionRan"`
	VersionChosen string         `json:"versionChosen"` // "v3" or "draft"
	PayloadDiff   string         `json:"payloadDiff,omitempty"`
	Routes        []RoutePreview `json:"routes"`
	Problems      []string       `json:"problems,omitempty"` // validation and mapping failures on the chosen version
	// Draft says, for a preview of the draft, what sending would do.
	Draft *DraftReplay `json:"draft,omitempty"`
}

// DraftReplay is what replaying on the draft would do: publish Revision as
// version Publishes (or, when the draft is identical to the latest
// version, run that version, SameAs), unless the environment is Protected.
type DraftReplay struct {
	Revision    int    `json:"revision"`
	Publishes   int    `json:"publishes,omitempty"`
	SameAs      int    `json:"sameAs,omitempty"`
	Environment string `json:"environment"`
	Protected   bool   `json:"protected"`
}

// PreviewReplay maps the exception's message (or the edited payload) on
// the chosen version and compares each route's output with what the
// version that ran makes of the original payload.
func PreviewReplay(ctx context.Context, db txn.DBTX, exceptionID int64, choice VersionChoice, payload []byte) (ReplayPreview, error) {
	it, err := ExceptionGet(ctx, db, exceptionID)
	if err != nil {
		return ReplayPreview{}, err
	}
	if payload != nil {
		if err := checkEditedPayload(payload); err != nil {
			return ReplayPreview{}, err
		}
	}
	m, err := store.MessageByID(ctx, db, it.MessageID)
	if err != nil {
		return ReplayPreview{}, err
	}
	ran, err := chooseVersion(ctx, db, m, VersionRan)
	if err != nil {
		return ReplayPreview{}, err
	}
	chosen, err := chooseVersion(ctx, db, m, choice)
	if err != nil {
		return ReplayPreview{}, err
	}
	vars, err := release.Variables(ctx, db, m.EnvironmentID)
	if err != nil {
		return ReplayPreview{}, err
	}
	if payload == nil {
		payload = m.Payload
	}
	before, err := ran.prog.Program.Run(ctx, engine.Input{Payload: m.Payload, Now: m.ReceivedAt, Vars: vars})
	if err != nil {
		before = &engine.Result{}
	}
	after, runErr := chosen.prog.Program.Run(ctx, engine.Input{Payload: payload, Now: m.ReceivedAt, Vars: vars})
	p := ReplayPreview{VersionRan: m.VersionNumber, VersionChosen: "draft", Routes: []RoutePreview{}}
	if chosen.number != 0 {
		p.VersionChosen = fmt.Sprintf("v%d", chosen.number)
	}
	if choice == VersionDraft {
		if p.Draft, err = draftReplay(ctx, db, m); err != nil {
			return ReplayPreview{}, err
		}
	}
	if !jsonEqual(payload, m.Payload) {
		p.PayloadDiff = LineDiff(prettyJSON(m.Payload), prettyJSON(payload))
	}
	if runErr != nil {
		p.Problems = append(p.Problems, runErr.Error())
		return p, nil
	}
	for _, f := range after.Validation {
		p.Problems = append(p.Problems, "validation "+f.Rule+": "+f.Message)
	}
	for _, e := range after.Errors {
		p.Problems = append(p.Problems, e.String())
	}
	outputs := map[string]string{}
	for _, r := range before.Routes {
		outputs[r.Name] = routeText(r)
	}
	for _, r := range after.Routes {
		for _, e := range r.Errors {
			p.Problems = append(p.Problems, e.String())
		}
		rp := RoutePreview{Route: r.Name, Target: r.Target, Before: outputs[r.Name], After: routeText(r)}
		if rp.Before == "" {
			rp.Before = "(no such route on the version that ran)"
		}
		rp.Changed = rp.Before != rp.After
		if rp.Changed {
			rp.Diff = LineDiff(rp.Before, rp.After)
		}
		p.Routes = append(p.Routes, rp)
	}
	return p, nil
}

func draftReplay(ctx context.Context, db txn.DBTX, m store.Message) (*DraftReplay, error) {
	env, err := release.EnvironmentByID(ctx, db, m.EnvironmentID)
	if err != nil {
		return nil, err
	}
	d, err := mappings.DraftGet(ctx, db, m.FlowID)
	if err != nil {
		return nil, err
	}
	sum, err := d.Definition.Checksum()
	if err != nil {
		return nil, fmt.Errorf("draft of %s: %w", m.FlowSlug, err)
	}
	versions, err := mappings.VersionList(ctx, db, m.FlowID)
	if err != nil {
		return nil, err
	}
	dr := &DraftReplay{Revision: d.Revision, Environment: env.Name, Protected: env.Protected, Publishes: 1}
	if len(versions) > 0 {
		dr.Publishes = versions[0].Number + 1
		if versions[0].Checksum == sum {
			dr.Publishes, dr.SameAs = 0, versions[0].Number
		}
	}
	return dr, nil
}

func routeText(r engine.RouteResult) string {
	switch {
	case len(r.Errors) > 0:
		return "(failed: " + r.Errors[0].Message + ")"
	case !r.Matched:
		return "(route does not match)"
	}
	return prettyJSON(r.Output)
}

// LineDiff is a unified-style line diff of a and b: unchanged lines start
// with two spaces, removed with "- ", added with "+ ". Texts over 2,000
// lines are compared as a whole.
func LineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(x) > 2000 || len(y) > 2000 {
		return "- (" + fmt.Sprint(len(x)) + " lines)\n+ (" + fmt.Sprint(len(y)) + " lines)"
	}
	// Longest common subsequence table, from the ends.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + x[i] + "\n")
			i++
		default:
			out.WriteString("+ " + y[j] + "\n")
			j++
		}
	}
	return strings.TrimSuffix(out.String(), "\n")
}
