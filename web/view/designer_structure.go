package view

import "strings"

// LiveItem is a row's live value for one for-each item of the selected
// sample.
type LiveItem struct {
	Label   string // the item's output path, e.g. items[1]
	Value   string
	Error   string
	Skipped bool
}

// SourceView is the Source card: what the flow receives.
type SourceView struct {
	System Field
	Event  Field
	// Schema is the payload's JSON Schema as indented JSON text.
	Schema     Field
	HasSamples bool
	// Enforce: every message is checked against Schema (source.enforce).
	Enforce bool
}

// TargetView is one target in the Targets card.
type TargetView struct {
	Pointer string
	Name    Field
	Kind    Field // http or capture
	Method  Field // POST, PUT, PATCH or empty
	First   bool
	Last    bool
}

// rowKind is one kind of row the structure editor can add.
type rowKind struct {
	Op    string // applyOp verb
	Label string
	Hint  string
}

// rowKinds are offered at the end of every list of rows.
var rowKinds = []rowKind{
	{"add-row", "Field", "a value from an expression"},
	{"add-constant", "Constant", "a fixed JSON value"},
	{"add-object", "Object", "a nested object with child rows"},
	{"add-foreach", "For each", "an array with one object per item of a source array"},
	{"add-array", "Array of values", "an array with one value per item of a source array"},
}

// TargetMethods are the HTTP methods a target can use; empty is POST.
var TargetMethods = []string{"", "POST", "PUT", "PATCH"}

// groupSummary is the one-line description of an object or for-each.
func groupSummary(r RowView) string {
	switch r.Kind {
	case "foreach":
		return "for each " + r.ItemVar + " in " + orDash(r.ForEach.Value) + ": one object per item"
	case "array":
		return "for each " + r.ItemVar + " in " + orDash(r.ForEach.Value) + ": one value per item"
	}
	return "object of " + itoa(len(r.Children)) + " field" + pluralS(len(r.Children))
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// hasOptions is whether a row sets any of when, omitNull, note (its
// options are then shown open).
func (r RowView) hasOptions() bool {
	return r.When.Value != "" || r.OmitNull || r.Note.Value != ""
}

// rowLabel names a row for buttons' accessible labels.
func (r RowView) rowLabel() string {
	if r.Target.Value == "" {
		return r.Pointer
	}
	return r.Target.Value
}
