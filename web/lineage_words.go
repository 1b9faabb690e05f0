package web

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/humane"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/web/view"
)

// lineageDetail is the union of what the pipeline and the inbox write into
// a lineage event's detail; each stage fills some of it.
type lineageDetail struct {
	Bytes      *int                       `json:"bytes"`
	KeySource  string                     `json:"keySource"`
	Version    *int                       `json:"version"`
	ReplayOf   string                     `json:"replayOf"`
	As         string                     `json:"as"`
	Revision   *int                       `json:"revision"`
	Edited     bool                       `json:"edited"`
	By         string                     `json:"by"`
	Routes     []string                   `json:"routes"`
	Retry      bool                       `json:"retry"`
	Attempt    *int                       `json:"attempt"`
	Target     string                     `json:"target"`
	StatusCode *int                       `json:"statusCode"`
	RetryIn    string                     `json:"retryIn"`
	RetryAfter string                     `json:"retryAfter"`
	Error      string                     `json:"error"`
	Validation []engine.ValidationFailure `json:"validation"`
	Errors     []engine.RowError          `json:"errors"`
	Status     string                     `json:"status"`
	Reason     string                     `json:"reason"`
	Exception  *int64                     `json:"exception"`
	SeqKey     string                     `json:"sequenceKey"`
}

