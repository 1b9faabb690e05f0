package web

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// FlowJSON is a flow in the management API.
type FlowJSON struct {
	Slug           string    `json:"slug"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	SourceSystem   string    `json:"sourceSystem"`
	LatestVersion  int       `json:"latestVersion"`
	DraftRevision  int       `json:"draftRevision"`
	DraftUpdatedAt time.Time `json:"draftUpdatedAt"`
	DraftUpdatedBy string    `json:"draftUpdatedBy"`
}

func flowJSON(f mappings.Flow) FlowJSON {
	return FlowJSON{Slug: f.Slug, Name: f.Name, Description: f.Description, SourceSystem: f.SourceSystem,
		LatestVersion: f.LatestVersion, DraftRevision: f.DraftRevision, DraftUpdatedAt: f.DraftUpdatedAt, DraftUpdatedBy: f.DraftUpdatedBy}
}

// DraftJSON is a flow's draft: its revision (the concurrency token) and
// definition.
type DraftJSON struct {
	Revision   int                `json:"revision"`
	UpdatedBy  string             `json:"updatedBy,omitempty"`
	UpdatedAt  time.Time          `json:"updatedAt,omitzero"`
	Definition *engine.Definition `json:"definition"`
}

// VersionJSON is a published version; Definition only when one is fetched.
type VersionJSON struct {
	Number     int                `json:"number"`
	Checksum   string             `json:"checksum"`
	Note       string             `json:"note"`
	Author     string             `json:"author"`
	CreatedAt  time.Time          `json:"createdAt"`
	Definition *engine.Definition `json:"definition,omitempty"`
	// Warnings are, in the answer to publishing, what it went ahead
	// despite (mappings.Warnings).
	Warnings []engine.Diagnostic `json:"warnings,omitempty"`
}

func versionJSON(v mappings.Version) VersionJSON {
	return VersionJSON{Number: v.Number, Checksum: v.Checksum, Note: v.Note, Author: v.AuthorEmail, CreatedAt: v.CreatedAt, Definition: v.Definition}
}

func (s *Server) apiFlowList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		flows, err := mappings.FlowList(c.UserContext(), s.deps.DB, mappings.FlowFilter{Search: c.Query("q"), SourceSystem: c.Query("system")})
		if err != nil {
			return err
		}
		out := []FlowJSON{}
		key := apiKeyOf(c)
		for _, f := range flows {
			if key == nil || key.AllowsFlow(f.Slug) {
				out = append(out, flowJSON(f))
			}
		}
		return c.JSON(fiber.Map{"flows": out})
	}
}

func (s *Server) apiFlowGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		return c.JSON(flowJSON(f))
	}
}

func (s *Server) apiDraftGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		_, d, err := s.flowWithDraft(c)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, strconv.Quote(strconv.Itoa(d.Revision)))
		return c.JSON(DraftJSON{Revision: d.Revision, UpdatedBy: d.UpdatedByEmail, UpdatedAt: d.UpdatedAt, Definition: d.Definition})
	}
}

// apiDraftPut replaces the draft. The body is {"revision": N, "definition":
// {...}}; the revision (or an If-Match header) must be the current one.
func (s *Server) apiDraftPut() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		var body struct {
			Revision   int             `json:"revision"`
			Definition json.RawMessage `json:"definition"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil {
			return fault.Errorf(fault.Invalid, "the body must be JSON {\"revision\": N, \"definition\": {...}}: %v", err)
		}
		if m := c.Get(fiber.HeaderIfMatch); m != "" && body.Revision == 0 {
			unq, _ := strconv.Unquote(m)
			body.Revision, _ = strconv.Atoi(unq)
		}
		if body.Revision < 1 {
			return &fault.Error{Code: fault.Invalid, Message: "send the revision the draft was read at (\"revision\" in the body or If-Match), so nobody's changes are overwritten", Fields: map[string]string{"revision": "required"}}
		}
		if err := checkRevision("revision", body.Revision); err != nil {
			return err
		}
		if len(body.Definition) == 0 {
			return &fault.Error{Code: fault.Invalid, Message: "the body has no \"definition\"", Fields: map[string]string{"definition": "required"}}
		}
		if err := engine.CheckSize(body.Definition); err != nil {
			return err
		}
		var def engine.Definition
		if err := json.Unmarshal(body.Definition, &def); err != nil {
			return fault.Errorf(fault.Invalid, "the definition does not fit the format (docs/definition-format.md): %v", err)
		}
		saved, err := s.saveDraft(c, f, body.Revision, &def, "flow.draft_save", "api")
		if err != nil {
			return err
		}
		_, diags := compileForPreview(saved.Definition, true)
		c.Set(fiber.HeaderETag, strconv.Quote(strconv.Itoa(saved.Revision)))
		return c.JSON(fiber.Map{"revision": saved.Revision, "diagnostics": nonNil(diags)})
	}
}

