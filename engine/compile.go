package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	exprcompiler "github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Defaults for Options; each applies when the option is zero.
const (
	DefaultMaxNodes       = 2000
	DefaultMemoryBudget   = 1_000_000
	DefaultMaxInputBytes  = 1 << 20
	DefaultMaxOutputBytes = 4 << 20
	DefaultMaxItems       = 10_000
	DefaultMaxSteps       = 1_000_000
	DefaultMaxWorkBytes   = 16 << 20
)

// Per-message time budget of a deployed flow (FlowLimits.TimeBudgetMs).
const (
	DefaultTimeBudget = time.Second
	MaxTimeBudget     = 30 * time.Second
)

// Options tunes Compile. The zero value is what the product runs with.
type Options struct {
	// MaxNodes caps the syntax-tree size of each expression
	// (DefaultMaxNodes), so a pasted monster cannot make compiling slow.
	MaxNodes uint
	// MemoryBudget caps what one expression run may allocate, in expr's
	// own units (DefaultMemoryBudget); a row over it fails.
	MemoryBudget uint
	// MaxInputBytes caps the payload size (DefaultMaxInputBytes); Run
	// returns ErrLimit above it.
	MaxInputBytes int
	// MaxOutputBytes caps each route's output (DefaultMaxOutputBytes); Run
	// returns ErrLimit above it.
	MaxOutputBytes int
	// MaxItems caps the items one for-each row iterates
	// (DefaultMaxItems); Run returns ErrLimit above it.
	MaxItems int
	// MaxSteps caps the predicate iterations (map, filter, reduce…) of
	// all expressions for one message (DefaultMaxSteps); Run returns
	// ErrLimit above it. Cancellation is noticed inside such loops too.
	MaxSteps int
	// MaxWorkBytes caps the bytes one message's expressions and routes
	// may produce (DefaultMaxWorkBytes, 16 MiB): concatenation, join,
	// replace, regexReplace, toJSON, string, split, toBase64, upper,
	// lower, the JSON sha256 and hashKey hash, fromJSON (16 bytes per
	// input byte) and the routes' outputs. Each counts while it builds,
	// so neither repetition nor a structure of references written out
	// can eat memory or time; Run returns ErrLimit above it.
	MaxWorkBytes int
	// Lookups adds or replaces lookup tables by name, e.g. tables loaded
	// from CSV by `crossdock map --lookup`.
	Lookups map[string]Lookup
}

func (o Options) withDefaults() Options {
	if o.MaxNodes == 0 {
		o.MaxNodes = DefaultMaxNodes
	}
	if o.MemoryBudget == 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.MaxInputBytes == 0 {
		o.MaxInputBytes = DefaultMaxInputBytes
	}
	if o.MaxOutputBytes == 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxItems == 0 {
		o.MaxItems = DefaultMaxItems
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	if o.MaxWorkBytes == 0 {
		o.MaxWorkBytes = DefaultMaxWorkBytes
	}
	return o
}

// Program is a compiled definition. It is immutable and safe for
// concurrent use by many goroutines.
type Program struct {
	name        string
	opts        Options
	key         *evaluator
	correlation *evaluator
	channel     *evaluator
	sequence    *evaluator
	customer    *evaluator
	amount      *evaluator
	rules       []compiledRule
	routes      []*compiledRoute
	// chain holds every route and step by name, for RunSteps.
	chain      map[string]*compiledRoute
	projection *projection
	vars       []string
	lookups    map[string]*lookupTable
	timeBudget time.Duration
	// contract is the source schema when the definition enforces it.
	contract *jsonschema.Schema
	// diags are the problems CompileLenient found; the constructs they
	// belong to are disabled. Empty for a program from Compile.
	diags []Diagnostic
	// pool holds *runState values: expr VMs, parsers and buffers reused
	// across runs and goroutines.
	pool sync.Pool
}

type compiledRule struct {
	name, message string
	ev            *evaluator
	// broken is the rule's own problem other than its expression's (a
	// name used twice), reported as its failure.
	broken *DisabledError
}

// compiledRoute is a compiled route or step (then): both are a target,
// an optional condition and a mapping.
type compiledRoute struct {
	name, target string
	when         *evaluator
	root         *outNode
	// broken are the route's own problems (its name, its target),
	// reported as route errors; its rows still map.
	broken []*DisabledError
	// then are the steps that follow this route or step; parent is the
	// route or step a step follows (nil for a route).
	then   []*compiledRoute
	parent *compiledRoute
	// reply is a route's reply mapping (nil: none); replySteps are the
	// route and steps it reads the answers of.
	reply      *outNode
	replySteps []string
}

// TimeBudget is how long mapping one message may take in a deployed flow:
// the definition's limits.timeBudgetMs, else DefaultTimeBudget. Callers
// run the program under context.WithTimeoutCause(ctx, p.TimeBudget(),
// ErrTimeBudget); Run then reports a breach as a row error, naming the
// expression that was running, instead of failing the message as a whole.
func (p *Program) TimeBudget() time.Duration { return p.timeBudget }

// Diagnostics returns what CompileLenient found wrong, in definition
// order: the same list Compile's *DefinitionError would hold. Every
// construct a diagnostic belongs to is disabled and reports it when Run
// reaches it. A program from Compile has none.
func (p *Program) Diagnostics() []Diagnostic { return append([]Diagnostic(nil), p.diags...) }

// Name returns the flow name of the compiled definition.
func (p *Program) Name() string { return p.name }

// Routes returns the route names in definition order.
func (p *Program) Routes() []string {
	names := make([]string, len(p.routes))
	for i, r := range p.routes {
		names[i] = r.name
	}
	return names
}

// Targets returns the names of the targets the routes deliver to, in
// route order without repeats, so a promotion can check that the
// destination environment configures each one.
func (p *Program) Targets() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(rs []*compiledRoute)
	walk = func(rs []*compiledRoute) {
		for _, r := range rs {
			if !seen[r.target] {
				seen[r.target] = true
				out = append(out, r.target)
			}
			walk(r.then)
		}
	}
	walk(p.routes)
	return out
}

// Vars returns the names of the variables the definition reads with a
// constant env("NAME"), sorted, so a promotion can check that the
// destination environment defines every one before switching versions.
func (p *Program) Vars() []string { return append([]string(nil), p.vars...) }

// reservedRun is the hidden identifier through which now(), env() and the
// budgeted functions reach the per-run state. Analysts cannot write
// identifiers starting with "__".
const reservedRun = "__run"

// scope is the set of names an expression may use, with what the engine
// knows about each.
type scope struct {
	parent *scope
	name   string
	index  bool
	// path is the projection path the name stands for; known is false
	// when there is none (an item of a computed array such as
	// filter(...)), and then nothing is projected through it.
	path  []string
	known bool
	// schema is the source schema at path, for field checks (nil: none).
	schema any
	// before is set on the "steps" name of a step's expressions: the
	// route and steps whose answers it may read, in chain order; reply
	// marks a reply's.
	before []string
	reply  bool
}

