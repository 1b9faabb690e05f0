package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web/view"
)

const auditPageSize = 50

// auditList shows the audit log, newest first, filtered by the query string
// so a filtered view can be shared as a link.
func (s *Server) auditList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		f := view.AuditFilter{Action: c.Query("action"), Actor: c.Query("actor"), Target: c.Query("target")}
		before, err := parseCursorID("before", c.Query("before"))
		if err != nil {
			return err
		}
		entries, err := account.AuditList(c.UserContext(), s.deps.DB, account.AuditFilter{
			Action: f.Action, Actor: f.Actor, Target: f.Target, BeforeID: before, Limit: auditPageSize,
		})
		if err != nil {
			return err
		}
		rows := make([]view.AuditRow, len(entries))
		for i, e := range entries {
			target := e.TargetType
			if e.TargetID != "" {
				target += " " + e.TargetID
			}
			rows[i] = view.AuditRow{
				ID: e.ID, At: when(e.At), Actor: e.ActorEmail, Action: e.Action,
				Target: target, TargetHref: auditTargetHref(e.TargetType, e.TargetID), Before: prettyJSON(e.Before), After: prettyJSON(e.After), RequestID: e.RequestID, Address: e.Address,
			}
		}
		next := ""
		if len(entries) == auditPageSize {
			q := url.Values{}
			for k, v := range map[string]string{"action": f.Action, "actor": f.Actor, "target": f.Target} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("before", fmt.Sprint(entries[len(entries)-1].ID))
			next = "/admin/audit?" + q.Encode()
		}
		return s.render(c, view.AuditPage(s.page(c, "Audit log", "admin-audit"), f, rows, next))
	}
}

func prettyJSON(raw []byte) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	// A JSON string is shown as its text: a capture of an XML or CSV
	// body holds the body as one.
	var text string
	if raw[0] == '"' && json.Unmarshal(raw, &text) == nil {
		return text
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// auditTargetHref is the page of what an audit entry acted on, or "" when
// it has none (a removed target, a bundle).
func auditTargetHref(kind, id string) string {
	if id == "" {
		return ""
	}
	esc := url.PathEscape
	switch kind {
	case "exception":
		return "/inbox/" + esc(id)
	case "bulk_action":
		return "/inbox/bulk/" + esc(id)
	case "message":
		return "/messages/" + esc(id)
	case "flow":
		return "/flows/" + esc(id) + "/versions"
	case "user":
		if _, err := strconv.ParseInt(id, 10, 64); err == nil {
			return "/admin/users/" + id
		}
	case "environment":
		return "/environments"
	case "target":
		if env, target, ok := strings.Cut(id, "/"); ok {
			return "/environments/" + esc(env) + "/targets/" + esc(target)
		}
	case "variable":
		return "/environments"
	case "apikey":
		return "/admin/api-keys"
	}
	return ""
}
