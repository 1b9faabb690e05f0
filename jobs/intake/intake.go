package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/program"
	"github.com/crossdock/crossdock/jobs/queue"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
)

// Errors the trigger handler maps to specific HTTP statuses. Each is
// wrapped in a *fault.Error carrying the message for the caller.
var (
	// ErrKeyReused: the idempotency key was used before with a different
	// payload (422, per the IETF Idempotency-Key draft).
	ErrKeyReused = errors.New("idempotency key reused with a different payload")
	// ErrBadJSON: the body is not a JSON document (400).
	ErrBadJSON = errors.New("body is not JSON")
)

// unavailableRetryAfter is what a 503 tells callers to wait when the
// database cannot be reached.
const unavailableRetryAfter = 5

// unavailable turns a failure to reach the database into fault.Unavailable,
// so the trigger answers 503 with Retry-After instead of 500: the source
// system should simply try again. Other errors pass through unchanged.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := fault.As(err); ok {
		return err
	}
	if txn.Unreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		return &fault.Error{Code: fault.Unavailable, RetryAfterSeconds: unavailableRetryAfter, Err: err,
			Message: "the message store is unavailable; nothing was recorded, send the event again shortly"}
	}
	return err
}

// MaxKeyLength bounds idempotency keys (as messages.idempotency_key does)
// and correlation ids, whether sent as headers or derived by the flow's
// expressions. The trigger checks the headers against it before it reads
// the body.
const MaxKeyLength = 255

// MaxLabelLength bounds a message's customer and amount labels: a list
// shows them in a column, and a longer value is cut rather than refused.
const MaxLabelLength = 200

// ProcessGroupSize is the most messages one process job carries.
const ProcessGroupSize = 128

// MaxBatchLines is the most events one batch request may carry.
const MaxBatchLines = 1000

// AcceptRequest is one event posted to a flow's trigger.
type AcceptRequest struct {
	Env      string // environment name, e.g. "prod"
	FlowSlug string
	Payload  []byte
	// IdempotencyKey is the Idempotency-Key header; empty means derive it
	// with the flow's key expression (or, without one, accept every
	// request as new).
	IdempotencyKey string
	// CorrelationID is the X-Correlation-ID header; empty means derive it
	// with the flow's correlation expression, else generate one.
	CorrelationID string
	// Now is the received time; zero means time.Now(). It is what now()
	// returns in expressions, for this message and every replay of it.
	Now time.Time
}

// AcceptResult is the answer to an accepted event.
type AcceptResult struct {
	MessageID      uuid.UUID
	IdempotencyKey string
	CorrelationID  string
	// Replayed is true when the key was seen before with the same
	// payload: MessageID is the original message and no new work was done
	// (the handler sets Idempotent-Replayed: true).
	Replayed bool
	// StatusURL is where the message's status and lineage are served.
	StatusURL     string
	EnvironmentID int64
	FlowID        int64
	VersionNumber int
	ReceivedAt    time.Time
}

// StatusURL returns the API path of a message.
func StatusURL(id uuid.UUID) string { return "/api/v1/messages/" + id.String() }

// ProcessArgs is the job that validates, maps and routes messages: the
// one a single accept recorded, or every message of one group commit or
// NDJSON batch, so that processing pays River's fetch and completion, and
// a commit, once per group rather than once per message.
type ProcessArgs struct {
	MessageIDs []uuid.UUID `json:"message_ids"`
	// Retry marks an inbox retry: success resolves the message's open
	// validation and mapping exceptions.
	Retry bool `json:"retry,omitempty"`
}

// Kind names the job in River's tables.
func (ProcessArgs) Kind() string { return "process" }

// InsertOpts puts processing on its own queue so deliveries to slow
// targets (deliver queue) do not hold up mapping; a process job sends
// first attempts itself only to targets answering quickly
// (ProcessWorker.Deliver). No uniqueness: the message row's own unique
// key already guarantees one job per message, and unique jobs cost an extra
// index write per insert.
func (ProcessArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue.Process, MaxAttempts: 10}
}

