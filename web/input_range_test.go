package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
)

// TestOutOfRangeInputIsRefusedAtTheEdge sends every number a route parses
// beyond what it can hold (a version or revision past PostgreSQL's
// integer, an id past int64), and over-long names: each must be a 4xx that
// names the field, never a 500. API answers are problem documents.
func TestOutOfRangeInputIsRefusedAtTheEdge(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	f.user(t, "range@shop.example", account.RoleAdmin)
	br := f.browser(t)
	br.signIn("range@shop.example")
	br.get("/flows") // the session's CSRF token, for the API calls
	const (
		big  = "3000000000"           // past 2^31-1, PostgreSQL's integer
		huge = "99999999999999999999" // past 2^63-1
	)
	ex := itoa(f.exceptionID)
	longName := strings.Repeat("n", 201)
	type form = url.Values
	cases := []struct {
		name, method, path string
		form               url.Values
		json               any
		// field is what the 4xx answer must name; "" only asks for no 5xx
		// (a conflict, a capped limit, a search that finds nothing).
		field string
		// inline: the page answers 200 with the error shown on it.
		inline bool
	}{
		// Version numbers.
		{name: "API version by number", method: "GET", path: "/api/v1/flows/shop-orders/versions/" + big, field: "n"},
		{name: "API diff a", method: "GET", path: "/api/v1/flows/shop-orders/diff?a=" + big + "&b=draft", field: "a"},
		{name: "API diff b", method: "GET", path: "/api/v1/flows/shop-orders/diff?a=1&b=" + huge, field: "b"},
		{name: "API promotion preview", method: "GET", path: "/api/v1/flows/shop-orders/promotions/preview?to=test&version=" + big, field: "version"},
		{name: "API promotion", method: "POST", path: "/api/v1/flows/shop-orders/promotions", json: map[string]any{"version": 3000000000, "to": "test"}, field: "version"},
		{name: "versions page diff", method: "GET", path: "/flows/shop-orders/versions?a=" + big + "&b=draft", field: "a"},
		{name: "definition export", method: "GET", path: "/flows/shop-orders/definition.json?version=" + big, field: "version"},
		{name: "restore", method: "POST", path: "/flows/shop-orders/versions/" + big + "/restore", form: form{"revision": {"1"}}, field: "n"},
		{name: "deploy", method: "POST", path: "/environments/dev/deploy", form: form{"flow": {"shop-orders"}, "version": {big}}, field: "version"},
		{name: "promote page", method: "GET", path: "/promote?flow=shop-orders&to=test&version=" + big, field: "version", inline: true},
		{name: "promote form", method: "POST", path: "/promote", form: form{"flow": {"shop-orders"}, "to": {"test"}, "version": {big}}, field: "version"},
		// Draft revisions.
		{name: "API draft save revision", method: "PUT", path: "/api/v1/flows/shop-orders/draft", json: map[string]any{"revision": 3000000000, "definition": map[string]any{}}, field: "revision"},
		{name: "API publish revision", method: "POST", path: "/api/v1/flows/shop-orders/publish", json: map[string]any{"revision": 3000000000}, field: "revision"},
		{name: "draft form revision", method: "POST", path: "/flows/shop-orders/draft", form: form{"revision": {big}}, field: "revision"},
		{name: "API replay draft revision", method: "POST", path: "/api/v1/exceptions/" + ex + "/replay", json: map[string]any{"version": "draft", "draftRevision": 3000000000}},
		{name: "inbox replay draft revision", method: "POST", path: "/inbox/" + ex + "/replay", form: form{"version": {"draft"}, "draft_revision": {big}}},
		// Pages and cursors.
		{name: "captures before", method: "GET", path: "/captures?env=dev&before=" + big},
		{name: "captures before past int64", method: "GET", path: "/captures?env=dev&before=" + huge, field: "before"},
		{name: "audit before", method: "GET", path: "/admin/audit?before=" + huge, field: "before"},
		{name: "audit before not a number", method: "GET", path: "/admin/audit?before=abc", field: "before"},
		{name: "inbox before", method: "GET", path: "/inbox?before=" + huge, field: "before"},
		{name: "inbox before not a number", method: "GET", path: "/inbox?before=abc", field: "before"},
		{name: "inbox list before not a number", method: "GET", path: "/inbox?view=list&before=abc", field: "before"},
		{name: "inbox group", method: "GET", path: "/inbox?group=" + huge},
		{name: "API exceptions before", method: "GET", path: "/api/v1/exceptions?before=" + huge},
		{name: "API exceptions limit", method: "GET", path: "/api/v1/exceptions?limit=" + huge},
		{name: "API exception groups limit", method: "GET", path: "/api/v1/exception-groups?limit=" + huge},
		{name: "API messages limit", method: "GET", path: "/api/v1/messages?limit=" + big, field: "limit"},
		{name: "designer sample", method: "GET", path: "/flows/shop-orders?sample=" + huge},
		{name: "bulk action of a group past int64", method: "GET", path: "/inbox/bulk/" + huge},
		{name: "API bulk action group", method: "POST", path: "/api/v1/bulk-actions", json: map[string]any{"action": "resolve", "group": 3000000000, "reason": "x"}},
		{name: "API exception past int64", method: "GET", path: "/api/v1/exceptions/" + huge},
		{name: "API user assign past int64", method: "POST", path: "/api/v1/exceptions/" + ex + "/assign", json: map[string]any{"userId": 3000000000}},
		// Long text where a database column or index has a limit.
		{name: "correlation id search", method: "GET", path: "/messages?correlation=" + strings.Repeat("c", 3000)},
		{name: "API correlation id search", method: "GET", path: "/api/v1/messages?correlation=" + strings.Repeat("c", 3000)},
		{name: "inbox search", method: "GET", path: "/inbox?q=" + strings.Repeat("q", 3000)},
		// Settings.
		{name: "environment position", method: "POST", path: "/environments/test/settings", form: form{"position": {big}}, field: "position"},
		{name: "notification threshold", method: "POST", path: "/environments/dev/notifications", form: form{"url": {"https://hooks.example/x"}, "threshold": {big}}, field: "threshold"},
		{name: "target max attempts", method: "POST", path: "/environments/dev/targets/erp-sales-orders", form: form{"url": {"https://erp.example/orders"}, "max_attempts": {big}}, field: "maxAttempts"},
		{name: "target breaker failures", method: "POST", path: "/environments/dev/targets/erp-sales-orders", form: form{"url": {"https://erp.example/orders"}, "breaker_failures": {big}}, field: "failureThreshold"},
		{name: "target retry delay", method: "POST", path: "/environments/dev/targets/erp-sales-orders", form: form{"url": {"https://erp.example/orders"}, "base_delay": {"1000h"}, "max_delay": {"1000h"}}, field: "delay"},
		{name: "target circuit open for", method: "POST", path: "/environments/dev/targets/erp-sales-orders", form: form{"url": {"https://erp.example/orders"}, "breaker_open_for": {"1000h"}}, field: "openFor"},
		{name: "retention days", method: "POST", path: "/environments/dev/retention", form: form{"days": {big}}, field: "days"},
		{name: "API key rate", method: "POST", path: "/admin/api-keys", form: form{"name": {"k"}, "environment": {"dev"}, "rate": {big}}, field: "rate"},
		// Names.
		{name: "flow name of 201 characters", method: "POST", path: "/flows", form: form{"name": {longName}, "slug": {"long-name"}}, field: "name"},
	}
	// Bundles name flows and number versions too.
	exported := br.get("/api/v1/bundle?flow=shop-orders")
	require.Equal(t, http.StatusOK, exported.StatusCode, exported.body)
	bundle := func(edit func(fl map[string]any)) map[string]any {
		var b map[string]any
		require.NoError(t, json.Unmarshal([]byte(exported.body), &b))
		fl := b["flows"].([]any)[0].(map[string]any)
		// A new flow: its slug, and the definitions named (and
		// checksummed) after it.
		fl["slug"] = "imported-flow"
		for _, v := range fl["versions"].([]any) {
			v := v.(map[string]any)
			raw, err := json.Marshal(v["definition"])
			require.NoError(t, err)
			def, err := engine.ParseDefinition(raw)
			require.NoError(t, err)
			def.Name = "imported-flow"
			v["definition"] = def
			v["checksum"], err = def.Checksum()
			require.NoError(t, err)
		}
		edit(fl)
		return b
	}
	cases = append(cases,
		struct {
			name, method, path string
			form               url.Values
			json               any
			field              string
			inline             bool
		}{name: "bundle flow name of 201 characters", method: "POST", path: "/api/v1/bundle",
			json: bundle(func(fl map[string]any) { fl["name"] = longName }), field: "name"},
		struct {
			name, method, path string
			form               url.Values
			json               any
			field              string
			inline             bool
		}{name: "bundle version number", method: "POST", path: "/api/v1/bundle",
			json: bundle(func(fl map[string]any) { fl["versions"].([]any)[0].(map[string]any)["number"] = 3000000000 }), field: "number"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var res response
			switch {
			case c.json != nil:
				res = br.apiCall(c.method, c.path, c.json)
			case c.method == http.MethodGet:
				res = br.get(c.path)
			default:
				res = br.post(c.path, c.form)
			}
			gist := bodyGist(res.body)
			require.Less(t, res.StatusCode, 500, gist)
			if c.field == "" {
				return
			}
			if c.inline {
				require.Equal(t, http.StatusOK, res.StatusCode, gist)
				require.Contains(t, res.body, "is not a version number", gist)
			} else {
				require.GreaterOrEqual(t, res.StatusCode, 400, gist)
			}
			require.Contains(t, strings.ToLower(res.body), strings.ToLower(c.field), "the answer names the field: %s", gist)
			if strings.HasPrefix(c.path, "/api/") {
				require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), gist)
				require.Contains(t, res.body, `"errors":{"`+c.field+`"`, "the problem's errors name the field: %s", gist)
			}
		})
	}
}
