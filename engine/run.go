package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Input is one message to map.
type Input struct {
	// Payload is the message body, a JSON document.
	Payload []byte
	// Now is the message's received time; now() returns it. Pass the
	// stored time on replays so they map the same way.
	Now time.Time
	// Vars are the environment's variables, read by env("NAME").
	Vars map[string]string
	// Trace records every row's value in Result.Trace (live preview,
	// triage). Off, only failures are recorded, which is faster.
	Trace bool
	// MapInvalid evaluates routes even when validation fails, so the
	// designer can show outputs next to failing rules. The pipeline
	// leaves it off: an invalid message is rejected, not mapped.
	MapInvalid bool
}

// Result is what a program made of one message.
type Result struct {
	// Key is the idempotency key derived by keys.idempotency ("" when the
	// definition has none or it evaluated to null).
	Key string `json:"key,omitempty"`
	// CorrelationID is derived by keys.correlation.
	CorrelationID string `json:"correlationId,omitempty"`
	// Channel is derived by keys.channel.
	Channel string `json:"channel,omitempty"`
	// Sequence is derived by keys.sequence; "" means unordered.
	Sequence string `json:"sequence,omitempty"`
	// Customer and Amount are derived by keys.customer and keys.amount,
	// labels for the inbox and explorer; a failure of either leaves it ""
	// and is not an error of the message (the trace shows it).
	Customer string `json:"customer,omitempty"`
	Amount   string `json:"amount,omitempty"`
	// Errors are failures of the key and correlation expressions.
	Errors []RowError `json:"errors,omitempty"`
	// Validation lists every failed rule, in definition order.
	Validation []ValidationFailure `json:"validation,omitempty"`
	// Routes has one entry per route in definition order; empty when
	// validation failed (unless Input.MapInvalid).
	Routes []RouteResult `json:"routes,omitempty"`
	// Steps has one entry per step RunChain mapped (those whose previous
	// step has a response), in chain order; Run leaves it empty.
	Steps []RouteResult `json:"steps,omitempty"`
	// Trace is the value or error of every expression, when Input.Trace.
	Trace []TraceEntry `json:"trace,omitempty"`
}

// Valid reports whether every validation rule held.
func (r *Result) Valid() bool { return len(r.Validation) == 0 }

// Failed reports whether a key, correlation, condition or row expression
// failed: a mapping exception.
func (r *Result) Failed() bool {
	if len(r.Errors) > 0 {
		return true
	}
	for _, rt := range r.Routes {
		if len(rt.Errors) > 0 {
			return true
		}
	}
	for _, st := range r.Steps {
		if len(st.Errors) > 0 {
			return true
		}
	}
	return false
}

// Step returns the named step's result, or nil.
func (r *Result) Step(name string) *RouteResult {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// Route returns the named route's result, or nil.
func (r *Result) Route(name string) *RouteResult {
	for i := range r.Routes {
		if r.Routes[i].Name == name {
			return &r.Routes[i]
		}
	}
	return nil
}

// ValidationFailure is a rule that did not hold.
type ValidationFailure struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Error is set when the rule could not be evaluated at all (which also
	// counts as a failure).
	Error string `json:"error,omitempty"`
}

// RouteResult is one route's outcome.
type RouteResult struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	// Matched is whether the route's condition held.
	Matched bool `json:"matched"`
	// Output is the mapped JSON, keys in definition order; nil when the
	// route did not match or a row failed.
	Output json.RawMessage `json:"output,omitempty"`
	// Errors lists every failed row (and a failed condition).
	Errors []RowError `json:"errors,omitempty"`
}

// RowError is an expression that failed at run time.
type RowError struct {
	Section Section `json:"section"`
	Route   string  `json:"route,omitempty"`
	// Path is the output path with item positions, e.g. "lines[2].sku",
	// or the rule name for validation.
	Path string `json:"path,omitempty"`
	// Pointer is the JSON pointer of the failing expression in the
	// definition, e.g. "/routes/0/mapping/6/rows/2/expr", the same as the
	// Diagnostic.Pointer a compile error for it would have.
	Pointer string `json:"pointer,omitempty"`
	Message string `json:"message"`
	// Disabled is set when the construct did not compile and
	// CompileLenient disabled it: Message is its compile problem.
	Disabled bool `json:"disabled,omitempty"`
}