// deployed is what intake resolves from the URL: environment, flow and the
// version live there.
type deployed struct {
	envID  int64
	flowID int64
	// deploymentID is the deployment live when this was resolved; group
	// commit inserts a message only while it is still the live one.
	deploymentID int64
	version      int
	checksum     string
	prog         *program.Compiled
	// vars are the environment's variables, loaded only when the key
	// expressions read one, to spare most accepts the query.
	vars map[string]string
}

func resolve(ctx context.Context, db txn.DBTX, env, flowSlug string) (deployed, error) {
	var d deployed
	var flowID *int64
	var version *int
	var checksum *string
	var deploymentID *int64
	// One round trip for what would otherwise be three lookups per message.
	err := db.QueryRow(ctx, ingressResolve, env, flowSlug).Scan(&d.envID, &flowID, &deploymentID, &version, &checksum)
	if errors.Is(err, pgx.ErrNoRows) {
		return deployed{}, fault.Errorf(fault.NotFound, "no environment “%s”; use dev, test, prod or another name from the Environments page", env)
	}
	if err != nil {
		return deployed{}, fmt.Errorf("resolve %s/%s: %w", env, flowSlug, err)
	}
	if flowID == nil {
		return deployed{}, fault.Errorf(fault.NotFound, "no flow “%s”; check the flow's slug in the trigger URL", flowSlug)
	}
	if version == nil {
		return deployed{}, fault.Errorf(fault.Conflict, "flow “%s” has no version deployed to %s; deploy a published version to %s first", flowSlug, env, env)
	}
	d.flowID, d.deploymentID, d.version, d.checksum = *flowID, *deploymentID, *version, *checksum
	if d.prog, err = program.Load(ctx, db, d.flowID, d.version, d.checksum); err != nil {
		return deployed{}, err
	}
	if len(d.prog.Keys.Vars()) > 0 {
		if d.vars, err = release.Variables(ctx, db, d.envID); err != nil {
			return deployed{}, err
		}
	}
	return d, nil
}