func (s *scope) lookup(name string) *scope {
	for c := s; c != nil; c = c.parent {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (s *scope) names() []string {
	var out []string
	for c := s; c != nil; c = c.parent {
		out = append(out, c.name)
	}
	return out
}

func (s *scope) envTypes() types.Map {
	m := types.Map{reservedRun: types.TypeOf((*runState)(nil))}
	for c := s; c != nil; c = c.parent {
		if _, ok := m[c.name]; ok {
			continue
		}
		if c.index {
			m[c.name] = types.Int
		} else {
			m[c.name] = types.Any
		}
	}
	return m
}

// compiler accumulates diagnostics while compiling one definition.
type compiler struct {
	def     *Definition
	opts    Options
	diags   []Diagnostic
	proj    *projection
	schema  map[string]any
	lookups map[string]*lookupTable
	vars    map[string]bool
	base    []expr.Option
	// lenient checks each expression against the limits before parsing
	// it, since CheckLimits has not refused the definition as a whole.
	lenient bool
	// routeNames and stepNames are every route's and step's name, so a
	// reference to a step can tell "unknown" from "not before this one".
	routeNames map[string]bool
	stepNames  map[string]bool
	targets    map[string]bool
	targetList []string
	// replyRefs collects the steps a reply's expressions name while it
	// compiles (nil otherwise).
	replyRefs map[string]bool
}

// location names where an expression sits in the definition.
type location struct {
	section Section
	pointer string
	route   string
	target  string
}

// Compile compiles every expression of the definition once. It returns a
// *DefinitionError holding all problems when any expression or reference is
// wrong. A definition over the limits of CheckLimits is refused before any
// expression is parsed.
func Compile(def *Definition, opts Options) (*Program, error) {
	if def == nil {
		return nil, errors.New("engine: Compile of nil definition")
	}
	if err := CheckLimits(def); err != nil {
		return nil, err
	}
	c := &compiler{def: def, opts: opts.withDefaults(), proj: newProjection(), vars: map[string]bool{}}
	p := c.compile()
	if len(c.diags) > 0 {
		return nil, &DefinitionError{Diagnostics: c.diags}
	}
	return p, nil
}

// CompileLenient compiles a definition for the designer's live preview:
// instead of refusing a definition with problems, it disables each broken
// construct — a key, the channel, a rule, a route's condition, target or
// name, a row's expression, for-each source, filter or when, a row whose
// shape is wrong, a lookup entry or default — and attaches the problem to
// it. Run then reports that construct's problem as its error (a
// *DisabledError, in Result.Errors, a ValidationFailure, a route's
// Errors and the trace, under the construct's pointer) while every other
// construct maps as usual. An expression over the limits of CheckLimits
// is disabled without being parsed. The diagnostics are those Compile
// would return, also in Program.Diagnostics.
//
// The program is nil only when the definition cannot be compiled at all:
// nil, or over a limit on its shape (too many routes, rows, rules, tables,
// samples or tests, rows nested too deeply). Never deploy a lenient
// program: Compile is what publishing and the pipeline use.
func CompileLenient(def *Definition, opts Options) (*Program, []Diagnostic) {
	if def == nil {
		return nil, []Diagnostic{{Section: SectionSchema, Message: "the definition is empty"}}
	}
	if shape := checkShape(def); len(shape) > 0 {
		return nil, shape
	}
	c := &compiler{def: def, opts: opts.withDefaults(), proj: newProjection(), vars: map[string]bool{}, lenient: true}
	p := c.compile()
	p.diags = c.diags
	return p, p.Diagnostics()
}

// compile builds the program, recording problems in c.diags and disabling
// the constructs they belong to.
func (c *compiler) compile() *Program {
	def := c.def
	c.compileLookups()
	var contract *jsonschema.Schema
	if len(def.Source.Schema) > 0 {
		sch, compiled, err := compileSourceSchema(def.Source.Schema)
		if err != nil {
			c.add(location{section: SectionSource, pointer: "/source/schema"}, "source schema is not a valid JSON Schema: "+err.Error())
		} else {
			c.schema = sch
			if def.Source.Enforce {
				contract = compiled
			}
		}
	} else if def.Source.Enforce {
		c.add(location{section: SectionSource, pointer: "/source/enforce"}, "enforce checks messages against the source schema, and there is none: paste or infer one, or turn enforce off")
	}
	c.base = baseOptions(c.lookups, c.opts.MaxNodes)

	root := &scope{name: "source", path: []string{}, known: true, schema: c.schemaOrNil()}
	p := &Program{name: def.Name, opts: c.opts, lookups: c.lookups, timeBudget: DefaultTimeBudget, contract: contract, chain: map[string]*compiledRoute{}}
	if def.Limits != nil && def.Limits.TimeBudgetMs != 0 {
		d := time.Duration(def.Limits.TimeBudgetMs) * time.Millisecond
		if d < 0 || d > MaxTimeBudget {
			c.add(location{section: SectionSchema, pointer: "/limits/timeBudgetMs"}, fmt.Sprintf("the time budget must be between 1 and %d ms", MaxTimeBudget.Milliseconds()))
		}
		if d > 0 && d <= MaxTimeBudget {
			p.timeBudget = d
		}
	}
	if def.Keys.Idempotency != "" {
		p.key = c.compileExpr(def.Keys.Idempotency, root, false, location{section: SectionKey, pointer: "/keys/idempotency"})
	}
	if def.Keys.Correlation != "" {
		p.correlation = c.compileExpr(def.Keys.Correlation, root, false, location{section: SectionCorrelation, pointer: "/keys/correlation"})
	}
	if def.Keys.Channel != "" {
		p.channel = c.compileExpr(def.Keys.Channel, root, false, location{section: SectionChannel, pointer: "/keys/channel"})
	}
	if def.Keys.Sequence != "" {
		p.sequence = c.compileExpr(def.Keys.Sequence, root, false, location{section: SectionSequence, pointer: "/keys/sequence"})
	}
	if def.Keys.Customer != "" {
		p.customer = c.compileExpr(def.Keys.Customer, root, false, location{section: SectionCustomer, pointer: "/keys/customer"})
	}
	if def.Keys.Amount != "" {
		p.amount = c.compileExpr(def.Keys.Amount, root, false, location{section: SectionAmount, pointer: "/keys/amount"})
	}
	switch def.Keys.SequenceMode {
	case "", SequenceFIFO, SequenceLatest:
	default:
		c.add(location{section: SectionSequence, pointer: "/keys/sequenceMode"}, fmt.Sprintf("sequenceMode %q is not one of fifo, latest", def.Keys.SequenceMode))
	}
	if def.Keys.SequenceMode != "" && def.Keys.Sequence == "" {
		c.add(location{section: SectionSequence, pointer: "/keys/sequenceMode"}, "sequenceMode needs a sequence key: set keys.sequence, or remove sequenceMode")
	}
	ruleNames := map[string]bool{}
	for i, r := range def.Validation {
		loc := location{section: SectionValidation, pointer: fmt.Sprintf("/validation/%d/rule", i), route: ""}
		var broken *DisabledError
		if ruleNames[r.Name] {
			broken = c.addDisabled(location{section: SectionValidation, pointer: fmt.Sprintf("/validation/%d/name", i)}, fmt.Sprintf("rule name %q is used twice", r.Name))
		}
		ruleNames[r.Name] = true
		ev := c.compileExpr(r.Rule, root, true, loc)
		ev.where = r.Name
		p.rules = append(p.rules, compiledRule{name: r.Name, message: r.Message, ev: ev, broken: broken})
	}
	targets := map[string]bool{}
	var targetNames []string
	for i, t := range def.Targets {
		if targets[t.Name] {
			c.add(location{section: SectionRoute, pointer: fmt.Sprintf("/targets/%d/name", i)}, fmt.Sprintf("target name %q is used twice", t.Name))
		}
		targets[t.Name] = true
		targetNames = append(targetNames, t.Name)
	}
	c.targets, c.targetList = targets, targetNames
	c.routeNames, c.stepNames = map[string]bool{}, map[string]bool{}
	for _, r := range def.Routes {
		c.routeNames[r.Name] = true
		collectStepNames(r.Then, c.stepNames)
	}
	routeNames := map[string]bool{}
	seenSteps := map[string]bool{}
	for i, r := range def.Routes {
		ptr := fmt.Sprintf("/routes/%d", i)
		cr := &compiledRoute{name: r.Name, target: r.Target}
		if routeNames[r.Name] {
			cr.broken = append(cr.broken, c.addDisabled(location{section: SectionRoute, pointer: ptr + "/name", route: r.Name}, fmt.Sprintf("route name %q is used twice", r.Name)))
		}
		routeNames[r.Name] = true
		if !targets[r.Target] {
			cr.broken = append(cr.broken, c.addDisabled(location{section: SectionRoute, pointer: ptr + "/target", route: r.Name},
				fmt.Sprintf("unknown target %q%s; declare it under \"targets\"", r.Target, suggest(r.Target, targetNames))))
		}
		if r.When != "" {
			cr.when = c.compileExpr(r.When, root, true, location{section: SectionCondition, pointer: ptr + "/when", route: r.Name})
		}
		cr.root = &outNode{kind: nodeObject}
		c.compileRows(cr.root, r.Mapping, root, r.Name, ptr+"/mapping", "")
		cr.root.finish()
		p.routes = append(p.routes, cr)
		if _, dup := p.chain[r.Name]; !dup {
			p.chain[r.Name] = cr
		}
		c.checkTargetSchema(i, r)
		c.compileSteps(p, cr, r.Then, root, ptr+"/then", []string{r.Name}, seenSteps)
		if len(r.Reply) > 0 {
			c.compileReply(cr, r, root, ptr)
		}
	}
	for i, t := range def.Tests {
		if t.Now != "" {
			if _, err := parseTestNow(t.Now); err != nil {
				c.add(location{section: SectionTest, pointer: fmt.Sprintf("/tests/%d/now", i)}, err.Error())
			}
		}
		for name := range t.Expect.Routes {
			if !routeNames[name] {
				c.add(location{section: SectionTest, pointer: fmt.Sprintf("/tests/%d/expect/routes/%s", i, name)},
					fmt.Sprintf("test %q expects unknown route %q%s", t.Name, name, suggest(name, p.Routes())))
			}
		}
		for name := range t.Expect.Steps {
			if !c.stepNames[name] {
				c.add(location{section: SectionTest, pointer: fmt.Sprintf("/tests/%d/expect/steps/%s", i, name)},
					fmt.Sprintf("test %q expects unknown step %q%s", t.Name, name, suggest(name, sortedNames(c.stepNames))))
			}
		}
		for name := range t.Responses {
			if !c.stepNames[name] && !c.routeNames[name] {
				c.add(location{section: SectionTest, pointer: fmt.Sprintf("/tests/%d/responses/%s", i, name)},
					fmt.Sprintf("test %q records a response of %q, which is neither a route nor a step", t.Name, name))
			}
		}
		for j, name := range t.Expect.Validation {
			if !ruleNames[name] {
				c.add(location{section: SectionTest, pointer: fmt.Sprintf("/tests/%d/expect/validation/%d", i, j)},
					fmt.Sprintf("test %q expects unknown rule %q", t.Name, name))
			}
		}
	}
	p.projection = c.proj
	for v := range c.vars {
		p.vars = append(p.vars, v)
	}
	sort.Strings(p.vars)
	return p
}

// collectStepNames adds the names of steps and the steps after them.
func collectStepNames(steps []Step, into map[string]bool) {
	for _, s := range steps {
		into[s.Name] = true
		collectStepNames(s.Then, into)
	}
}

func sortedNames(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// compileSteps compiles the steps that follow parent. Their expressions
// see source, response (the answer parent's target gave) and steps, whose
// names are checked against before: the route and the steps of the chain
// up to parent, the only answers that exist when the step runs.
func (c *compiler) compileSteps(p *Program, parent *compiledRoute, steps []Step, root *scope, ptr string, before []string, seen map[string]bool) {
	for i, st := range steps {
		sptr := fmt.Sprintf("%s/%d", ptr, i)
		cs := &compiledRoute{name: st.Name, target: st.Target, parent: parent}
		switch {
		case seen[st.Name]:
			cs.broken = append(cs.broken, c.addDisabled(location{section: SectionStep, pointer: sptr + "/name", route: st.Name}, fmt.Sprintf("step name %q is used twice; steps need names of their own", st.Name)))
		case c.routeNames[st.Name]:
			cs.broken = append(cs.broken, c.addDisabled(location{section: SectionStep, pointer: sptr + "/name", route: st.Name}, fmt.Sprintf("step name %q is also a route's name; a step needs a name no route or other step has", st.Name)))
		default:
			p.chain[st.Name] = cs
		}
		seen[st.Name] = true
		if !c.targets[st.Target] {
			cs.broken = append(cs.broken, c.addDisabled(location{section: SectionStep, pointer: sptr + "/target", route: st.Name},
				fmt.Sprintf("unknown target %q%s; declare it under \"targets\"", st.Target, suggest(st.Target, c.targetList))))
		}
		sc := &scope{parent: &scope{parent: root, name: "response"}, name: "steps", before: append([]string(nil), before...)}
		if st.When != "" {
			cs.when = c.compileExpr(st.When, sc, true, location{section: SectionStep, pointer: sptr + "/when", route: st.Name})
		}
		cs.root = &outNode{kind: nodeObject}
		c.compileRows(cs.root, st.Mapping, sc, st.Name, sptr+"/mapping", "")
		cs.root.finish()
		parent.then = append(parent.then, cs)
		c.compileSteps(p, cs, st.Then, root, sptr+"/then", append(append([]string(nil), before...), st.Name), seen)
	}
}

// compileReply compiles a route's reply: its expressions see source and
// steps, the route and every step under it, and the steps they name are
// the ones the reply waits for.
func (c *compiler) compileReply(cr *compiledRoute, r Route, root *scope, ptr string) {
	chain := []string{r.Name}
	var walk func([]Step)
	walk = func(steps []Step) {
		for _, s := range steps {
			chain = append(chain, s.Name)
			walk(s.Then)
		}
	}
	walk(r.Then)
	sc := &scope{parent: root, name: "steps", before: chain, reply: true}
	c.replyRefs = map[string]bool{}
	cr.reply = &outNode{kind: nodeObject}
	c.compileRows(cr.reply, r.Reply, sc, r.Name, ptr+"/reply", "")
	cr.reply.finish()
	for _, name := range chain {
		if c.replyRefs[name] {
			cr.replySteps = append(cr.replySteps, name)
		}
	}
	c.replyRefs = nil
	if len(cr.replySteps) == 0 {
		c.add(location{section: SectionRoute, pointer: ptr + "/reply", route: r.Name},
			"the reply names no answer to wait for: map it from steps.<name>.response of the route or one of its steps")
	}
}

// checkStepRef checks a reference steps.<name>… in a step's expression:
// the name must be the route or a step the chain passes before this one,
// and a step's entry has only its response.
func (a *analysis) checkStepRef(s *scope, n ast.Node, path []string) {
	if len(path) == 0 || path[0] == "*" {
		return
	}
	name := path[0]
	at := n.Location().From
	if m := memberNodes(n); len(m) > 0 {
		at = m[0].Property.Location().From
	}
	if !slices.Contains(s.before, name) {
		if s.reply {
			a.c.addAt(a.loc, a.src, at, fmt.Sprintf("a reply reads the answers of its route and the steps under it: %s; %q is not one%s", strings.Join(s.before, ", "), name, suggest(name, s.before)))
			return
		}
		if a.c.stepNames[name] || a.c.routeNames[name] {
			a.c.addAt(a.loc, a.src, at, fmt.Sprintf("step %q does not come before this one; a step reads the answers of the steps it follows: %s", name, strings.Join(s.before, ", ")))
			return
		}
		a.c.addAt(a.loc, a.src, at, fmt.Sprintf("unknown step %q%s", name, suggest(name, s.before)))
		return
	}
	if len(path) > 1 && path[1] != "response" {
		a.c.addAt(a.loc, a.src, at, fmt.Sprintf("a step's entry has only its response: write steps.%s.response", name))
		return
	}
	if a.c.replyRefs != nil {
		a.c.replyRefs[name] = true
	}
}

// checkTargetSchema checks that a route's target schema is a JSON Schema
// and, when the route says unmapped required fields are errors, that no
// required field is left unmapped.
func (c *compiler) checkTargetSchema(i int, r Route) {
	ptr := fmt.Sprintf("/routes/%d", i)
	switch r.UnmappedRequired {
	case "", UnmappedWarn, UnmappedError:
	default:
		c.add(location{section: SectionRoute, pointer: ptr + "/unmappedRequired", route: r.Name}, fmt.Sprintf("unmappedRequired is %q; use %q or %q", r.UnmappedRequired, UnmappedWarn, UnmappedError))
	}
	if len(r.TargetSchema) == 0 {
		return
	}
	if _, _, err := compileJSONSchema(r.TargetSchema, "https://crossdock.dev/schema/target.json"); err != nil {
		c.add(location{section: SectionRoute, pointer: ptr + "/targetSchema", route: r.Name}, "target schema is not a valid JSON Schema: "+err.Error())
		return
	}
	if r.UnmappedRequired != UnmappedError {
		return
	}
	one := &Definition{Routes: make([]Route, i+1)}
	one.Routes[i] = r
	for _, d := range UnmappedRequired(one) {
		d.Message += fmt.Sprintf(" (the route sets unmappedRequired to %q)", UnmappedError)
		c.diags = append(c.diags, d)
	}
}

func (c *compiler) schemaOrNil() any {
	if c.schema == nil {
		return nil
	}
	return c.schema
}

func (c *compiler) add(loc location, msg string) {
	c.diags = append(c.diags, Diagnostic{Section: loc.section, Pointer: loc.pointer, Route: loc.route, Target: loc.target, Message: msg})
}

// addDisabled records a problem and returns it as the error the construct
// it disables reports at run time.
func (c *compiler) addDisabled(loc location, msg string) *DisabledError {
	c.add(loc, msg)
	return &DisabledError{Diagnostic: c.diags[len(c.diags)-1]}
}

func (c *compiler) addAt(loc location, src string, from int, msg string) {
	fe := (&file.Error{Location: file.Location{From: from, To: from + 1}, Message: msg}).Bind(file.NewSource(src))
	c.diags = append(c.diags, Diagnostic{
		Section: loc.section, Pointer: loc.pointer, Route: loc.route, Target: loc.target,
		Message: msg, Line: fe.Line, Column: fe.Column + 1, Snippet: fe.Snippet,
	})
}

// compileRows adds the rows to obj, creating implicit objects for dotted
// targets and for-each arrays.
func (c *compiler) compileRows(obj *outNode, rows []Row, sc *scope, route, ptr, prefix string) {
	for i, row := range rows {
		rptr := fmt.Sprintf("%s/%d", ptr, i)
		display := joinTarget(prefix, row.Target)
		loc := location{section: SectionRow, pointer: rptr, route: route, target: display}
		segs := strings.Split(row.Target, ".")
		parent := obj
		ok := true
		for _, seg := range segs[:len(segs)-1] {
			child := parent.child(seg)
			if child == nil {
				child = &outNode{kind: nodeObject, key: seg, implicit: true}
				parent.children = append(parent.children, child)
			} else if child.kind != nodeObject || !child.implicit {
				obj.children = append(obj.children, c.disabledRow(location{section: SectionRow, pointer: rptr + "/target", route: route, target: display},
					fmt.Sprintf("target %q goes through %q, which an earlier row sets", row.Target, seg)))
				ok = false
				break
			}
			parent = child
		}
		if !ok {
			continue
		}
		last := segs[len(segs)-1]
		if parent.child(last) != nil {
			obj.children = append(obj.children, c.disabledRow(location{section: SectionRow, pointer: rptr + "/target", route: route, target: display},
				fmt.Sprintf("target %q is set twice", display)))
			continue
		}
		n := c.compileRow(row, sc, loc, route, rptr, display)
		n.key = last
		parent.children = append(parent.children, n)
	}
}

// disabledRow records a problem of a row that cannot be built and returns
// the node standing in for it: it writes nothing and reports the problem.
func (c *compiler) disabledRow(loc location, msg string) *outNode {
	key := loc.target[strings.LastIndex(loc.target, ".")+1:]
	return &outNode{kind: nodeDisabled, key: key, path: loc.target, pointer: loc.pointer, broken: []*DisabledError{c.addDisabled(loc, msg)}}
}

func joinTarget(prefix, t string) string {
	if prefix == "" {
		return t
	}
	return prefix + "." + t
}

func (c *compiler) compileRow(row Row, sc *scope, loc location, route, rptr, display string) *outNode {
	sources := 0
	if row.Expr != "" {
		sources++
	}
	if row.Value != nil {
		sources++
	}
	if row.Rows != nil {
		sources++
	}
	if sources != 1 {
		return c.disabledRow(loc, "a row needs exactly one of \"expr\", \"value\" or \"rows\"")
	}
	n := &outNode{path: display, pointer: rptr, omitNull: row.OmitNull}
	if row.ForEach == "" && (row.As != "" || row.Index != "" || row.Filter != "") {
		// The row still maps; the stray fields are reported with it.
		n.broken = append(n.broken, c.addDisabled(loc, "\"as\", \"index\" and \"filter\" need \"forEach\""))
	}
	if row.ForEach != "" && row.Value != nil {
		return c.disabledRow(loc, "a for-each row takes \"expr\" or \"rows\", not a constant \"value\"")
	}
	if row.When != "" {
		n.when = c.compileExpr(row.When, sc, true, location{section: SectionRow, pointer: rptr + "/when", route: route, target: display})
	}
	inner := sc
	if row.ForEach != "" {
		n.forEach = c.compileForEach(row.ForEach, sc, location{section: SectionRow, pointer: rptr + "/forEach", route: route, target: display})
		as := row.As
		if as == "" {
			as = "item"
		}
		n.as = as
		item := &scope{parent: sc, name: as}
		if n.forEach != nil && n.forEach.itemPath != nil {
			item.path, item.known, item.schema = n.forEach.itemPath, true, n.forEach.itemSchema
		}
		// A bad item or index name disables the whole row: it would
		// shadow what the expressions inside rely on.
		if d := c.checkName(as, sc, location{section: SectionRow, pointer: rptr + "/as", route: route, target: display}); d != nil {
			n.broken, n.kind = append(n.broken, d), nodeDisabled
		}
		inner = item
		if row.Index != "" {
			if d := c.checkName(row.Index, inner, location{section: SectionRow, pointer: rptr + "/index", route: route, target: display}); d != nil {
				n.broken, n.kind = append(n.broken, d), nodeDisabled
			}
			if row.Index == as {
				n.broken = append(n.broken, c.addDisabled(location{section: SectionRow, pointer: rptr + "/index", route: route, target: display}, fmt.Sprintf("index %q has the same name as the item", row.Index)))
				n.kind = nodeDisabled
			}
			n.index = row.Index
			inner = &scope{parent: inner, name: row.Index, index: true}
		}
		if row.Filter != "" {
			n.filter = c.compileExpr(row.Filter, inner, true, location{section: SectionRow, pointer: rptr + "/filter", route: route, target: display})
		}
		display += "[]"
	}
	disabled := n.kind == nodeDisabled
	switch {
	case row.Rows != nil:
		n.kind = nodeObject
		c.compileRows(n, row.Rows, inner, route, rptr+"/rows", display)
	case row.Value != nil:
		n.kind = nodeConst
		vloc := location{section: SectionRow, pointer: rptr + "/value", route: route, target: display}
		var v any
		if err := json.Unmarshal(row.Value, &v); err != nil {
			return c.disabledRow(vloc, "value is not valid JSON: "+err.Error())
		}
		b, err := appendValue(nil, v)
		if err != nil {
			return c.disabledRow(vloc, err.Error())
		}
		n.constant = b
	default:
		n.kind = nodeValue
		n.value = c.compileExpr(row.Expr, inner, false, location{section: SectionRow, pointer: rptr + "/expr", route: route, target: display})
	}
	if disabled {
		n.kind = nodeDisabled
	}
	return n
}

// checkName rejects item and index names that would shadow something.
func (c *compiler) checkName(name string, sc *scope, loc location) *DisabledError {
	switch {
	case strings.HasPrefix(name, "__"):
		return c.addDisabled(loc, fmt.Sprintf("name %q is reserved: names may not start with \"__\"", name))
	case sc.lookup(name) != nil:
		return c.addDisabled(loc, fmt.Sprintf("name %q is already in use here; pick another", name))
	case isFunctionName(name):
		return c.addDisabled(loc, fmt.Sprintf("name %q is a function; pick another", name))
	}
	return nil
}

// compileForEach compiles a for-each expression; when it is a plain path
// the items' paths are known and only the fields rows use are decoded.
func (c *compiler) compileForEach(src string, sc *scope, loc location) *evaluator {
	return c.compileExprMode(src, sc, false, loc, true)
}

// evaluator is one compiled expression.
type evaluator struct {
	src  string
	prog *vm.Program
	// Fast path: when the expression is a plain path (`source.a.b`), it is
	// resolved with map lookups instead of the virtual machine.
	root string
	path []string
	// For for-each over a plain path: the items' projection path and schema.
	itemPath   []string
	itemSchema any
	boolean    bool
	// pointer locates the expression in the definition, for trace entries
	// and row errors.
	pointer string
	// section, route and where (a row's output path, a rule's name) name
	// the expression in a row error raised outside it (the time budget).
	section Section
	route   string
	where   string
	// disabled is set, and prog nil, when the expression did not compile
	// (CompileLenient): evaluating it returns this error.
	disabled *DisabledError
}

func (c *compiler) compileExpr(src string, sc *scope, boolean bool, loc location) *evaluator {
	return c.compileExprMode(src, sc, boolean, loc, false)
}

// compileExprMode compiles one expression. It never returns nil: when the
// expression has problems they are recorded and the evaluator is disabled,
// reporting the first of them when run.
func (c *compiler) compileExprMode(src string, sc *scope, boolean bool, loc location, forEach bool) *evaluator {
	ev := &evaluator{src: src, boolean: boolean, pointer: loc.pointer, section: loc.section, route: loc.route, where: loc.target}
	before := len(c.diags)
	if c.lenient {
		if msg := exprLimitProblem(src); msg != "" {
			c.add(loc, msg)
		}
	}
	if len(c.diags) == before {
		c.parseExpr(ev, src, sc, boolean, loc, forEach)
	}
	if len(c.diags) > before {
		ev.prog, ev.root, ev.path, ev.itemPath, ev.itemSchema = nil, "", nil, nil, nil
		ev.disabled = &DisabledError{Diagnostic: c.diags[before]}
	}
	return ev
}

// parseExpr parses, analyses and compiles src into ev, recording any
// problem in c.diags.
func (c *compiler) parseExpr(ev *evaluator, src string, sc *scope, boolean bool, loc location, forEach bool) {
	opts := append([]expr.Option{}, c.base...)
	opts = append(opts, expr.Env(sc.envTypes()))
	if boolean {
		opts = append(opts, expr.AsBool())
	}
	cfg := conf.CreateNew()
	for _, o := range opts {
		o(cfg)
	}
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	tree, err := parser.ParseWithConfig(src, cfg)
	if err != nil {
		c.addExprError(loc, src, err, sc)
		return
	}
	a := &analysis{c: c, sc: sc, src: src, loc: loc}
	before := len(c.diags)
	a.run(tree.Node, ev, forEach)
	if len(c.diags) > before {
		return
	}
	prog, err := compileTree(tree, cfg)
	if err != nil {
		c.addExprError(loc, src, err, sc)
		return
	}
	ev.prog = prog
}

// compileTree finishes what expr.Compile does, on the tree the analysis
// already parsed: member access on payload values is rewritten to the
// fast __get, now()/env() get the run state, then expr type-checks,
// optimises and compiles.
func compileTree(tree *parser.Tree, cfg *conf.Config) (*vm.Program, error) {
	rewriteMembers(&tree.Node)
	cfg.Visitors = append(cfg.Visitors, runPatcher{})
	cfg.Check()
	if _, err := new(checker.Checker).PatchAndCheck(tree, cfg); err != nil {
		return nil, err
	}
	if cfg.Optimize {
		if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return exprcompiler.Compile(tree, cfg)
}

// rewriteMembers replaces `x.name` with `__get(x, "name")` outside
// optional chains. expr resolves members through reflection
// (reflect.Value.MapIndex), which costs about a tenth of run time; payload values
// are plain map[string]any, and __get reads them directly. Optional chains
// (`a?.b.c`) keep expr's own short-circuit code.
func rewriteMembers(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.ChainNode:
		return
	case *ast.PredicateNode:
		rewriteMembers(&n.Node)
		tick := &ast.CallNode{Callee: &ast.IdentifierNode{Value: tickFunc}, Arguments: []ast.Node{n.Node}}
		tick.SetLocation(n.Node.Location())
		n.Node = tick
		return
	case *ast.BinaryNode:
		rewriteMembers(&n.Left)
		rewriteMembers(&n.Right)
		if n.Operator == "+" && !isNumberLiteral(n.Left) && !isNumberLiteral(n.Right) {
			add := &ast.CallNode{Callee: &ast.IdentifierNode{Value: addFunc}, Arguments: []ast.Node{n.Left, n.Right}}
			add.SetLocation(n.Location())
			ast.Patch(node, add)
		}
		return
	case *ast.MemberNode:
		rewriteMembers(&n.Node)
		rewriteMembers(&n.Property)
		if p, ok := n.Property.(*ast.StringNode); ok && !n.Optional && !n.Method {
			call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: getFunc}, Arguments: []ast.Node{n.Node, p}}
			call.SetLocation(n.Location())
			ast.Patch(node, call)
		}
		return
	}
	forChildren(*node, rewriteMembers)
}

// forChildren calls fn on each direct child slot of n.
func forChildren(n ast.Node, fn func(*ast.Node)) {
	switch n := n.(type) {
	case *ast.UnaryNode:
		fn(&n.Node)
	case *ast.BinaryNode:
		fn(&n.Left)
		fn(&n.Right)
	case *ast.SliceNode:
		fn(&n.Node)
		if n.From != nil {
			fn(&n.From)
		}
		if n.To != nil {
			fn(&n.To)
		}
	case *ast.CallNode:
		fn(&n.Callee)
		for i := range n.Arguments {
			fn(&n.Arguments[i])
		}
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			fn(&n.Arguments[i])
		}
	case *ast.PredicateNode:
		fn(&n.Node)
	case *ast.ConditionalNode:
		fn(&n.Cond)
		fn(&n.Exp1)
		fn(&n.Exp2)
	case *ast.VariableDeclaratorNode:
		fn(&n.Value)
		fn(&n.Expr)
	case *ast.SequenceNode:
		for i := range n.Nodes {
			fn(&n.Nodes[i])
		}
	case *ast.ArrayNode:
		for i := range n.Nodes {
			fn(&n.Nodes[i])
		}
	case *ast.MapNode:
		for i := range n.Pairs {
			fn(&n.Pairs[i])
		}
	case *ast.PairNode:
		fn(&n.Key)
		fn(&n.Value)
	}
}

