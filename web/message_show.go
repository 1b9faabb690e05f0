package web

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/humane"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/web/view"
)

// messageShow is a message's page: where it is and why.
func (s *Server) messageShow() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := store.ParseMessageID(c.Params("id"))
		if err != nil {
			return err
		}
		v, err := store.MessageGet(c.UserContext(), s.deps.DB, id)
		if err != nil {
			return err
		}
		mv := messageView(v)
		mv.CanSaveSample = canEditFlows(c)
		return s.render(c, view.MessagePage(s.page(c, "Message", "messages"), mv))
	}
}

// maxShownPayload is how much of a payload a page shows; the rest is a
// download.
const maxShownPayload = 64 << 10

func messageView(v store.MessageView) view.MessageView {
	m := v.Message
	out := view.MessageView{
		ID: m.ID.String(), Environment: m.Environment, Flow: m.FlowSlug, Version: m.VersionNumber, Status: string(m.Status),
		IdempotencyKey: m.IdempotencyKey, CorrelationID: m.CorrelationID, ReceivedAt: stamp(m.ReceivedAt),
	}
	if s := v.Sequence; s != nil {
		out.SequenceKey, out.Blocking = s.Key, s.Blocking
		if s.HeldBehind != nil {
			out.HeldBehind = s.HeldBehind.String()
		}
	}
	if pretty := prettyJSON(m.Payload); len(pretty) > maxShownPayload {
		out.Payload, out.PayloadTruncated = shorten(pretty, maxShownPayload), true
	} else {
		out.Payload = pretty
	}
	routeOf := map[string]string{}
	for _, d := range v.Deliveries {
		routeOf[d.ID.String()] = "route " + d.Route
	}
	for _, e := range v.Lineage {
		te := view.TimelineEvent{At: stamp(e.At), Since: sinceReceived(e.At.Sub(m.ReceivedAt)), Stage: string(e.Stage)}
		te.Sentence, te.Links = lineageSentence(e.Stage, e.Detail)
		if e.DeliveryID != nil {
			te.Route = routeOf[e.DeliveryID.String()]
		}
		if e.DurationMS != nil {
			te.Duration = fmt.Sprintf("%d ms", *e.DurationMS)
		}
		if d := strings.TrimSpace(string(e.Detail)); d != "" && d != "{}" && d != "null" {
			te.Detail = shorten(d, 400)
		}
		te.Bad = strings.Contains(te.Stage, "fail") || te.Stage == "rejected"
		out.Timeline = append(out.Timeline, te)
	}
	for _, d := range v.Deliveries {
		dv := view.DeliveryView{ID: d.ID.String(), Route: d.Route, Step: d.Step, Target: d.Target, Kind: d.TargetKind, Status: string(d.Status), Body: prettyJSON(d.Body)}
		if len(d.Response) > 0 {
			dv.Response = prettyJSON(d.Response)
		}
		if d.SupersededBy != nil {
			dv.SupersededBy = d.SupersededBy.String()
		}
		for _, a := range d.AttemptLog {
			av := view.AttemptView{N: a.N, At: stamp(a.StartedAt), Latency: fmt.Sprintf("%d ms", a.LatencyMS), Outcome: a.Outcome, Response: shorten(a.ResponseExcerpt, 300), Error: a.Error}
			if a.StatusCode != nil {
				av.Status = fmt.Sprint(*a.StatusCode)
			}
			dv.Attempts = append(dv.Attempts, av)
		}
		if d.Capture != nil {
			dv.Captured = true
			dv.CaptureURL = d.Capture.Method + " " + d.Capture.URL
			for k, val := range d.Capture.Headers {
				dv.CaptureHead = append(dv.CaptureHead, k+": "+val)
			}
			sort.Strings(dv.CaptureHead)
			dv.CaptureBody = prettyJSON(d.Capture.Body)
		}
		out.Deliveries = append(out.Deliveries, dv)
	}
	for _, e := range v.Exceptions {
		out.Exceptions = append(out.Exceptions, view.ExceptionRef{ID: e.ID, Kind: string(e.Kind), Stage: e.Stage, Message: e.Message,
			Status: string(e.Status), Open: e.Status == store.ExceptionOpen || e.Status == store.ExceptionAssigned})
	}
	return out
}

// sinceReceived is an event's time after the message was received:
// "received" for the first, then "+12 ms", "+0.9 s", "+1 minute 30 seconds".
func sinceReceived(d time.Duration) string {
	if d <= 0 {
		return "at receipt"
	}
	return "+" + humane.Duration(d)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") }