// String formats the error on one line: section, route, path, message.
func (e RowError) String() string {
	var b strings.Builder
	b.WriteString(string(e.Section))
	if e.Route != "" {
		fmt.Fprintf(&b, " %q", e.Route)
	}
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	return b.String() + ": " + e.Message
}

// TraceEntry is the outcome of one expression.
type TraceEntry struct {
	Section Section `json:"section"`
	Route   string  `json:"route,omitempty"`
	Path    string  `json:"path,omitempty"`
	// Pointer is the JSON pointer of the expression (or constant) in the
	// definition; entries of a for-each row share it, one per item.
	Pointer string `json:"pointer,omitempty"`
	// Value is the value as JSON, absent when Error is set.
	Value json.RawMessage `json:"value,omitempty"`
	Error string          `json:"error,omitempty"`
	// Disabled is set when Error is the compile problem of a construct
	// CompileLenient disabled.
	Disabled bool `json:"disabled,omitempty"`
	// Skipped is set for a row omitted by its when or omitNull.
	Skipped bool `json:"skipped,omitempty"`
}

// runState is the per-run scratch space, pooled per program.
type runState struct {
	p     *Program
	ctx   context.Context
	now   time.Time
	vars  map[string]string
	vm    vm.VM
	dec   decoder
	env   map[string]any
	buf   []byte
	trace bool
	path  []pathSeg
	res   *Result
	route string
	errs  []RowError
	fatal error
	// ticks and work count predicate iterations and bytes produced by
	// growing operations for this message (Options.MaxSteps, MaxWorkBytes).
	ticks int
	work  int
	// current is the expression evaluated last, the one a breach of the
	// time budget is blamed on.
	current *evaluator
	// out is the budget of the value being written (outputBudget).
	out budget
}

// charge records n bytes of string or array growth.
func (rs *runState) charge(fn string, n int) error {
	rs.work += n
	if rs.work > rs.p.opts.MaxWorkBytes {
		return fmt.Errorf("%w: %s: expressions built more than %d bytes for this message", ErrLimit, fn, rs.p.opts.MaxWorkBytes)
	}
	return nil
}

// tick counts one predicate iteration or comparison against MaxSteps and
// checks the context every 256.
func (rs *runState) tick() error {
	rs.ticks++
	if rs.ticks&255 == 0 {
		if err := rs.ctxErr(); err != nil {
			return err
		}
		if rs.ticks > rs.p.opts.MaxSteps {
			return fmt.Errorf("%w: expressions looped over more than %d items for this message", ErrLimit, rs.p.opts.MaxSteps)
		}
	}
	return nil
}

// noteFatal ends the run on a limit or cancellation met while writing.
func (rs *runState) noteFatal(err error) {
	if rs.fatal != nil {
		return
	}
	switch {
	case errors.Is(err, ErrLimit), errors.Is(err, ErrTimeBudget):
		rs.fatal = err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		rs.fatal = rs.ctxErr()
	}
}

// ctxErr is the run's context error, if any; ErrTimeBudget (wrapped, with
// the budget) when the context ended for that cause.
func (rs *runState) ctxErr() error {
	err := rs.ctx.Err()
	if err != nil && errors.Is(context.Cause(rs.ctx), ErrTimeBudget) {
		return fmt.Errorf("%w: mapping this message took longer than the flow's %v (limits.timeBudgetMs); this expression was running", ErrTimeBudget, rs.p.timeBudget)
	}
	return err
}

type pathSeg struct {
	key   string
	index int // -1 for a key
}

func (p *Program) state() *runState {
	if rs, ok := p.pool.Get().(*runState); ok {
		return rs
	}
	rs := &runState{p: p, env: make(map[string]any, 8)}
	rs.vm.MemoryBudget = p.opts.MemoryBudget
	return rs
}