// lineageSentence says what one lineage event means, in words, with links
// to the messages and exceptions it names. The raw detail stays on the
// page (folded) for whoever needs every field.
func lineageSentence(stage store.Stage, raw json.RawMessage) (string, []view.Link) {
	var d lineageDetail
	_ = json.Unmarshal(raw, &d) // a detail of another shape still gets its stage's sentence
	var links []view.Link
	exception := func() {
		if d.Exception != nil {
			id := strconv.FormatInt(*d.Exception, 10)
			links = append(links, view.Link{Text: "exception " + id, Href: "/inbox/" + id})
		}
	}
	var b strings.Builder
	switch stage {
	case store.StageReceived:
		if d.ReplayOf != "" {
			b.WriteString("Received as a replay")
			if d.Revision != nil {
				fmt.Fprintf(&b, " (revision %d)", *d.Revision)
			}
			if d.Edited {
				b.WriteString(", payload edited")
			}
			if d.By != "" {
				b.WriteString(" by " + d.By)
			}
			links = append(links, view.Link{Text: "the original message", Href: "/messages/" + d.ReplayOf})
		} else {
			b.WriteString("Received")
			if d.Bytes != nil {
				b.WriteString(": " + bytesInWords(*d.Bytes))
			}
			switch d.KeySource {
			case "header":
				b.WriteString(", idempotency key from the Idempotency-Key header")
			case "expression":
				b.WriteString(", idempotency key from the flow's key expression")
			}
		}
		if d.Version != nil {
			fmt.Fprintf(&b, "; runs version %d", *d.Version)
		}
	case store.StageValidated:
		b.WriteString("Passed validation")
	case store.StageRejected:
		b.WriteString("Rejected by validation")
		var why []string
		for _, f := range d.Validation {
			msg := f.Message
			if f.Error != "" {
				msg = f.Error
			}
			why = append(why, f.Rule+": "+msg)
		}
		if d.Error != "" {
			why = append(why, d.Error)
		}
		if len(why) > 0 {
			b.WriteString(" — " + strings.Join(why, "; "))
		}
	case store.StageMapped:
		b.WriteString("Mapped")
	case store.StageRouted:
		switch len(d.Routes) {
		case 0:
			b.WriteString("No route's condition held: nothing to deliver")
		case 1:
			b.WriteString("Routed to " + d.Routes[0])
		default:
			b.WriteString("Routed to " + strings.Join(d.Routes, ", "))
		}
	case store.StageQueued:
		switch {
		case d.Retry && d.By != "":
			b.WriteString("Queued again by " + d.By)
			exception()
		case d.Retry:
			b.WriteString("Queued again for another attempt")
		default:
			b.WriteString("Queued for delivery")
		}
	case store.StageDelivering:
		b.WriteString("Sending")
		if d.Attempt != nil {
			fmt.Fprintf(&b, " attempt %d", *d.Attempt)
		}
		if d.Target != "" {
			b.WriteString(" to " + d.Target)
		}
	case store.StageDelivered:
		b.WriteString("Delivered")
		if d.Target != "" {
			b.WriteString(" to " + d.Target)
		}
		if d.StatusCode != nil {
			fmt.Fprintf(&b, " (HTTP %d)", *d.StatusCode)
		}
		if d.Attempt != nil && *d.Attempt > 1 {
			fmt.Fprintf(&b, " on attempt %d", *d.Attempt)
		}
	case store.StageRetryScheduled:
		b.WriteString("Attempt")
		if d.Attempt != nil {
			fmt.Fprintf(&b, " %d", *d.Attempt)
		}
		b.WriteString(" failed")
		if d.StatusCode != nil {
			fmt.Fprintf(&b, " (HTTP %d)", *d.StatusCode)
		}
		if d.RetryIn != "" {
			b.WriteString("; retry in " + durationWords(d.RetryIn))
		}
		if d.RetryAfter != "" {
			b.WriteString(", as the target asked (Retry-After " + durationWords(d.RetryAfter) + ")")
		}
		if d.Error != "" {
			b.WriteString(": " + d.Error)
		}
	case store.StageFailed:
		b.WriteString("Failed")
		if d.Target != "" {
			b.WriteString(" delivering to " + d.Target)
		}
		if d.Error != "" {
			b.WriteString(": " + d.Error)
		}
		for i, e := range d.Errors {
			if i == 3 {
				fmt.Fprintf(&b, "; and %d more", len(d.Errors)-i)
				break
			}
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			b.WriteString(sep)
			if e.Path != "" {
				b.WriteString(e.Path + " — ")
			}
			b.WriteString(e.Message)
		}
	case store.StageReplayed:
		b.WriteString("Replayed as a new message")
		if d.Revision != nil {
			fmt.Fprintf(&b, " (revision %d)", *d.Revision)
		}
		if d.By != "" {
			b.WriteString(" by " + d.By)
		}
		if d.As != "" {
			links = append(links, view.Link{Text: "the replay", Href: "/messages/" + d.As})
		}
	case store.StageResolved:
		switch d.Status {
		case "ignored":
			b.WriteString("Exception ignored")
		default:
			b.WriteString("Exception resolved")
		}
		if d.By != "" {
			b.WriteString(" by " + d.By)
		}
		if d.Reason != "" {
			b.WriteString(": " + d.Reason)
		}
		exception()
	case store.StageHeld:
		b.WriteString("Held behind an earlier message of its sequence key")
		if d.SeqKey != "" {
			b.WriteString(" " + d.SeqKey)
		}
		b.WriteString(": delivered once that message's deliveries have ended")
	case store.StageSuperseded:
		// "by" is the newer message of the key delivered instead.
		b.WriteString("Superseded by a newer message of its sequence key, delivered instead")
		if d.By != "" {
			links = append(links, view.Link{Text: "the newer message", Href: "/messages/" + d.By})
		}
	default:
		b.WriteString(strings.ReplaceAll(string(stage), "_", " "))
	}
	return b.String(), links
}

// durationWords rewrites a stored Go duration ("903.763842ms") in words
// ("0.9 s"); text that is not one is shown as it is.
func durationWords(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return humane.Duration(d)
}

// bytesInWords is a payload size for people: "1,360 bytes", "2.4 MB".
func bytesInWords(n int) string {
	switch {
	case n < 10_000:
		return groupDigits(n) + " bytes"
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + " kB"
	default:
		return strconv.FormatFloat(float64(n)/1_000_000, 'f', 1, 64) + " MB"
	}
}
