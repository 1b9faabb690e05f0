package web

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/humane"
	"github.com/crossdock/crossdock/jobs/insight"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/chart"
	"github.com/crossdock/crossdock/web/view"
)

// dashboardRanges are the ranges the dashboard offers, with the width of
// one point of its charts.
var dashboardRanges = []struct {
	name       string
	span, step time.Duration
	timeFormat string
}{
	{"hour", time.Hour, time.Minute, "15:04"},
	{"day", 24 * time.Hour, 15 * time.Minute, "15:04"},
	{"week", 7 * 24 * time.Hour, time.Hour, "Mon 15h"},
}

// dashboard is GET /dashboard?env=&range=: one environment's figures for
// the last hour, day or week, from the rollups only. Every number links to
// the messages or exceptions behind it.
func (s *Server) dashboard() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		envs, err := release.EnvironmentList(ctx, s.deps.DB)
		if err != nil {
			return err
		}
		v := view.DashboardView{Environment: c.Query("env", "dev"), Range: c.Query("range", "hour"), SLA: c.Query("sla", "deliveries")}
		if v.SLA != "deliveries" && v.SLA != "all" {
			return &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("sla %q is not one of deliveries, all", v.SLA), Fields: map[string]string{"sla": "deliveries or all"}}
		}
		var envID int64
		for _, e := range envs {
			v.Environments = append(v.Environments, e.Name)
			if e.Name == v.Environment {
				envID = e.ID
			}
		}
		if envID == 0 {
			return fault.Errorf(fault.NotFound, "there is no environment %q", v.Environment)
		}
		rng := dashboardRanges[0]
		found := false
		for _, r := range dashboardRanges {
			v.Ranges = append(v.Ranges, r.name)
			if r.name == v.Range {
				rng, found = r, true
			}
		}
		if !found {
			return fault.Errorf(fault.Invalid, "range %q is not one of hour, day, week", v.Range)
		}
		now := s.deps.Now()
		from := now.Add(-rng.span)
		d, err := insight.DashboardGet(ctx, s.deps.DB, insight.DashboardQuery{EnvironmentID: envID, From: from, To: now, Step: rng.step, AllMessages: v.SLA == "all"})
		if err != nil {
			return err
		}
		links := dashboardLinks{env: v.Environment, from: from.Truncate(rng.step), to: now}
		v.RefreshURL = "/dashboard?" + url.Values{"env": {v.Environment}, "range": {v.Range}, "sla": {v.SLA}}.Encode()
		v.UpdatedAt = now.UTC().Format("15:04:05 UTC")
		t := d.Totals
		v.Tiles = []view.DashboardTile{
			{ID: "tile-received", Label: "Received", Value: count(t.Received), Href: links.messages("", "")},
			{ID: "tile-delivered", Label: "Delivered", Value: count(t.Delivered), Href: links.messages("", "delivered")},
			{ID: "tile-failed", Label: "Failed or rejected", Value: count(t.Failed), Href: links.messages("", "failed")},
			{ID: "tile-exceptions", Label: "Exceptions opened", Value: count(t.ExceptionsOpened), Href: links.inbox("", "")},
			{ID: "tile-resolved", Label: "Exceptions resolved", Value: count(t.ExceptionsClosed), Href: links.inbox("resolved", "")},
			{ID: "tile-held", Label: "Held now", Value: count(t.Held), Href: "/messages?" + url.Values{"env": {v.Environment}, "status": {"held"}}.Encode(),
				Hint: "waiting behind an earlier message of their sequence key"},
			{ID: "tile-sla", Label: "Within SLA", Value: percent(t.WithinSLA, t.SLABase),
				Hint: slaHint(t, v.SLA), Href: links.messages("", "")},
		}
		v.Latency = []view.DashboardTile{
			{ID: "latency-p50", Label: "p50", Value: latency(t.P50), Href: links.messages("", "delivered")},
			{ID: "latency-p95", Label: "p95", Value: latency(t.P95), Href: links.messages("", "delivered")},
			{ID: "latency-p99", Label: "p99", Value: latency(t.P99), Href: links.messages("", "delivered")},
		}
		times := make([]time.Time, len(d.Series))
		var received, delivered, failed, opened, closed []int64
		for i, p := range d.Series {
			times[i] = p.At
			received, delivered, failed = append(received, p.Received), append(delivered, p.Delivered), append(failed, p.Failed)
			opened, closed = append(opened, p.ExceptionsOpened), append(closed, p.ExceptionsDone)
		}
		per := "per " + rng.step.String()
		v.Throughput = templ.Raw(chart.Chart{ID: "chart-messages", Title: "Messages received, delivered and failed " + per, Times: times, TimeFormat: rng.timeFormat,
			Series: []chart.Series{{Name: "received", Colour: "#2563eb", Values: received}, {Name: "delivered", Colour: "#16a34a", Values: delivered},
				{Name: "failed", Colour: "#dc2626", Values: failed}}}.SVG())
		v.Exceptions = templ.Raw(chart.Chart{ID: "chart-exceptions", Title: "Exceptions opened and resolved " + per, Times: times, TimeFormat: rng.timeFormat,
			Series: []chart.Series{{Name: "opened", Colour: "#ea580c", Values: opened}, {Name: "resolved", Colour: "#0d9488", Values: closed}}}.SVG())
		for _, f := range d.Flows {
			v.Flows = append(v.Flows, slaRow(f, links))
		}
		for _, f := range d.Channels {
			v.Channels = append(v.Channels, slaRow(f, links))
		}
		v.SLARule = "Adherence is the share of messages delivered within their flow's SLA (a message no route matched counts as within), of "
		if v.SLA == "all" {
			v.SLARule += "every message received, validation rejects included."
		} else {
			v.SLARule += "the messages that had something to deliver: a message a validation rule rejected is a data error at the source, not a delivery missed, and is left out. Choose “all messages” to count them."
		}
		for _, q := range d.Queues {
			v.Queues = append(v.Queues, view.QueueDepthRow{Queue: q.Queue, Available: count(q.Available), Scheduled: count(q.Scheduled),
				Retryable: count(q.Retryable), Running: count(q.Running), Oldest: humane.Duration(q.OldestAvailable.Round(time.Second))})
		}
		for _, h := range d.Targets {
			row := view.TargetHealthRow{Target: h.Target, Attempts: count(h.Attempts), Errors: count(h.Errors),
				ErrorRate: strconv.FormatFloat(h.ErrorRate, 'f', 1, 64) + " %", Latency: humane.Duration(h.AverageLatency),
				ErrorsHref: links.inbox("", "delivery"), Circuit: h.Circuit}
			if row.Circuit == "" {
				row.Circuit = "closed"
			} else {
				row.CircuitSince = h.CircuitSince.UTC().Format("2006-01-02 15:04 UTC")
			}
			v.Targets = append(v.Targets, row)
		}
		return s.render(c, view.DashboardPage(s.page(c, "Dashboard", "dashboard"), v))
	}
}

