package engine

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Limits on the size and shape of a definition. They are checked before
// anything parses an expression (CheckSize on the raw document, called by
// ParseDefinition and by callers that decode a definition themselves;
// CheckLimits on the decoded one, called by ParseDefinition, Compile and
// saving a draft), so a hostile definition costs a scan of its bytes and
// nothing more. expr's parser
// recurses once per nesting level and Go cannot recover from the stack
// overflow that a few hundred thousand "(" cause; MaxNodes does not help,
// as brackets make no syntax-tree nodes. Every limit is far above what a
// real flow uses: the largest shipped template has 50 rows, 5 rules and
// expressions nested 4 levels deep.
const (
	// MaxDefinitionBytes caps a definition document (2 MiB; the largest
	// template is 28 KB).
	MaxDefinitionBytes = 2 << 20
	// MaxExprChars caps one expression, in characters (the JSON Schema's
	// maxLength).
	MaxExprChars = 10_000
	// MaxExprDepth caps how deeply one expression nests: brackets, prefix
	// operators, ternaries, let, if and right-associative ** and ^ each
	// add a level around what they enclose.
	MaxExprDepth = 100
	// MaxRoutes caps the routes of a definition.
	MaxRoutes = 100
	// MaxFlowSteps caps the steps (then) of all routes together.
	MaxFlowSteps = 100
	// MaxStepDepth caps how deeply steps nest: a route's step is at depth
	// 1, a step after it at 2. Each level is one more delivery in a chain.
	MaxStepDepth = 10
	// MaxTargets caps the targets of a definition.
	MaxTargets = 100
	// MaxRows caps the mapping rows of all routes together, child rows
	// included.
	MaxRows = 5_000
	// MaxRowDepth caps how deeply child rows nest.
	MaxRowDepth = 20
	// MaxRules caps the validation rules.
	MaxRules = 500
	// MaxLookups caps the lookup tables, MaxLookupEntries their entries
	// together.
	MaxLookups       = 100
	MaxLookupEntries = 100_000
	// MaxSamples caps the sample payloads, MaxTests the test cases.
	MaxSamples = 100
	MaxTests   = 1_000
	// MaxSchemaBytes caps one JSON Schema in a definition: the source's
	// schema and each route's target schema (256 KiB).
	MaxSchemaBytes = 256 << 10
	// MaxSchemaDepth caps how deeply one such schema's JSON nests (objects
	// and arrays); a schema of ten nested objects nests about 20 levels.
	MaxSchemaDepth = 64
)

var limitPrinter = message.NewPrinter(language.English)

// CheckSize refuses a definition document over MaxDefinitionBytes. Call it
// on raw bytes before decoding them; ParseDefinition does.
func CheckSize(data []byte) error {
	if len(data) > MaxDefinitionBytes {
		return &DefinitionError{Diagnostics: []Diagnostic{{Section: SectionSchema, Pointer: "",
			Message: limitPrinter.Sprintf("the definition is %d bytes; at most %d are allowed (move large sample payloads or lookup tables out)", len(data), MaxDefinitionBytes)}}}
	}
	return nil
}

// CheckLimits checks a decoded definition against the limits above: the
// number of routes, rows, rules, tables, samples and tests, how deeply rows
// nest, and the length and nesting depth of every expression (a scan of
// its characters, without parsing it). It returns a *DefinitionError
// whose diagnostics name the JSON pointer of each violation, e.g.
// "/routes/0/mapping/3/expr: expression nests 1,204 levels deep; at most
// 100 are allowed". ParseDefinition and Compile call it first; a stored
// definition that fails it is shown read-only.
func CheckLimits(def *Definition) error {
	if def == nil {
		return nil
	}
	l := &limitCheck{exprs: true}
	l.check(def)
	if len(l.diags) > 0 {
		return &DefinitionError{Diagnostics: l.diags}
	}
	return nil
}

// checkShape is CheckLimits without the expressions: what CompileLenient
// cannot compile around. It checks each expression itself, before parsing
// it, and disables one over the limits.
func checkShape(def *Definition) []Diagnostic {
	l := &limitCheck{}
	l.check(def)
	return l.diags
}

