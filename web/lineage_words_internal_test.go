package web

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/web/view"
)

// Each stage reads as a sentence in the page's words: no Go durations, no
// JSON, and the messages and exceptions it names are links.
func TestLineageSentences(t *testing.T) {
	for _, c := range []struct {
		name   string
		stage  store.Stage
		detail string
		want   string
		links  []view.Link
	}{
		{"received", store.StageReceived, `{"bytes":1360,"keySource":"expression","version":3}`,
			"Received: 1,360 bytes, idempotency key from the flow's key expression; runs version 3", nil},
		{"a replay received", store.StageReceived, `{"replayOf":"0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b","revision":2,"edited":true,"by":"sam@shop.example","version":4}`,
			"Received as a replay (revision 2), payload edited by sam@shop.example; runs version 4",
			[]view.Link{{Text: "the original message", Href: "/messages/0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b"}}},
		{"replayed", store.StageReplayed, `{"as":"0192f0c4-0000-7c3d-9b2a-5d6e7f809a1b","revision":2,"by":"sam@shop.example"}`,
			"Replayed as a new message (revision 2) by sam@shop.example",
			[]view.Link{{Text: "the replay", Href: "/messages/0192f0c4-0000-7c3d-9b2a-5d6e7f809a1b"}}},
		{"retry scheduled", store.StageRetryScheduled, `{"attempt":1,"statusCode":503,"retryIn":"903.763842ms","error":"busy"}`,
			"Attempt 1 failed (HTTP 503); retry in 0.9 s: busy", nil},
		{"retry the target asked for", store.StageRetryScheduled, `{"attempt":2,"retryIn":"2m0s","retryAfter":"2m0s"}`,
			"Attempt 2 failed; retry in 2 minutes, as the target asked (Retry-After 2 minutes)", nil},
		{"delivered on a later attempt", store.StageDelivered, `{"attempt":3,"target":"erp","statusCode":201}`,
			"Delivered to erp (HTTP 201) on attempt 3", nil},
		{"rejected", store.StageRejected, `{"validation":[{"rule":"valid-email","message":"customer e-mail is not an address"}]}`,
			"Rejected by validation — valid-email: customer e-mail is not an address", nil},
		{"mapping failed", store.StageFailed, `{"errors":[{"section":"mapping","path":"lines[2].sku","message":"sku is null"}]}`,
			"Failed: lines[2].sku — sku is null", nil},
		{"unrouted", store.StageRouted, `{"routes":[]}`, "No route's condition held: nothing to deliver", nil},
		{"queued again by a person", store.StageQueued, `{"retry":true,"by":"sam@shop.example","exception":5}`,
			"Queued again by sam@shop.example", []view.Link{{Text: "exception 5", Href: "/inbox/5"}}},
		{"resolved by a person", store.StageResolved, `{"status":"ignored","reason":"test order","by":"sam@shop.example","exception":7}`,
			"Exception ignored by sam@shop.example: test order", []view.Link{{Text: "exception 7", Href: "/inbox/7"}}},
		{"held", store.StageHeld, `{"deliveries":1,"sequenceKey":"SKU-1"}`,
			"Held behind an earlier message of its sequence key SKU-1: delivered once that message's deliveries have ended", nil},
		{"superseded", store.StageSuperseded, `{"by":"0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b"}`,
			"Superseded by a newer message of its sequence key, delivered instead",
			[]view.Link{{Text: "the newer message", Href: "/messages/0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b"}}},
		{"a detail of another shape", store.StageMapped, `[1,2]`, "Mapped", nil},
		{"a stage this page does not know", store.Stage("some_new_stage"), `{}`, "some new stage", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, links := lineageSentence(c.stage, []byte(c.detail))
			require.Equal(t, c.want, got)
			require.Equal(t, c.links, links)
		})
	}
}

// An exception's history names people and says what happened, never
// "assignedTo: 3".
func TestExceptionHistorySentences(t *testing.T) {
	people := map[int64]string{3: "Sam Lee"}
	for _, c := range []struct {
		name, action, after, want string
		links                     []view.Link
	}{
		{"assigned", "exception.assign", `{"status":"assigned","assignedTo":3}`, "Assigned to Sam Lee", nil},
		{"assigned to someone gone", "exception.assign", `{"status":"assigned","assignedTo":9}`, "Assigned to user 9", nil},
		{"unassigned", "exception.assign", `{"status":"open"}`, "Unassigned", nil},
		{"retried", "exception.retry", `{"status":"open","action":"process again","version":3}`, "Retried: the message is processed again on v3", nil},
		{"resolved", "exception.resolve", `{"status":"resolved","resolution":"fixed in the ERP"}`, "Resolved: fixed in the ERP", nil},
		{"ignored", "exception.ignore", `{"status":"ignored","resolution":"test order"}`, "Ignored: test order", nil},
		{"replayed", "exception.replay", `{"status":"resolved","version":4,"replayedAs":"0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b"}`,
			"Replayed as a new message on v4", []view.Link{{Text: "the replay", Href: "/messages/0192f0c4-8a1e-7c3d-9b2a-5d6e7f809a1b"}}},
		{"commented", "comment", ``, "Commented", nil},
		{"an action this page does not know", "exception.something", `{}`, "exception.something", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, links := historySentence(c.action, []byte(c.after), people)
			require.Equal(t, c.want, got)
			require.Equal(t, c.links, links)
		})
	}
}

// An audit entry links to what it acted on.
func TestAuditTargetLinks(t *testing.T) {
	for _, c := range []struct{ kind, id, want string }{
		{"exception", "5", "/inbox/5"},
		{"bulk_action", "12", "/inbox/bulk/12"},
		{"flow", "storefront-orders", "/flows/storefront-orders/versions"},
		{"user", "3", "/admin/users/3"},
		{"user", "ana@shop.example", ""},
		{"target", "prod/erp-sales-orders", "/environments/prod/targets/erp-sales-orders"},
		{"environment", "prod", "/environments"},
		{"apikey", "cdk_ab12", "/admin/api-keys"},
		{"bundle", "", ""},
		{"something-new", "x", ""},
	} {
		t.Run(c.kind+" "+c.id, func(t *testing.T) {
			require.Equal(t, c.want, auditTargetHref(c.kind, c.id))
		})
	}
}
