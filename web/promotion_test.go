package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// promotionSetup publishes the storefront template as flow "orders" (v1)
// and signs in an analyst, two approvers, an admin and a viewer.
type promotionSetup struct {
	*testBundle
	ana, amy, bob, adm, vic *browser
	flow                    mappings.Flow
}

func setupPromotionWeb(t *testing.T) *promotionSetup {
	t.Helper()
	b := setup(t)
	ctx := context.Background()
	p := &promotionSetup{testBundle: b}
	for email, role := range map[string]account.Role{"ana@shop.example": account.RoleAnalyst, "amy@shop.example": account.RoleApprover,
		"bob@shop.example": account.RoleApprover, "adm@shop.example": account.RoleAdmin, "vic@shop.example": account.RoleViewer} {
		b.user(t, email, role)
	}
	p.ana, p.amy, p.bob, p.adm, p.vic = b.browser(t), b.browser(t), b.browser(t), b.browser(t), b.browser(t)
	p.ana.signIn("ana@shop.example")
	p.amy.signIn("amy@shop.example")
	p.bob.signIn("bob@shop.example")
	p.adm.signIn("adm@shop.example")
	p.vic.signIn("vic@shop.example")
	tpl, ok := mappings.TemplateByID("storefront-order-to-erp")
	require.True(t, ok)
	def, err := engine.ParseDefinition(tpl.Definition)
	require.NoError(t, err)
	ed := mappings.Editor{Email: "ana@shop.example"}
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "orders", Slug: "orders", Definition: def}, ed)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, 1, "v1", ed)
	require.NoError(t, err)
	p.flow, err = mappings.FlowByID(ctx, b.db, f.ID)
	require.NoError(t, err)
	return p
}

