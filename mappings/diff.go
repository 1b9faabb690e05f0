package mappings

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/crossdock/crossdock/engine"
)

// DefinitionDiff is what changed between two versions of a flow definition,
// row by row, for the designer's side-by-side version diff, the management
// API's diff endpoint and a refused draft save. It is plain data and
// serialises to JSON as it is.
type DefinitionDiff struct {
	// Changes are in the order of the newer definition: section by section
	// (definition, source, samples, keys, validation, lookups, targets,
	// routes with their mapping rows, tests), and inside a section in the
	// newer definition's item order, a removed item standing where it was
	// in the older one. Lookup tables and their entries have no order of
	// their own and come sorted by name and key. Diff never leaves it nil,
	// so it encodes as [] rather than null.
	Changes []Change `json:"changes"`
}

// Empty reports whether the two definitions are the same. It is true
// exactly when their canonical JSON (and so their checksum) is the same.
func (d DefinitionDiff) Empty() bool { return len(d.Changes) == 0 }

// ChangeKind says what happened to an item.
type ChangeKind string

// Kinds of change.
const (
	// ChangeAdded: the item is only in the newer definition. New holds the
	// whole item as compact JSON (definition format).
	ChangeAdded ChangeKind = "added"
	// ChangeRemoved: the item is only in the older definition. Old holds
	// the whole item as compact JSON.
	ChangeRemoved ChangeKind = "removed"
	// ChangeChanged: Field of the item differs; Old and New hold its text.
	ChangeChanged ChangeKind = "changed"
	// ChangeMoved: the item kept its identity but changed place among its
	// siblings; Field is "position" and Old and New are 1-based positions.
	ChangeMoved ChangeKind = "moved"
)

// ChangeSection names the part of a definition a change is in.
type ChangeSection string

// Sections of a definition diff, in the order changes are listed.
const (
	// SectionDefinition is the definition's own name, description and
	// format version.
	SectionDefinition ChangeSection = "definition"
	// SectionSource is source.system, source.event and source.schema.
	SectionSource ChangeSection = "source"
	// SectionSamples is source.samples, kept apart from SectionSource
	// because the designer shows samples in a panel of their own. Path is
	// the sample's name.
	SectionSamples ChangeSection = "samples"
	// SectionKeys is keys: idempotency, correlation, channel, sequence,
	// sequenceMode, customer and amount.
	SectionKeys ChangeSection = "keys"
	// SectionValidation is a validation rule. Path is the rule's name.
	SectionValidation ChangeSection = "validation"
	// SectionLookups is a lookup table (Path is its name) or one of its
	// entries (Path is `table["key"]`).
	SectionLookups ChangeSection = "lookups"
	// SectionTargets is a target. Path is its name.
	SectionTargets ChangeSection = "targets"
	// SectionRoutes is a route as a whole: added, removed, moved, or its
	// description, condition (when) or target changed. Route is its name.
	SectionRoutes ChangeSection = "routes"
	// SectionMapping is an output mapping row of Route. Path is the row's
	// output path through nested rows, with "[]" after a for-each group:
	// "soldTo.email", "items[].material".
	SectionMapping ChangeSection = "mapping"
	// SectionTests is a test case. Path is its name.
	SectionTests ChangeSection = "tests"
)

