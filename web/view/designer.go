package view

import (
	"strings"

	"github.com/a-h/templ"
)

// FlowHeader is what every flow page shows at the top.
type FlowHeader struct {
	Slug          string
	Name          string
	SourceSystem  string
	Event         string
	LatestVersion int
	Revision      int
	UpdatedBy     string
	UpdatedAt     string
}

// Live is the live outcome of one expression for the selected sample.
type Live struct {
	ID      string // DOM id of the cell, stable per field so htmx can swap it
	Value   string // JSON of the value, shortened
	Error   string // run-time or compile error message
	Snippet string // the expression with a caret under the error
	Skipped bool   // the row was omitted by its when / omitNull
	Bool    string // "true" or "false" for conditions and rules
	// Items are a row's values per for-each item, when it is inside one.
	Items []LiveItem
}

// Field is one editable expression or text field, named by its JSON pointer.
type Field struct {
	Name        string // form field name: "f:" + pointer
	Pointer     string
	Value       string
	Label       string // accessible label
	Placeholder string
	Live        Live
}

// RuleView is a validation rule with its live outcome.
type RuleView struct {
	Index   int
	Name    string
	Rule    Field
	Message Field
	Pointer string
}

// RowView is one mapping row; Depth > 0 for rows nested in objects or
// for-each groups.
type RowView struct {
	Pointer string
	// Key identifies the row by its route and target names, not its
	// position: the ids of its collapsible parts are made from it.
	Key      string
	Depth    int
	Kind     string // value, constant, object, foreach
	Target   Field
	Expr     Field // the value expression (value rows, foreach rows with a value)
	ForEach  Field // the array expression of a foreach group
	Constant string
	ItemVar  string
	Live     Live
	First    bool
	Last     bool
	// InsertAfter is the pointer a new sibling row is inserted at.
	InsertAfter string
	// The rest is the structure editor's (designer_structure.templ).
	Value    Field // a constant's JSON text
	As       Field // a for-each's item name
	Index    Field // a for-each's index name
	Filter   Field
	When     Field
	Note     Field
	OmitNull bool
	// Children are an object's or a for-each's rows; ChildAppend is where
	// a new child row goes.
	Children    []RowView
	ChildAppend string
	// TargetProblem says what is wrong with the target path, checked as
	// the analyst types; ForEachArray is set when the designer can turn
	// the row into a for-each block over source.<ForEachArray>.
	TargetProblem string
	ForEachArray  string
}

// RouteView is one route: its condition, rows and output.
type RouteView struct {
	Index  int
	Name   string
	Target string
	When   Field
	Rows   []RowView
	Output string
	// AsSent is Output as the environments whose target takes another
	// format than JSON receive it.
	AsSent  []SentBody
	Matched string // "true", "false" or "" (could not run)
	Errors  []string
	// AppendPointer is where "add row" inserts at the end of the mapping.
	AppendPointer string
	// Pointer is the route's own (/routes/N); NameField and TargetField
	// edit its name and target; Tree is Rows nested as the definition nests
	// them (Rows is flat, for the live preview).
	Pointer     string
	NameField   Field
	TargetField Field
	First       bool
	Last        bool
	Tree        []RowView
	// Panes are the route's source and destination trees.
	Panes MapPanes
}

// SentBody is a route's output in the format one environment's target
// receives it, or why it cannot be sent in it.
type SentBody struct {
	Environment, Target, Format string
	Body, Error                 string
}

// SampleOption is a sample in the picker.
type SampleOption struct {
	Index    int
	Name     string
	Selected bool
	// Payload is the sample's JSON, indented; set for the selected one.
	Payload string
}

// FieldNode is one field of the selected sample, for the field tree.
type FieldNode struct {
	Path    string // expression path, e.g. source.customer.email
	Label   string
	Depth   int
	Kind    string // object, array, string, number, bool, null
	Example string
}

// Diagnostic is a definition problem shown in the problems list.
type Diagnostic struct {
	Where   string
	Message string
	Snippet string
	Anchor  string // id of the field it belongs to, when shown on the page
	// Line and Column locate the problem inside the field's expression
	// (1-based; 0 when it is not at a position): the expression editor
	// underlines it there.
	Line, Column int
}

// TestView is a test case and, after a run, its outcome.
type TestView struct {
	// Index is the case's position in the definition's tests, which the
	// accept, edit, rename and delete forms send.
	Index  int
	Name   string
	Ran    bool
	Passed bool
	Error  string
	Diffs  []TestDiff
	// JSON is the case as the "edit as JSON" box shows it: the stored
	// case, or the text just submitted when it was refused (EditError).
	JSON      string
	EditError string
	// ExpectsFailure describes an expected mapping failure, "" for none.
	ExpectsFailure string
}

// TestDiff is one differing field of a failed test case.
type TestDiff struct {
	Path     string
	Expected string
	Actual   string
	Message  string
}

// SampleRun is one sample's outcome in the "all samples" view.
type SampleRun struct {
	Name   string
	Valid  bool
	Failed []string
	Routes []string
	Errors int
}

// FunctionHelp is one function of the expression library.
type FunctionHelp struct {
	Name        string
	Signature   string
	Description string
	Example     string
	Category    string
}

