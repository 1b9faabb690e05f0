package view

// ExprHints is what the expression editor completes, embedded in the
// designer page as JSON (id "expr-hints") for static/src/editor.js.
type ExprHints struct {
	// Paths are the source's fields, from the selected sample and the
	// source schema, written as expressions with [] for "any item of this
	// array": source.line_items[].sku.
	Paths []PathHint `json:"paths"`
	// Lookups are the flow's lookup tables with (some of) their keys.
	Lookups []LookupHint `json:"lookups"`
	// Vars are the names env("NAME") is previewed with.
	Vars []string `json:"vars"`
	// Functions are the engine's function library, the help panel's source.
	Functions []FunctionHint `json:"functions"`
}

// PathHint is one field of the source.
type PathHint struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"`              // object, array, string, number, integer, bool, null
	Example string `json:"example,omitempty"` // the sample's value, shortened
	Doc     string `json:"doc,omitempty"`     // the schema's description or title
}

// LookupHint is a lookup table and its keys.
type LookupHint struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Keys        []string `json:"keys"`
}

// FunctionHint is one function: its signature and one-line doc.
type FunctionHint struct {
	Name      string `json:"name"`
	Signature string `json:"signature"`
	Doc       string `json:"doc"`
}