func (s *Server) apiPublish() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		var body struct {
			Revision int    `json:"revision"`
			Note     string `json:"note"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil {
			return fault.Errorf(fault.Invalid, "the body must be JSON {\"revision\": N, \"note\": \"…\"}: %v", err)
		}
		if err := checkRevision("revision", body.Revision); err != nil {
			return err
		}
		v, err := s.publish(c, f, body.Revision, body.Note)
		if err != nil {
			return err
		}
		out := versionJSON(v)
		out.Warnings = mappings.Warnings(v.Definition)
		return c.Status(fiber.StatusCreated).JSON(out)
	}
}

func (s *Server) apiVersionList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		vs, err := mappings.VersionList(c.UserContext(), s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		out := make([]VersionJSON, len(vs))
		for i, v := range vs {
			out[i] = versionJSON(v)
		}
		return c.JSON(fiber.Map{"versions": out})
	}
}

func (s *Server) apiVersionGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		n, err := parseVersionNumber("n", c.Params("n"))
		if err != nil {
			return err
		}
		v, err := mappings.VersionGet(c.UserContext(), s.deps.DB, f.ID, n)
		if err != nil {
			return err
		}
		return c.JSON(versionJSON(v))
	}
}

// apiDiff compares ?a= and ?b= (version numbers or "draft").
func (s *Server) apiDiff() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		if c.Query("a") == "" || c.Query("b") == "" {
			return &fault.Error{Code: fault.Invalid, Message: "name the two sides: ?a=1&b=2 (version numbers or draft)"}
		}
		a, err := s.definitionAt(c, f, "a", c.Query("a"))
		if err != nil {
			return err
		}
		b, err := s.definitionAt(c, f, "b", c.Query("b"))
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"a": c.Query("a"), "b": c.Query("b"), "changes": nonNil(mappings.Diff(a, b).Changes)})
	}
}

// apiPreview runs a definition (the body's, else the saved draft) on a
// payload: {"payload": {...}, "definition": {...}?, "vars": {...}?,
// "now": "RFC 3339"?}. Nothing is stored.
func (s *Server) apiPreview() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		var body struct {
			Payload    json.RawMessage   `json:"payload"`
			Definition json.RawMessage   `json:"definition"`
			Vars       map[string]string `json:"vars"`
			Now        string            `json:"now"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil {
			return fault.Errorf(fault.Invalid, "the body must be JSON {\"payload\": {...}}: %v", err)
		}
		if len(body.Payload) == 0 {
			return &fault.Error{Code: fault.Invalid, Message: "the body has no \"payload\" to map", Fields: map[string]string{"payload": "required"}}
		}
		var def *engine.Definition
		if len(body.Definition) > 0 && string(body.Definition) != "null" {
			// Compile checks the limits again, before parsing any
			// expression; the size is checked here, before decoding.
			if err := engine.CheckSize(body.Definition); err != nil {
				return err
			}
			def = new(engine.Definition)
			if err := json.Unmarshal(body.Definition, def); err != nil {
				return fault.Errorf(fault.Invalid, "the definition does not fit the format (docs/definition-format.md): %v", err)
			}
		}
		if def == nil {
			d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
			if err != nil {
				return err
			}
			def = d.Definition
		}
		now := s.deps.Now()
		if body.Now != "" {
			if now, err = time.Parse(time.RFC3339, body.Now); err != nil {
				return fault.Errorf(fault.Invalid, "\"now\" must be an RFC 3339 time such as 2026-03-14T09:30:00Z: %v", err)
			}
		}
		if body.Vars == nil {
			body.Vars = previewVars(def)
		}
		prog, err := engine.Compile(def, engine.Options{})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
		defer cancel()
		res, err := prog.Run(ctx, engine.Input{Payload: body.Payload, Now: now, Vars: body.Vars, Trace: true, MapInvalid: true})
		if err != nil {
			return fault.Wrap(err, fault.Invalid, "the payload cannot be mapped: "+err.Error())
		}
		return c.JSON(res)
	}
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
