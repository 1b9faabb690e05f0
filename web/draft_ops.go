package web

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// The designer edits a draft as a document: every structural change is a
// small operation on a JSON pointer (insert, remove, replace, move), sent
// as it is made, and the page morphs the changed form in place. The
// operations of a burst are not saved one by one: the page carries them
// (hidden field "ops") with the draft revision it was opened at, every
// request applies them to that revision, and a save — Ctrl/Cmd+S, the Save
// button, Enter, or the page itself after a few quiet seconds — writes
// them as one draft revision through DraftSave's usual revision check. So
// a burst of clicks is one revision and one audit entry, and another
// editor's save in between is a conflict exactly as before.

// draftOp is one operation, in the words of JSON Patch (RFC 6902) where
// they exist. Pending and undo/redo operations are always primitive
// (insert, remove, replace, up, down, or a batch of those when one button
// changes two places) so that replaying them on the saved draft gives the
// same structure whatever the analyst typed meanwhile.
type draftOp = mappings.Patch

// historyEntry is one step of the page's undo/redo history: Undo reverses
// the step, Redo makes it again.
type historyEntry struct {
	Label string  `json:"label"`
	Undo  draftOp `json:"undo"`
	Redo  draftOp `json:"redo"`
}

// draftHistory is the page's undo and redo stacks (hidden field
// "history"), newest last.
type draftHistory struct {
	Undo []historyEntry `json:"undo,omitempty"`
	Redo []historyEntry `json:"redo,omitempty"`
}

// maxHistory bounds the undo stack a page carries.
const maxHistory = 30

// maxPendingOps bounds the operations a page may hold unsaved; beyond it
// the page saves first.
const maxPendingOps = 200

// parseButtonOp reads a button's "verb:/pointer" (e.g. remove:/validation/0)
// or a JSON operation.
func parseButtonOp(s string) (draftOp, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var op draftOp
		if err := json.Unmarshal([]byte(s), &op); err != nil {
			return draftOp{}, &fault.Error{Code: fault.Invalid, Message: "the operation is not valid JSON: " + err.Error()}
		}
		return op, nil
	}
	verb, ptr, _ := strings.Cut(s, ":")
	if verb == "" {
		verb = "save"
	}
	return draftOp{Op: verb, Path: ptr}, nil
}

// parsePending reads the page's unsaved operations.
func parsePending(s string) ([]draftOp, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ops []draftOp
	if err := json.Unmarshal([]byte(s), &ops); err != nil {
		return nil, &fault.Error{Code: fault.Invalid, Message: "the page's unsaved operations are not readable (" + err.Error() + "); reload the designer"}
	}
	if len(ops) > maxPendingOps {
		return nil, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("more than %d unsaved operations; save the draft", maxPendingOps)}
	}
	return ops, nil
}

func parseHistory(s string) draftHistory {
	var h draftHistory
	if strings.TrimSpace(s) != "" {
		_ = json.Unmarshal([]byte(s), &h) // a mangled history only loses undo
	}
	return h
}

func encodeJSON(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		return ""
	}
	return string(b)
}

// replayOps applies pending primitive operations in order.
func replayOps(def *engine.Definition, ops []draftOp) (*engine.Definition, error) {
	for _, op := range ops {
		var err error
		if def, _, _, err = applyDraftOp(def, op); err != nil {
			return nil, fmt.Errorf("unsaved operation %s %s no longer applies: %w", op.Op, op.Path, err)
		}
	}
	return def, nil
}

// structuralOps are the operations that build a construct of the
// definition format at a pointer (mappings/structure.go). Each runs on the
// working definition and is then recorded as the primitive operations that
// make the same change (mappings.Changes), so a new one needs only an entry
// here: the plain form post and the operations endpoint both apply it, and
// undo, redo and replay come with it.
var structuralOps = map[string]func(def *engine.Definition, ptr string) (*engine.Definition, error){
	"add-row":      addRow(mappings.RowValue),
	"add-constant": addRow(mappings.RowConstant),
	"add-object":   addRow(mappings.RowObject),
	"add-foreach":  addRow(mappings.RowForEach),
	"add-array":    addRow(mappings.RowArray),
	"add-rule": func(def *engine.Definition, ptr string) (*engine.Definition, error) {
		return mappings.InsertAt(def, ptr, engine.Rule{Name: fmt.Sprintf("rule-%d", len(def.Validation)+1), Rule: "true", Message: "describe what is wrong and how to fix it"})
	},
	"add-route":       mappings.AddRoute,
	"duplicate-route": mappings.DuplicateRoute,
	"add-target":      mappings.AddTarget,
	"infer-schema": func(def *engine.Definition, _ string) (*engine.Definition, error) {
		return mappings.WithInferredSchema(def)
	},
}