// Hidden functions rewriteMembers calls: member access, budgeted +, and
// the per-iteration tick of predicates.
const (
	getFunc  = "__get"
	addFunc  = "__add"
	tickFunc = "__tick"
)

func isNumberLiteral(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return true
	case *ast.UnaryNode:
		return isNumberLiteral(n.Node)
	}
	return false
}

func getMember(args ...any) (any, error) {
	key := args[1].(string)
	switch obj := args[0].(type) {
	case map[string]any:
		return obj[key], nil
	case nil:
		return nil, fmt.Errorf("cannot fetch %s from <nil>", key)
	}
	return fetchSlow(args[0], key)
}

// fetchSlow is expr's own member access for anything that is not a
// decoded JSON object (lookup records built from other maps, times).
func fetchSlow(obj any, key string) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return runtime.Fetch(obj, key), nil
}

func (c *compiler) addExprError(loc location, src string, err error, sc *scope) {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
			if (name == "response" || name == "steps") && sc.lookup("steps") == nil {
				msg += "; response and steps are known only in a step's expressions (a route's then)"
			} else {
				msg += suggest(name, append(sc.names(), functionNames()...))
			}
		}
		c.diags = append(c.diags, Diagnostic{
			Section: loc.section, Pointer: loc.pointer, Route: loc.route, Target: loc.target,
			Message: msg, Line: fe.Line, Column: fe.Column + 1, Snippet: fe.Snippet,
		})
		return
	}
	c.add(loc, err.Error())
}