func (p *Program) release(rs *runState) {
	clear(rs.env)
	rs.ctx, rs.vars, rs.res, rs.errs, rs.fatal, rs.current, rs.route = nil, nil, nil, nil, nil, nil, ""
	rs.ticks, rs.work = 0, 0
	rs.path = rs.path[:0]
	if cap(rs.buf) > 1<<20 {
		rs.buf = nil
	}
	p.pool.Put(rs)
}

// begin is what every run starts with: the context and the payload's
// size checked, a run state taken from the pool with the payload decoded
// into it as source, and the Result it fills. The caller releases rs.
func (p *Program) begin(ctx context.Context, in Input) (*runState, *Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if len(in.Payload) > p.opts.MaxInputBytes {
		return nil, nil, fmt.Errorf("%w: payload is %d bytes, the limit is %d", ErrLimit, len(in.Payload), p.opts.MaxInputBytes)
	}
	rs := p.state()
	src, err := p.projection.decode(&rs.dec, in.Payload)
	if err != nil {
		p.release(rs)
		return nil, nil, err
	}
	res := &Result{}
	rs.ctx, rs.now, rs.vars, rs.trace, rs.res = ctx, in.Now, in.Vars, in.Trace, res
	rs.env["source"] = src
	rs.env[reservedRun] = rs
	return rs, res, nil
}

// Run maps one message. The error is non-nil only when the message as a
// whole cannot be mapped: ErrInvalidInput (not JSON), ErrLimit (a size
// limit) or the context's error. Failing rules and rows are in the Result.
func (p *Program) Run(ctx context.Context, in Input) (*Result, error) {
	rs, res, err := p.begin(ctx, in)
	if err != nil {
		return nil, err
	}
	defer p.release(rs)

	if p.key != nil {
		res.Key = rs.keyValue(p.key, SectionKey)
	}
	if p.correlation != nil {
		res.CorrelationID = rs.keyValue(p.correlation, SectionCorrelation)
	}
	if p.channel != nil {
		res.Channel = rs.keyValue(p.channel, SectionChannel)
	}
	if p.sequence != nil {
		res.Sequence = rs.keyValue(p.sequence, SectionSequence)
	}
	if p.customer != nil {
		res.Customer = rs.labelValue(p.customer, SectionCustomer)
	}
	if p.amount != nil {
		res.Amount = rs.labelValue(p.amount, SectionAmount)
	}
	if rs.fatal != nil {
		return rs.stop(res)
	}
	if p.contract != nil {
		res.Validation = append(res.Validation, checkContract(p.contract, in.Payload)...)
	}
	for _, r := range p.rules {
		ok, err := rs.evalBool(r.ev)
		if rs.trace {
			rs.traceValue(SectionValidation, "", r.name, r.ev.pointer, ok, err)
		}
		if rs.fatal != nil {
			return rs.stop(res)
		}
		if err == nil && r.broken != nil {
			err = r.broken
		}
		if err != nil {
			res.Validation = append(res.Validation, ValidationFailure{Rule: r.name, Message: r.message, Error: errorMessage(err)})
		} else if !ok {
			res.Validation = append(res.Validation, ValidationFailure{Rule: r.name, Message: r.message})
		}
	}
	if !res.Valid() && !in.MapInvalid {
		return res, nil
	}
	res.Routes = make([]RouteResult, 0, len(p.routes))
	for _, r := range p.routes {
		if err := rs.ctxErr(); err != nil {
			rs.fatal = err
			return rs.stop(res)
		}
		res.Routes = append(res.Routes, rs.runRoute(r))
		if rs.fatal != nil {
			return rs.stop(res)
		}
	}
	return res, nil
}

// StepInput is a message together with the answer a route's or step's
// target gave, the input of the steps that follow it.
type StepInput struct {
	Input
	// After names the route or step whose target answered.
	After string
	// Responses are the answers of After and of the steps before it in its
	// chain, by name; After's own is required. Entries for other names
	// are ignored.
	Responses map[string]Response
}

