package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// rowBuilder turns a mapping into the structure editor's nested rows, each
// with its live value: one value, or one per for-each item of the
// selected sample (the engine traces every item under the row's pointer,
// with the item's output path).
type rowBuilder struct {
	field fieldFunc
	// trace is the run's trace; at holds the positions in it of each
	// pointer's entries, in run order.
	trace []engine.TraceEntry
	at    map[string][]int
	ran   bool
}

// entries are the trace entries of the pointers, in run order.
func (b rowBuilder) entries(pointers ...string) []engine.TraceEntry {
	var idx []int
	for _, p := range pointers {
		idx = append(idx, b.at[p]...)
	}
	if len(pointers) > 1 {
		sort.Ints(idx)
	}
	out := make([]engine.TraceEntry, len(idx))
	for i, k := range idx {
		out[i] = b.trace[k]
	}
	return out
}

// rows builds the view of rows at base; parentKey names their parent by
// target names (the route's name at the top), from which each row's Key is
// made.
func (b rowBuilder) rows(base, parentKey string, rows []engine.Row, depth int, inForEach bool) []view.RowView {
	var out []view.RowView
	seen := map[string]int{}
	for i, r := range rows {
		ptr := fmt.Sprintf("%s/%d", base, i)
		name := r.Target
		if name == "" {
			name = "row " + strconv.Itoa(i+1)
		}
		key := parentKey + "/" + r.Target
		if n := seen[key]; n > 0 {
			key += "#" + strconv.Itoa(n)
		}
		seen[parentKey+"/"+r.Target]++
		rv := view.RowView{
			Pointer: ptr, Key: rowKey(key), Depth: depth, First: i == 0, Last: i == len(rows)-1,
			InsertAfter: fmt.Sprintf("%s/%d", base, i+1),
			Target:      view.Field{Name: "f:" + ptr + "/target", Pointer: ptr + "/target", Value: r.Target, Label: "Target field of row " + strconv.Itoa(i+1)},
			When:        b.field(ptr+"/when", r.When, "Condition of "+name, "always", true),
			Note:        view.Field{Name: "f:" + ptr + "/note", Pointer: ptr + "/note", Value: r.Note, Label: "Note on " + name},
			OmitNull:    r.OmitNull,
		}
		rv.TargetProblem, rv.ForEachArray = targetProblem(r.Target)
		switch {
		case r.ForEach != "":
			rv.Kind = "foreach"
			rv.ItemVar = r.As
			if rv.ItemVar == "" {
				rv.ItemVar = "item"
			}
			rv.ForEach = b.field(ptr+"/forEach", r.ForEach, "Array expression of "+name, "source.line_items", false)
			rv.As = view.Field{Name: "f:" + ptr + "/as", Pointer: ptr + "/as", Value: r.As, Label: "Item name of " + name, Placeholder: "item"}
			rv.Index = view.Field{Name: "f:" + ptr + "/index", Pointer: ptr + "/index", Value: r.Index, Label: "Index name of " + name, Placeholder: "none"}
			rv.Filter = b.field(ptr+"/filter", r.Filter, "Item filter of "+name, "every item", true)
			if rv.ForEach.Live.Error == "" && b.ran && !inForEach {
				rv.ForEach.Live.Value = itemCount(b.itemLabels(ptr, r))
			}
			rv.Live = rv.ForEach.Live
			if len(r.Rows) == 0 && r.Expr != "" {
				// An array of values: its expression makes each item.
				rv.Kind = "array"
				rv.Expr = b.field(ptr+"/expr", r.Expr, "Item expression of "+name, rv.ItemVar, false)
				rv.Live = b.perItem(rv.Expr.Live, ptr+"/expr", "")
			}
			rv.Children = b.rows(ptr+"/rows", key, r.Rows, depth+1, true)
			rv.ChildAppend = fmt.Sprintf("%s/rows/%d", ptr, len(r.Rows))
		case len(r.Rows) > 0:
			rv.Kind = "object"
			rv.Live = view.Live{ID: view.LiveID("live", ptr)}
			rv.Children = b.rows(ptr+"/rows", key, r.Rows, depth+1, inForEach)
			rv.ChildAppend = fmt.Sprintf("%s/rows/%d", ptr, len(r.Rows))
		case len(r.Value) > 0 && r.Expr == "":
			rv.Kind = "constant"
			rv.Constant = string(r.Value)
			rv.Value = b.field(ptr+"/value", string(r.Value), "Constant JSON value of "+name, `"text", 42, true, {…}`, false)
			rv.Live = rv.Value.Live
		default:
			rv.Kind = "value"
			rv.Expr = b.field(ptr+"/expr", r.Expr, "Expression for "+r.Target, "source.field", false)
			rv.Live = rv.Expr.Live
		}
		if inForEach && (rv.Kind == "value" || rv.Kind == "constant") {
			leaf := ptr + "/expr"
			if rv.Kind == "constant" {
				leaf = ptr + "/value"
			}
			rv.Live = b.perItem(rv.Live, leaf, r.Target)
		}
		out = append(out, rv)
	}
	return out
}

