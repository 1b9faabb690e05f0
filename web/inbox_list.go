package web

import (
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/humane"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

const inboxPageSize = 50

// inboxQuery reads the inbox filters from the query string (the same names
// the page's form and the JSON API use) into a store filter.
func (s *Server) inboxQuery(c *fiber.Ctx) (view.InboxFilter, inbox.Filter, error) {
	return s.inboxFilter(c, func(key string) string { return c.Query(key) })
}

// inboxFilter is inboxQuery over any source of the filter parameters (the
// query string, or the filters a bulk form carries).
func (s *Server) inboxFilter(c *fiber.Ctx, get func(key string) string) (view.InboxFilter, inbox.Filter, error) {
	ctx := c.UserContext()
	v := view.InboxFilter{View: get("view"), Env: get("env"), Flow: get("flow"), Kind: get("kind"),
		Status: get("status"), Assignee: get("assignee"), Target: get("target"), Age: get("age"), Q: get("q"), Blocking: get("blocking") == "true"}
	if v.Status == "" {
		v.Status = string(inbox.Active)
	}
	if v.View != "list" {
		v.View = "groups"
	}
	f := inbox.Filter{Kind: store.ExceptionKind(v.Kind), Status: inbox.Status(v.Status), Target: v.Target, Text: v.Q, Limit: inboxPageSize,
		Blocking: v.Blocking}
	if v.Env != "" {
		env, err := release.EnvironmentByName(ctx, s.deps.DB, v.Env)
		if err != nil {
			return v, f, err
		}
		f.EnvironmentID = env.ID
	}
	if v.Flow != "" {
		fl, err := mappings.FlowBySlug(ctx, s.deps.DB, v.Flow)
		if err != nil {
			return v, f, err
		}
		f.FlowID = fl.ID
	}
	switch v.Assignee {
	case "":
	case "me":
		if u := userOf(c); u != nil {
			f.AssigneeID = u.ID
		}
	default:
		id, err := strconv.ParseInt(v.Assignee, 10, 64)
		if err != nil {
			return v, f, fault.Errorf(fault.Invalid, "assignee “%s” is not “me” or a user id", v.Assignee)
		}
		f.AssigneeID = id
	}
	if v.Age != "" {
		d, err := time.ParseDuration(v.Age)
		if err != nil || d < 0 {
			return v, f, fault.Errorf(fault.Invalid, "age “%s” is not a duration such as 1h or 24h", v.Age)
		}
		f.OlderThan = d
	}
	if g, err := strconv.ParseInt(get("group"), 10, 64); err == nil && g > 0 {
		v.Group = g
	}
	var err error
	if f.BeforeID, err = parseCursorID("before", get("before")); err != nil {
		return v, f, err
	}
	return v, f, nil
}

// inboxURL is the inbox with the filters of v and the extra parameters.
func inboxURL(v view.InboxFilter, extra ...string) string {
	q := url.Values{}
	for k, val := range map[string]string{"view": v.View, "env": v.Env, "flow": v.Flow, "kind": v.Kind, "assignee": v.Assignee,
		"target": v.Target, "age": v.Age, "q": v.Q} {
		if val != "" {
			q.Set(k, val)
		}
	}
	if v.Status != "" && v.Status != string(inbox.Active) {
		q.Set("status", v.Status)
	}
	if v.Group != 0 {
		q.Set("group", itoa64(v.Group))
	}
	if v.Blocking {
		q.Set("blocking", "true")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/inbox?" + q.Encode()
}

func groupRow(g inbox.ExceptionGroup) view.GroupRow {
	return view.GroupRow{ID: g.ID, Env: g.Environment, Flow: g.FlowSlug, Kind: string(g.Kind), Stage: g.Stage, ErrorClass: g.ErrorClass,
		Sample: shorten(g.SampleMessage, 240), Open: g.OpenCount, Total: g.TotalCount, FirstSeen: when(g.FirstSeen),
		LastSeen: when(g.LastSeen), URL: "/inbox?view=list&group=" + itoa64(g.ID)}
}

// inboxList shows the inbox: exception groups (the default) or exceptions
// one by one, filtered by the query string, one keyset page at a time.
func (s *Server) inboxList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		vf, f, err := s.inboxQuery(c)
		if err != nil {
			return err
		}
		v := view.InboxView{Filter: vf, CanAct: canTriage(c), BulkKey: requestKey()}
		if v.Options, err = s.inboxOptions(c); err != nil {
			return err
		}
		if vf.Group != 0 {
			g, err := inbox.GroupGet(ctx, s.deps.DB, vf.Group)
			if err != nil {
				return err
			}
			v.Filter.View, vf.View = "list", "list"
			f.EnvironmentID, f.Fingerprint = g.EnvironmentID, g.Fingerprint
			v.Group = &view.GroupHead{GroupRow: groupRow(g), EnvID: g.EnvironmentID, Fingerprint: g.Fingerprint, CanAct: v.CanAct, RequestKey: v.BulkKey}
		}
		gv, lv := vf, vf
		gv.View, gv.Group, lv.View = "groups", 0, "list"
		v.GroupURL, v.ListURL = inboxURL(gv), inboxURL(lv)
		if vf.View == "list" {
			items, next, err := inbox.List(ctx, s.deps.DB, f)
			if err != nil {
				return err
			}
			for _, it := range items {
				row := exceptionRow(it)
				row.FlowName = v.Options.FlowNames[row.Flow]
				v.Rows = append(v.Rows, row)
			}
			if next != 0 {
				v.NextURL = inboxURL(vf, "before", itoa64(next))
			}
		} else {
			gf := inbox.GroupFilter{EnvironmentID: f.EnvironmentID, FlowID: f.FlowID, Kind: f.Kind, All: vf.Status == string(inbox.All), Limit: inboxPageSize}
			if gf.BeforeID, err = parseCursorID("before", c.Query("before")); err != nil {
				return err
			}
			if gf.BeforeID != 0 {
				if gf.BeforeLastSeen, err = time.Parse(time.RFC3339Nano, c.Query("before_seen")); err != nil {
					return fault.Errorf(fault.Invalid, "before_seen must be an RFC 3339 time")
				}
			}
			groups, next, err := inbox.GroupList(ctx, s.deps.DB, gf)
			if err != nil {
				return err
			}
			for _, g := range groups {
				row := groupRow(g)
				row.FlowName = v.Options.FlowNames[row.Flow]
				v.Groups = append(v.Groups, row)
			}
			if next != nil {
				v.NextURL = inboxURL(vf, "before", itoa64(next.ID), "before_seen", next.LastSeen.Format(time.RFC3339Nano))
			}
		}
		return s.render(c, view.InboxPage(s.page(c, "Inbox", "inbox"), v))
	}
}