// ErrUnknownStep is returned by RunSteps for an After that names no route
// or step of the program, or without After's response.
var ErrUnknownStep = errors.New("unknown step")

// Then returns the names of the steps that follow the named route or
// step, in definition order; none for an unknown name.
func (p *Program) Then(name string) []string {
	r := p.chain[name]
	if r == nil {
		return nil
	}
	out := make([]string, len(r.then))
	for i, s := range r.then {
		out[i] = s.name
	}
	return out
}

// Chain returns the route and steps a delivery of the named route or step
// passes through, from the route to name itself; none for an unknown name.
func (p *Program) Chain(name string) []string {
	var out []string
	for r := p.chain[name]; r != nil; r = r.parent {
		out = append(out, r.name)
	}
	slices.Reverse(out)
	return out
}

// StepTarget returns the target of the named route or step.
func (p *Program) StepTarget(name string) (string, bool) {
	r := p.chain[name]
	if r == nil {
		return "", false
	}
	return r.target, true
}

// KeepsAnswer says whether the answer to a delivery of the named route or
// step is read later: steps follow it, or its route's reply names it.
func (p *Program) KeepsAnswer(name string) bool {
	r := p.chain[name]
	if r == nil {
		return false
	}
	if len(r.then) > 0 {
		return true
	}
	root := r
	for root.parent != nil {
		root = root.parent
	}
	return slices.Contains(root.replySteps, name)
}

// ReplySteps returns the route and steps whose answers the named route's
// reply reads, in chain order; none when the route has no reply.
func (p *Program) ReplySteps(route string) []string {
	if r := p.chain[route]; r != nil && r.parent == nil {
		return append([]string(nil), r.replySteps...)
	}
	return nil
}

// RunReply maps the named route's reply with the stored answers, in a
// RouteResult named after the route (Errors lists failing rows). Every
// answer the reply names must be in responses, else ErrUnknownStep says
// which is missing; so it does for a route without a reply. Other errors
// are RunSteps'.
func (p *Program) RunReply(ctx context.Context, in Input, route string, responses map[string]Response) (*RouteResult, error) {
	r := p.chain[route]
	if r == nil || r.parent != nil || r.reply == nil {
		return nil, fmt.Errorf("%w: %q is not a route with a reply", ErrUnknownStep, route)
	}
	for _, name := range r.replySteps {
		if _, ok := responses[name]; !ok {
			return nil, fmt.Errorf("%w: the reply of %q waits for the answer of %q", ErrUnknownStep, route, name)
		}
	}
	rs, res, err := p.begin(ctx, in)
	if err != nil {
		return nil, err
	}
	defer p.release(rs)
	steps := map[string]any{}
	for _, name := range r.replySteps {
		v, err := rs.responseValue(name, responses[name])
		if err != nil {
			return nil, err
		}
		steps[name] = map[string]any{"response": v}
	}
	rs.env["steps"] = steps
	out := rs.runRoute(&compiledRoute{name: r.name, root: r.reply})
	if rs.fatal != nil {
		if _, err := rs.stop(res); err != nil {
			return nil, err
		}
		out.Output = nil
		out.Errors = append(out.Errors, res.Errors...)
	}
	return &out, nil
}

// wholeValue decodes a document completely: a response body, unlike the
// payload, is read by whatever the step expressions reach, and is capped
// by MaxInputBytes instead of projected.
var wholeValue = &projection{root: &pnode{full: true}}