// perItem lists every trace entry of pointer as one item, labelled with
// the item's output path (without the row's own target).
func (b rowBuilder) perItem(l view.Live, pointer, target string) view.Live {
	if l.Error != "" {
		return l
	}
	entries := b.entries(pointer)
	if target != "" {
		// A row left out by its condition is traced under its when.
		entries = b.entries(pointer, strings.TrimSuffix(strings.TrimSuffix(pointer, "/expr"), "/value")+"/when")
	}
	l.Value, l.Skipped, l.Bool = "", false, ""
	l.Items = nil
	for _, t := range entries {
		it := view.LiveItem{Label: strings.TrimSuffix(t.Path, "."+target), Error: t.Error, Skipped: t.Skipped}
		if target == "" {
			it.Label = t.Path
		}
		if t.Error == "" && !t.Skipped {
			it.Value = shorten(string(t.Value), 120)
		}
		l.Items = append(l.Items, it)
		if len(l.Items) == 50 {
			l.Items = append(l.Items, view.LiveItem{Label: "…", Value: "and more"})
			break
		}
	}
	return l
}

// itemLabels are the output paths of a for-each's items, as its rows' trace
// entries name them.
func (b rowBuilder) itemLabels(ptr string, r engine.Row) map[string]bool {
	labels := map[string]bool{}
	if len(r.Rows) == 0 {
		for _, t := range b.entries(ptr + "/expr") {
			labels[t.Path] = true
		}
		return labels
	}
	for i, c := range r.Rows {
		cp := fmt.Sprintf("%s/rows/%d", ptr, i)
		for _, leaf := range []string{"/expr", "/value", "/when"} {
			for _, t := range b.entries(cp + leaf) {
				labels[strings.TrimSuffix(t.Path, "."+c.Target)] = true
			}
		}
	}
	return labels
}

func itemCount(labels map[string]bool) string {
	if len(labels) == 1 {
		return "1 item"
	}
	return strconv.Itoa(len(labels)) + " items"
}

// flattenRows lists a tree of rows depth first, for the live preview's
// out-of-band cells.
func flattenRows(rows []view.RowView) []view.RowView {
	var out []view.RowView
	for _, r := range rows {
		out = append(out, r)
		out = append(out, flattenRows(r.Children)...)
	}
	return out
}