// Change is one difference between two definitions, ready to be shown as
// one line of a diff.
type Change struct {
	// Section is the part of the definition.
	Section ChangeSection `json:"section"`
	// Route is the route's name, for SectionRoutes and SectionMapping.
	Route string `json:"route,omitempty"`
	// Path identifies the item inside the section (see the Section
	// constants); empty for a section's single fields such as
	// source.system. A name or row path that occurs more than once among
	// its siblings gets "#2", "#3"… for its later occurrences, which are
	// matched by occurrence.
	Path string `json:"path,omitempty"`
	// Kind is added, removed, changed or moved.
	Kind ChangeKind `json:"kind"`
	// Field is the changed attribute as named in the definition format
	// ("expr", "when", "forEach", "payload", "expect.routes.crm-vip"…);
	// "position" for a move; empty for a whole item added or removed, and
	// for a lookup entry whose value changed.
	Field string `json:"field,omitempty"`
	// Old and New are the text before and after: expressions verbatim,
	// JSON values compact, booleans as true/false; "" when absent.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// String formats the change on one line, e.g.
// `changed mapping · route erp-sales-order · items[].material · expr: "upper(line.sku)" → "lower(line.sku)"`,
// for logs and error messages.
func (c Change) String() string {
	var b strings.Builder
	b.WriteString(string(c.Kind))
	b.WriteString(" ")
	b.WriteString(string(c.Section))
	if c.Route != "" {
		b.WriteString(" · route ")
		b.WriteString(c.Route)
	}
	if c.Path != "" {
		b.WriteString(" · ")
		b.WriteString(c.Path)
	}
	if c.Field != "" {
		b.WriteString(" · ")
		b.WriteString(c.Field)
	}
	switch c.Kind {
	case ChangeChanged, ChangeMoved:
		b.WriteString(": ")
		b.WriteString(strconv.Quote(c.Old))
		b.WriteString(" → ")
		b.WriteString(strconv.Quote(c.New))
	}
	return b.String()
}

// Diff compares an older and a newer version of a definition and returns
// their differences row by row. A nil definition counts as an empty one, so
// Diff(nil, def) lists everything in def as added.
//
// Items are matched by identity, not by position, so inserting a row does
// not make every later row look changed: samples, validation rules,
// targets, routes and test cases by name; lookup tables by name and their
// entries by key; mapping rows by their target among their siblings,
// recursively through nested rows and for-each groups. A renamed item is
// therefore a removal plus an addition. A matched item that changed place
// relative to the others is reported as moved (the fewest moves that
// explain the new order), and each of its differing fields as changed. An
// added or removed item is one change carrying the whole item, child rows
// included, rather than one change per child.
func Diff(old, new *engine.Definition) DefinitionDiff {
	if old == nil {
		old = &engine.Definition{}
	}
	if new == nil {
		new = &engine.Definition{}
	}
	d := differ{changes: []Change{}}
	d.definition(old, new)
	d.source(old.Source, new.Source)
	d.samples(old.Source.Samples, new.Source.Samples)
	d.keys(old.Keys, new.Keys)
	d.validation(old.Validation, new.Validation)
	d.lookups(old.Lookups, new.Lookups)
	d.targets(old.Targets, new.Targets)
	d.routes(old.Routes, new.Routes)
	d.tests(old.Tests, new.Tests)
	if len(d.changes) == 0 {
		// Every field of the definition format is compared above and a
		// test checks that no field escapes; this net is for a field added
		// to the format later and not yet taught to Diff, so that a draft
		// conflict or a version diff never claims "no differences" when
		// the checksums differ.
		oc, _ := old.Canonical()
		nc, _ := new.Canonical()
		if !bytes.Equal(oc, nc) {
			d.changed(Change{Section: SectionDefinition}, "definition", string(oc), string(nc))
		}
	}
	return DefinitionDiff{Changes: d.changes}
}

// differ collects changes in order; its methods walk one section each.
type differ struct {
	changes []Change
}

// changed records a field change when the texts differ. at carries the
// section, route and path.
func (d *differ) changed(at Change, field, old, new string) {
	if old == new {
		return
	}
	at.Kind, at.Field, at.Old, at.New = ChangeChanged, field, old, new
	d.changes = append(d.changes, at)
}

// changedJSON records how two JSON values differ, field by field:
// objects key by key ("expect.routes.erp.soldTo.email"), arrays of the
// same length item by item ("input.lines[1].qty"); anything else — a
// scalar, a type change, arrays of different lengths, a value only on one
// side — is one change of the compact JSON text. Whitespace is no change,
// as in the canonical form; the same value with its keys in another order
// is one change of the whole text, as it changes the checksum.
func (d *differ) changedJSON(at Change, field string, old, new json.RawMessage) {
	var ov, nv any
	var oerr, nerr error
	if len(old) > 0 {
		ov, oerr = decodeJSON(old)
	}
	if len(new) > 0 {
		nv, nerr = decodeJSON(new)
	}
	before := len(d.changes)
	if oerr == nil && nerr == nil {
		d.jsonLeaves(at, field, ov, nv, len(old) > 0, len(new) > 0)
	}
	if len(d.changes) == before {
		// Equal values spelt differently (key order) still differ in the
		// checksum, so they are still a change, shown whole.
		d.changed(at, field, diffRaw(old), diffRaw(new))
	}
}

func (d *differ) jsonLeaves(at Change, field string, old, new any, hasOld, hasNew bool) {
	if hasOld && hasNew {
		om, ok1 := old.(map[string]any)
		nm, ok2 := new.(map[string]any)
		if ok1 && ok2 {
			for _, k := range diffKeys(om, nm) {
				ov, inOld := om[k]
				nv, inNew := nm[k]
				d.jsonLeaves(at, field+"."+k, ov, nv, inOld, inNew)
			}
			return
		}
		oa, ok1 := old.([]any)
		na, ok2 := new.([]any)
		if ok1 && ok2 && len(oa) == len(na) {
			for i := range oa {
				d.jsonLeaves(at, field+"["+strconv.Itoa(i)+"]", oa[i], na[i], true, true)
			}
			return
		}
	}
	var o, n string
	if hasOld {
		o = diffJSON(old)
	}
	if hasNew {
		n = diffJSON(new)
	}
	d.changed(at, field, o, n)
}

func (d *differ) added(at Change, item any) {
	at.Kind, at.New = ChangeAdded, diffJSON(item)
	d.changes = append(d.changes, at)
}

func (d *differ) removed(at Change, item any) {
	at.Kind, at.Old = ChangeRemoved, diffJSON(item)
	d.changes = append(d.changes, at)
}

func (d *differ) moved(at Change, step diffStep) {
	if !step.Moved {
		return
	}
	at.Kind, at.Field = ChangeMoved, "position"
	at.Old, at.New = strconv.Itoa(step.Old+1), strconv.Itoa(step.New+1)
	d.changes = append(d.changes, at)
}

func (d *differ) definition(old, new *engine.Definition) {
	at := Change{Section: SectionDefinition}
	d.changed(at, "formatVersion", strconv.Itoa(old.FormatVersion), strconv.Itoa(new.FormatVersion))
	d.changed(at, "name", old.Name, new.Name)
	d.changed(at, "description", old.Description, new.Description)
	d.changed(at, "sla", slaText(old.SLA), slaText(new.SLA))
	d.changed(at, "limits.timeBudgetMs", timeBudgetText(old.Limits), timeBudgetText(new.Limits))
}

// timeBudgetText is a flow's own time budget; "" when it sets none.
func timeBudgetText(l *engine.FlowLimits) string {
	if l == nil || l.TimeBudgetMs == 0 {
		return ""
	}
	return strconv.Itoa(l.TimeBudgetMs) + " ms"
}

// slaText says an SLA target in words; "" when the definition sets none.
func slaText(s *engine.SLA) string {
	if s == nil {
		return ""
	}
	return strconv.FormatFloat(s.ObjectivePercent, 'f', -1, 64) + " % within " + strconv.Itoa(s.WithinSeconds) + " s"
}

func (d *differ) source(old, new engine.Source) {
	at := Change{Section: SectionSource}
	d.changed(at, "system", old.System, new.System)
	d.changed(at, "event", old.Event, new.Event)
	d.changed(at, "schema", diffRaw(old.Schema), diffRaw(new.Schema))
	d.changed(at, "enforce", strconv.FormatBool(old.Enforce), strconv.FormatBool(new.Enforce))
}

func (d *differ) samples(old, new []engine.Sample) {
	name := func(s engine.Sample) string { return s.Name }
	ids, steps := diffAlign(old, new, name)
	for _, st := range steps {
		at := Change{Section: SectionSamples, Path: ids[st.key()]}
		switch {
		case st.Old < 0:
			d.added(at, new[st.New])
		case st.New < 0:
			d.removed(at, old[st.Old])
		default:
			d.moved(at, st)
			d.changed(at, "payload", diffRaw(old[st.Old].Payload), diffRaw(new[st.New].Payload))
		}
	}
}

func (d *differ) keys(old, new engine.Keys) {
	at := Change{Section: SectionKeys}
	d.changed(at, "idempotency", old.Idempotency, new.Idempotency)
	d.changed(at, "correlation", old.Correlation, new.Correlation)
	d.changed(at, "channel", old.Channel, new.Channel)
	d.changed(at, "sequence", old.Sequence, new.Sequence)
	d.changed(at, "sequenceMode", string(old.SequenceMode), string(new.SequenceMode))
	d.changed(at, "customer", old.Customer, new.Customer)
	d.changed(at, "amount", old.Amount, new.Amount)
}

func (d *differ) validation(old, new []engine.Rule) {
	name := func(r engine.Rule) string { return r.Name }
	ids, steps := diffAlign(old, new, name)
	for _, st := range steps {
		at := Change{Section: SectionValidation, Path: ids[st.key()]}
		switch {
		case st.Old < 0:
			d.added(at, new[st.New])
		case st.New < 0:
			d.removed(at, old[st.Old])
		default:
			o, n := old[st.Old], new[st.New]
			d.moved(at, st)
			d.changed(at, "rule", o.Rule, n.Rule)
			d.changed(at, "message", o.Message, n.Message)
		}
	}
}

func (d *differ) lookups(old, new map[string]engine.Lookup) {
	for _, table := range diffKeys(old, new) {
		o, inOld := old[table]
		n, inNew := new[table]
		at := Change{Section: SectionLookups, Path: table}
		switch {
		case !inOld:
			d.added(at, n)
		case !inNew:
			d.removed(at, o)
		default:
			d.changed(at, "description", o.Description, n.Description)
			d.changed(at, "missing", o.Missing, n.Missing)
			d.changed(at, "default", diffRaw(o.Default), diffRaw(n.Default))
			for _, key := range diffKeys(o.Entries, n.Entries) {
				ov, inOld := o.Entries[key]
				nv, inNew := n.Entries[key]
				at := Change{Section: SectionLookups, Path: table + "[" + strconv.Quote(key) + "]"}
				switch {
				case !inOld:
					d.added(at, nv)
				case !inNew:
					d.removed(at, ov)
				default:
					d.changed(at, "", diffRaw(ov), diffRaw(nv))
				}
			}
		}
	}
}

func (d *differ) targets(old, new []engine.Target) {
	name := func(t engine.Target) string { return t.Name }
	ids, steps := diffAlign(old, new, name)
	for _, st := range steps {
		at := Change{Section: SectionTargets, Path: ids[st.key()]}
		switch {
		case st.Old < 0:
			d.added(at, new[st.New])
		case st.New < 0:
			d.removed(at, old[st.Old])
		default:
			o, n := old[st.Old], new[st.New]
			d.moved(at, st)
			d.changed(at, "kind", o.Kind, n.Kind)
			d.changed(at, "method", o.Method, n.Method)
			d.changed(at, "description", o.Description, n.Description)
		}
	}
}

func (d *differ) routes(old, new []engine.Route) {
	name := func(r engine.Route) string { return r.Name }
	ids, steps := diffAlign(old, new, name)
	for _, st := range steps {
		at := Change{Section: SectionRoutes, Route: ids[st.key()]}
		switch {
		case st.Old < 0:
			d.added(at, new[st.New])
		case st.New < 0:
			d.removed(at, old[st.Old])
		default:
			o, n := old[st.Old], new[st.New]
			d.moved(at, st)
			d.changed(at, "description", o.Description, n.Description)
			d.changed(at, "when", o.When, n.When)
			d.changed(at, "target", o.Target, n.Target)
			d.changed(at, "targetSchema", diffRaw(o.TargetSchema), diffRaw(n.TargetSchema))
			d.changed(at, "unmappedRequired", o.UnmappedRequired, n.UnmappedRequired)
			d.rows(at.Route, "", o.Mapping, n.Mapping)
			// The reply's rows are named "reply:<field>", apart from the
			// route's output fields.
			d.rows(at.Route, "reply:", o.Reply, n.Reply)
			d.steps(at.Route, o.Then, n.Then)
		}
	}
}

// steps compares the steps that follow a route or a step (after). A
// step's own changes are named by the step (step names are unique in a
// definition and differ from route names), its rows like a route's.
func (d *differ) steps(after string, old, new []engine.Step) {
	name := func(s engine.Step) string { return s.Name }
	ids, steps := diffAlign(old, new, name)
	for _, st := range steps {
		at := Change{Section: SectionRoutes, Route: ids[st.key()], Path: "after " + after}
		switch {
		case st.Old < 0:
			d.added(at, new[st.New])
		case st.New < 0:
			d.removed(at, old[st.Old])
		default:
			o, n := old[st.Old], new[st.New]
			d.moved(at, st)
			d.changed(at, "description", o.Description, n.Description)
			d.changed(at, "when", o.When, n.When)
			d.changed(at, "target", o.Target, n.Target)
			d.rows(at.Route, "", o.Mapping, n.Mapping)
			d.steps(at.Route, o.Then, n.Then)
		}
	}
}

// rows compares sibling mapping rows; prefix is the parent's output path
// followed by "." or "[]." ("" at the top of a route).
func (d *differ) rows(route, prefix string, old, new []engine.Row) {
	target := func(r engine.Row) string { return r.Target }
	ids, steps := diffAlign(old, new, target)
	for _, st := range steps {
		at := Change{Section: SectionMapping, Route: route, Path: prefix + ids[st.key()]}
		switch {
		case st.Old < 0:
			d.added(at, new[st.New])
		case st.New < 0:
			d.removed(at, old[st.Old])
		default:
			o, n := old[st.Old], new[st.New]
			d.moved(at, st)
			d.changed(at, "expr", o.Expr, n.Expr)
			d.changed(at, "value", diffRaw(o.Value), diffRaw(n.Value))
			d.changed(at, "forEach", o.ForEach, n.ForEach)
			d.changed(at, "as", o.As, n.As)
			d.changed(at, "index", o.Index, n.Index)
			d.changed(at, "filter", o.Filter, n.Filter)
			d.changed(at, "when", o.When, n.When)
			d.changed(at, "omitNull", strconv.FormatBool(o.OmitNull), strconv.FormatBool(n.OmitNull))
			d.changed(at, "note", o.Note, n.Note)
			// Children are named after the newer shape of the parent, so a
			// group that became a for-each shows its rows as items[].x.
			sep := "."
			if n.ForEach != "" {
				sep = "[]."
			}
			d.rows(route, at.Path+sep, o.Rows, n.Rows)
		}
	}
}

func (d *differ) tests(old, new []engine.TestCase) {
	name := func(t engine.TestCase) string { return t.Name }
	ids, steps := diffAlign(old, new, name)
	for _, st := range steps {
		at := Change{Section: SectionTests, Path: ids[st.key()]}
		switch {
		case st.Old < 0:
			d.added(at, new[st.New])
		case st.New < 0:
			d.removed(at, old[st.Old])
		default:
			o, n := old[st.Old], new[st.New]
			d.moved(at, st)
			d.changedJSON(at, "input", o.Input, n.Input)
			d.changed(at, "now", o.Now, n.Now)
			d.changed(at, "vars", diffOptional(len(o.Vars), o.Vars), diffOptional(len(n.Vars), n.Vars))
			oe, ne := o.Expect, n.Expect
			d.changed(at, "expect.key", diffOptional(diffPresent(oe.Key), oe.Key), diffOptional(diffPresent(ne.Key), ne.Key))
			d.changed(at, "expect.correlationId", diffOptional(diffPresent(oe.CorrelationID), oe.CorrelationID), diffOptional(diffPresent(ne.CorrelationID), ne.CorrelationID))
			d.changed(at, "expect.validation", diffOptional(len(oe.Validation), oe.Validation), diffOptional(len(ne.Validation), ne.Validation))
			d.changed(at, "expect.mappingError", diffMappingError(oe.MappingError), diffMappingError(ne.MappingError))
			// Expected outputs are compared per route and inside it field by
			// field: accepting a new output usually changes one value of one
			// route, and that is what the change shows.
			for _, route := range diffKeys(oe.Routes, ne.Routes) {
				d.changedJSON(at, "expect.routes."+route, oe.Routes[route], ne.Routes[route])
			}
			for _, step := range diffKeys(oe.Steps, ne.Steps) {
				d.changedJSON(at, "expect.steps."+step, oe.Steps[step], ne.Steps[step])
			}
			for _, name := range diffKeys(o.Responses, n.Responses) {
				or, oOK := o.Responses[name]
				nr, nOK := n.Responses[name]
				d.changedJSON(at, "responses."+name, diffResponse(or, oOK), diffResponse(nr, nOK))
			}
		}
	}
}

// diffStep is one item of an alignment: Old and New are its indexes in the
// older and newer list, -1 where it is absent.
type diffStep struct {
	Old, New int
	// Moved marks a matched item outside the longest run of items that
	// kept their relative order.
	Moved bool
}

// key returns where to find the item's identity: removed items only have
// an old index. Identities of old items are stored at ^index.
func (s diffStep) key() int {
	if s.New < 0 {
		return ^s.Old
	}
	return s.New
}

// diffAlign matches the items of two lists by identity and returns the
// identities (new items at their index, old-only items at ^index) and the
// steps in the newer list's order, each removed item right after the
// surviving item that preceded it in the older list.
func diffAlign[T any](old, new []T, identity func(T) string) (map[int]string, []diffStep) {
	oldIDs := diffOccurrences(old, identity)
	newIDs := diffOccurrences(new, identity)
	ids := make(map[int]string, len(old)+len(new))
	newAt := make(map[string]int, len(new))
	for i, id := range newIDs {
		newAt[id] = i
		ids[i] = id
	}
	oldAt := make(map[string]int, len(old))
	for i, id := range oldIDs {
		oldAt[id] = i
	}

	// The old indexes of matched items, in new order: the longest
	// increasing run of them is the largest set that did not move.
	var matchedNew, matchedOld, displacement []int
	for i, id := range newIDs {
		if j, ok := oldAt[id]; ok {
			matchedNew = append(matchedNew, i)
			matchedOld = append(matchedOld, j)
			displacement = append(displacement, max(i-j, j-i))
		}
	}
	stay := diffIncreasing(matchedOld, displacement)
	moved := make(map[int]bool)
	for k, i := range matchedNew {
		if !stay[k] {
			moved[i] = true
		}
	}

	// Removed items hang after the new index of the nearest earlier old
	// item that survived; -1 puts them first.
	removedAfter := make(map[int][]int)
	anchor := -1
	for j, id := range oldIDs {
		if i, ok := newAt[id]; ok {
			anchor = i
			continue
		}
		ids[^j] = id
		removedAfter[anchor] = append(removedAfter[anchor], j)
	}

	var steps []diffStep
	for _, j := range removedAfter[-1] {
		steps = append(steps, diffStep{Old: j, New: -1})
	}
	for i, id := range newIDs {
		j, ok := oldAt[id]
		if !ok {
			j = -1
		}
		steps = append(steps, diffStep{Old: j, New: i, Moved: moved[i]})
		for _, j := range removedAfter[i] {
			steps = append(steps, diffStep{Old: j, New: -1})
		}
	}
	return ids, steps
}

// diffOccurrences returns each item's identity, suffixing repeats with #2,
// #3… so that duplicates (which the engine refuses to compile, but a draft
// may hold) are matched by occurrence instead of colliding.
func diffOccurrences[T any](items []T, identity func(T) string) []string {
	seen := make(map[string]int, len(items))
	ids := make([]string, len(items))
	for i, it := range items {
		id := identity(it)
		seen[id]++
		if n := seen[id]; n > 1 {
			id += "#" + strconv.Itoa(n)
		}
		ids[i] = id
	}
	return ids
}

// diffIncreasing marks the members of one longest strictly increasing
// subsequence of seq: the largest set of items that kept their order. Of
// several equally long ones it keeps the one whose items moved least
// (displacement[k] is how far item k's index changed), so that of two
// swapped rows the one that stayed in place is not called moved. O(n²),
// which is nothing next to rendering a few hundred rows.
func diffIncreasing(seq, displacement []int) []bool {
	length := make([]int, len(seq))
	cost := make([]int, len(seq))
	prev := make([]int, len(seq))
	best := -1
	better := func(l, c, i int) bool { return l > length[i] || l == length[i] && c < cost[i] }
	for i := range seq {
		length[i], cost[i], prev[i] = 1, displacement[i], -1
		for j := range i {
			if seq[j] < seq[i] && better(length[j]+1, cost[j]+displacement[i], i) {
				length[i], cost[i], prev[i] = length[j]+1, cost[j]+displacement[i], j
			}
		}
		if best < 0 || better(length[i], cost[i], best) {
			best = i
		}
	}
	in := make([]bool, len(seq))
	for i := best; i >= 0; i = prev[i] {
		in[i] = true
	}
	return in
}

// diffKeys returns the keys of both maps, sorted.
func diffKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// diffRaw returns a JSON value as compact text, "" when absent. Compacting
// makes whitespace alone no change, as in the canonical form; key order
// inside a value does count, as it does for the checksum.
func diffRaw(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// diffJSON returns v as compact JSON without HTML escaping, so expressions
// with < > & stay readable, as in the canonical form.
func diffJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// diffOptional returns v as JSON when present (n > 0), "" when absent, so
// that an absent field and an empty one read the same, as omitempty makes
// them in the canonical form.
func diffOptional(n int, v any) string {
	if n == 0 {
		return ""
	}
	return diffJSON(v)
}

// diffMappingError is an expected mapping failure as JSON, "" when none is
// expected.
func diffMappingError(m *engine.MappingErrorExpectation) string {
	if m == nil {
		return ""
	}
	return diffJSON(m)
}

// diffPresent is 1 for a non-nil pointer: an expected key of "" is a real
// expectation, unlike an absent one.
func diffPresent(p *string) int {
	if p == nil {
		return 0
	}
	return 1
}

// diffResponse is a test case's recorded response as JSON, nil when the
// case has none of that name.
func diffResponse(r engine.Response, ok bool) json.RawMessage {
	if !ok {
		return nil
	}
	b, _ := json.Marshal(r)
	return b
}