// Designer is the whole designer page.
type Designer struct {
	Flow          FlowHeader
	CanEdit       bool
	Samples       []SampleOption
	SampleIndex   int
	SamplePayload string
	Fields        []FieldNode
	Key           Field
	Correlation   Field
	Channel       Field
	Sequence      Field // keys.sequence
	Customer      Field // keys.customer
	Amount        Field // keys.amount
	SLAWithin     Field // seconds; empty: the default SLA
	SLAObjective  Field // percent
	DefaultSLA    string
	// TimeBudget is limits.timeBudgetMs: how long mapping one message may
	// take in a deployed flow.
	TimeBudget Field
	Rules      []RuleView
	Routes     []RouteView
	// Source, Targets and TargetNames feed the structure editor's cards;
	// RoutesAppend and TargetsAppend are where a new route or target goes.
	Source      SourceView
	Targets     []TargetView
	TargetNames []string
	// TargetKinds are the kinds a target can be given.
	TargetKinds   []string
	RoutesAppend  string
	TargetsAppend string
	Problems      []Diagnostic
	Tests         []TestView
	TestsRan      bool
	AllSamples    []SampleRun
	Diagram       templ.Component
	Functions     []FunctionHelp
	Vars          []string // "NAME = value" the preview runs with
	Lookups       []LookupSummary
	// Hints are what the expression editor completes (full pages only).
	Hints    ExprHints
	Notice   string // a confirmation after an action
	Error    string // why the last action was refused
	Conflict *Conflict
	// PendingOps are the page's operations not yet saved (JSON), replayed
	// on the saved draft by every request; History is its undo/redo
	// stacks (JSON). Dirty is true while operations are unsaved.
	PendingOps string
	History    string
	Dirty      bool
	UndoLabel  string // "" when there is nothing to undo
	RedoLabel  string
	DocNotice  string // what the last operation did ("Saved draft revision 7.")
	DocError   string // why the last operation was refused
}

// Conflict is shown when a save was refused because someone else saved first.
type Conflict struct {
	By       string
	At       string
	Revision int
	// Diff is their draft (old) against the edits refused (new); Same
	// says the two have the same content.
	Diff DiffView
	Same bool
	// Stale says why the page's unsaved operations cannot be compared
	// with their draft at all.
	Stale string
}

// LiveID derives a stable DOM id from a JSON pointer.
func LiveID(prefix, pointer string) string {
	r := strings.NewReplacer("/", "-", "~", "_", ".", "_")
	return prefix + r.Replace(pointer)
}

func (d Designer) sampleURL(i int) templ.SafeURL {
	return templ.SafeURL("/flows/" + d.Flow.Slug + "?sample=" + itoa(i))
}

func indent(depth int) string {
	return "padding-left:" + itoa(depth*18+6) + "px"
}

func oobAttr(oob bool) templ.Attributes {
	if oob {
		return templ.Attributes{"hx-swap-oob": "true"}
	}
	return templ.Attributes{}
}

// morphOOB marks a fragment the live preview sends out of band: htmx morphs
// it into the element with its id (idiomorph) rather than replacing that
// element, so a button, link or field inside keeps its node and a click
// whose press and release straddle an answer still lands on it.
func morphOOB(oob bool) templ.Attributes {
	if oob {
		return templ.Attributes{"hx-swap-oob": "morph"}
	}
	return templ.Attributes{}
}

// PreviewParts are the fragments of a live-preview answer, each sent out of
// band: every live cell, row target check, route output and destination
// pane, the problem list and the diagram.
func PreviewParts(d Designer) []templ.Component {
	parts := []templ.Component{LiveCell(d.Key.Live, true), LiveCell(d.Correlation.Live, true), LiveCell(d.Channel.Live, true),
		LiveCell(d.Sequence.Live, true), LiveCell(d.Customer.Live, true), LiveCell(d.Amount.Live, true)}
	for _, r := range d.Rules {
		parts = append(parts, LiveCell(r.Rule.Live, true))
	}
	for _, rt := range d.Routes {
		parts = append(parts, LiveCell(rt.When.Live, true))
		for _, row := range rt.Rows {
			parts = append(parts, LiveCell(row.Live, true))
			if row.Kind == "array" && row.ForEach.Live.ID != row.Live.ID {
				parts = append(parts, LiveCell(row.ForEach.Live, true))
			}
			parts = append(parts, TargetCheck(row, d, true))
		}
		parts = append(parts, RouteOutput(rt, true), DestPane(d, rt, true))
	}
	return append(parts, Problems(d.Problems, true), DiagramBox(d, true))
}

// PreviewDelayMS is how long after the last keystroke the designer asks for
// its live preview: short enough that a value follows typing (the answer
// takes a few tens of milliseconds more), long enough that keys typed
// faster than that (a held key repeats every ~33 ms) make one request.
// Previews are one at a time, so typing faster than they are answered
// waits for the one under way rather than piling requests up.
const PreviewDelayMS = 30

func (d Designer) action(name string) string {
	return "/flows/" + d.Flow.Slug + "/" + name
}

// LookupSummary is a lookup table as the designer lists it.
type LookupSummary struct {
	Name        string
	Description string
	Rows        int
}

// TargetCheckID is the DOM id of a row's target-path message, swapped by
// the live preview as the analyst types.
func (r RowView) TargetCheckID() string {
	return LiveID("tcheck", r.Pointer)
}

// opAttrs sends a designer button through the operations endpoint and
// morphs the answer into the form; without JavaScript the button submits
// the form to the plain save. Requests of the form queue one behind the
// other, so each is sent with the revision and operations the previous
// answer left.
func opAttrs(d Designer) templ.Attributes {
	return templ.Attributes{"hx-post": d.action("draft/ops"), "hx-target": "#draft", "hx-swap": "morph", "hx-sync": "#draft:queue all"}
}

// failingTests counts the cases that ran and failed with a difference
// (not those that could not run at all): what "accept all" changes.
func failingTests(tests []TestView) int {
	n := 0
	for _, tc := range tests {
		if tc.Ran && !tc.Passed && tc.Error == "" {
			n++
		}
	}
	return n
}