// targetKinds are the kinds of target the designer offers: those the
// transports deliver to, in their registration order.
func (s *Server) targetKinds() []string {
	var out []string
	for _, k := range s.deps.Transports.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// structureViews fills the Source and Targets cards and the routes' own
// fields; kinds are the target kinds to offer.
func structureViews(d *view.Designer, def *engine.Definition, field fieldFunc, kinds []string) {
	d.TargetKinds = kinds
	d.Source = view.SourceView{
		System:     field("/source/system", def.Source.System, "Source system", "storefront", false),
		Event:      field("/source/event", def.Source.Event, "Event type", "order.created", false),
		Schema:     field("/source/schema", indentJSON(def.Source.Schema), "Payload schema", "", false),
		HasSamples: len(def.Source.Samples) > 0,
		Enforce:    def.Source.Enforce,
	}
	for i, t := range def.Targets {
		ptr := fmt.Sprintf("/targets/%d", i)
		d.Targets = append(d.Targets, view.TargetView{
			Pointer: ptr, First: i == 0, Last: i == len(def.Targets)-1,
			Name:   plainField(ptr+"/name", t.Name, "Name of target "+strconv.Itoa(i+1)),
			Kind:   plainField(ptr+"/kind", t.Kind, "Kind of target "+t.Name),
			Method: plainField(ptr+"/method", t.Method, "HTTP method of target "+t.Name),
		})
		d.TargetNames = append(d.TargetNames, t.Name)
		if !slices.Contains(d.TargetKinds, t.Kind) { // shown as it is, so that saving keeps it
			d.TargetKinds = append(slices.Clip(d.TargetKinds), t.Kind)
		}
	}
	d.TargetsAppend = fmt.Sprintf("/targets/%d", len(def.Targets))
	d.RoutesAppend = fmt.Sprintf("/routes/%d", len(def.Routes))
	for i := range d.Routes {
		rv := &d.Routes[i]
		rt := def.Routes[rv.Index]
		rv.Pointer = fmt.Sprintf("/routes/%d", rv.Index)
		rv.First, rv.Last = rv.Index == 0, rv.Index == len(def.Routes)-1
		rv.NameField = plainField(rv.Pointer+"/name", rt.Name, "Name of route "+rt.Name)
		rv.TargetField = plainField(rv.Pointer+"/target", rt.Target, "Target of route "+rt.Name)
	}
}

// plainField is a field without a live value; its Live.ID still gives the
// input the id the problems list links to.
func plainField(pointer, value, label string) view.Field {
	return view.Field{Name: "f:" + pointer, Pointer: pointer, Value: value, Label: label, Live: view.Live{ID: view.LiveID("live", pointer)}}
}

func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// applyEditsKeeping applies the form's edits; a field whose text is not
// taken (JSON that does not parse, a word where a number belongs) is left
// out and returned in kept with its text and the reason, so the designer
// can show it again as typed, next to what is wrong. refused is the first
// such problem; err is any other failure.
func applyEditsKeeping(def *engine.Definition, edits []mappings.Edit) (out *engine.Definition, kept map[string]keptField, refused *fault.Error, err error) {
	for range len(edits) + 1 {
		out, err = mappings.ApplyEdits(def, edits)
		if err == nil {
			return out, kept, refused, nil
		}
		fe, ok := fault.As(err)
		if !ok || len(fe.Fields) == 0 {
			return nil, nil, nil, err
		}
		if refused == nil {
			refused = fe
		}
		if kept == nil {
			kept = map[string]keptField{}
		}
		var rest []mappings.Edit
		for _, e := range edits {
			if _, bad := fe.Fields[e.Pointer]; bad {
				kept[e.Pointer] = keptField{text: e.Value, problem: fe.Message}
				continue
			}
			rest = append(rest, e)
		}
		if len(rest) == len(edits) {
			return nil, nil, nil, err
		}
		edits = rest
	}
	return nil, nil, nil, err
}

// keptField is a field's text the draft did not take, and why.
type keptField struct {
	text    string
	problem string
}

// rowKey names a row by its route and the target names leading to it
// rather than by position, hashed to an id-safe token. The groups and
// option panels the analyst opened or closed keep that state across
// in-place updates: the page morphs elements by id, so an id made from the
// position would hand a closed group's state to whichever row moved into
// its place when a row is added, removed or moved above it.
func rowKey(path string) string {
	h := fnv.New64a()
	h.Write([]byte(path))
	return strconv.FormatUint(h.Sum64(), 36)
}
