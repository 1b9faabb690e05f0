package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// flowEditors may change drafts and publish; everyone else reads.
var flowEditors = []account.Role{account.RoleAdmin, account.RoleAnalyst}

func canEditFlows(c *fiber.Ctx) bool {
	u := userOf(c)
	return u != nil && u.Can(flowEditors...)
}

func editorOf(c *fiber.Ctx) mappings.Editor {
	u := userOf(c)
	if u == nil {
		if k := apiKeyOf(c); k != nil {
			return mappings.Editor{Email: "apikey " + k.Prefix}
		}
		return mappings.Editor{}
	}
	return mappings.Editor{UserID: u.ID, Email: u.Email}
}

func (s *Server) flowFromPath(c *fiber.Ctx) (mappings.Flow, error) {
	return mappings.FlowBySlug(c.UserContext(), s.deps.DB, c.Params("slug"))
}

// flowForChange returns the flow in the path and the draft revision the
// submitted form was rendered with.
func (s *Server) flowForChange(c *fiber.Ctx) (mappings.Flow, int, error) {
	f, err := s.flowFromPath(c)
	if err != nil {
		return f, 0, err
	}
	base, err := formRevision(c)
	return f, base, err
}

// flowWithDraft returns the flow in the path and its saved draft.
func (s *Server) flowWithDraft(c *fiber.Ctx) (mappings.Flow, mappings.Draft, error) {
	f, err := s.flowFromPath(c)
	if err != nil {
		return f, mappings.Draft{}, err
	}
	d, err := mappings.DraftGet(c.UserContext(), s.deps.DB, f.ID)
	return f, d, err
}

// formRevision reads the draft revision a form was rendered with.
func formRevision(c *fiber.Ctx) (int, error) {
	rev, err := strconv.ParseInt(c.FormValue("revision"), 10, 32)
	if err != nil || rev < 1 {
		return 0, &fault.Error{Code: fault.Invalid, Message: "the form lacks the draft revision it was based on; reload the designer",
			Fields: map[string]string{"revision": "the draft revision the form was rendered with"}}
	}
	return int(rev), nil
}

func formSample(c *fiber.Ctx) int {
	n, _ := strconv.Atoi(c.FormValue("sample", c.Query("sample")))
	return n
}

// formEdits collects the designer's fields, each named "f:" + JSON pointer.
func formEdits(c *fiber.Ctx) []mappings.Edit {
	var edits []mappings.Edit
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		if name := string(k); strings.HasPrefix(name, "f:") {
			edits = append(edits, mappings.Edit{Pointer: name[2:], Value: string(v)})
		}
	})
	return edits
}

func prettyDefinition(def *engine.Definition) ([]byte, error) {
	raw, err := def.Canonical()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// flowURL links to the designer with the sample to select. It always
// names the sample, even the first: the designer without one selects the
// sample the analyst last chose for this flow.
func flowURL(slug string, sample int) string {
	return fmt.Sprintf("/flows/%s?sample=%d", slug, sample)
}
