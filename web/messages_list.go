package web

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// messageStatuses are offered in the explorer's status filter.
var messageStatuses = []string{"received", "queued", "held", "retrying", "delivered", "failed", "rejected", "unrouted", "superseded"}

// messageFilterParams are the query parameters of the explorer and of
// GET /api/v1/messages, in the order links repeat them.
var messageFilterParams = []string{"id", "correlation", "key", "value", "env", "flow", "status", "from", "to", "limit"}

// messagesList is the message explorer: filters in the URL, newest first,
// keyset pages, every row linking to the message's timeline.
func (s *Server) messagesList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		v := view.MessagesView{Statuses: messageStatuses, Filter: view.MessageFilterForm{
			ID: c.Query("id"), CorrelationID: c.Query("correlation"), IdempotencyKey: c.Query("key"), Value: c.Query("value"),
			Environment: c.Query("env"), Flow: c.Query("flow"), Status: c.Query("status"), From: c.Query("from"), To: c.Query("to"),
		}}
		envs, err := release.EnvironmentList(ctx, s.deps.DB)
		if err != nil {
			return err
		}
		for _, e := range envs {
			v.Environments = append(v.Environments, e.Name)
		}
		flows, err := mappings.FlowList(ctx, s.deps.DB, mappings.FlowFilter{})
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, f := range flows {
			v.Flows = append(v.Flows, f.Slug)
			names[f.Slug] = f.Name
		}
		res, err := s.searchMessages(c)
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Code == fault.Invalid {
			// The form stays, with what to fix.
			v.Error = fe.Message
			c.Status(fiber.StatusUnprocessableEntity)
			return s.render(c, view.MessagesPage(s.page(c, "Messages", "messages"), v))
		}
		if err != nil {
			return err
		}
		for _, m := range res.Messages {
			v.Rows = append(v.Rows, view.MessageListRow{ID: m.ID.String(), ReceivedAt: when(m.ReceivedAt), Environment: m.Environment,
				Flow: m.FlowSlug, FlowName: names[m.FlowSlug], Version: m.VersionNumber, Status: string(m.Status), CorrelationID: m.CorrelationID, IdempotencyKey: m.IdempotencyKey,
				Customer: m.Customer, Amount: m.Amount})
		}
		if res.Next != nil {
			v.NextURL = "/messages?" + messagePageQuery(c, res.Next)
		}
		if c.Query("after") != "" {
			v.FirstURL = "/messages?" + messagePageQuery(c, nil)
		}
		return s.render(c, view.MessagesPage(s.page(c, "Messages", "messages"), v))
	}
}

// messagePageQuery is the query string of the same search from after (nil:
// the first page); empty filters are left out.
func messagePageQuery(c *fiber.Ctx, after *insight.MessageCursor) string {
	q := url.Values{}
	for _, p := range messageFilterParams {
		if v := c.Query(p); v != "" {
			q.Set(p, v)
		}
	}
	if after != nil {
		q.Set("after", after.String())
	}
	return q.Encode()
}

// searchMessages reads the explorer's filters from the query string and
// runs the search. Names are resolved here (environment, flow); a filter
// that cannot be used is Invalid with what to fix. An API key sees only its
// environment (and its flows, when it is limited to some).
func (s *Server) searchMessages(c *fiber.Ctx) (insight.MessageSearchResult, error) {
	ctx := c.UserContext()
	f := insight.MessageFilter{
		CorrelationID:  strings.TrimSpace(c.Query("correlation")),
		IdempotencyKey: strings.TrimSpace(c.Query("key")),
		PayloadValue:   strings.TrimSpace(c.Query("value")),
		Status:         store.MessageStatus(c.Query("status")),
	}
	if raw := strings.TrimSpace(c.Query("id")); raw != "" {
		id, err := store.ParseMessageID(raw)
		if err != nil {
			return insight.MessageSearchResult{}, fault.Errorf(fault.Invalid, "“%s” is not a message id; message ids look like 0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b", raw)
		}
		f.ID = id
	}
	env, flow := c.Query("env"), c.Query("flow")
	if key := apiKeyOf(c); key != nil {
		if env == "" {
			env = key.Environment
		}
		if flow == "" && len(key.Flows) == 1 {
			flow = key.Flows[0]
		}
		if flow == "" && len(key.Flows) > 1 {
			return insight.MessageSearchResult{}, fault.Errorf(fault.Invalid, "the API key %s is limited to the flows %s; name one with flow=", key.Prefix, strings.Join(key.Flows, ", "))
		}
		if env != key.Environment {
			return insight.MessageSearchResult{}, fault.Errorf(fault.Forbidden, "the API key %s reads only environment %s, not %s", key.Prefix, key.Environment, env)
		}
		if !key.AllowsFlow(flow) {
			return insight.MessageSearchResult{}, fault.Errorf(fault.Forbidden, "the API key %s reads only the flows %s, not %s", key.Prefix, strings.Join(key.Flows, ", "), flow)
		}
	}
	if env != "" {
		e, err := release.EnvironmentByName(ctx, s.deps.DB, env)
		if err != nil {
			return insight.MessageSearchResult{}, asInvalid(err, "no environment “"+env+"”")
		}
		f.EnvironmentID = e.ID
	}
	if flow != "" {
		fl, err := mappings.FlowBySlug(ctx, s.deps.DB, flow)
		if err != nil {
			return insight.MessageSearchResult{}, asInvalid(err, "no flow “"+flow+"”")
		}
		f.FlowID = fl.ID
	}
	var err error
	if f.From, err = parseFilterTime("from", c.Query("from")); err != nil {
		return insight.MessageSearchResult{}, err
	}
	if f.To, err = parseFilterTime("to", c.Query("to")); err != nil {
		return insight.MessageSearchResult{}, err
	}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > insight.MaxMessagePage {
			return insight.MessageSearchResult{}, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("limit must be a number from 1 to %d", insight.MaxMessagePage),
				Fields: map[string]string{"limit": fmt.Sprintf("a number from 1 to %d", insight.MaxMessagePage)}}
		}
		f.Limit = n
	}
	if raw := c.Query("after"); raw != "" {
		cur, err := insight.ParseMessageCursor(raw)
		if err != nil {
			return insight.MessageSearchResult{}, err
		}
		f.After = &cur
	}
	return insight.MessageSearch(ctx, s.deps.DB, f)
}

// asInvalid turns a NotFound from resolving a filter's name into Invalid:
// the search was asked wrongly, nothing was looked up by URL.
func asInvalid(err error, msg string) error {
	var fe *fault.Error
	if errors.As(err, &fe) && fe.Code == fault.NotFound {
		return fault.Errorf(fault.Invalid, "%s", msg)
	}
	return err
}

// parseFilterTime reads a time filter: RFC 3339, or what a datetime-local
// field sends (taken as UTC).
func parseFilterTime(name, raw string) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fault.Errorf(fault.Invalid, "%s “%s” is not a time; use 2026-03-14T09:30 (UTC) or RFC 3339 with a zone", name, raw)
}