func addRow(kind mappings.RowKind) func(*engine.Definition, string) (*engine.Definition, error) {
	return func(def *engine.Definition, ptr string) (*engine.Definition, error) {
		return mappings.AddRow(def, ptr, kind)
	}
}

// applyDraftOp performs one operation and returns the new definition, the
// operation in primitive form (what the page keeps pending) and its
// inverse. An operation that changes nothing returns done with an empty
// Op.
func applyDraftOp(def *engine.Definition, op draftOp) (out *engine.Definition, done, inverse draftOp, err error) {
	if op.Op == "batch" {
		return applyBatch(def, op)
	}
	if op.Path == "" || !strings.HasPrefix(op.Path, "/") {
		return nil, done, inverse, &fault.Error{Code: fault.Invalid, Message: "operation “" + op.Op + "” needs a JSON pointer such as /routes/0/mapping/1"}
	}
	if build, ok := structuralOps[op.Op]; ok {
		changed, err := build(def, op.Path)
		if err != nil {
			return nil, done, inverse, err
		}
		changes, err := mappings.Changes(def, changed)
		if err != nil || len(changes) == 0 {
			return def, draftOp{}, draftOp{}, err
		}
		return applyDraftOp(def, batchOf(changes))
	}
	switch op.Op {
	case "map", "map-each", "infer-target-schema":
		changed, err := pickOp(def, op)
		if err != nil {
			return nil, done, inverse, err
		}
		changes, err := mappings.Changes(def, changed)
		if err != nil || len(changes) == 0 {
			return def, draftOp{}, draftOp{}, err
		}
		return applyDraftOp(def, batchOf(changes))
	case "foreach-from-target":
		row, err := forEachFromTarget(def, op.Path)
		if err != nil {
			return nil, done, inverse, err
		}
		return applyDraftOp(def, draftOp{Op: "replace", Path: op.Path, Value: row})
	case "insert":
		if out, err = mappings.InsertAt(def, op.Path, op.Value); err != nil {
			return nil, done, inverse, err
		}
		return out, op, draftOp{Op: "remove", Path: op.Path}, nil
	case "remove":
		before, ok, err := mappings.ValueAt(def, op.Path)
		if err != nil {
			return nil, done, inverse, err
		}
		if !ok {
			return nil, done, inverse, &fault.Error{Code: fault.Invalid, Message: "nothing to remove at " + op.Path + "; reload the designer"}
		}
		if out, err = mappings.RemoveAt(def, op.Path); err != nil {
			return nil, done, inverse, err
		}
		return out, op, draftOp{Op: "insert", Path: op.Path, Value: before}, nil
	case "replace":
		before, _, err := mappings.ValueAt(def, op.Path)
		if err != nil {
			return nil, done, inverse, err
		}
		if out, err = mappings.ReplaceAt(def, op.Path, op.Value); err != nil {
			return nil, done, inverse, err
		}
		return out, op, draftOp{Op: "replace", Path: op.Path, Value: before}, nil
	case "up", "down":
		delta := -1
		if op.Op == "down" {
			delta = 1
		}
		parent, idx, ok := splitIndex(op.Path)
		if !ok {
			return nil, done, inverse, &fault.Error{Code: fault.Invalid, Message: op.Path + " does not name an element of a list"}
		}
		arr, _, _ := mappings.ValueAt(def, parent)
		var items []json.RawMessage
		_ = json.Unmarshal(arr, &items)
		if idx+delta < 0 || idx+delta >= len(items) {
			return def, op, draftOp{Op: "replace", Path: parent, Value: arr}, nil
		}
		if out, err = mappings.Move(def, op.Path, delta); err != nil {
			return nil, done, inverse, err
		}
		back := "down"
		if op.Op == "down" {
			back = "up"
		}
		return out, op, draftOp{Op: back, Path: parent + "/" + strconv.Itoa(idx+delta)}, nil
	}
	return nil, done, inverse, &fault.Error{Code: fault.Invalid, Message: "unknown designer operation “" + op.Op + "”; the designer knows insert, remove, replace, up, down, batch, foreach-from-target, map, map-each, infer-target-schema and " + strings.Join(structuralNames(), ", ")}
}

