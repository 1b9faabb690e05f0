package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Section says which part of a definition a diagnostic, row error or trace
// entry belongs to.
type Section string

// Sections of a definition.
const (
	SectionSchema      Section = "schema"      // the definition document itself
	SectionSource      Section = "source"      // source.schema and samples
	SectionKey         Section = "key"         // keys.idempotency
	SectionCorrelation Section = "correlation" // keys.correlation
	SectionChannel     Section = "channel"     // keys.channel
	SectionSequence    Section = "sequence"    // keys.sequence and keys.sequenceMode
	SectionCustomer    Section = "customer"    // keys.customer
	SectionAmount      Section = "amount"      // keys.amount
	SectionValidation  Section = "validation"  // a validation rule
	SectionLookup      Section = "lookup"      // a lookup table
	SectionRoute       Section = "route"       // a route as a whole (name, target)
	SectionCondition   Section = "condition"   // a route's when
	SectionRow         Section = "row"         // an output mapping row
	SectionStep        Section = "step"        // a step (then) as a whole: name, target, when
	SectionTest        Section = "test"        // a test case
)

// Diagnostic is one problem found in a definition, located precisely
// enough for the designer to show it next to the field.
type Diagnostic struct {
	// Section is the part of the definition.
	Section Section `json:"section"`
	// Pointer is the JSON pointer (RFC 6901) of the offending value in the
	// definition, e.g. "/routes/0/mapping/3/expr".
	Pointer string `json:"pointer"`
	// Route is the route's name, for route, condition and row diagnostics.
	Route string `json:"route,omitempty"`
	// Target is the row's output path, e.g. "lines[].sku".
	Target string `json:"target,omitempty"`
	// Message says what is wrong and, where it can, how to fix it.
	Message string `json:"message"`
	// Line and Column locate the problem inside the expression (1-based);
	// zero when the problem is not in an expression.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Snippet is the expression line with a caret under the column.
	Snippet string `json:"snippet,omitempty"`
}

// String formats the diagnostic on one line, followed by its snippet.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(string(d.Section))
	if d.Route != "" {
		fmt.Fprintf(&b, " %q", d.Route)
	}
	if d.Target != "" {
		fmt.Fprintf(&b, " %s", d.Target)
	}
	if d.Pointer != "" {
		fmt.Fprintf(&b, " (%s)", d.Pointer)
	}
	b.WriteString(": ")
	b.WriteString(d.Message)
	if d.Line > 0 {
		fmt.Fprintf(&b, " at %d:%d", d.Line, d.Column)
	}
	b.WriteString(d.Snippet)
	return b.String()
}

// DefinitionError is returned by ParseDefinition and Compile. It holds every
// problem found, not only the first, in definition order.
type DefinitionError struct {
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// Error lists every diagnostic, one per paragraph.
func (e *DefinitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "definition has %d problem", len(e.Diagnostics))
	if len(e.Diagnostics) != 1 {
		b.WriteString("s")
	}
	b.WriteString(":")
	for _, d := range e.Diagnostics {
		b.WriteString("\n")
		b.WriteString(d.String())
	}
	return b.String()
}

// DisabledError is what a construct that CompileLenient disabled reports
// when Run reaches it: the compile problem, in place of a value. Row
// errors, trace entries and validation failures carry its message, and
// RowError.Disabled and TraceEntry.Disabled tell it from a run-time error.
type DisabledError struct {
	Diagnostic Diagnostic
}

// Error is the diagnostic's message and, inside an expression, its line
// and column, as run-time expression errors read.
func (e *DisabledError) Error() string {
	if e.Diagnostic.Line > 0 {
		return fmt.Sprintf("%s (%d:%d)", e.Diagnostic.Message, e.Diagnostic.Line, e.Diagnostic.Column)
	}
	return e.Diagnostic.Message
}

func isDisabled(err error) bool {
	var de *DisabledError
	return errors.As(err, &de)
}

// Errors that Run returns, for the pipeline to classify with errors.Is.
var (
	// ErrInvalidInput means the payload is not a JSON document; the
	// message is rejected, not retried.
	ErrInvalidInput = errors.New("invalid input")
	// ErrLimit means the payload or an output exceeded a sandbox limit
	// (Options.MaxInputBytes, MaxOutputBytes, MaxItems).
	ErrLimit = errors.New("limit exceeded")
	// ErrTimeBudget is the cause to give the context of a deployed
	// flow's run (context.WithTimeoutCause with Program.TimeBudget): Run
	// then turns its deadline into a row error naming the expression
	// that was running, a mapping exception, rather than returning the
	// context's error.
	ErrTimeBudget = errors.New("time budget exceeded")
)
