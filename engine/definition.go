package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// FormatVersion is the definition format this package reads and writes. A
// definition with another formatVersion is rejected by ParseDefinition so an
// old binary never half-understands a newer flow.
const FormatVersion = 1

// Definition is the whole executable content of a flow version. It is a
// plain JSON document (docs/definition-format.md); ParseDefinition checks it
// against the embedded JSON Schema and Canonical gives the bytes a version is
// stored and identified by.
type Definition struct {
	// FormatVersion must equal FormatVersion.
	FormatVersion int `json:"formatVersion"`
	// Name is the flow's name, e.g. "storefront-order-to-erp".
	Name string `json:"name"`
	// Description says what the flow is for, for people.
	Description string `json:"description,omitempty"`
	// Source describes the events the flow accepts.
	Source Source `json:"source"`
	// Keys derives the idempotency key and correlation id when the caller
	// sends no header, and the message's channel.
	Keys Keys `json:"keys,omitzero"`
	// SLA is the flow's service level target, shown on the dashboard; nil
	// means the dashboard's default (DefaultSLA).
	SLA *SLA `json:"sla,omitempty"`
	// Validation rules all run on every message; any failure rejects it.
	Validation []Rule `json:"validation,omitempty"`
	// Lookups are cross-reference tables snapshotted by value into the
	// version, read by lookup(table, key).
	Lookups map[string]Lookup `json:"lookups,omitempty"`
	// Targets names the destinations routes deliver to. Their URLs and
	// credentials are environment configuration, not part of a definition.
	Targets []Target `json:"targets,omitempty"`
	// Routes are evaluated in order; every route whose condition holds
	// produces an output for its target.
	Routes []Route `json:"routes"`
	// Tests are the definition's test cases, run by RunTests.
	Tests []TestCase `json:"tests,omitempty"`
	// Limits tunes the flow's run-time limits; nil means the defaults.
	Limits *FlowLimits `json:"limits,omitempty"`
}

// FlowLimits are a flow's own run-time limits, set in its definition.
type FlowLimits struct {
	// TimeBudgetMs is how long mapping one message may take in a deployed
	// flow, in milliseconds (DefaultTimeBudget when 0; at most
	// MaxTimeBudget). Raise it for a flow whose expressions are known to
	// be heavy; a breach is a mapping exception naming the row.
	TimeBudgetMs int `json:"timeBudgetMs,omitempty"`
}

// Source describes the events a flow accepts.
type Source struct {
	// System is the sending system, e.g. "storefront".
	System string `json:"system"`
	// Event is the event type, e.g. "order.created".
	Event string `json:"event"`
	// Schema is an optional JSON Schema of the payload. When present,
	// Compile rejects expressions that reach fields it does not declare.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Enforce makes Schema the flow's contract: every message is checked
	// against it (required fields, types, formats, enums, patterns) before
	// the validation rules, and each violation is a validation failure
	// naming its JSON pointer (rule "schema"). It needs a Schema.
	Enforce bool `json:"enforce,omitempty"`
	// Samples are example payloads for the designer's live preview.
	Samples []Sample `json:"samples,omitempty"`
}

// Sample is a named example payload.
type Sample struct {
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
}

// Keys holds the expressions that derive a message's identity. Either may be
// empty, in which case the caller must supply the header or generate one.
type Keys struct {
	// Idempotency is the idempotency-key expression, e.g. `source.id`.
	Idempotency string `json:"idempotency,omitempty"`
	// Correlation is the correlation-id expression, e.g. `source.name`.
	Correlation string `json:"correlation,omitempty"`
	// Channel is the channel expression, e.g. `source.channel`: the sales
	// channel (web, store, marketplace …) the dashboard groups SLA figures
	// by. Empty means every message of the flow has the channel "".
	Channel string `json:"channel,omitempty"`
	// Sequence is the sequence-key expression, e.g. `source.order_id`:
	// messages of the flow and environment with the same sequence key
	// reach each target in the order they were accepted, and one that
	// fails for good holds the later ones until a person deals with it.
	// Empty (or a null or failing value) means unordered.
	Sequence string `json:"sequence,omitempty"`
	// SequenceMode says how waiting messages of one sequence key are
	// delivered: SequenceFIFO (the default, also "") delivers each in
	// turn; SequenceLatest delivers only the newest waiting one and marks
	// the others superseded, for snapshots such as stock levels.
	SequenceMode SequenceMode `json:"sequenceMode,omitempty"`
	// Customer is the customer expression, e.g. `source.customer.email`,
	// and Amount the amount expression, e.g. `source.total + " " +
	// source.currency`: what the inbox and the message explorer show beside
	// the order number (the correlation id), so that support finds the
	// customer's message without opening each one. They only label the
	// message: a failing or null value leaves the label empty and never
	// rejects it.
	Customer string `json:"customer,omitempty"`
	Amount   string `json:"amount,omitempty"`
}

// SequenceMode is how the waiting messages of one sequence key are
// delivered (Keys.SequenceMode).
type SequenceMode string