// RunSteps maps the steps that follow in.After, one RouteResult per step
// in definition order, named after the step: Matched is false when the
// step's condition is false, Errors lists failing rows, and Output is what
// to deliver to the step's target otherwise. Validation and keys are not
// run again; the message passed them when it was accepted. The error is
// Run's (ErrInvalidInput, ErrLimit, the context's), ErrInvalidInput for a
// response body over MaxInputBytes or not decodable, or ErrUnknownStep.
func (p *Program) RunSteps(ctx context.Context, in StepInput) ([]RouteResult, error) {
	after := p.chain[in.After]
	if after == nil {
		return nil, fmt.Errorf("%w: %q is neither a route nor a step of flow %q", ErrUnknownStep, in.After, p.name)
	}
	if _, ok := in.Responses[in.After]; !ok {
		return nil, fmt.Errorf("%w: no response of %q to map its steps with", ErrUnknownStep, in.After)
	}
	rs, res, err := p.begin(ctx, in.Input)
	if err != nil {
		return nil, err
	}
	defer p.release(rs)
	steps := map[string]any{}
	for r := after; r != nil; r = r.parent {
		resp, ok := in.Responses[r.name]
		if !ok {
			continue
		}
		v, err := rs.responseValue(r.name, resp)
		if err != nil {
			return nil, err
		}
		steps[r.name] = map[string]any{"response": v}
	}
	rs.env["response"] = steps[in.After].(map[string]any)["response"]
	rs.env["steps"] = steps
	rs.env[reservedRun] = rs
	out := make([]RouteResult, 0, len(after.then))
	for _, st := range after.then {
		if err := rs.ctxErr(); err != nil {
			return nil, err
		}
		out = append(out, rs.runRoute(st))
		if rs.fatal == nil {
			continue
		}
		if _, err := rs.stop(res); err != nil {
			return nil, err
		}
		// The time budget ran out: the step that was running failed,
		// and the later ones are not mapped.
		last := &out[len(out)-1]
		last.Output = nil
		last.Errors = append(last.Errors, res.Errors...)
		return out, nil
	}
	return out, nil
}

// responseValue is a response as step expressions see it: status,
// headers (names in lower case) and body (decoded JSON, a string, or
// null when empty).
func (rs *runState) responseValue(name string, r Response) (any, error) {
	headers := make(map[string]any, len(r.Headers))
	for k, v := range r.Headers {
		headers[strings.ToLower(k)] = v
	}
	var body any
	if len(r.Body) > 0 {
		if len(r.Body) > rs.p.opts.MaxInputBytes {
			return nil, fmt.Errorf("%w: the response of %q is %d bytes, the limit is %d", ErrInvalidInput, name, len(r.Body), rs.p.opts.MaxInputBytes)
		}
		var err error
		if body, err = wholeValue.decode(&rs.dec, r.Body); err != nil {
			return nil, fmt.Errorf("the response of %q: %w", name, err)
		}
	}
	return map[string]any{"status": r.Status, "headers": headers, "body": body}, nil
}

// RunChain is Run followed by RunSteps wherever responses has the answer
// of a matched route or step: the steps of a chain as far as recorded
// answers reach, in Result.Steps. Test cases and `crossdock map
// --responses` use it to check steps without sending anything.
func (p *Program) RunChain(ctx context.Context, in Input, responses map[string]Response) (*Result, error) {
	res, err := p.Run(ctx, in)
	if err != nil || len(responses) == 0 {
		return res, err
	}
	var next []string
	for _, r := range res.Routes {
		if r.Matched && len(r.Errors) == 0 {
			next = append(next, r.Name)
		}
	}
	for len(next) > 0 {
		after := next[0]
		next = next[1:]
		if _, ok := responses[after]; !ok || len(p.chain[after].then) == 0 {
			continue
		}
		steps, err := p.RunSteps(ctx, StepInput{Input: in, After: after, Responses: responses})
		if err != nil {
			return nil, err
		}
		for _, st := range steps {
			res.Steps = append(res.Steps, st)
			if st.Matched && len(st.Errors) == 0 {
				next = append(next, st.Name)
			}
		}
	}
	return res, nil
}

// stop ends a run that met a limit or its context's end. A breach of the
// time budget is the mapping's fault: it becomes a row error naming the
// expression that was running, and the result so far is returned. Any
// other cause fails the message as a whole.
func (rs *runState) stop(res *Result) (*Result, error) {
	if !errors.Is(rs.fatal, ErrTimeBudget) {
		return nil, rs.fatal
	}
	e := RowError{Section: SectionRow, Message: errorMessage(rs.fatal)}
	if ev := rs.current; ev != nil {
		e.Section, e.Route, e.Path, e.Pointer = ev.section, ev.route, ev.where, ev.pointer
	}
	res.Errors = append(res.Errors, e)
	return res, nil
}