func (l *limitCheck) check(def *Definition) {
	l.count("/routes", "routes", len(def.Routes), MaxRoutes)
	l.count("/targets", "targets", len(def.Targets), MaxTargets)
	l.count("/validation", "validation rules", len(def.Validation), MaxRules)
	l.count("/lookups", "lookup tables", len(def.Lookups), MaxLookups)
	l.count("/source/samples", "samples", len(def.Source.Samples), MaxSamples)
	l.count("/tests", "test cases", len(def.Tests), MaxTests)
	entries := 0
	for _, t := range def.Lookups {
		entries += len(t.Entries)
	}
	l.count("/lookups", "lookup entries", entries, MaxLookupEntries)
	steps := 0
	for i, r := range def.Routes {
		steps += l.stepShape(fmt.Sprintf("/routes/%d/then", i), r.Then, 1)
	}
	l.count("/routes", "steps", steps, MaxFlowSteps)
	l.schema("/source/schema", "the source schema", def.Source.Schema)
	for i, r := range def.Routes {
		l.schema(fmt.Sprintf("/routes/%d/targetSchema", i), fmt.Sprintf("route %q's target schema", r.Name), r.TargetSchema)
	}
	if len(l.diags) > 0 {
		// Counts over the limit: do not walk what may be huge.
		return
	}
	l.expr(SectionKey, "/keys/idempotency", "", def.Keys.Idempotency)
	l.expr(SectionCorrelation, "/keys/correlation", "", def.Keys.Correlation)
	l.expr(SectionChannel, "/keys/channel", "", def.Keys.Channel)
	l.expr(SectionSequence, "/keys/sequence", "", def.Keys.Sequence)
	l.expr(SectionCustomer, "/keys/customer", "", def.Keys.Customer)
	l.expr(SectionAmount, "/keys/amount", "", def.Keys.Amount)
	for i, r := range def.Validation {
		l.expr(SectionValidation, fmt.Sprintf("/validation/%d/rule", i), "", r.Rule)
	}
	for i, r := range def.Routes {
		ptr := fmt.Sprintf("/routes/%d", i)
		l.expr(SectionCondition, ptr+"/when", r.Name, r.When)
		l.rows(ptr+"/mapping", r.Name, r.Mapping, 1)
		if l.rowsOver {
			break
		}
		if l.steps(ptr+"/then", r.Then) {
			break
		}
		l.rows(ptr+"/reply", r.Name, r.Reply, 1)
		if l.rowsOver {
			break
		}
	}
}

// stepShape counts the steps under ptr and reports the first place they
// nest deeper than MaxStepDepth, without walking further down than that.
func (l *limitCheck) stepShape(ptr string, steps []Step, depth int) int {
	if len(steps) == 0 {
		return 0
	}
	if depth > MaxStepDepth {
		l.diags = append(l.diags, Diagnostic{Section: SectionStep, Pointer: ptr,
			Message: limitPrinter.Sprintf("steps nest more than %d levels deep; at most %d are allowed", MaxStepDepth, MaxStepDepth)})
		return 0
	}
	n := 0
	for i, s := range steps {
		n++
		if n > MaxFlowSteps {
			// The total is over anyway; stop counting a hostile list.
			return n
		}
		n += l.stepShape(fmt.Sprintf("%s/%d/then", ptr, i), s.Then, depth+1)
	}
	return n
}

// steps checks the expressions and rows of steps; it reports whether the
// row limit was met, which ends the walk.
func (l *limitCheck) steps(ptr string, steps []Step) bool {
	for i, s := range steps {
		sptr := fmt.Sprintf("%s/%d", ptr, i)
		l.expr(SectionStep, sptr+"/when", s.Name, s.When)
		l.rows(sptr+"/mapping", s.Name, s.Mapping, 1)
		if l.rowsOver || l.steps(sptr+"/then", s.Then) {
			return true
		}
	}
	return false
}

type limitCheck struct {
	// exprs is whether expressions are checked too.
	exprs    bool
	diags    []Diagnostic
	rowCount int
	rowsOver bool
}

func (l *limitCheck) count(pointer, what string, n, max int) {
	if n > max {
		l.diags = append(l.diags, Diagnostic{Section: SectionSchema, Pointer: pointer,
			Message: limitPrinter.Sprintf("the definition has %d %s; at most %d are allowed", n, what, max)})
	}
}

// schema checks a JSON Schema's size and nesting from its bytes, before
// anything decodes or walks it.
func (l *limitCheck) schema(pointer, what string, raw []byte) {
	if len(raw) > MaxSchemaBytes {
		l.diags = append(l.diags, Diagnostic{Section: SectionSchema, Pointer: pointer,
			Message: limitPrinter.Sprintf("%s is %d bytes; at most %d are allowed", what, len(raw), MaxSchemaBytes)})
		return
	}
	if d := jsonDepth(raw); d > MaxSchemaDepth {
		l.diags = append(l.diags, Diagnostic{Section: SectionSchema, Pointer: pointer,
			Message: limitPrinter.Sprintf("%s nests %d levels deep; at most %d are allowed", what, d, MaxSchemaDepth)})
	}
}