func structuralNames() []string {
	names := make([]string, 0, len(structuralOps))
	for n := range structuralOps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// applyBatch applies a batch's primitive operations in order; its inverse
// is the batch of their inverses in reverse order.
func applyBatch(def *engine.Definition, op draftOp) (*engine.Definition, draftOp, draftOp, error) {
	var ops []draftOp
	if err := json.Unmarshal(op.Value, &ops); err != nil {
		return nil, draftOp{}, draftOp{}, &fault.Error{Code: fault.Invalid, Message: "a batch of operations is not readable: " + err.Error()}
	}
	if len(ops) > maxPendingOps {
		return nil, draftOp{}, draftOp{}, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("a batch of more than %d operations", maxPendingOps)}
	}
	var done, inverse []draftOp
	for _, o := range ops {
		if !primitive[o.Op] {
			return nil, draftOp{}, draftOp{}, &fault.Error{Code: fault.Invalid, Message: "a batch holds only insert, remove, replace, up and down, not “" + o.Op + "”"}
		}
		var d, inv draftOp
		var err error
		if def, d, inv, err = applyDraftOp(def, o); err != nil {
			return nil, draftOp{}, draftOp{}, err
		}
		done = append(done, d)
		inverse = append([]draftOp{inv}, inverse...)
	}
	return def, batchOf(done), batchOf(inverse), nil
}

var primitive = map[string]bool{"insert": true, "remove": true, "replace": true, "up": true, "down": true}

func batchOf(ops []draftOp) draftOp {
	if len(ops) == 1 {
		return ops[0]
	}
	b, _ := json.Marshal(ops)
	return draftOp{Op: "batch", Value: b}
}

func splitIndex(ptr string) (parent string, idx int, ok bool) {
	i := strings.LastIndex(ptr, "/")
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(ptr[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return ptr[:i], n, true
}

// opLabel names an operation for the undo and redo buttons.
func opLabel(op draftOp) string {
	switch op.Op {
	case "add-row":
		return "add row"
	case "add-constant":
		return "add constant"
	case "add-object":
		return "add object"
	case "add-foreach":
		return "add for-each"
	case "add-array":
		return "add array of values"
	case "add-rule":
		return "add rule"
	case "add-route":
		return "add route"
	case "duplicate-route":
		return "duplicate route"
	case "add-target":
		return "add target"
	case "infer-schema":
		return "infer schema"
	case "foreach-from-target":
		return "make a for-each"
	case "map":
		return "map field"
	case "map-each":
		return "map each"
	case "infer-target-schema":
		return "infer target schema"
	case "up", "down":
		return "move " + op.Op
	}
	return op.Op
}

// targetProblem checks a mapping row's target path as the analyst types:
// names separated by dots. For "lines[].sku" it says to use a for-each
// block and returns the array path ("lines") the designer offers to make
// one over.
func targetProblem(target string) (problem, array string) {
	if target == "" {
		return "a target field needs a name", ""
	}
	if i := strings.Index(target, "["); i >= 0 {
		rest := target[i:]
		if j := strings.Index(rest, "]"); j > 0 && i > 0 && strings.HasPrefix(rest[j+1:], ".") && len(rest) > j+2 {
			return "“" + target + "” is not a path: use a for-each block for arrays", target[:i]
		}
		return "“" + target + "” is not a path: use a for-each block for arrays; a target is names separated by dots, such as customer.email", ""
	}
	for _, part := range strings.Split(target, ".") {
		if part == "" {
			return "“" + target + "” has an empty name between dots; a target is names separated by dots, such as customer.email", ""
		}
	}
	return "", ""
}

// forEachFromTarget turns the row at ptr, whose target reads like
// "lines[].sku", into a for-each block over source.lines with a child row
// "sku" taking item.sku.
func forEachFromTarget(def *engine.Definition, ptr string) (json.RawMessage, error) {
	raw, ok, err := mappings.ValueAt(def, ptr)
	if err != nil {
		return nil, err
	}
	var row engine.Row
	if !ok || json.Unmarshal(raw, &row) != nil {
		return nil, &fault.Error{Code: fault.Invalid, Message: "no mapping row at " + ptr + "; reload the designer"}
	}
	_, array := targetProblem(row.Target)
	if array == "" {
		return nil, &fault.Error{Code: fault.Invalid, Message: "the target “" + row.Target + "” does not read like list[].field"}
	}
	i := strings.Index(row.Target, "]")
	child := row.Target[i+2:]
	child = strings.NewReplacer("[]", "", "[", "", "]", "").Replace(child)
	block := engine.Row{Target: array, ForEach: "source." + array, As: "item", Rows: []engine.Row{{Target: child, Expr: "item." + child}}}
	return json.Marshal(block)
}