func (rs *runState) keyValue(ev *evaluator, section Section) string {
	v, err := rs.eval(ev)
	if rs.trace {
		rs.traceValue(section, "", "", ev.pointer, v, err)
	}
	if errors.Is(err, ErrTimeBudget) {
		return "" // Run reports it
	}
	if err != nil {
		rs.res.Errors = append(rs.res.Errors, RowError{Section: section, Pointer: ev.pointer, Message: errorMessage(err), Disabled: isDisabled(err)})
		return ""
	}
	if v == nil {
		return ""
	}
	if s, ok := stringOf(v); ok {
		return s
	}
	b, err := appendValueBudget(nil, v, rs.outputBudget())
	if err != nil {
		rs.noteFatal(err)
		rs.res.Errors = append(rs.res.Errors, RowError{Section: section, Pointer: ev.pointer, Message: errorMessage(err)})
		return ""
	}
	return string(b)
}

// labelValue evaluates a label expression (keys.customer, keys.amount)
// like keyValue, except that a failure is only traced: a label that cannot
// be read leaves the message unlabelled, it does not make it a mapping
// exception.
func (rs *runState) labelValue(ev *evaluator, section Section) string {
	v, err := rs.eval(ev)
	if rs.trace {
		rs.traceValue(section, "", "", ev.pointer, v, err)
	}
	if err != nil || v == nil {
		return ""
	}
	if s, ok := stringOf(v); ok {
		return s
	}
	b, err := appendValueBudget(nil, v, rs.outputBudget())
	if err != nil {
		return ""
	}
	return string(b)
}

func (rs *runState) runRoute(r *compiledRoute) RouteResult {
	out := RouteResult{Name: r.name, Target: r.target}
	rs.route = r.name
	rs.errs = nil
	for _, d := range r.broken {
		rs.errs = append(rs.errs, RowError{Section: SectionRoute, Route: r.name, Pointer: d.Diagnostic.Pointer, Message: errorMessage(d), Disabled: true})
	}
	out.Matched = true
	if r.when != nil {
		ok, err := rs.evalBool(r.when)
		if rs.trace {
			rs.traceValue(SectionCondition, r.name, "", r.when.pointer, ok, err)
		}
		if err != nil {
			rs.errs = append(rs.errs, RowError{Section: SectionCondition, Route: r.name, Pointer: r.when.pointer, Message: errorMessage(err), Disabled: isDisabled(err)})
			if r.when.disabled == nil {
				out.Errors, rs.errs = rs.errs, nil
				out.Matched = false
				return out
			}
			// A condition that did not compile is neither true nor
			// false: the rows still map, each showing its value.
			out.Matched = false
		} else if !ok {
			out.Errors, rs.errs = rs.errs, nil
			out.Matched = false
			return out
		}
	}
	rs.buf = rs.writeObject(rs.buf[:0], r.root)
	if rs.fatal == nil && len(rs.buf) > rs.p.opts.MaxOutputBytes {
		rs.fatal = fmt.Errorf("%w: route %q output is over %d bytes", ErrLimit, r.name, rs.p.opts.MaxOutputBytes)
	}
	// Outputs count against the message's work budget too, so a hundred
	// routes cannot each write their limit.
	if err := rs.charge("route "+strconv.Quote(r.name), len(rs.buf)); err != nil && rs.fatal == nil {
		rs.fatal = err
	}
	if len(rs.errs) > 0 {
		out.Errors = rs.errs
		rs.errs = nil
		return out
	}
	out.Output = append(json.RawMessage(nil), rs.buf...)
	return out
}