// jsonDepth is how deeply a JSON document's objects and arrays nest, from
// a scan of its bytes (brackets inside strings do not count).
func jsonDepth(raw []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

func (l *limitCheck) rows(ptr, route string, rows []Row, depth int) {
	if depth > MaxRowDepth {
		l.diags = append(l.diags, Diagnostic{Section: SectionRow, Pointer: ptr, Route: route,
			Message: limitPrinter.Sprintf("rows nest more than %d levels deep", MaxRowDepth)})
		return
	}
	for i, r := range rows {
		l.rowCount++
		if l.rowCount > MaxRows {
			l.diags = append(l.diags, Diagnostic{Section: SectionRow, Pointer: "/routes",
				Message: limitPrinter.Sprintf("the routes have more than %d rows together; at most %d are allowed", MaxRows, MaxRows)})
			l.rowsOver = true
			return
		}
		rptr := fmt.Sprintf("%s/%d", ptr, i)
		l.expr(SectionRow, rptr+"/expr", route, r.Expr)
		l.expr(SectionRow, rptr+"/forEach", route, r.ForEach)
		l.expr(SectionRow, rptr+"/filter", route, r.Filter)
		l.expr(SectionRow, rptr+"/when", route, r.When)
		if len(r.Rows) > 0 {
			l.rows(rptr+"/rows", route, r.Rows, depth+1)
			if l.rowsOver {
				return
			}
		}
	}
}

func (l *limitCheck) expr(section Section, pointer, route, src string) {
	if !l.exprs {
		return
	}
	if msg := exprLimitProblem(src); msg != "" {
		l.diags = append(l.diags, Diagnostic{Section: section, Pointer: pointer, Route: route, Message: msg})
	}
}

// exprLimitProblem says what limit src breaks, or "".
func exprLimitProblem(src string) string {
	if len(src) > MaxExprChars {
		if n := utf8.RuneCountInString(src); n > MaxExprChars {
			return limitPrinter.Sprintf("expression is %d characters long; at most %d are allowed", n, MaxExprChars)
		}
	}
	if d := ExprDepth(src); d > MaxExprDepth {
		return limitPrinter.Sprintf("expression nests %d levels deep; at most %d are allowed", d, MaxExprDepth)
	}
	return ""
}

// ExprDepth returns how deeply an expression nests, from a scan of its
// characters that does not parse it: each open bracket ( [ { adds a level
// until it closes; a ternary ?, let, if, ** or ^ adds one until the
// enclosing bracket closes or a comma starts the next argument; a run of
// prefix operators (-, +, !, not) adds one each. String literals and
// comments count for nothing. It is an upper bound of the nesting expr's
// parser recurses through.
func ExprDepth(src string) int {
	type frame struct{ base, extra int }
	stack := []frame{{}}
	deepest, unary := 0, 0
	// value says the previous token ends an operand, so a following + or
	// - is binary, not a prefix.
	value := false
	note := func() {
		top := stack[len(stack)-1]
		if d := top.base + top.extra + unary; d > deepest {
			deepest = d
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '"' || c == '\'':
			i++
			for i < len(src) && src[i] != c {
				if src[i] == '\\' {
					i++
				}
				i++
			}
			i++
			value, unary = true, 0
			continue
		case c == '`':
			i++
			for i < len(src) && src[i] != '`' {
				i++
			}
			i++
			value, unary = true, 0
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			i += 2
			for i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/') {
				i++
			}
			i += 2
			continue
		case c == '(' || c == '[' || c == '{':
			top := stack[len(stack)-1]
			stack = append(stack, frame{base: top.base + top.extra + unary + 1})
			unary, value = 0, false
			note()
		case c == ')' || c == ']' || c == '}':
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			unary, value = 0, true
		case c == ',':
			stack[len(stack)-1].extra = 0
			unary, value = 0, false
		case isIdentByte(c):
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			switch word := src[i:j]; word {
			case "not":
				if !value {
					unary++
					note()
				}
				value = false
			case "let", "if":
				stack[len(stack)-1].extra++
				note()
				value = false
			case "and", "or", "in", "contains", "matches", "startsWith", "endsWith", "else":
				value = false
			default:
				value = true
			}
			i = j
			continue
		case c == '?':
			if i+1 < len(src) && (src[i+1] == '.' || src[i+1] == '?') {
				i += 2
				value = false
				continue
			}
			stack[len(stack)-1].extra++
			unary, value = 0, false
			note()
		case c == '*' && i+1 < len(src) && src[i+1] == '*', c == '^':
			stack[len(stack)-1].extra++
			unary, value = 0, false
			note()
			if c == '*' {
				i++
			}
		case c == '-' || c == '+' || c == '!':
			if c == '!' && i+1 < len(src) && src[i+1] == '=' {
				i += 2
				value = false
				continue
			}
			if !value {
				unary++
				note()
			}
			value = false
		case c == '.':
			// Member access keeps the operand; a range (..) starts one.
			if i+1 < len(src) && src[i+1] == '.' {
				i++
				value = false
			}
		default:
			value = false
		}
		i++
	}
	return deepest
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c == '#' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf
}
