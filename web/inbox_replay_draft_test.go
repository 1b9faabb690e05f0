package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/inbox"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// htmxPost posts a form as htmx does, for fragments.
func (br *browser) htmxPost(path string, form url.Values) response {
	form.Set("_csrf", br.csrf)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	return br.do(req)
}

// changeTheDraft saves a new revision of shop-orders' draft (a new
// description), as an analyst would after v1 was published.
func changeTheDraft(t *testing.T, tb *triggerBundle) (mappings.Flow, mappings.Draft) {
	t.Helper()
	ctx := context.Background()
	f, err := mappings.FlowBySlug(ctx, tb.db, "shop-orders")
	require.NoError(t, err)
	d, err := mappings.DraftGet(ctx, tb.db, f.ID)
	require.NoError(t, err)
	d.Definition.Description = "fixed for the replay"
	d, err = mappings.DraftSave(ctx, tb.db, f.ID, d.Revision, d.Definition, mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
	return f, d
}

// TestReplayOnTheDraft: sending on the draft publishes exactly the
// previewed draft revision as the next version and replays on it, for
// those who may both act on exceptions and publish; support previews
// only; a protected environment never runs a draft.
func TestReplayOnTheDraft(t *testing.T) {
	t.Parallel()
	tb, items := setupInbox(t)
	ctx := context.Background()
	tb.user(t, "sam@shop.example", account.RoleSupport)
	tb.user(t, "ada@shop.example", account.RoleAdmin)
	a, b := items[0], items[1]
	aPath := fmt.Sprintf("/inbox/%d", a.ID)

	// The analyst changes the draft (revision 2); the published v1 stays.
	f, d := changeTheDraft(t, tb)
	rev := fmt.Sprint(d.Revision)

	// Support: the draft is preview only, and the page says why.
	sam := tb.browser(t)
	sam.signIn("sam@shop.example")
	res := sam.get(aPath)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.body, `id="draft-refusal"`)
	require.Contains(t, res.body, "publishing is for analysts and admins")
	res = sam.htmxPost(aPath+"/preview", url.Values{"version": {"draft"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, "Preview only.")
	require.NotContains(t, res.body, `name="draft_revision"`, "support's preview cannot be sent")
	res = sam.post(aPath+"/replay", url.Values{"version": {"draft"}, "draft_revision": {rev}})
	require.Equal(t, http.StatusForbidden, res.StatusCode, res.body)

	// An admin previews; the preview carries the draft revision it showed.
	ada := tb.browser(t)
	ada.signIn("ada@shop.example")
	res = ada.get(aPath)
	require.NotContains(t, res.body, `id="draft-refusal"`)
	require.Contains(t, res.body, "published as the next version first")
	res = ada.htmxPost(aPath+"/preview", url.Values{"version": {"draft"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	require.Contains(t, res.body, "Replay publishes draft revision "+rev+" of shop-orders as version 2")
	require.Contains(t, res.body, `name="draft_revision" value="`+rev+`"`)
	res = ada.post(aPath+"/replay", url.Values{"version": {"draft"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "no preview, no replay on the draft")
	res = ada.post(aPath+"/replay", url.Values{"version": {"draft"}, "draft_revision": {"1"}})
	require.Equal(t, http.StatusConflict, res.StatusCode, "the draft changed since that preview")
	versions, err := mappings.VersionList(ctx, tb.db, f.ID)
	require.NoError(t, err)
	require.Len(t, versions, 1, "refusals publish nothing")

	res = ada.post(aPath+"/replay", url.Values{"version": {"draft"}, "draft_revision": {rev}, "reason": {"new description"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	newID, err := store.ParseMessageID(strings.TrimPrefix(res.Header.Get("Location"), "/messages/"))
	require.NoError(t, err)

	// v2 exists, immutable and noted; the message is pinned to it; dev
	// still deploys v1; the publish and the replay are audited.
	v2, err := mappings.VersionGet(ctx, tb.db, f.ID, 2)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("published to replay exception #%d", a.ID), v2.Note)
	require.Equal(t, "ada@shop.example", v2.AuthorEmail)
	m, err := store.MessageByID(ctx, tb.db, newID)
	require.NoError(t, err)
	require.Equal(t, 2, m.VersionNumber)
	require.Equal(t, v2.Checksum, m.Checksum)
	dev, err := release.EnvironmentByName(ctx, tb.db, "dev")
	require.NoError(t, err)
	dep, err := release.DeploymentCurrent(ctx, tb.db, dev.ID, f.ID)
	require.NoError(t, err)
	require.Equal(t, 1, dep.VersionNumber, "replaying on the draft does not deploy it")
	got, err := inbox.ExceptionGet(ctx, tb.db, a.ID)
	require.NoError(t, err)
	require.Equal(t, store.ExceptionResolved, got.Status)
	require.Contains(t, got.Resolution, "version 2, published from the draft")
	pubs, err := account.AuditList(ctx, tb.db, account.AuditFilter{Action: "flow.publish"})
	require.NoError(t, err)
	require.Len(t, pubs, 1)
	require.Equal(t, "ada@shop.example", pubs[0].ActorEmail)
	require.Contains(t, string(pubs[0].After), fmt.Sprintf(`"exception": %d`, a.ID))
	replays, err := account.AuditList(ctx, tb.db, account.AuditFilter{Action: "exception.replay"})
	require.NoError(t, err)
	require.Len(t, replays, 1)
	require.Contains(t, string(replays[0].After), `"publishedFromDraft": 2`)

	// The draft is now identical to v2: a replay on it publishes nothing.
	res = ada.htmxPost(fmt.Sprintf("/inbox/%d/preview", b.ID), url.Values{"version": {"draft"}})
	require.Contains(t, res.body, "The draft is identical to version 2")

	// API keys: the support permission alone does not publish.
	_, support, err := account.APIKeyCreate(ctx, tb.db, account.NewAPIKey{Name: "bot", Environment: "dev", CanSupport: true}, account.SystemActor)
	require.NoError(t, err)
	res, _ = tb.keyAPI(t, support, http.MethodPost, fmt.Sprintf("/api/v1/exceptions/%d/replay", b.ID), map[string]any{"version": "draft", "draftRevision": d.Revision})
	require.Equal(t, http.StatusForbidden, res.StatusCode, res.body)

	// A protected environment never runs a draft, whoever asks.
	_, err = release.EnvironmentUpdate(ctx, tb.db, dev.ID, true, dev.Position)
	require.NoError(t, err)
	res = ada.get(fmt.Sprintf("/inbox/%d", b.ID))
	require.Contains(t, res.body, "dev is a protected environment")
	res = ada.htmxPost(fmt.Sprintf("/inbox/%d/preview", b.ID), url.Values{"version": {"draft"}})
	require.Equal(t, http.StatusOK, res.StatusCode, "the draft can still be previewed")
	require.Contains(t, res.body, "Preview only. dev is a protected environment")
	require.NotContains(t, res.body, `name="draft_revision"`)
	res = ada.post(fmt.Sprintf("/inbox/%d/replay", b.ID), url.Values{"version": {"draft"}, "draft_revision": {rev}})
	require.Equal(t, http.StatusConflict, res.StatusCode, res.body)
	require.Contains(t, res.body, "promote it to dev")
}
