package web

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// flowDesigner shows the saved draft in the designer, with live values for
// the sample chosen in the query string or, without one, the sample last
// chosen for this flow in this session: coming back from a lookup table,
// the versions page or a reload keeps the analyst's place.
func (s *Server) flowDesigner() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, d, err := s.flowWithDraft(c)
		if err != nil {
			return err
		}
		key := sessionSamplePrefix + f.Slug
		sample := s.deps.Sessions.GetInt(c.UserContext(), key)
		if c.Query("sample") != "" {
			if chosen := c.QueryInt("sample"); chosen != sample {
				sample = chosen
				s.deps.Sessions.Put(c.UserContext(), key, sample)
			}
		}
		return s.renderDesigner(c, designerState{flow: f, revision: d.Revision, def: d.Definition, sample: sample}, nil)
	}
}

// renderDesigner renders the whole page; decorate may add a notice, an
// error or a conflict to the view model. A definition over the limits
// checked before parsing (stored before they existed) is shown read-only
// with what is wrong: no save of it could succeed.
func (s *Server) renderDesigner(c *fiber.Ctx, st designerState, decorate func(*view.Designer)) error {
	overLimits := engine.CheckLimits(st.def)
	st.canEdit = canEditFlows(c) && overLimits == nil
	st.kinds = s.targetKinds()
	if st.now.IsZero() {
		st.now = s.deps.Now()
	}
	formats, err := release.FlowTargetFormats(c.UserContext(), s.deps.DB, st.flow.ID)
	if err != nil {
		return err
	}
	st.formats = formats
	d := buildDesigner(c.UserContext(), st)
	if decorate != nil {
		decorate(&d)
	}
	if overLimits != nil {
		d.Error = "This draft is read-only: it breaks the limits checked before expressions are parsed. " +
			overLimits.Error() + " Restore a version under Versions, or replace the draft through PUT /api/v1/flows/" + st.flow.Slug + "/draft."
	}
	p := s.page(c, st.flow.Name, "flows")
	p.Assets.Editor = s.deps.Assets.URL("js/editor.min.js")
	return s.render(c, view.DesignerPage(p, d))
}

// flowPreview is the live preview: the draft with the page's unsaved
// operations and typed-in fields applied, compiled and run on the selected
// sample. It answers with out-of-band fragments (view.PreviewParts), so
// nothing else on the page (focus, caret, half-typed text) is disturbed,
// and only those the page does not show already: each fragment carries a
// digest of itself (data-v), the page sends the digests it shows ("shown"),
// and a fragment whose digest is among them is left out. A keystroke
// changes a few of a hundred or more, and the page parses and morphs only
// those.
func (s *Server) flowPreview() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, d, err := s.flowWithDraft(c)
		if err != nil {
			return err
		}
		// Half-typed JSON (a constant, the schema) is normal while typing:
		// the preview runs without it and says why in its cell.
		st, err := working(c, d.Definition)
		if err != nil {
			return err
		}
		formats, err := release.FlowTargetFormats(c.UserContext(), s.deps.DB, f.ID)
		if err != nil {
			return err
		}
		model := buildDesigner(c.UserContext(), designerState{flow: f, revision: d.Revision, def: st.def, sample: formSample(c), canEdit: canEditFlows(c), now: s.deps.Now(), preview: true, kept: st.kept, kinds: s.targetKinds(), formats: formats})
		return s.renderChanged(c, view.PreviewParts(model), strings.Fields(c.FormValue("shown")))
	}
}

// renderChanged writes each part that is not among the digests shown, with
// its digest as the data-v attribute of its outer element (every part is a
// <div>).
func (s *Server) renderChanged(c *fiber.Ctx, parts []templ.Component, shown []string) error {
	seen := make(map[string]bool, len(shown))
	for _, v := range shown {
		seen[v] = true
	}
	c.Type("html", "utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	w := c.Response().BodyWriter()
	var buf bytes.Buffer
	for _, p := range parts {
		buf.Reset()
		if err := p.Render(c.UserContext(), &buf); err != nil {
			return err
		}
		html := buf.Bytes()
		h := fnv.New64a()
		h.Write(html)
		v := strconv.FormatUint(h.Sum64(), 36)
		if seen[v] {
			continue
		}
		rest, ok := bytes.CutPrefix(html, []byte("<div "))
		if !ok {
			return fmt.Errorf("preview part does not start with <div: %.40q", html)
		}
		if _, err := fmt.Fprintf(w, `<div data-v="%s" `, v); err != nil {
			return err
		}
		if _, err := w.Write(rest); err != nil {
			return err
		}
	}
	return nil
}

// compileSaved compiles a saved definition for actions that need a program
// (saving a test case, running the tests).
func compileSaved(def *engine.Definition) (*engine.Program, error) {
	return engine.Compile(def, engine.Options{})
}