// writeObject writes n's children as a JSON object, leaving out rows
// omitted by when/omitNull.
func (rs *runState) writeObject(b []byte, n *outNode) []byte {
	b = append(b, '{')
	first := true
	for _, c := range n.children {
		mark := len(b)
		if !first {
			b = append(b, ',')
		}
		b = append(b, c.keyJSON...)
		rs.path = append(rs.path, pathSeg{key: c.key, index: -1})
		var written bool
		b, written = rs.writeNode(b, c)
		rs.path = rs.path[:len(rs.path)-1]
		if !written {
			b = b[:mark]
			continue
		}
		first = false
		if rs.fatal != nil {
			return b
		}
	}
	return append(b, '}')
}

// writeNode writes one node's value; written is false when the row is
// omitted or failed.
func (rs *runState) writeNode(b []byte, n *outNode) ([]byte, bool) {
	for _, d := range n.broken {
		rs.rowError(d.Diagnostic.Pointer, d)
	}
	if n.kind == nodeDisabled {
		return b, false
	}
	if n.when != nil {
		ok, err := rs.evalBool(n.when)
		if err != nil {
			rs.rowError(n.when.pointer, err)
			if n.when.disabled == nil {
				return b, false
			}
			// A when that did not compile: the row is still written, so
			// its own value shows; the route has failed anyway.
			ok = true
		}
		if !ok {
			if rs.trace {
				rs.traceSkipped(n.when.pointer)
			}
			return b, false
		}
	}
	if n.forEach != nil {
		return rs.writeForEach(b, n)
	}
	return rs.writeValue(b, n)
}

func (rs *runState) writeValue(b []byte, n *outNode) ([]byte, bool) {
	switch n.kind {
	case nodeObject:
		return rs.writeObject(b, n), true
	case nodeConst:
		start := len(b)
		b = append(b, n.constant...)
		if rs.trace {
			rs.traceRow(n.pointer+"/value", b[start:])
		}
		return b, true
	}
	v, err := rs.eval(n.value)
	if err != nil {
		rs.rowError(n.value.pointer, err)
		return b, false
	}
	if v == nil && n.omitNull {
		if rs.trace {
			rs.traceSkipped(n.value.pointer)
		}
		return b, false
	}
	start := len(b)
	b, err = appendValueBudget(b, v, rs.outputBudget())
	if err != nil {
		rs.noteFatal(err)
		rs.rowError(n.value.pointer, err)
		return b[:start], false
	}
	if rs.trace {
		rs.traceRow(n.value.pointer, b[start:])
	}
	return b, true
}

func (rs *runState) writeForEach(b []byte, n *outNode) ([]byte, bool) {
	over, err := rs.eval(n.forEach)
	if err != nil {
		rs.rowError(n.forEach.pointer, err)
		return b, false
	}
	items, ok := asSlice(over)
	if !ok {
		rs.rowError(n.forEach.pointer, fmt.Errorf("forEach needs an array, got %s", typeName(over)))
		return b, false
	}
	if over == nil && n.omitNull {
		return b, false
	}
	if len(items) > rs.p.opts.MaxItems {
		rs.fatal = fmt.Errorf("%w: %s has %d items, the limit is %d", ErrLimit, rs.pathString(), len(items), rs.p.opts.MaxItems)
		return b, false
	}
	filter := n.filter
	if filter != nil && filter.disabled != nil {
		// Reported once, not per item; every item is kept.
		rs.rowError(filter.pointer, filter.disabled)
		filter = nil
	}
	saveItem, hadItem := rs.env[n.as]
	var saveIndex any
	var hadIndex bool
	if n.index != "" {
		saveIndex, hadIndex = rs.env[n.index]
	}
	b = append(b, '[')
	out := 0
	for i, item := range items {
		if i&255 == 255 {
			if err := rs.ctxErr(); err != nil {
				rs.fatal = err
				break
			}
		}
		rs.env[n.as] = item
		if n.index != "" {
			rs.env[n.index] = i
		}
		if filter != nil {
			keep, err := rs.evalBool(filter)
			if err != nil {
				rs.path = append(rs.path, pathSeg{index: out})
				rs.rowError(filter.pointer, err)
				rs.path = rs.path[:len(rs.path)-1]
				continue
			}
			if !keep {
				continue
			}
		}
		mark := len(b)
		if out > 0 {
			b = append(b, ',')
		}
		rs.path = append(rs.path, pathSeg{index: out})
		var written bool
		b, written = rs.writeValue(b, n)
		rs.path = rs.path[:len(rs.path)-1]
		if !written {
			// An omitted (null, omitNull) element is left out of the array.
			b = b[:mark]
			continue
		}
		out++
		if rs.fatal != nil || len(b) > rs.p.opts.MaxOutputBytes {
			break
		}
	}
	restore(rs.env, n.as, saveItem, hadItem)
	if n.index != "" {
		restore(rs.env, n.index, saveIndex, hadIndex)
	}
	return append(b, ']'), true
}