// runPatcher passes the hidden run state to the functions in needsRun:
// now() and env() read the message's time and variables, the others charge
// the message's budgets.
type runPatcher struct{}

// Visit prepends the run-state identifier to now() and env() calls.
func (runPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || !needsRun[id.Value] {
		return
	}
	if len(call.Arguments) > 0 {
		if first, ok := call.Arguments[0].(*ast.IdentifierNode); ok && first.Value == reservedRun {
			return
		}
	}
	args := append([]ast.Node{&ast.IdentifierNode{Value: reservedRun}}, call.Arguments...)
	ast.Patch(node, &ast.CallNode{Callee: call.Callee, Arguments: args})
}

var needsRun = map[string]bool{
	"now": true, "env": true, "replace": true, "join": true, "regexReplace": true, addFunc: true, tickFunc: true,
	"toJSON": true, "string": true, "fromJSON": true, "split": true, "toBase64": true, "upper": true, "lower": true,
	"uniq": true, "sha256": true, "hashKey": true,
}

// analysis walks an expression before expr compiles it: it records which
// payload paths the expression can reach (for projection), checks field
// names against the source schema, checks lookup table names, collects
// env() variable names and rejects reserved names.
type analysis struct {
	c        *compiler
	sc       *scope
	src      string
	loc      location
	consumed map[ast.Node]bool
	// lets are the names the expression declares with let.
	lets map[string]bool
}