// CheckJSON returns nil for a JSON document the pipeline can store and map,
// else a fault.Malformed wrapping ErrBadJSON that says what is wrong: the
// line, column and byte offset of a syntax error, the first byte that is not
// UTF-8, a nesting deeper than engine.MaxDepth, or an escaped half of a
// UTF-16 surrogate pair (valid to encoding/json, refused by PostgreSQL's json
// type).
func CheckJSON(payload []byte) error {
	malformed := func(format string, a ...any) error {
		return &fault.Error{Code: fault.Malformed, Err: ErrBadJSON, Message: fmt.Sprintf(format, a...)}
	}
	tooDeep := func(depth int) error {
		return malformed("the body nests arrays and objects %d levels deep; at most %d levels are allowed", depth, engine.MaxDepth)
	}
	if json.Valid(payload) {
		if !utf8.Valid(payload) {
			// encoding/json lets invalid UTF-8 through inside strings;
			// PostgreSQL would refuse the text later, as a 500.
			return malformed("the body is not valid UTF-8 (byte %d); send JSON encoded as UTF-8", firstInvalidUTF8(payload))
		}
		if depth := engine.PayloadDepth(payload); depth > engine.MaxDepth {
			// The engine cannot parse it, so the message could never be
			// mapped: refuse it now rather than record an exception.
			return tooDeep(depth)
		}
		if at, ok := loneSurrogate(payload); ok {
			return malformed("the body is not valid JSON for storage: the escape at byte %d is half of a UTF-16 surrogate pair (\\uD800–\\uDFFF must come as a high and low pair); send the character itself or both halves", at)
		}
		return nil
	}
	if depth := engine.PayloadDepth(payload); depth > engine.MaxDepth {
		// encoding/json's own word for 10,001 levels is "exceeded max depth";
		// ours says how deep and what the limit is.
		return tooDeep(depth)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		// Before the syntax error, which would be "unexpected end of JSON
		// input at line 1, column 1".
		return malformed("the body is empty; send the event as a JSON document")
	}
	var v any
	err := json.Unmarshal(payload, &v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := 1, 1
		for _, b := range payload[:min(int(syn.Offset), len(payload))] {
			if b == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return malformed("the body is not valid JSON: %s at line %d, column %d (byte %d)", syn.Error(), line, col, syn.Offset)
	}
	return malformed("the body is not valid JSON: send one JSON document")
}

func firstInvalidUTF8(b []byte) int {
	at := 0
	for at < len(b) {
		r, size := utf8.DecodeRune(b[at:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		at += size
	}
	return at
}

// loneSurrogate finds a \uD800–\uDFFF escape inside a string that is not a
// high surrogate followed at once by a low one, and returns its offset.
// payload must be valid JSON.
func loneSurrogate(payload []byte) (int, bool) {
	if !bytes.Contains(payload, []byte(`\u`)) {
		return 0, false
	}
	hex4 := func(at int) (rune, bool) {
		if at+6 > len(payload) || payload[at] != '\\' || payload[at+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(payload[at+2:at+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(payload); i++ {
		switch b := payload[i]; {
		case !inString:
			inString = b == '"'
		case b == '"':
			inString = false
		case b == '\\':
			r, ok := hex4(i)
			if !ok {
				i++ // a one-character escape such as \" or \\
				continue
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if lo, ok := hex4(i + 6); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
				return i, true
			case r >= 0xDC00 && r <= 0xDFFF:
				return i, true
			}
			i += 5
		}
	}
	return 0, false
}

// checkKeyHeader refuses an Idempotency-Key or X-Correlation-ID header that
// PostgreSQL cannot store (a NUL, bytes that are not UTF-8) or that would
// not survive being shown, logged and sent on (control characters).
func checkKeyHeader(header, v string) error {
	if !utf8.ValidString(v) {
		return fault.Errorf(fault.Invalid, "the %s header is not UTF-8 text (byte %d); send a key of printable UTF-8 characters", header, firstInvalidUTF8([]byte(v)))
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		return fault.Errorf(fault.Invalid, "the %s header has a control character (U+%04X at byte %d); send a key of printable UTF-8 characters", header, []rune(v[i:])[0], i)
	}
	return nil
}

// storable makes a value derived from the payload storable as PostgreSQL
// text: NUL (which a JSON string may carry as \u0000) and bytes that are
// not UTF-8 become U+FFFD. For correlation ids and channels, which label a
// message; an idempotency key is refused instead (it is the message's
// identity, see prepare).
func storable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// prepared is an event checked and keyed, ready to insert.
type prepared struct {
	id          uuid.UUID
	key         string
	keySource   string
	correlation string
	channel     string
	// customer and amount label the message (keys.customer, keys.amount).
	customer, amount string
	// sequence is the sequence key (keys.sequence); "" for unordered.
	sequence string
	// latest: the flow's sequenceMode is latest.
	latest  bool
	payload []byte
	sha     [32]byte
	now     time.Time
}

func prepare(ctx context.Context, d deployed, payload []byte, key, correlation string, now time.Time) (prepared, error) {
	if err := CheckJSON(payload); err != nil {
		return prepared{}, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	id, err := uuid.NewV7() // time-ordered, so inserts stay at the right edge of the index
	if err != nil {
		return prepared{}, fmt.Errorf("message id: %w", err)
	}
	if err := checkKeyHeader("Idempotency-Key", key); err != nil {
		return prepared{}, err
	}
	if err := checkKeyHeader("X-Correlation-ID", correlation); err != nil {
		return prepared{}, err
	}
	p := prepared{id: id, key: key, keySource: "header", correlation: correlation, payload: payload, sha: sha256.Sum256(payload), now: now}
	if (key == "" && d.prog.Def.Keys.Idempotency != "") || (correlation == "" && d.prog.Def.Keys.Correlation != "") || d.prog.Def.Keys.Channel != "" || d.prog.Def.Keys.Sequence != "" ||
		d.prog.Def.Keys.Customer != "" || d.prog.Def.Keys.Amount != "" {
		res, err := program.Run(ctx, d.prog.Keys, engine.Input{Payload: payload, Now: now, Vars: d.vars})
		switch {
		case errors.Is(err, engine.ErrInvalidInput):
			// Valid JSON the engine cannot read (a number beyond float64).
			return prepared{}, &fault.Error{Code: fault.Malformed, Err: ErrBadJSON, Message: "the body cannot be read: " + strings.TrimPrefix(err.Error(), engine.ErrInvalidInput.Error()+": ")}
		case errors.Is(err, engine.ErrLimit):
			return prepared{}, fault.Wrap(err, fault.TooLarge, "the event is over a size limit of the flow: "+err.Error())
		case err != nil:
			return prepared{}, fmt.Errorf("derive keys: %w", err)
		}
		for _, e := range res.Errors {
			if e.Section == engine.SectionKey && key == "" {
				return prepared{}, fault.Errorf(fault.Invalid, "cannot derive the idempotency key with `%s`: %s; send an Idempotency-Key header or fix the payload", d.prog.Def.Keys.Idempotency, e.Message)
			}
		}
		if key == "" && res.Key != "" {
			if strings.ContainsRune(res.Key, 0) || !utf8.ValidString(res.Key) {
				// Replacing the bad bytes would let two different keys
				// collide; the sender has to choose.
				return prepared{}, fault.Errorf(fault.Invalid, "the idempotency key derived with `%s` contains a NUL character or bytes that are not UTF-8, which cannot be stored; send an Idempotency-Key header or fix the payload", d.prog.Def.Keys.Idempotency)
			}
			p.key, p.keySource = res.Key, "expression"
		}
		if correlation == "" {
			p.correlation = storable(res.CorrelationID)
		}
		p.channel = store.Truncate(storable(res.Channel), MaxKeyLength)
		p.sequence = store.Truncate(storable(res.Sequence), MaxKeyLength)
		p.customer = store.Truncate(storable(res.Customer), MaxLabelLength)
		p.amount = store.Truncate(storable(res.Amount), MaxLabelLength)
		p.latest = d.prog.Def.Keys.SequenceMode == engine.SequenceLatest
	}
	if p.key == "" {
		// No header and no usable expression: every request is new.
		p.key, p.keySource = id.String(), "generated"
	}
	if p.correlation == "" {
		p.correlation = id.String()
	}
	if len(p.key) > MaxKeyLength {
		return prepared{}, fault.Errorf(fault.Invalid, "the idempotency key is %d characters; at most %d are allowed", len(p.key), MaxKeyLength)
	}
	if len(p.correlation) > MaxKeyLength {
		return prepared{}, fault.Errorf(fault.Invalid, "the correlation id is %d characters; at most %d are allowed", len(p.correlation), MaxKeyLength)
	}
	return p, nil
}

// receivedDetail is the detail of a message's received lineage event.
func receivedDetail(d deployed, p prepared) string {
	detail, _ := json.Marshal(map[string]any{"version": d.version, "keySource": p.keySource, "bytes": len(p.payload)})
	return string(detail)
}

// existing answers a key that was seen before: the original message when
// the payload is the same, ErrKeyReused when it is not.
func existing(ctx context.Context, db txn.DBTX, d deployed, p prepared) (AcceptResult, error) {
	var r AcceptResult
	var sha []byte
	err := db.QueryRow(ctx, messageByKeySelect, d.envID, d.flowID, p.key).
		Scan(&r.MessageID, &r.CorrelationID, &sha, &r.VersionNumber, &r.ReceivedAt)
	if err != nil {
		return AcceptResult{}, fmt.Errorf("look up idempotency key: %w", err)
	}
	if string(sha) != string(p.sha[:]) {
		same, err := sameEvent(ctx, db, r.MessageID, p.payload)
		if err != nil {
			return AcceptResult{}, err
		}
		if same {
			r.IdempotencyKey, r.Replayed, r.StatusURL = p.key, true, StatusURL(r.MessageID)
			r.EnvironmentID, r.FlowID = d.envID, d.flowID
			return r, nil
		}
		return AcceptResult{}, &fault.Error{Code: fault.Invalid, Err: ErrKeyReused,
			Message: fmt.Sprintf("the idempotency key “%s” was already used for a different payload (message %s); use a new key for a new event", p.key, r.MessageID)}
	}
	r.IdempotencyKey, r.Replayed, r.StatusURL = p.key, true, StatusURL(r.MessageID)
	r.EnvironmentID, r.FlowID = d.envID, d.flowID
	return r, nil
}

// sameEvent says whether payload is the same JSON as the stored payload of
// message id though its bytes differ: the same values in the same order,
// whatever the whitespace between them or the escaping of their strings
// ("\u00e9" is "é"). Numbers compare as written: 1.0 is not 1. Only a
// repeated key with different bytes comes here, so the usual path costs
// one hash comparison.
func sameEvent(ctx context.Context, db txn.DBTX, id uuid.UUID, payload []byte) (bool, error) {
	var stored []byte
	if err := db.QueryRow(ctx, storedPayloadSelect, id).Scan(&stored); err != nil {
		return false, fmt.Errorf("compare with message %s: %w", id, err)
	}
	a, errA := CanonicalJSON(stored)
	b, errB := CanonicalJSON(payload)
	return errA == nil && errB == nil && bytes.Equal(a, b), nil
}

// CanonicalJSON rewrites a JSON document without insignificant whitespace
// and with every string encoded the one way encoding/json does, keeping
// the order of object keys and the digits of every number as sent.
func CanonicalJSON(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var out bytes.Buffer
	// Per open container: whether it is an object, and whether the next
	// token is an object key; whether a comma is due.
	type frame struct{ object, key, comma bool }
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			out.WriteByte(byte(d))
			stack = stack[:top]
			if top > 0 { // the container was a value of its parent
				if p := &stack[top-1]; p.object {
					p.key = true
				}
				stack[top-1].comma = true
			}
			continue
		}
		if top >= 0 {
			f := &stack[top]
			switch {
			case f.object && f.key && f.comma:
				out.WriteByte(',')
			case f.object && !f.key:
				out.WriteByte(':')
			case !f.object && f.comma:
				out.WriteByte(',')
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{', key: v == '{'})
			continue
		case json.Number:
			out.WriteString(string(v))
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			out.Write(b)
		}
		if top >= 0 {
			f := &stack[top]
			if f.object {
				if f.key {
					f.key, f.comma = false, false
					continue
				}
				f.key = true
			}
			f.comma = true
		}
	}
}

// BatchRequest is an NDJSON batch: one event per line, each keyed on its
// own (by the flow's key expression; lines carry no headers).
type BatchRequest struct {
	Env      string
	FlowSlug string
	Lines    [][]byte
	// MaxLineBytes caps each line as the trigger caps one event; a longer
	// line is refused (fault.TooLarge) and the others are accepted. Zero:
	// no cap.
	MaxLineBytes int
	Now          time.Time
}

// BatchLineResult answers one line. Err is a *fault.Error for that line
// alone (bad JSON, key reused); the others are accepted regardless.
type BatchLineResult struct {
	Line int // 1-based
	AcceptResult
	Err error
}

// AcceptBatch accepts up to MaxBatchLines events in one transaction: the
// same statement a group commit writes, with the batch as its group, and
// one process job per ProcessGroupSize messages. Lines with the same key
// behave like requests in line order: the first makes the message, a
// later one is a replay or ErrKeyReused. Each line is answered
// separately; the returned error is for the batch as a whole (unknown
// flow, too many lines, the database).
//
// A batch is written by its caller at once, without waiting for a writer
// slot: it is already a group, and the slots exist to gather single
// events into groups.
func (in *Intake) AcceptBatch(ctx context.Context, req BatchRequest) ([]BatchLineResult, error) {
	res, err := in.acceptBatch(ctx, req)
	return res, unavailable(err)
}

func (in *Intake) acceptBatch(ctx context.Context, req BatchRequest) ([]BatchLineResult, error) {
	if len(req.Lines) > MaxBatchLines {
		return nil, fault.Errorf(fault.TooLarge, "the batch has %d events; send at most %d per request", len(req.Lines), MaxBatchLines)
	}
	if len(req.Lines) == 0 {
		return nil, fault.Errorf(fault.Invalid, "the batch is empty; send one JSON document per line")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	results := make([]BatchLineResult, len(req.Lines))
	var pending []int // the lines still to write
	for i, line := range req.Lines {
		results[i].Line = i + 1
		if req.MaxLineBytes > 0 && len(line) > req.MaxLineBytes {
			results[i].Err = fault.Errorf(fault.TooLarge, "the line is %d bytes; an event may have at most %d", len(line), req.MaxLineBytes)
			continue
		}
		pending = append(pending, i)
	}
	// As for a single event, a deploy between resolution and insert sends
	// the lines round again, keyed by the version now live.
	for range 3 {
		d, err := in.cache.resolve(ctx, in.db, req.Env, req.FlowSlug, in.cfg.ResolveTTL)
		if err != nil {
			return nil, err
		}
		var items []*intakeItem
		var lines []int
		for _, i := range pending {
			p, err := prepare(ctx, d, req.Lines[i], "", "", now)
			if err != nil {
				results[i].Err = err
				continue
			}
			items = append(items, &intakeItem{d: d, p: p, done: make(chan struct{})})
			lines = append(lines, i)
		}
		if len(items) == 0 {
			return results, nil
		}
		in.commit(ctx, slices.Clone(items))
		pending = pending[:0]
		recorded := false
		for _, it := range items {
			recorded = recorded || it.res.MessageID != uuid.Nil
		}
		for j, it := range items {
			i := lines[j]
			switch {
			case it.stale:
				pending = append(pending, i)
			case !recorded && fault.CodeOf(unavailable(it.err)) == fault.Unavailable:
				// Nothing of the batch was recorded: the batch's answer.
				return nil, it.err
			default:
				results[i].AcceptResult, results[i].Err = it.res, unavailable(it.err)
			}
		}
		if len(pending) == 0 {
			return results, nil
		}
		in.cache.forget(req.Env, req.FlowSlug)
	}
	for _, i := range pending {
		results[i].Err = fault.Errorf(fault.Unavailable, "flow “%s” is being deployed to %s repeatedly; send the event again", req.FlowSlug, req.Env)
	}
	return results, nil
}

// InlineResult is a synchronous answer (Prefer: wait=N): the accepted
// message and what the flow made of it. When Valid is false, Validation
// says which rules failed (the handler answers 422); MappingErrors lists
// expressions that failed. Routes holds the matched routes' outputs.
type InlineResult struct {
	AcceptResult
	Valid         bool
	Validation    []engine.ValidationFailure
	MappingErrors []engine.RowError
	Routes        []engine.RouteResult
	// Reply is the flow's reply (a matched route's reply mapping of the
	// answers of its steps), when a matched route has one: MapInline
	// waits for it within ctx.
	Reply json.RawMessage
}

// MapInline accepts the event through Accept (it is recorded and processed
// and delivered like any other), then validates and maps it in the request
// so the caller gets the outputs or the validation failures at once. Bound
// ctx by the caller's wait: when it runs out after the message was
// recorded, the result still carries the AcceptResult and the error is
// ErrWaitExpired, so the caller can fall back to a 202.
func (in *Intake) MapInline(ctx context.Context, req AcceptRequest) (InlineResult, error) {
	res, err := in.mapInline(ctx, req)
	if err != nil && res.MessageID != uuid.Nil && (ctx.Err() != nil || errors.Is(err, errReplyMissing)) {
		// Recorded, but the wait ran out before the mapping was done:
		// "nothing was recorded" would be false and make the caller send
		// it again. The worker will process it like any accepted event.
		return res, ErrWaitExpired
	}
	return res, unavailable(err)
}

// ErrWaitExpired says a `Prefer: wait` call's event was recorded but could
// not be mapped within the wait; the result holds the accepted message.
var ErrWaitExpired = errors.New("the wait ran out after the event was recorded")

func (in *Intake) mapInline(ctx context.Context, req AcceptRequest) (InlineResult, error) {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	acc, err := in.Accept(ctx, req)
	if err != nil {
		return InlineResult{}, err
	}
	db := in.db
	var version int
	var checksum string
	var envID, flowID int64
	var receivedAt time.Time
	if err := db.QueryRow(ctx, messageOfInlineMapSelect, acc.MessageID).
		Scan(&envID, &flowID, &version, &checksum, &receivedAt); err != nil {
		return InlineResult{AcceptResult: acc}, fmt.Errorf("message %s: %w", acc.MessageID, err)
	}
	// A replay maps on the version the original arrived on, like the worker.
	prog, err := program.Load(ctx, db, flowID, version, checksum)
	if err != nil {
		return InlineResult{AcceptResult: acc}, err
	}
	vars, err := release.Variables(ctx, db, envID)
	if err != nil {
		return InlineResult{AcceptResult: acc}, err
	}
	res, err := program.Run(ctx, prog.Program, engine.Input{Payload: req.Payload, Now: receivedAt, Vars: vars})
	switch {
	case errors.Is(err, engine.ErrLimit):
		return InlineResult{}, fault.Wrap(err, fault.TooLarge, "the event is over a size limit of the flow: "+err.Error())
	case ctx.Err() != nil:
		// The wait ran out: the message is recorded and will be processed;
		// the caller can answer 202 with acc instead.
		return InlineResult{AcceptResult: acc}, err
	case err != nil:
		return InlineResult{}, fault.Wrap(err, fault.Invalid, "the event cannot be mapped: "+err.Error())
	}
	out := InlineResult{AcceptResult: acc, Valid: res.Valid(), Validation: res.Validation, MappingErrors: res.Errors}
	replies := false
	for _, r := range res.Routes {
		out.MappingErrors = append(out.MappingErrors, r.Errors...)
		if r.Matched {
			out.Routes = append(out.Routes, r)
			replies = replies || len(prog.Program.ReplySteps(r.Name)) > 0
		}
	}
	if replies && out.Valid && len(out.MappingErrors) == 0 {
		if out.Reply, err = in.waitReply(ctx, acc.MessageID); err != nil {
			return InlineResult{AcceptResult: acc}, err
		}
	}
	return out, nil
}

// replyPoll is how often waitReply looks for a reply: a step's delivery
// takes a round trip to its target, so a few polls per answer are cheap.
const replyPoll = 25 * time.Millisecond

// waitReply waits, within ctx, until the workers have kept the message's
// reply, and returns it. A message that fails first, or a wait that runs
// out, ends the wait with ctx's error or errReplyFailed: the caller then
// answers 202 with the status URL, where the reply shows once it is there.
func (in *Intake) waitReply(ctx context.Context, id uuid.UUID) (json.RawMessage, error) {
	t := time.NewTicker(replyPoll)
	defer t.Stop()
	for {
		var reply []byte
		var status store.MessageStatus
		if err := in.db.QueryRow(ctx, messageReplySelect, id).Scan(&reply, &status); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("reply of message %s: %w", id, err)
		}
		if reply != nil {
			return reply, nil
		}
		if status == store.StatusFailed || status == store.StatusDelivered || status == store.StatusUnrouted {
			// Finished without a reply (a step failed, or its condition
			// was false): there is nothing to wait for.
			return nil, fmt.Errorf("%w: message %s is %s", errReplyMissing, id, status)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// errReplyMissing says a message finished without the reply its flow
// maps; the trigger answers 202 and the status resource says why.
var errReplyMissing = errors.New("the message finished without a reply")