// slaHint says what the SLA tile counted.
func slaHint(t insight.DashboardTotals, scope string) string {
	if scope == "all" {
		return fmt.Sprintf("%d of %d messages delivered within their flow's SLA", t.WithinSLA, t.SLABase)
	}
	return fmt.Sprintf("%d of %d messages with something to deliver were delivered within their flow's SLA; %d validation rejects not counted",
		t.WithinSLA, t.SLABase, t.Rejected)
}

func slaRow(f insight.SLAFigure, links dashboardLinks) view.SLARow {
	missed := f.Base - f.WithinSLA
	channel := f.Channel
	if channel == "" {
		channel = "(none)"
	}
	return view.SLARow{Flow: f.FlowName, Channel: channel, Received: count(f.Received), ReceivedHref: links.messages(f.FlowSlug, ""),
		Rejected: count(f.Rejected), RejectedHref: links.messages(f.FlowSlug, "rejected"),
		Within: count(f.WithinSLA), Missed: count(missed), MissedHref: links.messages(f.FlowSlug, "failed"),
		Adherence: percent(f.WithinSLA, f.Base), Met: f.Met,
		Objective: fmt.Sprintf("%s %% within %s", strconv.FormatFloat(f.ObjectivePercent, 'f', -1, 64), humane.Duration(time.Duration(f.WithinSeconds)*time.Second))}
}

// dashboardLinks builds the links from a number to the messages explorer
// and the exception inbox, filtered to the same environment and range.
type dashboardLinks struct {
	env      string
	from, to time.Time
}

func (l dashboardLinks) query(extra ...string) string {
	q := url.Values{"env": {l.env}, "from": {l.from.UTC().Format(time.RFC3339)}, "to": {l.to.UTC().Format(time.RFC3339)}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q.Encode()
}

func (l dashboardLinks) messages(flow, status string) string {
	return "/messages?" + l.query("flow", flow, "status", status)
}

func (l dashboardLinks) inbox(status, kind string) string {
	return "/inbox?" + l.query("status", status, "kind", kind)
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

// percent is part of whole as a percentage with one decimal, "–" without
// a whole.
func percent(part, whole int64) string {
	if whole <= 0 {
		return "–"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + " %"
}

func latency(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < 0:
		return "> " + humane.Duration(time.Duration(insight.LatencyBoundsMS[len(insight.LatencyBoundsMS)-1])*time.Millisecond)
	default:
		return "≤ " + humane.Duration(d)
	}
}