func (a *analysis) run(root ast.Node, ev *evaluator, forEach bool) {
	a.consumed = map[ast.Node]bool{}
	a.lets = map[string]bool{}
	var nodes []ast.Node
	walkNodes(root, func(n ast.Node) {
		nodes = append(nodes, n)
		if m, ok := n.(*ast.MemberNode); ok && constProperty(m.Property) != "" {
			a.consumed[m.Node] = true
		}
		if v, ok := n.(*ast.VariableDeclaratorNode); ok {
			a.lets[v.Name] = true
		}
	})
	for _, n := range nodes {
		if b, ok := n.(*ast.BuiltinNode); ok {
			a.builtin(b)
		}
	}
	if name, steps, ok := plainPath(root); ok {
		if s := a.sc.lookup(name); s != nil && !s.index {
			ev.root, ev.path = name, steps
		}
	}
	for _, n := range nodes {
		switch n := n.(type) {
		case *ast.IdentifierNode:
			if strings.HasPrefix(n.Value, "__") {
				a.c.addAt(a.loc, a.src, n.Location().From, fmt.Sprintf("name %q is reserved", n.Value))
			}
			if n.Value == "$env" {
				a.c.proj.all()
			}
		case *ast.VariableDeclaratorNode:
			if a.sc.lookup(n.Name) != nil {
				// A let that shadows source or an item would defeat path
				// tracking; decode everything rather than guess.
				a.c.proj.all()
			}
		case *ast.CallNode:
			a.call(n)
		}
		if a.consumed[n] {
			continue
		}
		switch n.(type) {
		case *ast.IdentifierNode, *ast.MemberNode:
		default:
			continue
		}
		name, steps, ok := memberChain(n)
		if !ok {
			continue
		}
		s := a.sc.lookup(name)
		if s == nil || s.index {
			continue
		}
		if s.before != nil {
			a.checkStepRef(s, n, steps)
		}
		a.checkSchema(s, n, steps)
		if !s.known {
			continue
		}
		full := append(append([]string{}, s.path...), steps...)
		if forEach && n == root {
			// The items of a for-each over a plain path are projected by
			// what the rows read from them, not decoded whole.
			a.c.proj.ensure(append(full, "*"))
			ev.itemPath = append(full, "*")
			ev.itemSchema = a.c.schemaAt(s.schema, append(steps, "*"))
			continue
		}
		a.c.proj.need(full)
	}
}

