package web

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// pickValue is the value of a route's map and map-each operations: the
// destination path the button names, and the source path chosen in the
// route's source pane (pick:/routes/N). Fields are the names of a source
// list's item fields, which map-each pairs with the destination's.
type pickValue struct {
	Source *string  `json:"source,omitempty"`
	Target string   `json:"target"`
	Fields []string `json:"fields,omitempty"`
}

// formPicks are the source fields chosen in the routes' source panes, by
// route pointer.
func formPicks(c *fiber.Ctx) map[string]string {
	picks := map[string]string{}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		if name, ok := strings.CutPrefix(string(k), "pick:"); ok && len(v) > 0 {
			picks[name] = string(v)
		}
	})
	return picks
}

// buttonOp reads the pressed button's operation and completes those that
// take more from the form: map and map-each take the source field chosen
// in the route's source pane (an "Add row" button says source "" itself:
// a placeholder row), map-each the names of its items' fields, and
// infer-target-schema the route's example output.
func buttonOp(c *fiber.Ctx, def *engine.Definition) (draftOp, error) {
	op, err := parseButtonOp(c.FormValue("op", "save"))
	if err != nil {
		return op, err
	}
	switch op.Op {
	case "map", "map-each":
		var v pickValue
		if len(op.Value) > 0 {
			if err := json.Unmarshal(op.Value, &v); err != nil {
				return op, &fault.Error{Code: fault.Invalid, Message: "the " + op.Op + " operation is not readable: " + err.Error()}
			}
		}
		if v.Source == nil {
			picked := c.FormValue("pick:" + op.Path)
			if picked == "" {
				what := "field"
				if op.Op == "map-each" {
					what = "list"
				}
				return op, &fault.Error{Code: fault.Invalid, Message: "choose a source " + what + " on the left first, then the destination " + v.Target}
			}
			v.Source = &picked
		}
		if op.Op == "map-each" && v.Fields == nil {
			v.Fields = itemFieldNames(sourceNodes(def, formSample(c)), *v.Source)
		}
		op.Value, _ = json.Marshal(v)
	case "infer-target-schema":
		op.Value, _ = json.Marshal(c.FormValue("example:" + op.Path))
	}
	return op, nil
}

// pickOp performs map, map-each and infer-target-schema on def.
func pickOp(def *engine.Definition, op draftOp) (*engine.Definition, error) {
	if op.Op == "infer-target-schema" {
		var example string
		if len(op.Value) > 0 {
			if err := json.Unmarshal(op.Value, &example); err != nil {
				return nil, &fault.Error{Code: fault.Invalid, Message: "the example output must be sent as text: " + err.Error()}
			}
		}
		return mappings.WithInferredTargetSchema(def, op.Path, json.RawMessage(example))
	}
	var v pickValue
	if err := json.Unmarshal(op.Value, &v); err != nil {
		return nil, &fault.Error{Code: fault.Invalid, Message: "the " + op.Op + " operation needs {\"target\": …, \"source\": …}"}
	}
	source := ""
	if v.Source != nil {
		source = *v.Source
	}
	if op.Op == "map-each" {
		return mappings.MapEach(def, op.Path, source, v.Target, v.Fields)
	}
	return mappings.MapField(def, op.Path, source, v.Target)
}