// The sequence modes.
const (
	// SequenceFIFO delivers every message of a key, one after another.
	SequenceFIFO SequenceMode = "fifo"
	// SequenceLatest delivers, of the messages of a key waiting together,
	// only the newest.
	SequenceLatest SequenceMode = "latest"
)

// SLA is a service level target: ObjectivePercent of messages delivered
// within WithinSeconds of acceptance, e.g. 99 % within 60 s.
type SLA struct {
	WithinSeconds    int     `json:"withinSeconds"`
	ObjectivePercent float64 `json:"objectivePercent"`
}

// DefaultSLA applies to flows whose definition sets none: 99 % within 60 s.
var DefaultSLA = SLA{WithinSeconds: 60, ObjectivePercent: 99}

// Rule is a validation rule: a boolean expression that must hold.
type Rule struct {
	// Name identifies the rule in results and test expectations.
	Name string `json:"name"`
	// Rule is the boolean expression.
	Rule string `json:"rule"`
	// Message tells the sender what is wrong when the rule fails.
	Message string `json:"message"`
}

// Missing-key behaviours of a lookup table.
const (
	// MissingError makes lookup fail the row when the key is absent and no
	// default argument is given. It is the default.
	MissingError = "error"
	// MissingDefault makes lookup return the table's Default.
	MissingDefault = "default"
)

// Lookup is a cross-reference table: key → value, where a value may be any
// JSON value (a code, or a whole record such as a plant with its company
// code).
type Lookup struct {
	Description string `json:"description,omitempty"`
	// Missing is MissingError (default) or MissingDefault.
	Missing string `json:"missing,omitempty"`
	// Default is returned for an absent key when Missing is MissingDefault.
	Default json.RawMessage `json:"default,omitempty"`
	// Entries maps keys to values.
	Entries map[string]json.RawMessage `json:"entries"`
}

// Target kinds.
const (
	// TargetHTTP sends the route's output as a JSON request.
	TargetHTTP = "http"
	// TargetCapture records what would be sent, for dev and demos.
	TargetCapture = "capture"
)

// Target is a named destination. Only its name and kind travel with a
// definition; the environment supplies URL, headers, credentials and
// retry policy.
type Target struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Method      string `json:"method,omitempty"`
	Description string `json:"description,omitempty"`
}

// Route sends a mapped output to a target when its condition holds.
type Route struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// When is the route's boolean condition; empty means always.
	When string `json:"when,omitempty"`
	// Target names an entry of Definition.Targets.
	Target string `json:"target"`
	// Mapping is the output: one row per target field, in output order.
	Mapping []Row `json:"mapping"`
	// TargetSchema is an optional JSON Schema of the route's output. The
	// designer shows its fields beside the mapping (TargetTree), and a
	// required field no row maps is a warning at publish, or a problem
	// when UnmappedRequired is UnmappedError.
	TargetSchema json.RawMessage `json:"targetSchema,omitempty"`
	// UnmappedRequired is what a required field of TargetSchema that no
	// row maps is: UnmappedWarn (the default, "" means it too) or
	// UnmappedError, which makes Compile, and so publishing, refuse it.
	UnmappedRequired string `json:"unmappedRequired,omitempty"`
	// Then are the steps that follow the route's delivery: each maps the
	// route's answer (response) into a delivery of its own once the
	// route's target accepted the output. Several entries fan out.
	Then []Step `json:"then,omitempty"`
	// Reply is the synchronous answer to the event's sender, mapped once
	// the route and steps it names (steps.<name>.response) are delivered:
	// a trigger call with Prefer: wait=N answers with it, and the
	// message's status resource carries it afterwards. Its expressions
	// see source and steps (the route and its steps, at any depth).
	Reply []Row `json:"reply,omitempty"`
}

// Step is a delivery that follows another one (a route or an earlier
// step) and may map its answer: `response` is the answer of the step
// before it, `steps.<name>.response` the answer of any step before it in
// the chain (the route's own delivery is the step named like the route).
// Step names are unique in a definition and differ from every route
// name, so a delivery names its step unambiguously.
type Step struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// When is the step's boolean condition; empty means always.
	When string `json:"when,omitempty"`
	// Target names an entry of Definition.Targets.
	Target string `json:"target"`
	// Mapping is the step's output, rows as a route's.
	Mapping []Row `json:"mapping"`
	// Then are the steps that follow this one (a chain).
	Then []Step `json:"then,omitempty"`
}

// Response is a target's answer to a delivered route or step, as a step's
// expressions see it (`response`, `steps.<name>.response`).
type Response struct {
	// Status is the HTTP status code (0 for a target kind without one).
	Status int `json:"status"`
	// Headers are the answer's headers, names in lower case, several
	// values of one name joined with ", ". Credentials are not kept.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the answer's body as a JSON value: the document itself when
	// the body is JSON, else the text as a JSON string; absent when empty.
	Body json.RawMessage `json:"body,omitempty"`
}

// What a required target field that no row maps is (Route.UnmappedRequired).
const (
	// UnmappedWarn reports it as a warning; publishing goes ahead.
	UnmappedWarn = "warn"
	// UnmappedError reports it as a problem; publishing is refused.
	UnmappedError = "error"
)