// elementSafe are builtins whose result holds no element of the collection
// itself, only values the predicate computes; the elements then need only
// the fields the predicate reads.
var elementSafe = map[string]bool{"all": true, "any": true, "none": true, "one": true, "map": true, "count": true, "findIndex": true, "sum": true}

// builtin narrows the projection for `len(array)` and predicate builtins
// over a source array, e.g. `map(source.lines ?? [], .amount)` needs only
// each line's amount, not every field of every line.
func (a *analysis) builtin(b *ast.BuiltinNode) {
	if len(b.Arguments) == 0 {
		return
	}
	coll := b.Arguments[0]
	if bin, ok := coll.(*ast.BinaryNode); ok && bin.Operator == "??" {
		coll = bin.Left
	}
	name, steps, ok := memberChain(coll)
	if !ok {
		return
	}
	s := a.sc.lookup(name)
	if s == nil || s.index || !s.known {
		return
	}
	path := append(append([]string{}, s.path...), steps...)
	if b.Name == "len" {
		// Only an array's length survives projection; an object's key
		// count would not, so this needs the schema's word for it.
		if sch, ok := a.c.resolveRef(a.c.schemaAt(s.schema, steps)).(map[string]any); ok && sch["type"] == "array" {
			a.checkSchema(s, coll, steps)
			a.c.proj.ensure(path)
			a.consumed[coll] = true
		}
		return
	}
	if !elementSafe[b.Name] || len(b.Arguments) < 2 {
		return
	}
	closure, ok := b.Arguments[1].(*ast.PredicateNode)
	if !ok {
		return
	}
	fields, ok := closureFields(closure)
	if !ok {
		return
	}
	a.checkSchema(s, coll, steps)
	elem := append(path, "*")
	a.c.proj.ensure(elem)
	for _, f := range fields {
		a.c.proj.need(append(append([]string{}, elem...), f...))
	}
	a.consumed[coll] = true
}