func exceptionRow(it inbox.Item) view.ExceptionRow {
	return view.ExceptionRow{ID: it.ID, Env: it.Environment, Flow: it.FlowSlug, Kind: string(it.Kind), Status: string(it.Status),
		Error: shorten(it.Message, 200), Correlation: it.CorrelationID, Customer: it.Customer, Amount: it.Amount, Target: it.Target, Step: it.Step, Assignee: it.AssigneeEmail,
		Created: when(it.CreatedAt), URL: "/inbox/" + itoa64(it.ID)}
}

func (s *Server) inboxOptions(c *fiber.Ctx) (view.InboxOptions, error) {
	ctx := c.UserContext()
	var o view.InboxOptions
	envs, err := release.EnvironmentList(ctx, s.deps.DB)
	if err != nil {
		return o, err
	}
	for _, e := range envs {
		o.Envs = append(o.Envs, e.Name)
	}
	flows, err := mappings.FlowList(ctx, s.deps.DB, mappings.FlowFilter{})
	if err != nil {
		return o, err
	}
	o.FlowNames = map[string]string{}
	for _, f := range flows {
		o.Flows = append(o.Flows, f.Slug)
		o.FlowNames[f.Slug] = f.Name
	}
	users, err := s.triageUsers(c)
	if err != nil {
		return o, err
	}
	for _, u := range users {
		o.Assignees = append(o.Assignees, view.Option{Value: itoa64(u.ID), Label: u.Email})
	}
	return o, nil
}

// when is t for a list: relative to now, exact on hover (view.At).
func when(t time.Time) view.When {
	return view.When{Ago: humane.Ago(t, time.Now()), Exact: t.UTC().Format("2006-01-02 15:04:05 UTC"), ISO: t.UTC().Format(time.RFC3339)}
}