// publishV2 publishes a second version of orders.
func (p *promotionSetup) publishV2(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	d, err := mappings.DraftGet(ctx, p.db, p.flow.ID)
	require.NoError(t, err)
	d.Definition.Description = "second version"
	_, err = mappings.DraftSave(ctx, p.db, p.flow.ID, d.Revision, d.Definition, mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, p.db, p.flow.ID, d.Revision+1, "v2", mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
}

func (p *promotionSetup) configureERP(t *testing.T, env string) {
	t.Helper()
	p.adm.get("/environments/" + env + "/targets/erp-sales-orders")
	res := p.adm.post("/environments/"+env+"/targets/erp-sales-orders", url.Values{"url": {"https://erp." + env + ".example/orders"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	res = p.adm.post("/environments/"+env+"/variables", url.Values{"name": {"ERP_COMPANY"}, "value": {"1000"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
}

func TestPromotionPagesGateApproveAndRollBack(t *testing.T) {
	t.Parallel()
	p := setupPromotionWeb(t)

	// The preview names the target test lacks; promoting is refused.
	res := p.ana.get("/promote?flow=orders&to=test")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, "target “erp-sales-orders” is not configured in test")
	require.NotContains(t, res.body, `id="promote"`)
	res = p.ana.post("/promote", url.Values{"flow": {"orders"}, "to": {"test"}, "version": {"1"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "Not promoted: the gates failed")
	require.Contains(t, res.body, "erp-sales-orders")

	// Configured, it deploys at once; the history shows who, why, gates.
	p.configureERP(t, "test")
	p.ana.get("/promote?flow=orders&to=test")
	res = p.ana.post("/promote", url.Values{"flow": {"orders"}, "to": {"test"}, "version": {"1"}, "reason": {"first release"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Equal(t, "/environments/test/flows/orders", res.Header.Get("Location"))
	res = p.ana.get("/environments/test/flows/orders")
	require.Contains(t, res.body, "first release")
	require.Contains(t, res.body, "ana@shop.example")
	require.Contains(t, res.body, "3/3 test cases")

	// Prod is protected: a request the requester cannot approve.
	p.configureERP(t, "prod")
	res = p.amy.get("/promote?flow=orders&to=prod")
	require.Contains(t, res.body, "what test runs", "the default is what the previous environment runs")
	res = p.amy.post("/promote", url.Values{"flow": {"orders"}, "to": {"prod"}, "version": {"1"}, "reason": {"go live"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	loc := res.Header.Get("Location")
	require.Regexp(t, `^/promotions/\d+$`, loc)
	res = p.amy.get(loc)
	require.Contains(t, res.body, "another approver must approve or reject it")
	res = p.amy.post(loc+"/approve", url.Values{"comment": {"self"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Contains(t, res.body, "ou requested this promotion; another approver must approve or reject it")
	res = p.ana.post(loc+"/approve", url.Values{"comment": {"analyst"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "analysts do not approve")
	res = p.vic.get("/environments")
	require.Contains(t, res.body, "awaits approval")

	p.bob.get(loc)
	res = p.bob.post(loc+"/approve", url.Values{"comment": {"checked with finance"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	res = p.bob.get(loc)
	require.Contains(t, res.body, "approved")
	require.Contains(t, res.body, "checked with finance")

	// v2 to test, then a one-step rollback back to v1.
	p.publishV2(t)
	res = p.vic.get("/environments")
	require.NotContains(t, res.body, "drift", "every environment runs the newest deployed version")
	p.ana.get("/promote?flow=orders&to=test&version=2")
	res = p.ana.post("/promote", url.Values{"flow": {"orders"}, "to": {"test"}, "version": {"2"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	res = p.vic.get("/environments")
	require.Contains(t, res.body, "drift", "test runs v2, prod v1")
	res = p.ana.get("/environments/test/flows/orders")
	require.Contains(t, res.body, "Roll back to v1")
	res = p.ana.post("/environments/test/flows/orders/rollback", url.Values{"reason": {"ERP rejects it"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	cur, err := release.DeploymentCurrent(context.Background(), p.db, mustEnv(t, p, "test").ID, p.flow.ID)
	require.NoError(t, err)
	require.Equal(t, 1, cur.VersionNumber)
	require.Equal(t, "rollback", cur.Kind)

	// Analysts cannot roll back a protected environment; viewers cannot promote.
	res = p.ana.post("/environments/prod/flows/orders/rollback", url.Values{})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res = p.vic.get("/promote?flow=orders&to=test")
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	// The Deploy form on a protected environment files a request too, even
	// for an admin: it never switches prod directly.
	p.adm.get("/environments")
	res = p.adm.post("/environments/prod/deploy", url.Values{"flow": {"orders"}, "version": {"2"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	require.Regexp(t, `^/promotions/\d+$`, res.Header.Get("Location"))
	cur, err = release.DeploymentCurrent(context.Background(), p.db, mustEnv(t, p, "prod").ID, p.flow.ID)
	require.NoError(t, err)
	require.Equal(t, 1, cur.VersionNumber, "prod still runs v1")

	// Everything is audited.
	var actions []string
	rows, err := p.db.Query(context.Background(), `select action from audit_entries where action like 'promotion.%' or action like 'deployment.%' order by id`)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.Equal(t, []string{"promotion.refuse", "promotion.deploy", "promotion.request", "promotion.approve", "promotion.deploy", "deployment.rollback", "promotion.request"}, actions)
}

func mustEnv(t *testing.T, p *promotionSetup, name string) release.Environment {
	t.Helper()
	e, err := release.EnvironmentByName(context.Background(), p.db, name)
	require.NoError(t, err)
	return e
}

func TestEnvironmentAdministration(t *testing.T) {
	t.Parallel()
	p := setupPromotionWeb(t)
	p.adm.get("/environments")
	res := p.adm.post("/environments/test/variables", url.Values{"name": {"ERP_COMPANY"}, "value": {"2000"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	res = p.adm.post("/environments/test/variables", url.Values{"name": {"bad name"}, "value": {"x"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "must start with a letter")
	res = p.adm.post("/environments", url.Values{"name": {"staging"}, "protected": {"1"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	res = p.adm.post("/environments/staging/settings", url.Values{"position": {"3"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	envs, err := release.EnvironmentList(context.Background(), p.db)
	require.NoError(t, err)
	require.Equal(t, "staging", envs[2].Name)
	require.False(t, envs[2].Protected, "the unchecked box clears the flag")
	_, _, err = account.APIKeyCreate(context.Background(), p.db, account.NewAPIKey{Name: "helpdesk", Environment: "test", CanSupport: true}, account.SystemActor)
	require.NoError(t, err)
	res = p.adm.get("/environments")
	require.Contains(t, res.body, "ERP_COMPANY")
	require.Regexp(t, regexp.MustCompile(`(?s)<th>test</th>\s*<th>staging</th>\s*<th>prod</th>`), res.body)
	require.Regexp(t, regexp.MustCompile(`helpdesk\s*<span class="badge badge-support">support</span>`), res.body, "a key's permissions show beside it")

	p.vic.get("/environments")
	for _, path := range []string{"/environments/test/variables", "/environments", "/environments/test/settings", "/environments/test/variables/ERP_COMPANY/delete"} {
		res = p.vic.post(path, url.Values{"name": {"X"}, "value": {"1"}})
		require.Equal(t, http.StatusForbidden, res.StatusCode, path)
	}
	res = p.adm.post("/environments/test/variables/ERP_COMPANY/delete", url.Values{})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res = p.adm.post("/environments/test/variables/ERP_COMPANY/delete", url.Values{})
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	// Forms need the CSRF token.
	res = p.adm.post("/environments/test/variables", url.Values{"_csrf": {"forged"}, "name": {"X"}, "value": {"1"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

func TestPromotionAPIWithAKeyOfTheEnvironment(t *testing.T) {
	t.Parallel()
	p := setupPromotionWeb(t)
	ctx := context.Background()
	p.configureERP(t, "test")
	_, testKey, err := account.APIKeyCreate(ctx, p.db, account.NewAPIKey{Name: "ci", Environment: "test", CanManage: true}, account.SystemActor)
	require.NoError(t, err)
	_, triggerKey, err := account.APIKeyCreate(ctx, p.db, account.NewAPIKey{Name: "shop", Environment: "test"}, account.SystemActor)
	require.NoError(t, err)
	call := func(key, method, path string, body any) (int, map[string]any) {
		raw, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := p.app.Test(req, -1)
		require.NoError(t, err)
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	status, out := call(testKey, http.MethodGet, "/api/v1/flows/orders/promotions/preview?to=test", nil)
	require.Equal(t, http.StatusOK, status, out)
	require.EqualValues(t, 1, out["version"])
	require.Equal(t, true, out["gates"].(map[string]any)["passed"])

	status, out = call(testKey, http.MethodPost, "/api/v1/flows/orders/promotions", map[string]any{"version": 1, "to": "prod"})
	require.Equal(t, http.StatusForbidden, status, "a test key cannot promote to prod")
	require.Contains(t, out["detail"], "belongs to environment test")
	status, _ = call(triggerKey, http.MethodPost, "/api/v1/flows/orders/promotions", map[string]any{"version": 1, "to": "test"})
	require.Equal(t, http.StatusForbidden, status, "a trigger-only key cannot promote")

	status, out = call(testKey, http.MethodPost, "/api/v1/flows/orders/promotions", map[string]any{"version": 1, "to": "test", "reason": "CI"})
	require.Equal(t, http.StatusCreated, status, out)
	require.Equal(t, "deployed", out["status"])
	status, _ = call(testKey, http.MethodPost, "/api/v1/flows/orders/promotions", map[string]any{"version": 1, "to": "test"})
	require.Equal(t, http.StatusConflict, status)

	status, out = call(testKey, http.MethodGet, "/api/v1/environments", nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, out["environments"], 3)
	status, out = call(testKey, http.MethodGet, "/api/v1/flows/orders/deployments?env=test", nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, out["deployments"], 1)

	// Prod lacks the target: a session promotion is refused with the gates.
	p.amy.get("/environments")
	p.bob.get("/environments")
	res, body := p.amy.api(http.MethodPost, "/api/v1/flows/orders/promotions", map[string]any{"version": 1, "to": "prod"})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, body["detail"], "target “erp-sales-orders” is not configured in prod")
	require.NotEmpty(t, body["gates"].(map[string]any)["failures"])

	p.configureERP(t, "prod")
	res, body = p.amy.api(http.MethodPost, "/api/v1/flows/orders/promotions", map[string]any{"version": 1, "to": "prod"})
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	id := int(body["request"].(map[string]any)["id"].(float64))
	path := "/api/v1/promotions/" + strconv.Itoa(id)
	status, _ = call(testKey, http.MethodPost, path+"/approve", map[string]any{})
	require.Equal(t, http.StatusForbidden, status, "keys cannot approve")
	res, _ = p.amy.api(http.MethodPost, path+"/approve", map[string]any{})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "the requester cannot approve")
	res, _ = p.bob.api(http.MethodPost, path+"/reject", map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "a rejection needs a comment")
	res, body = p.bob.api(http.MethodPost, path+"/approve", map[string]any{"comment": "ok"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.NotNil(t, body["deployment"])

	res, body = p.bob.api(http.MethodPost, "/api/v1/flows/orders/rollback", map[string]any{"environment": "prod"})
	require.Equal(t, http.StatusConflict, res.StatusCode, "nothing earlier in prod")
	require.Contains(t, body["detail"], "no earlier deployment")
}

func TestBundlePagesExportDryRunAndRefuseTampering(t *testing.T) {
	t.Parallel()
	p := setupPromotionWeb(t)
	res := p.vic.get("/bundles/export?flow=orders")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Disposition"), "bundle.json")
	bundle := res.body
	require.Contains(t, bundle, `"format": "crossdock-bundle/1"`)
	require.NotContains(t, bundle, "erp.test.example")

	upload := func(br *browser, data string, dryRun bool) response {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("_csrf", br.csrf)
		if dryRun {
			_ = w.WriteField("dry_run", "1")
		}
		fw, _ := w.CreateFormFile("bundle", "bundle.json")
		_, _ = fw.Write([]byte(data))
		_ = w.Close()
		req := httptest.NewRequest(http.MethodPost, "/bundles/import", &buf)
		req.Header.Set("Content-Type", w.FormDataContentType())
		return br.do(req)
	}
	p.ana.get("/bundles")
	res = upload(p.ana, bundle, true)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, "Dry run: nothing was imported")
	require.Contains(t, res.body, "importing it changes nothing", "the same installation has every version")

	require.Contains(t, bundle, `"system": "storefront"`)
	tampered := strings.Replace(bundle, `"system": "storefront"`, `"system": "storefront-x"`, 1)
	tampered = strings.Replace(tampered, `"slug": "orders"`, `"slug": "orders-copy"`, 1)
	res = upload(p.ana, tampered, true)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
	require.Contains(t, res.body, "does not match its checksum")

	renamed := strings.Replace(bundle, `"slug": "orders"`, `"slug": "orders-copy"`, 1)
	res = upload(p.ana, renamed, true)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, "new flow")
	require.Contains(t, res.body, `id="import-now"`)
	res = p.ana.post("/bundles/import", url.Values{"bundle_json": {renamed}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, "Imported")
	_, err := mappings.FlowBySlug(context.Background(), p.db, "orders-copy")
	require.NoError(t, err)

	p.vic.get("/bundles")
	res = upload(p.vic, bundle, true)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "viewers do not import")
}

// TestDeployFormRunsTheGates: the Environments page's Deploy form is a
// promotion — the gates refuse a version whose target is missing, with the
// reason on the page and in the audit log.
func TestDeployFormRunsTheGates(t *testing.T) {
	t.Parallel()
	p := setupPromotionWeb(t)
	ctx := context.Background()
	p.ana.get("/environments")
	res := p.ana.post("/environments/test/deploy", url.Values{"flow": {"orders"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.body)
	require.Contains(t, res.body, "Not deployed: orders v1 cannot be promoted to test")
	require.Contains(t, res.body, "target “erp-sales-orders” is not configured in test")
	_, err := release.DeploymentCurrent(ctx, p.db, mustEnv(t, p, "test").ID, p.flow.ID)
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "nothing runs in test")
	var refused int
	require.NoError(t, p.db.QueryRow(ctx, `select count(*) from audit_entries where action = 'promotion.refuse' and actor_email = 'ana@shop.example'`).Scan(&refused))
	require.Equal(t, 1, refused)

	p.configureERP(t, "test")
	p.ana.get("/environments")
	res = p.ana.post("/environments/test/deploy", url.Values{"flow": {"orders"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	cur, err := release.DeploymentCurrent(ctx, p.db, mustEnv(t, p, "test").ID, p.flow.ID)
	require.NoError(t, err)
	require.Equal(t, release.KindPromote, cur.Kind)
	require.True(t, cur.Gates.Passed())
	res = p.ana.get("/environments")
	require.Contains(t, res.body, "Deployed orders v1 to test (gates passed).")
	res = p.ana.post("/environments/test/deploy", url.Values{"flow": {"orders"}, "version": {"1"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.body, "test already runs orders v1")

	_, err = mappings.FlowCreate(ctx, p.db, mappings.NewFlow{Name: "draft only", Slug: "draft-only"}, mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
	res = p.ana.post("/environments/test/deploy", url.Values{"flow": {"draft-only"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, res.body, "draft-only has no published version")
	p.vic.get("/environments")
	res = p.vic.post("/environments/test/deploy", url.Values{"flow": {"orders"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

// An environment's history leads on: "Promote…" offers the version running
// there to the next environment; the matrix marks drift only where a
// version runs, and says what is ready where nothing does.
func TestHistoryPromotesOnAndMatrixSaysWhatIsReady(t *testing.T) {
	t.Parallel()
	p := setupPromotionWeb(t)
	p.configureERP(t, "test")
	p.ana.get("/promote?flow=orders&to=test")
	res := p.ana.post("/promote", url.Values{"flow": {"orders"}, "to": {"test"}, "version": {"1"}, "reason": {"first release"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)

	t.Run("test's history promotes its version to prod", func(t *testing.T) {
		res := p.ana.get("/environments/test/flows/orders")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.body, `href="/promote?flow=orders&amp;to=prod&amp;version=1"`)
		require.Contains(t, res.body, "Promote v1 to prod…")
	})
	t.Run("the last environment's history deploys another version into it", func(t *testing.T) {
		res := p.ana.get("/environments/prod/flows/orders")
		require.Contains(t, res.body, `href="/promote?flow=orders&amp;to=prod"`)
		require.Contains(t, res.body, "Deploy a version here…")
	})
	t.Run("nothing deployed is not drift", func(t *testing.T) {
		res := p.vic.get("/environments")
		require.NotContains(t, res.body, ">drift<", "prod runs nothing: nothing has drifted")
		require.Contains(t, res.body, "v1 ready to promote")
	})
}

// A request amy files waits for bob: his navigation counts it, his home
// is the requests page, which lists it under "Waiting for your decision";
// amy (the requester), the analyst and the viewer see no such badge.
func TestApproverSeesWhatWaitsForThem(t *testing.T) {
	t.Parallel()
	p := setupPromotionWeb(t)
	p.configureERP(t, "prod")
	p.amy.get("/promote?flow=orders&to=prod")
	res := p.amy.post("/promote", url.Values{"flow": {"orders"}, "to": {"prod"}, "version": {"1"}, "reason": {"go live"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	loc := res.Header.Get("Location")

	t.Run("another approver is counted and sent to it", func(t *testing.T) {
		res := p.bob.get("/flows")
		require.Contains(t, res.body, `id="promotions-awaiting-count"`)
		require.Regexp(t, `id="promotions-awaiting-count"[^>]*>1<`, res.body)
		res = p.bob.get("/")
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/promotions", res.Header.Get("Location"))
		res = p.bob.get("/promotions")
		require.Contains(t, res.body, "Waiting for your decision")
		require.Contains(t, res.body, `href="`+loc+`"`)
		require.Contains(t, res.body, "go live")
	})
	t.Run("admins are counted too", func(t *testing.T) {
		res := p.adm.get("/flows")
		require.Contains(t, res.body, `id="promotions-awaiting-count"`)
	})
	t.Run("the requester, analysts and viewers are not", func(t *testing.T) {
		for name, b := range map[string]*browser{"requester": p.amy, "analyst": p.ana, "viewer": p.vic} {
			res := b.get("/promotions")
			require.NotContains(t, res.body, `id="promotions-awaiting-count"`, name)
			require.NotContains(t, res.body, "Waiting for your decision", name)
		}
		res := p.amy.get("/")
		require.Equal(t, "/flows", res.Header.Get("Location"), "nothing waits for amy")
	})
	t.Run("a decided request no longer waits", func(t *testing.T) {
		p.bob.get(loc)
		res := p.bob.post(loc+"/approve", url.Values{"comment": {"checked"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		res = p.bob.get("/flows")
		require.NotContains(t, res.body, `id="promotions-awaiting-count"`)
		res = p.bob.get("/")
		require.Equal(t, "/flows", res.Header.Get("Location"))
	})
}