// closureFields returns the field paths a predicate reads from its element
// (`.amount`, `#.price.gross`); ok is false when it uses the element whole
// or nests another predicate, and then the elements are decoded whole.
func closureFields(c *ast.PredicateNode) ([][]string, bool) {
	var nodes []ast.Node
	consumed := map[ast.Node]bool{}
	nested := false
	walkNodes(c.Node, func(n ast.Node) {
		nodes = append(nodes, n)
		switch n := n.(type) {
		case *ast.PredicateNode:
			nested = true
		case *ast.MemberNode:
			if constProperty(n.Property) != "" {
				consumed[n.Node] = true
			}
		}
	})
	if nested {
		return nil, false
	}
	var fields [][]string
	for _, n := range nodes {
		if consumed[n] {
			continue
		}
		var steps []string
		cur := n
	chain:
		for {
			switch m := cur.(type) {
			case *ast.MemberNode:
				p := constProperty(m.Property)
				if p == "" {
					break chain
				}
				steps = append([]string{p}, steps...)
				cur = m.Node
			case *ast.PointerNode:
				if m.Name != "" {
					break chain // #index, #acc
				}
				if len(steps) == 0 {
					return nil, false // the element itself
				}
				fields = append(fields, steps)
				break chain
			default:
				break chain
			}
		}
	}
	return fields, true
}

// call checks what a call calls: only the documented functions. expr
// would also call methods of Go values (now().AddDate(100000, 0, 0),
// duration("1h").Hours()) and functions held in variables (let f =
// now().AddDate; f(1, 0, 0)), none of which is documented or budgeted.
func (a *analysis) call(n *ast.CallNode) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		from := n.Location().From
		if m, ok := n.Callee.(*ast.MemberNode); ok {
			from = m.Property.Location().From
			if name := constProperty(m.Property); name != "" && name != "*" {
				a.c.addAt(a.loc, a.src, from, fmt.Sprintf("%s is a method of a value, which expressions cannot call; use the documented functions (such as formatTime or addDays)", name))
				return
			}
		}
		a.c.addAt(a.loc, a.src, from, "only the documented functions can be called")
		return
	}
	if a.lets[id.Value] || a.sc.lookup(id.Value) != nil {
		// A variable holding a function; an unknown name is left to
		// expr, whose message suggests the closest name.
		a.c.addAt(a.loc, a.src, id.Location().From, fmt.Sprintf("%s is not a function; only the documented functions can be called", id.Value))
		return
	}
	switch id.Value {
	case "lookup":
		if len(n.Arguments) == 0 {
			return
		}
		s, ok := n.Arguments[0].(*ast.StringNode)
		if !ok {
			a.c.addAt(a.loc, a.src, n.Arguments[0].Location().From, "lookup needs the table name as a quoted string")
			return
		}
		if _, ok := a.c.lookups[s.Value]; !ok {
			names := make([]string, 0, len(a.c.lookups))
			for k := range a.c.lookups {
				names = append(names, k)
			}
			sort.Strings(names)
			a.c.addAt(a.loc, a.src, s.Location().From, fmt.Sprintf("unknown lookup table %q%s", s.Value, suggest(s.Value, names)))
		}
	case "env":
		if len(n.Arguments) > 0 {
			if s, ok := n.Arguments[0].(*ast.StringNode); ok {
				a.c.vars[s.Value] = true
			}
		}
	}
}