// Row is one output mapping row: a target path and where its value comes
// from. Exactly one of Expr, Value or Rows is set; ForEach turns the row
// into an array with one element per item of a source array.
type Row struct {
	// Target is the output path, dot-separated: "customer.email" creates
	// the object "customer" if an earlier row has not.
	Target string `json:"target"`
	// Expr is the value expression.
	Expr string `json:"expr,omitempty"`
	// Value is a constant JSON value.
	Value json.RawMessage `json:"value,omitempty"`
	// Rows makes the target an object built from child rows.
	Rows []Row `json:"rows,omitempty"`
	// ForEach is an expression yielding an array; the row then produces
	// an array with one element per item (from Rows as an object, or from
	// Expr as a value).
	ForEach string `json:"forEach,omitempty"`
	// As names the item variable of ForEach (default "item").
	As string `json:"as,omitempty"`
	// Index names the zero-based item index variable of ForEach.
	Index string `json:"index,omitempty"`
	// Filter skips items for which it is false.
	Filter string `json:"filter,omitempty"`
	// When omits the row when false.
	When string `json:"when,omitempty"`
	// OmitNull omits the row when its value is null.
	OmitNull bool `json:"omitNull,omitempty"`
	// Note explains the row to the next analyst.
	Note string `json:"note,omitempty"`
}

// TestCase is an input and what the definition must make of it.
type TestCase struct {
	Name string `json:"name"`
	// Input is the payload.
	Input json.RawMessage `json:"input"`
	// Now is the received time (RFC 3339); zero time when absent.
	Now string `json:"now,omitempty"`
	// Vars are the environment variables env() sees.
	Vars map[string]string `json:"vars,omitempty"`
	// Responses are the recorded answers of routes and steps by name, the
	// input of the steps that follow them: a step maps (and is compared
	// under Expect.Steps) only when the step before it has a response here.
	Responses map[string]Response `json:"responses,omitempty"`
	// Expect is the expected result.
	Expect Expectation `json:"expect"`
}

// Expectation is the expected result of a TestCase. Only what is given is
// compared, except Validation: an absent list expects the message to pass.
type Expectation struct {
	// Key is the expected idempotency key, when given.
	Key *string `json:"key,omitempty"`
	// CorrelationID is the expected correlation id, when given.
	CorrelationID *string `json:"correlationId,omitempty"`
	// Validation lists the names of the rules expected to fail.
	Validation []string `json:"validation,omitempty"`
	// Routes maps route names to their expected output; JSON null means the
	// route must not match. Routes not listed are not compared.
	Routes map[string]json.RawMessage `json:"routes,omitempty"`
	// Steps maps step names to their expected output, as Routes does for
	// routes; a step needs the response of the step before it in the
	// case's Responses.
	Steps map[string]json.RawMessage `json:"steps,omitempty"`
	// MappingError, when given, expects mapping to fail: some key,
	// correlation, condition or row expression must fail with an error
	// that matches it. Routes with a failing row are then not compared.
	MappingError *MappingErrorExpectation `json:"mappingError,omitempty"`
}

// MappingErrorExpectation describes an expected run-time expression failure.
// Both fields are optional; given, both must match the same error.
type MappingErrorExpectation struct {
	// Pointer is the JSON pointer of the failing expression or of a
	// construct that contains it: "/routes/0/mapping/2" matches an error
	// at "/routes/0/mapping/2/expr" or "/routes/0/mapping/2/rows/1/expr".
	Pointer string `json:"pointer,omitempty"`
	// Contains is a substring of the error message, e.g. "division by zero".
	Contains string `json:"contains,omitempty"`
}

// ParseDefinition decodes a definition and validates it against the
// embedded JSON Schema. Problems are returned together as a
// *DefinitionError whose diagnostics name the JSON pointer of each.
// It refuses a document over MaxDefinitionBytes before decoding it and
// checks the decoded definition against CheckLimits. It does not compile
// expressions; Compile does.
func ParseDefinition(data []byte) (*Definition, error) {
	if err := CheckSize(data); err != nil {
		return nil, err
	}
	if err := validateDefinitionSchema(data); err != nil {
		return nil, err
	}
	var def Definition
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		// The schema has accepted the document, so this is a shape the
		// schema does not forbid but Go cannot hold (e.g. a huge number).
		return nil, &DefinitionError{Diagnostics: []Diagnostic{{Section: SectionSchema, Pointer: "", Message: err.Error()}}}
	}
	if err := CheckLimits(&def); err != nil {
		return nil, err
	}
	return &def, nil
}

// Canonical returns the definition as compact JSON with fields in a fixed
// order and map keys sorted. Two definitions that differ only in whitespace
// or in the order of lookup entries have the same canonical form.
func (d *Definition) Canonical() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Expressions are full of < > & and must stay readable in stored JSON.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("canonical definition: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Checksum returns the hex SHA-256 of the canonical JSON; versions are
// identified by it and compiled programs are cached under it.
func (d *Definition) Checksum() (string, error) {
	b, err := d.Canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
