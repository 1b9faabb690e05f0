package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

var lookupName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

// maxLookupCSVBytes caps an uploaded table.
const maxLookupCSVBytes = 1 << 20

func (s *Server) lookupFromPath(c *fiber.Ctx) (mappings.Flow, mappings.Draft, string, engine.Lookup, error) {
	f, err := s.flowFromPath(c)
	if err != nil {
		return f, mappings.Draft{}, "", engine.Lookup{}, err
	}
	d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
	if err != nil {
		return f, d, "", engine.Lookup{}, err
	}
	name := c.Params("name")
	lk, ok := d.Definition.Lookups[name]
	if !ok {
		return f, d, name, lk, fault.Errorf(fault.NotFound, "the draft has no lookup table “%s”", name)
	}
	return f, d, name, lk, nil
}

// flowLookup shows one lookup table's rows for editing.
func (s *Server) flowLookup() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, d, name, lk, err := s.lookupFromPath(c)
		if err != nil {
			return err
		}
		return s.renderLookup(c, f, d, name, lk, "")
	}
}

func (s *Server) renderLookup(c *fiber.Ctx, f mappings.Flow, d mappings.Draft, name string, lk engine.Lookup, msg string) error {
	v := view.LookupView{
		Flow: view.FlowHeader{Slug: f.Slug, Name: f.Name, Revision: d.Revision},
		Name: name, Description: lk.Description, Missing: lk.Missing, Default: valueText(lk.Default),
		CanEdit: canEditFlows(c), Error: msg,
	}
	keys := make([]string, 0, len(lk.Entries))
	for k := range lk.Entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Rows = append(v.Rows, view.LookupRow{Key: k, Value: valueText(lk.Entries[k])})
	}
	return s.render(c, view.LookupPage(s.page(c, f.Name+" "+name, "flows"), v))
}

// valueText shows a JSON string as plain text and anything else as JSON.
func valueText(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// textValue is valueText's inverse: text starting with { or [ is JSON.
func textValue(text string) (json.RawMessage, error) {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		if !json.Valid([]byte(t)) {
			return nil, fmt.Errorf("“%s” starts like JSON but is not valid JSON", shorten(t, 60))
		}
		return json.RawMessage(t), nil
	}
	raw, _ := json.Marshal(text)
	return raw, nil
}

// flowLookupSave replaces a table's rows and settings from the form.
func (s *Server) flowLookupSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, d, name, lk, err := s.lookupFromPath(c)
		if err != nil {
			return err
		}
		base, err := formRevision(c)
		if err != nil {
			return err
		}
		var keys, values []string
		c.Request().PostArgs().VisitAll(func(k, v []byte) {
			switch string(k) {
			case "key":
				keys = append(keys, string(v))
			case "value":
				values = append(values, string(v))
			}
		})
		if len(keys) != len(values) {
			return &fault.Error{Code: fault.Invalid, Message: "every row needs a key and a value field; reload the page"}
		}
		entries := map[string]json.RawMessage{}
		for i, k := range keys {
			k = strings.TrimSpace(k)
			if k == "" {
				continue
			}
			if _, dup := entries[k]; dup {
				return s.renderLookup(c.Status(fiber.StatusUnprocessableEntity), f, d, name, lk, fmt.Sprintf("The key “%s” appears twice; a cross-reference must be unambiguous. Nothing was saved.", k))
			}
			v, err := textValue(values[i])
			if err != nil {
				return s.renderLookup(c.Status(fiber.StatusUnprocessableEntity), f, d, name, lk, fmt.Sprintf("Row “%s”: %v. Nothing was saved.", k, err))
			}
			entries[k] = v
		}
		lk.Description = strings.TrimSpace(c.FormValue("description"))
		lk.Missing = engine.MissingError
		lk.Default = nil
		if c.FormValue("missing") == engine.MissingDefault {
			lk.Missing = engine.MissingDefault
			if lk.Default, err = textValue(c.FormValue("default")); err != nil {
				return s.renderLookup(c.Status(fiber.StatusUnprocessableEntity), f, d, name, lk, "Default value: "+err.Error()+".")
			}
		}
		lk.Entries = entries
		return s.saveLookup(c, f, d, base, name, lk, "flow.lookup_save")
	}
}

