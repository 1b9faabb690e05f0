package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// maxSampleBytes caps one sample payload.
const maxSampleBytes = 512 << 10

// flowSampleAdd adds a named sample payload, pasted or uploaded, to the
// draft and selects it. An XML or CSV sample (sample_format) is converted
// when it is saved, as the trigger converts such bodies: the draft holds
// the JSON the flow sees; a CSV sample is one sample per row.
func (s *Server) flowSampleAdd() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, base, err := s.flowForChange(c)
		if err != nil {
			return err
		}
		name := strings.TrimSpace(c.FormValue("name"))
		if name == "" {
			return &fault.Error{Code: fault.Invalid, Message: "give the sample a name, e.g. “order with two lines”"}
		}
		payload := []byte(c.FormValue("payload"))
		if fh, ferr := c.FormFile("file"); ferr == nil && fh.Size > 0 {
			if fh.Size > maxSampleBytes {
				return fault.Errorf(fault.Invalid, "the file is %d KB; a sample may be at most %d KB", fh.Size/1024, maxSampleBytes/1024)
			}
			file, err := fh.Open()
			if err != nil {
				return err
			}
			defer file.Close()
			if payload, err = io.ReadAll(io.LimitReader(file, maxSampleBytes+1)); err != nil {
				return err
			}
		}
		payload = bytes.TrimSpace(payload)
		if len(payload) == 0 {
			return &fault.Error{Code: fault.Invalid, Message: "paste the sample's JSON, XML or CSV, or choose a file"}
		}
		if len(payload) > maxSampleBytes {
			return fault.Errorf(fault.Invalid, "the sample is larger than %d KB", maxSampleBytes/1024)
		}
		d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		def := *d.Definition
		payloads, err := samplePayloads(c.FormValue("sample_format"), payload, engine.MaxSamples-len(def.Source.Samples))
		if err != nil {
			return err
		}
		def.Source.Samples = append([]engine.Sample(nil), def.Source.Samples...)
		for i, p := range payloads {
			n := name
			if i > 0 {
				n = fmt.Sprintf("%s (row %d)", name, i+1)
			}
			def.Source.Samples = append(def.Source.Samples, engine.Sample{Name: n, Payload: p})
		}
		if _, err := s.saveDraft(c, f, base, &def, "flow.sample_add", name); err != nil {
			return err
		}
		if len(payloads) > 1 {
			s.flash(c, fmt.Sprintf("Added %d samples, “%s” and one more per CSV row.", len(payloads), name))
			return c.Redirect(flowURL(f.Slug, len(def.Source.Samples)-len(payloads)), fiber.StatusSeeOther)
		}
		s.flash(c, fmt.Sprintf("Added sample “%s”.", name))
		return c.Redirect(flowURL(f.Slug, len(def.Source.Samples)-1), fiber.StatusSeeOther)
	}
}

// samplePayloads is a pasted or uploaded sample as the JSON payloads the
// flow sees: JSON as it is, XML read as the trigger reads it, CSV one
// payload per row (at most room).
func samplePayloads(kind string, payload []byte, room int) ([][]byte, error) {
	switch kind {
	case "xml":
		p, err := format.DecodeXML(payload)
		if err != nil {
			return nil, &fault.Error{Code: fault.Invalid, Message: "the sample is not XML Crossdock reads: " + err.Error(), Err: err}
		}
		return [][]byte{p}, nil
	case "csv":
		rows, err := format.DecodeCSV(payload, max(room, 1))
		if errors.Is(err, format.ErrTooManyRows) {
			return nil, fault.Errorf(fault.Invalid, "the CSV has more rows than the draft has room for as samples (%d); keep the rows you need", room)
		}
		if err != nil {
			return nil, &fault.Error{Code: fault.Invalid, Message: "the sample is not CSV Crossdock reads: " + err.Error(), Err: err}
		}
		return rows, nil
	case "", "json":
		if !json.Valid(payload) {
			var v any
			err := json.Unmarshal(payload, &v)
			return nil, fault.Errorf(fault.Invalid, "the sample is not valid JSON: %v (an XML or CSV sample needs its format chosen)", err)
		}
		return [][]byte{payload}, nil
	}
	return nil, fault.Errorf(fault.Invalid, "the sample's format is json, xml or csv, not “%s”", kind)
}