func restore(env map[string]any, k string, v any, had bool) {
	if had {
		env[k] = v
	} else {
		delete(env, k)
	}
}

// eval runs one expression, resolving plain paths without the VM.
func (rs *runState) eval(ev *evaluator) (any, error) {
	if ev.disabled != nil {
		return nil, ev.disabled
	}
	rs.current = ev
	if ev.root != "" {
		cur, ok := rs.env[ev.root]
		for _, step := range ev.path {
			if !ok {
				break
			}
			var m map[string]any
			if m, ok = cur.(map[string]any); ok {
				cur = m[step]
			}
		}
		// Anything unusual (a step into a non-object) goes to the VM so the
		// error reads exactly as expr's.
		if ok {
			return cur, nil
		}
	}
	v, err := rs.vm.Run(ev.prog, rs.env)
	if err != nil && rs.fatal == nil {
		// A limit or cancellation inside an expression ends the run, as
		// the same limits do outside one.
		rs.noteFatal(err)
	}
	return v, err
}

func (rs *runState) evalBool(ev *evaluator) (bool, error) {
	v, err := rs.eval(ev)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("expected true or false, got %s", typeName(v))
	}
	return b, nil
}

func (rs *runState) rowError(pointer string, err error) {
	if errors.Is(err, ErrTimeBudget) {
		return // Run reports it, once
	}
	disabled := isDisabled(err)
	rs.errs = append(rs.errs, RowError{Section: SectionRow, Route: rs.route, Path: rs.pathString(), Pointer: pointer, Message: errorMessage(err), Disabled: disabled})
	if rs.trace {
		rs.res.Trace = append(rs.res.Trace, TraceEntry{Section: SectionRow, Route: rs.route, Path: rs.pathString(), Pointer: pointer, Error: errorMessage(err), Disabled: disabled})
	}
}

func (rs *runState) traceRow(pointer string, value []byte) {
	rs.res.Trace = append(rs.res.Trace, TraceEntry{Section: SectionRow, Route: rs.route, Path: rs.pathString(), Pointer: pointer, Value: append(json.RawMessage(nil), value...)})
}

func (rs *runState) traceSkipped(pointer string) {
	rs.res.Trace = append(rs.res.Trace, TraceEntry{Section: SectionRow, Route: rs.route, Path: rs.pathString(), Pointer: pointer, Skipped: true})
}

func (rs *runState) traceValue(section Section, route, path, pointer string, v any, err error) {
	e := TraceEntry{Section: section, Route: route, Path: path, Pointer: pointer}
	if err != nil {
		e.Error, e.Disabled = errorMessage(err), isDisabled(err)
	} else if b, err := appendValueBudget(nil, v, rs.outputBudget()); err != nil {
		rs.noteFatal(err)
		e.Error = errorMessage(err)
	} else {
		e.Value = b
	}
	rs.res.Trace = append(rs.res.Trace, e)
}

func (rs *runState) pathString() string {
	var b strings.Builder
	for i, s := range rs.path {
		if s.index >= 0 {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// errorMessage gives an expression error on one line: expr's message and
// position, without the snippet (the designer shows the expression).
func errorMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return fmt.Sprintf("%s (%d:%d)", fe.Message, fe.Line, fe.Column+1)
		}
		return fe.Message
	}
	return err.Error()
}

func parseTestNow(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("now %q is not an RFC 3339 time", s)
	}
	return t, nil
}
