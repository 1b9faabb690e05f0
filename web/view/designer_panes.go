package view

import "encoding/json"

// SourceNode is one field of the source in a route's source pane.
type SourceNode struct {
	// Path is the field's source path, a list's items as "[]":
	// source.lines[].sku.
	Path  string
	Label string
	Depth int
	Kind  string // the schema's type(s), or the sample value's kind
	// Example is the selected sample's value, shortened.
	Example string
	// List is whether the field is a list, which "map each" can take.
	List bool
	// Links are the numbers of the rows that read the field.
	Links []int
}

// DestNode is one field of a route's output in its destination pane.
type DestNode struct {
	// Path is the output path, a list's items as "[]": items[].material.
	Path     string
	Name     string
	Depth    int
	Type     string
	Required bool
	// Unmapped is a required field no row makes.
	Unmapped bool
	Mapped   bool
	// InSchema is false for a field a row makes that the target schema
	// does not declare.
	InSchema bool
	List     bool
	// ForEach is whether a for-each row makes the list.
	ForEach bool
	// Mismatch says where the live output does not fit the schema.
	Mismatch string
	// Link is the number shown on the field and on the source fields its
	// row reads; 0 when none.
	Link int
}

// MapPanes are a route's two panes and its target schema settings.
type MapPanes struct {
	Index   int
	Pointer string // the route's (/routes/N)
	Source  []SourceNode
	Dest    []DestNode
	// Unmapped are the required fields no row makes.
	Unmapped  []DestNode
	HasSchema bool
	// Schema is the target schema's JSON text; UnmappedRequired its
	// setting ("", "warn" or "error"); SchemaError why it cannot be shown.
	Schema           Field
	UnmappedRequired string
	SchemaError      string
	// Picked is the source field chosen, kept while the page is answered.
	Picked string
	// Example is the example output a schema can be inferred from (not
	// part of the definition).
	Example Field
}

// PickName is the form field of the route's chosen source field.
func (p MapPanes) PickName() string {
	return "pick:" + p.Pointer
}

// opJSON is a button's operation as JSON: op on the route with value.
func (p MapPanes) opJSON(op string, value map[string]any) string {
	b, _ := json.Marshal(map[string]any{"op": op, "path": p.Pointer, "value": value})
	return string(b)
}