func (s *Server) saveLookup(c *fiber.Ctx, f mappings.Flow, d mappings.Draft, base int, name string, lk engine.Lookup, action string) error {
	def := *d.Definition
	def.Lookups = map[string]engine.Lookup{}
	for k, v := range d.Definition.Lookups {
		def.Lookups[k] = v
	}
	def.Lookups[name] = lk
	if _, err := s.saveDraft(c, f, base, &def, action, name); err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Saved lookup table %s (%d rows).", name, len(lk.Entries)))
	return c.Redirect("/flows/"+f.Slug+"/lookups/"+name, fiber.StatusSeeOther)
}

// flowLookupCSVImport replaces a table's rows with an uploaded CSV.
func (s *Server) flowLookupCSVImport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, d, name, lk, err := s.lookupFromPath(c)
		if err != nil {
			return err
		}
		base, err := formRevision(c)
		if err != nil {
			return err
		}
		fh, err := c.FormFile("file")
		if err != nil {
			return &fault.Error{Code: fault.Invalid, Message: "choose a CSV file to import"}
		}
		if fh.Size > maxLookupCSVBytes {
			return fault.Errorf(fault.Invalid, "the file is %d KB; a lookup CSV may be at most %d KB", fh.Size/1024, maxLookupCSVBytes/1024)
		}
		file, err := fh.Open()
		if err != nil {
			return err
		}
		defer file.Close()
		read, err := engine.ReadLookupCSV(file)
		if err != nil {
			return s.renderLookup(c.Status(fiber.StatusUnprocessableEntity), f, d, name, lk, "The CSV was not imported: "+err.Error()+".")
		}
		lk.Entries = read.Entries
		return s.saveLookup(c, f, d, base, name, lk, "flow.lookup_import")
	}
}

// flowLookupCSVExport downloads a table as CSV: key,value for plain values,
// key plus one column per record field for records.
func (s *Server) flowLookupCSVExport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, _, name, lk, err := s.lookupFromPath(c)
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(lk.Entries))
		records := true
		fieldSet := map[string]bool{}
		for k, v := range lk.Entries {
			keys = append(keys, k)
			var rec map[string]any
			if json.Unmarshal(v, &rec) != nil || rec == nil {
				records = false
				continue
			}
			for fk := range rec {
				fieldSet[fk] = true
			}
		}
		sort.Strings(keys)
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		if records && len(keys) > 0 {
			fields := make([]string, 0, len(fieldSet))
			for fk := range fieldSet {
				fields = append(fields, fk)
			}
			sort.Strings(fields)
			_ = w.Write(append([]string{"key"}, fields...))
			for _, k := range keys {
				var rec map[string]json.RawMessage
				_ = json.Unmarshal(lk.Entries[k], &rec)
				row := []string{k}
				for _, fk := range fields {
					row = append(row, valueText(rec[fk]))
				}
				_ = w.Write(row)
			}
		} else {
			_ = w.Write([]string{"key", "value"})
			for _, k := range keys {
				_ = w.Write([]string{k, valueText(lk.Entries[k])})
			}
		}
		w.Flush()
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.%s.csv"`, f.Slug, name))
		return c.Send(buf.Bytes())
	}
}

// flowLookupCreate adds an empty lookup table to the draft.
func (s *Server) flowLookupCreate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		name := strings.TrimSpace(c.FormValue("name"))
		if !lookupName.MatchString(name) {
			return &fault.Error{Code: fault.Invalid, Message: "a lookup table's name starts with a letter and has only letters, digits and _ (it is used in expressions: lookup(\"name\", key))", Fields: map[string]string{"name": "letters, digits, _"}}
		}
		d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		if _, exists := d.Definition.Lookups[name]; exists {
			return fault.Errorf(fault.Conflict, "the draft already has a lookup table “%s”", name)
		}
		return s.saveLookup(c, f, d, base, name, engine.Lookup{Missing: engine.MissingError, Entries: map[string]json.RawMessage{}}, "flow.lookup_create")
	}
}