// checkSchema reports the first step of a path that the source schema does
// not declare.
func (a *analysis) checkSchema(s *scope, n ast.Node, steps []string) {
	if s.schema == nil {
		return
	}
	sch := s.schema
	members := memberNodes(n)
	for i, step := range steps {
		next, known, props := a.c.schemaStep(sch, step)
		if !known {
			msg := fmt.Sprintf("unknown field %q", step)
			if where := strings.Join(steps[:i], "."); where != "" {
				msg += " in " + s.name + "." + where
			} else {
				msg += " in " + s.name
			}
			msg += suggest(step, props)
			from := n.Location().From
			if i < len(members) {
				from = members[i].Property.Location().From
			}
			a.c.addAt(a.loc, a.src, from, msg)
			return
		}
		if next == nil {
			return
		}
		sch = next
	}
}

// memberNodes returns the member nodes of a chain from the root outwards.
func memberNodes(n ast.Node) []*ast.MemberNode {
	var out []*ast.MemberNode
	for {
		m, ok := n.(*ast.MemberNode)
		if !ok {
			break
		}
		out = append([]*ast.MemberNode{m}, out...)
		n = m.Node
	}
	return out
}

// memberChain resolves `name.a.b[0]` into its root identifier and steps
// ("*" for an index); ok is false when a step is computed.
func memberChain(n ast.Node) (name string, steps []string, ok bool) {
	for {
		switch m := n.(type) {
		case *ast.IdentifierNode:
			return m.Value, steps, true
		case *ast.MemberNode:
			p := constProperty(m.Property)
			if p == "" {
				return "", nil, false
			}
			steps = append([]string{p}, steps...)
			n = m.Node
		default:
			return "", nil, false
		}
	}
}

// plainPath is memberChain restricted to string keys without ?. — the
// shapes the fast path resolves exactly like expr does.
func plainPath(n ast.Node) (string, []string, bool) {
	var steps []string
	for {
		switch m := n.(type) {
		case *ast.IdentifierNode:
			return m.Value, steps, true
		case *ast.MemberNode:
			s, ok := m.Property.(*ast.StringNode)
			if !ok || m.Optional || m.Method {
				return "", nil, false
			}
			steps = append([]string{s.Value}, steps...)
			n = m.Node
		default:
			return "", nil, false
		}
	}
}

func constProperty(p ast.Node) string {
	switch p := p.(type) {
	case *ast.StringNode:
		if p.Value == "*" {
			return "" // would collide with the item marker
		}
		return p.Value
	case *ast.IntegerNode:
		return "*"
	}
	return ""
}

// walkNodes calls fn for every node of the tree.
func walkNodes(root ast.Node, fn func(ast.Node)) {
	ast.Walk(&root, visitorFunc(func(n *ast.Node) { fn(*n) }))
}

type visitorFunc func(*ast.Node)

// Visit calls f.
func (f visitorFunc) Visit(n *ast.Node) { f(n) }

// suggest returns `; did you mean "x"?` for the closest candidate, or "".
func suggest(name string, candidates []string) string {
	best, bestD := "", len(name)/2+2
	if bestD > 4 {
		bestD = 4
	}
	for _, c := range candidates {
		if c == name || strings.HasPrefix(c, "__") {
			continue
		}
		d := levenshtein(strings.ToLower(name), strings.ToLower(c))
		if d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// resolveRef follows local references ("#/$defs/address") within the
// source schema, a few levels deep; anything else is returned as is and
// checking stops at it.
func (c *compiler) resolveRef(sch any) any {
	for range 8 {
		m, ok := sch.(map[string]any)
		if !ok {
			return sch
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return sch
		}
		var cur any = c.schema
		for _, tok := range strings.Split(ref[2:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			next, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = next[tok]
		}
		sch = cur
	}
	return nil
}

// schemaStep follows one path step in a JSON Schema. known is false when
// the schema declares its properties and step is not among them; next is
// nil when the schema says nothing further (checking stops there).
func (c *compiler) schemaStep(sch any, step string) (next any, known bool, props []string) {
	m, ok := c.resolveRef(sch).(map[string]any)
	if !ok {
		return nil, true, nil
	}
	if step == "*" {
		if items, ok := m["items"].(map[string]any); ok {
			return items, true, nil
		}
		return nil, true, nil
	}
	properties, ok := m["properties"].(map[string]any)
	if !ok {
		return nil, true, nil
	}
	if p, ok := properties[step]; ok {
		return p, true, nil
	}
	switch ap := m["additionalProperties"].(type) {
	case bool:
		if ap {
			return nil, true, nil
		}
	case map[string]any:
		return ap, true, nil
	}
	if _, ok := m["patternProperties"]; ok {
		return nil, true, nil
	}
	for k := range properties {
		props = append(props, k)
	}
	sort.Strings(props)
	return nil, false, props
}

func (c *compiler) schemaAt(sch any, steps []string) any {
	for _, s := range steps {
		if sch == nil {
			return nil
		}
		next, known, _ := c.schemaStep(sch, s)
		if !known {
			return nil
		}
		sch = next
	}
	return sch
}

// nodeKind says what an output node produces.
type nodeKind int

const (
	nodeObject   nodeKind = iota // an object from child nodes
	nodeValue                    // an expression's value
	nodeConst                    // a constant
	nodeDisabled                 // a row CompileLenient disabled: writes nothing
)

// outNode is one key of an output object.
type outNode struct {
	key      string
	kind     nodeKind
	implicit bool // created by a dotted target, not by a row
	path     string
	pointer  string
	value    *evaluator
	constant []byte
	children []*outNode
	when     *evaluator
	omitNull bool
	forEach  *evaluator
	as       string
	index    string
	filter   *evaluator
	keyJSON  []byte
	// broken are the row's own problems (its shape, its names), reported
	// as row errors when it is written (CompileLenient).
	broken []*DisabledError
}

func (n *outNode) child(key string) *outNode {
	for _, c := range n.children {
		if c.key == key && c.kind != nodeDisabled {
			return c
		}
	}
	return nil
}

// finish precomputes encoded keys once the tree is complete.
func (n *outNode) finish() {
	n.keyJSON = append(appendString(nil, n.key), ':')
	for _, c := range n.children {
		c.finish()
	}
}
