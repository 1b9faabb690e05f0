// Package view holds Crossdock's templ components and the view models they
// display. Components only display: handlers in package web build every value
// shown here, and no component calls a store.
package view

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Page is what every full page needs: who is signed in, where they are, the
// CSRF token for forms and the hashed asset URLs.
type Page struct {
	Title     string
	Section   string // the navigation entry to highlight: flows, inbox, messages, environments, dashboard, admin
	User      *User  // nil on pages shown before sign-in
	CSRF      string
	Assets    Assets
	RequestID string
	Flash     string // a one-time confirmation ("User created")
	InboxOpen int64  // open exceptions, shown beside Inbox in the navigation
	// Awaiting is the promotion requests waiting for this user's decision,
	// shown beside Promotions in the navigation (approvers and admins).
	Awaiting int
}

// User is the signed-in user as the navigation shows them.
type User struct {
	Email   string
	Role    string
	IsAdmin bool
}

// Assets are the content-hashed URLs of the shared static files.
type Assets struct {
	CSS  string
	JS   string
	HTMX string
	Logo string
	// Morph is htmx's idiomorph extension (hx-ext="morph", hx-swap="morph").
	Morph string
	// Designer is the flow designer's script.
	Designer string
	// Editor turns the designer's expression inputs into CodeMirror
	// editors (bundled by make generate from static/src/editor.js); only
	// the designer sets it.
	Editor string
}

// htmxHeaders makes every htmx request carry the CSRF token.
func (p Page) htmxHeaders() string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": p.CSRF})
	return string(b)
}

type navItem struct {
	Section string
	Label   string
	Href    string
}

var mainNav = []navItem{
	{"flows", "Flows", "/flows"},
	{"inbox", "Inbox", "/inbox"},
	{"messages", "Messages", "/messages"},
	{"environments", "Environments", "/environments"},
	{"promotions", "Promotions", "/promotions"},
	{"dashboard", "Dashboard", "/dashboard"},
}

var adminNav = []navItem{
	{"admin-users", "Users", "/admin/users"},
	{"admin-api-keys", "API keys", "/admin/api-keys"},
	{"admin-audit", "Audit log", "/admin/audit"},
	{"admin-river", "Job queues", "/admin/river"},
}

func current(p Page, section string) string {
	if p.Section == section {
		return "page"
	}
	return "false"
}

func itoa(n int) string { return strconv.Itoa(n) }

// OpenExceptions counts the message's exceptions that still need a person.
func (m MessageView) OpenExceptions() int {
	n := 0
	for _, e := range m.Exceptions {
		if e.Open {
			n++
		}
	}
	return n
}

// Fields are the filter's non-empty parameters as name, value pairs, for a
// form that carries the filters along (the inbox's bulk form).
func (f InboxFilter) Fields() [][2]string {
	var out [][2]string
	for _, kv := range [][2]string{{"env", f.Env}, {"flow", f.Flow}, {"kind", f.Kind}, {"status", f.Status},
		{"assignee", f.Assignee}, {"target", f.Target}, {"age", f.Age}, {"q", f.Q}} {
		if kv[1] != "" {
			out = append(out, kv)
		}
	}
	if f.Group != 0 {
		out = append(out, [2]string{"group", strconv.FormatInt(f.Group, 10)})
	}
	if f.Blocking {
		out = append(out, [2]string{"blocking", "true"})
	}
	return out
}

// Heading says what a bulk action is doing or did, in words.
func (b BulkView) Heading() string {
	verb := map[string][2]string{"retry": {"Retrying", "Retried"}, "replay": {"Replaying", "Replayed"},
		"resolve": {"Resolving", "Resolved"}, "ignore": {"Ignoring", "Ignored"}}[b.Action]
	if verb[0] == "" {
		verb = [2]string{"Working on", "Worked on"}
	}
	n := strconv.Itoa(b.Total) + " exceptions"
	if b.Total == 1 {
		n = "1 exception"
	}
	switch {
	case b.Status == "failed":
		return "Stopped: " + strings.ToLower(verb[0]) + " " + n + " failed"
	case b.Finished:
		return verb[1] + " " + n
	case b.Status == "queued":
		return verb[0] + " " + n + " — waiting to start"
	default:
		return verb[0] + " " + n
	}
}

// DataError says the exception is about the message's data (validation or
// mapping): a retry of the same data fails the same way, so the page leads
// with edit and replay.
func (e ExceptionView) DataError() bool { return e.Kind == "validation" || e.Kind == "mapping" }

// When is a moment as a list shows it: Ago for scanning ("3 minutes
// ago"), with the exact time on hover (Exact) and machine-readable in the
// <time> element (ISO). Handlers make it (web.when); the At component
// shows it.
type When struct {
	Ago   string
	Exact string
	ISO   string
}
