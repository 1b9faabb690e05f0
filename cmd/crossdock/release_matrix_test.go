package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// The release policy matrix: every entry point that changes what runs (the
// Promote… form, the Environments page's Deploy form, the JSON API, bundle
// import over the API and the CLI, `crossdock flow import --deploy`,
// `crossdock apply`, the rollback form and API, approval on the page and
// the API) × every kind of environment × every principal gets the outcome
// README's "Roles" table states. The expectations below are that table
// written out by hand, not derived from the code under test.

// rmPrincipal is who calls: a signed-in role, an API key or the CLI
// operator (someone with DATABASE_URL and no user).
type rmPrincipal struct {
	name string
	role account.Role
	// key: "manage-own" (manage permission, the environment's own key),
	// "manage-other" (manage permission, another environment's key),
	// "post-own" (the environment's key without the manage permission).
	key string
	cli bool
}

// rmEnv is a kind of environment: dev is unprotected and lacks the
// flow's target (its gates fail), test is unprotected and configured, prod
// is protected and configured.
type rmEnv struct {
	name      string
	protected bool
	gatesPass bool
}

var rmEnvs = []rmEnv{{"dev", false, false}, {"test", false, true}, {"prod", true, true}}

func rmPrincipals() []rmPrincipal {
	var ps []rmPrincipal
	for _, r := range account.Roles {
		ps = append(ps, rmPrincipal{name: string(r), role: r})
	}
	return append(ps, rmPrincipal{name: "key manage own env", key: "manage-own"}, rmPrincipal{name: "key manage other env", key: "manage-other"},
		rmPrincipal{name: "key post own env", key: "post-own"}, rmPrincipal{name: "cli operator", cli: true})
}

func (p rmPrincipal) isRole(roles ...account.Role) bool {
	return p.role != "" && slices.Contains(roles, p.role)
}

// README "Roles": deploy and promote (every path runs the gates; a
// protected environment only ever gets a promotion request).
func mayPromote(p rmPrincipal) bool {
	return p.cli || p.key == "manage-own" || p.isRole(account.RoleAdmin, account.RoleAnalyst, account.RoleApprover)
}

// README "Roles": import a bundle's versions.
func mayImport(p rmPrincipal) bool {
	return p.cli || p.key == "manage-own" || p.key == "manage-other" || p.isRole(account.RoleAdmin, account.RoleAnalyst)
}

// README "Roles": roll back.
func mayRollback(p rmPrincipal, e rmEnv) bool {
	if e.protected {
		return p.isRole(account.RoleAdmin, account.RoleApprover)
	}
	return p.key == "manage-own" || p.isRole(account.RoleAdmin, account.RoleAnalyst, account.RoleApprover)
}

// README "Roles": approve a promotion request (someone else's).
func mayApprove(p rmPrincipal) bool { return p.isRole(account.RoleAdmin, account.RoleApprover) }

func wantPromote(p rmPrincipal, e rmEnv) string {
	switch {
	case !mayPromote(p):
		return "forbidden"
	case !e.gatesPass:
		return "refused by the gates"
	case e.protected:
		return "pending"
	}
	return "deployed"
}

func wantBundleDeploy(p rmPrincipal, e rmEnv) string {
	if !mayImport(p) {
		return "forbidden"
	}
	return wantPromote(p, e)
}

// answer is what an entry point said: an HTTP status and body, or the
// CLI's error.
type answer struct {
	status int
	body   string
	cli    bool
	err    error
}

// refusal classifies an answer that changed nothing.
func (a answer) refusal() string {
	if a.cli {
		switch {
		case a.err == nil:
			return "no error, nothing changed"
		case strings.Contains(a.err.Error(), "is not configured in"):
			return "refused by the gates"
		}
		return "error: " + a.err.Error()
	}
	switch a.status {
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusUnprocessableEntity:
		if strings.Contains(a.body, "is not configured in") {
			return "refused by the gates"
		}
	}
	return fmt.Sprintf("status %d: %.300s", a.status, a.body)
}

type rmFixture struct {
	t       *testing.T
	kv      map[string]string
	pool    *pgxpool.Pool
	base    string
	envs    map[string]release.Environment
	users   map[account.Role]*rmClient
	req     *rmClient // an approver who files the requests others decide
	keys    map[string]string
	n       int
	tpl     *engine.Definition
	tempDir string
}

// rmClient is a signed-in browser against the running server.
type rmClient struct {
	http *http.Client
	base string
	csrf string
}

var rmCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (c *rmClient) do(t *testing.T, method, path, ctype, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.http.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if m := rmCSRF.FindSubmatch(data); m != nil {
		c.csrf = string(m[1])
	}
	return answer{status: res.StatusCode, body: string(data)}
}

func (c *rmClient) form(t *testing.T, path string, v url.Values) answer {
	v.Set("_csrf", c.csrf)
	return c.do(t, http.MethodPost, path, "application/x-www-form-urlencoded", v.Encode())
}

func (c *rmClient) json(t *testing.T, path string, body any) answer {
	raw, _ := json.Marshal(body)
	return c.do(t, http.MethodPost, path, "application/json", string(raw))
}

func setupReleaseMatrix(t *testing.T) *rmFixture {
	ctx := context.Background()
	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_ADDR": "127.0.0.1:0"}
	pool, err := pgxpool.New(ctx, kv["DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	f := &rmFixture{t: t, kv: kv, pool: pool, envs: map[string]release.Environment{}, users: map[account.Role]*rmClient{}, keys: map[string]string{}, tempDir: t.TempDir()}
	for _, e := range rmEnvs {
		f.envs[e.name], err = release.EnvironmentByName(ctx, pool, e.name)
		require.NoError(t, err)
		require.Equal(t, e.protected, f.envs[e.name].Protected)
		if e.gatesPass {
			_, err = pool.Exec(ctx, `insert into target_configs (environment_id, target_name, url_template) values ($1, 'erp-sales-orders', 'https://erp.example')`, f.envs[e.name].ID)
			require.NoError(t, err)
			require.NoError(t, release.VariableSet(ctx, pool, f.envs[e.name].ID, "ERP_COMPANY", "1000"))
		}
		for _, manage := range []bool{true, false} {
			_, token, err := account.APIKeyCreate(ctx, pool, account.NewAPIKey{Name: fmt.Sprintf("%s-%v", e.name, manage), Environment: e.name, CanManage: manage, RatePerMinute: 100000}, account.SystemActor)
			require.NoError(t, err)
			f.keys[fmt.Sprintf("%s/%v", e.name, manage)] = token
		}
	}
	tpl, ok := mappings.TemplateByID("storefront-order-to-erp")
	require.True(t, ok)
	f.tpl, err = engine.ParseDefinition(tpl.Definition)
	require.NoError(t, err)

	f.base = serveForTest(t, kv)
	const pw = "a password for the release matrix"
	signIn := func(email string, role account.Role) *rmClient {
		_, err := account.UserCreate(ctx, pool, account.NewUser{Email: email, Role: role, Password: pw})
		require.NoError(t, err)
		jar, _ := cookiejar.New(nil)
		c := &rmClient{base: f.base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		c.do(t, http.MethodGet, "/login", "", "")
		a := c.form(t, "/login", url.Values{"email": {email}, "password": {pw}})
		require.Equal(t, http.StatusSeeOther, a.status, a.body)
		c.do(t, http.MethodGet, "/environments", "", "")
		require.NotEmpty(t, c.csrf)
		return c
	}
	for _, r := range account.Roles {
		f.users[r] = signIn(string(r)+"@shop.example", r)
	}
	f.req = signIn("requester@shop.example", account.RoleApprover)
	return f
}

// key is the principal's API key for a call about environment env.
func (f *rmFixture) key(p rmPrincipal, env string) string {
	other := map[string]string{"dev": "test", "test": "prod", "prod": "test"}[env]
	switch p.key {
	case "manage-own":
		return f.keys[env+"/true"]
	case "manage-other":
		return f.keys[other+"/true"]
	}
	return f.keys[env+"/false"]
}

// call posts as p: a signed-in browser (with its CSRF token) or a key.
func (f *rmFixture) call(t *testing.T, p rmPrincipal, env, path string, body any, query ...string) answer {
	raw, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		raw = []byte(s)
	}
	if p.key != "" {
		c := &rmClient{http: http.DefaultClient, base: f.base}
		return c.do(t, http.MethodPost, path, "application/json", string(raw), "Authorization", "Bearer "+f.key(p, env))
	}
	return f.users[p.role].do(t, http.MethodPost, path, "application/json", string(raw))
}

// definition is the storefront template named slug.
func (f *rmFixture) definition(slug string) *engine.Definition {
	data, err := f.tpl.Canonical()
	require.NoError(f.t, err)
	def, err := engine.ParseDefinition(data)
	require.NoError(f.t, err)
	def.Name = slug
	return def
}

// flow creates a flow with versions 1..versions published.
func (f *rmFixture) flow(t *testing.T, versions int) mappings.Flow {
	ctx := context.Background()
	f.n++
	slug := fmt.Sprintf("matrix-%03d", f.n)
	ed := mappings.Editor{Email: "fixture@shop.example"}
	fl, err := mappings.FlowCreate(ctx, f.pool, mappings.NewFlow{Name: slug, Slug: slug, Definition: f.definition(slug)}, ed)
	require.NoError(t, err)
	for n := 1; n <= versions; n++ {
		d, err := mappings.DraftGet(ctx, f.pool, fl.ID)
		require.NoError(t, err)
		if n > 1 {
			d.Definition.Description = fmt.Sprintf("version %d", n)
			d, err = mappings.DraftSave(ctx, f.pool, fl.ID, d.Revision, d.Definition, ed)
			require.NoError(t, err)
		}
		_, err = mappings.Publish(ctx, f.pool, fl.ID, d.Revision, fmt.Sprintf("v%d", n), ed)
		require.NoError(t, err)
	}
	fl, err = mappings.FlowByID(ctx, f.pool, fl.ID)
	require.NoError(t, err)
	return fl
}

// newSlug names a flow that does not exist yet (bundles and flow files
// create it).
func (f *rmFixture) newSlug() string {
	f.n++
	return fmt.Sprintf("matrix-%03d", f.n)
}

// bundleFile writes an unsigned bundle of a new flow slug at v1.
func (f *rmFixture) bundle(slug string) string {
	def := f.definition(slug)
	sum, err := def.Checksum()
	require.NoError(f.t, err)
	canonical, err := def.Canonical()
	require.NoError(f.t, err)
	data, err := json.Marshal(release.Bundle{Format: release.BundleFormat, Source: "https://elsewhere.example", Flows: []release.BundleFlow{{
		Slug: slug, Name: slug, Versions: []release.BundleVersion{{Number: 1, Checksum: sum, Definition: canonical}}}}})
	require.NoError(f.t, err)
	return string(data)
}

func (f *rmFixture) writeFile(name, content string) string {
	path := filepath.Join(f.tempDir, name)
	require.NoError(f.t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// state is what runs of slug in env (0: nothing, -1: no such flow) and
// whether a promotion request waits.
func (f *rmFixture) state(t *testing.T, env, slug string) (running int, pending bool) {
	ctx := context.Background()
	fl, err := mappings.FlowBySlug(ctx, f.pool, slug)
	if fault.CodeOf(err) == fault.NotFound {
		return -1, false
	}
	require.NoError(t, err)
	if d, err := release.DeploymentCurrent(ctx, f.pool, f.envs[env].ID, fl.ID); err == nil {
		running = d.VersionNumber
	}
	require.NoError(t, f.pool.QueryRow(ctx, `select exists (select 1 from promotion_requests where flow_id = $1 and environment_id = $2 and status = 'pending')`,
		fl.ID, f.envs[env].ID).Scan(&pending))
	return running, pending
}

// outcome reads what a promotion did: deployed v1, a pending request, or
// the refusal (with "after importing" when a refused bundle left its flow
// behind).
func (f *rmFixture) outcome(t *testing.T, env, slug string, a answer, bundle bool) string {
	running, pending := f.state(t, env, slug)
	switch {
	case running == 1:
		return "deployed"
	case pending:
		return "pending"
	case bundle && running == 0:
		return a.refusal() + " after importing"
	}
	return a.refusal()
}

type promoteEntry struct {
	name   string
	users  bool // signed-in people use it
	keys   bool // API keys use it
	cli    bool // the CLI operator uses it
	bundle bool // it imports a bundle first (the flow does not exist yet)
	do     func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer
}

func promoteEntries() []promoteEntry {
	return []promoteEntry{
		{name: "promote form", users: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			return f.users[p.role].form(t, "/promote", url.Values{"flow": {slug}, "to": {env}, "version": {"1"}, "reason": {"matrix"}})
		}},
		{name: "deploy form", users: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			return f.users[p.role].form(t, "/environments/"+env+"/deploy", url.Values{"flow": {slug}, "version": {"1"}})
		}},
		{name: "promotion API", users: true, keys: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			return f.call(t, p, env, "/api/v1/flows/"+slug+"/promotions", map[string]any{"version": 1, "to": env, "reason": "matrix"})
		}},
		{name: "bundle API", users: true, keys: true, bundle: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			return f.call(t, p, env, "/api/v1/bundle?deploy=true&env="+env, f.bundle(slug))
		}},
		{name: "flow import --deploy", cli: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			data, err := f.definition(slug).Canonical()
			require.NoError(t, err)
			_, _, err = runCmd(t, cliEnv(f.kv), "", "flow", "import", f.writeFile(slug+".json", string(data)), "--publish", "--deploy", env)
			return answer{cli: true, err: err}
		}},
		{name: "import --deploy", cli: true, bundle: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			_, _, err := runCmd(t, cliEnv(f.kv), "", "import", f.writeFile(slug+".bundle.json", f.bundle(slug)), "--env", env, "--deploy")
			return answer{cli: true, err: err}
		}},
		{name: "apply", cli: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			dir := filepath.Join(f.tempDir, slug+"-config")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "environments"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "environments", env+".yaml"), []byte("deployments:\n  "+slug+": 1\n"), 0o600))
			_, _, err := runCmd(t, cliEnv(f.kv), "", "apply", "-f", dir)
			return answer{cli: true, err: err}
		}},
	}
}

func (p rmPrincipal) uses(users, keys, cli bool) bool {
	return p.role != "" && users || p.key != "" && keys || p.cli && cli
}

func TestReleasePolicyForEveryEntryPoint(t *testing.T) {
	t.Parallel()
	f := setupReleaseMatrix(t)

	for _, ep := range promoteEntries() {
		for _, e := range rmEnvs {
			for _, p := range rmPrincipals() {
				if !p.uses(ep.users, ep.keys, ep.cli) {
					continue
				}
				t.Run("deploy/"+ep.name+"/"+e.name+"/"+p.name, func(t *testing.T) {
					var slug string
					if ep.bundle {
						slug = f.newSlug()
					} else {
						slug = f.flow(t, 1).Slug
					}
					a := ep.do(t, f, p, e.name, slug)
					want := wantPromote(p, e)
					if ep.bundle {
						want = wantBundleDeploy(p, e)
					}
					require.Equal(t, want, f.outcome(t, e.name, slug, a, ep.bundle))
				})
			}
		}
	}

	rollbackEntries := []promoteEntry{
		{name: "rollback form", users: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			return f.users[p.role].form(t, "/environments/"+env+"/flows/"+slug+"/rollback", url.Values{"reason": {"matrix"}})
		}},
		{name: "rollback API", users: true, keys: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, slug string) answer {
			return f.call(t, p, env, "/api/v1/flows/"+slug+"/rollback", map[string]any{"environment": env, "reason": "matrix"})
		}},
	}
	for _, ep := range rollbackEntries {
		for _, e := range rmEnvs {
			for _, p := range rmPrincipals() {
				if !p.uses(ep.users, ep.keys, ep.cli) {
					continue
				}
				t.Run("rollback/"+ep.name+"/"+e.name+"/"+p.name, func(t *testing.T) {
					fl := f.flow(t, 2)
					dbtest.Deploy(t, f.pool, f.envs[e.name].ID, fl.ID, 1)
					dbtest.Deploy(t, f.pool, f.envs[e.name].ID, fl.ID, 2)
					a := ep.do(t, f, p, e.name, fl.Slug)
					want := "forbidden"
					if mayRollback(p, e) {
						want = "deployed" // back on v1
					}
					require.Equal(t, want, f.outcome(t, e.name, fl.Slug, a, false))
				})
			}
		}
	}

	approveEntries := []promoteEntry{
		{name: "approve form", users: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, path string) answer {
			return f.users[p.role].form(t, path+"/approve", url.Values{"comment": {"matrix"}})
		}},
		{name: "approve API", users: true, keys: true, do: func(t *testing.T, f *rmFixture, p rmPrincipal, env, path string) answer {
			return f.call(t, p, env, "/api/v1"+path+"/approve", map[string]any{"comment": "matrix"})
		}},
	}
	for _, ep := range approveEntries {
		for _, p := range rmPrincipals() {
			if !p.uses(ep.users, ep.keys, ep.cli) {
				continue
			}
			t.Run("approve/"+ep.name+"/prod/"+p.name, func(t *testing.T) {
				fl := f.flow(t, 1)
				a := f.req.json(t, "/api/v1/flows/"+fl.Slug+"/promotions", map[string]any{"version": 1, "to": "prod"})
				require.Equal(t, http.StatusAccepted, a.status, a.body)
				var out struct{ Request struct{ ID int64 } }
				require.NoError(t, json.Unmarshal([]byte(a.body), &out))
				a = ep.do(t, f, p, "prod", fmt.Sprintf("/promotions/%d", out.Request.ID))
				want := "pending, then forbidden"
				if mayApprove(p) {
					want = "deployed"
				}
				got := f.outcome(t, "prod", fl.Slug, a, false)
				if got == "pending" {
					got = "pending, then " + a.refusal()
				}
				require.Equal(t, want, got)
			})
		}
	}
}

// cliEnv is the environment CLI commands of the matrix run with.
func cliEnv(kv map[string]string) func(string) string { return env(kv) }

// TestBundleImportIsAuditedAlikeEverywhere imports a bundle, and a
// tampered one, through the upload page, the API (as a person and as a
// manage key) and `crossdock import`: each import is audited as
// bundle.import and each refusal as bundle.refuse, with the same fields,
// whoever and wherever.
func TestBundleImportIsAuditedAlikeEverywhere(t *testing.T) {
	t.Parallel()
	f := setupReleaseMatrix(t)
	ctx := context.Background()
	analyst := rmPrincipal{name: "analyst", role: account.RoleAnalyst}
	key := rmPrincipal{name: "key", key: "manage-own"}
	entries := []struct {
		name, actor string
		do          func(t *testing.T, data string) answer
	}{
		{"upload page", "analyst@shop.example", func(t *testing.T, data string) answer {
			return f.users[account.RoleAnalyst].form(t, "/bundles/import", url.Values{"bundle_json": {data}})
		}},
		{"API as a person", "analyst@shop.example", func(t *testing.T, data string) answer {
			return f.call(t, analyst, "test", "/api/v1/bundle", data)
		}},
		{"API as a key", "apikey cdk_test_", func(t *testing.T, data string) answer {
			return f.call(t, key, "test", "/api/v1/bundle", data)
		}},
		{"crossdock import", "cli", func(t *testing.T, data string) answer {
			_, _, err := runCmd(t, cliEnv(f.kv), "", "import", f.writeFile(fmt.Sprintf("b%d.json", f.n), data))
			return answer{cli: true, err: err}
		}},
	}
	type entry struct {
		Actor string
		After map[string]any
	}
	last := func(t *testing.T, action string) entry {
		var e entry
		var after []byte
		require.NoError(t, f.pool.QueryRow(ctx, `select actor_email, coalesce(after, 'null') from audit_entries where action = $1 order by id desc limit 1`, action).Scan(&e.Actor, &after))
		require.NoError(t, json.Unmarshal(after, &e.After))
		return e
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	for _, ep := range entries {
		t.Run(ep.name, func(t *testing.T) {
			slug := f.newSlug()
			a := ep.do(t, f.bundle(slug))
			require.True(t, a.err == nil && (a.cli || a.status == http.StatusOK), "%s: %d %v %.300s", ep.name, a.status, a.err, a.body)
			imported := last(t, "bundle.import")
			require.True(t, strings.HasPrefix(imported.Actor, ep.actor), imported.Actor)
			require.Equal(t, []string{"created", "from", "note"}, keys(imported.After))
			require.Equal(t, []any{slug + " v1"}, imported.After["created"])

			tampered := strings.Replace(f.bundle(f.newSlug()), `"system":"storefront"`, `"system":"storefront-x"`, 1)
			a = ep.do(t, tampered)
			require.True(t, a.err != nil || a.status == http.StatusUnprocessableEntity, "%s: %d %v", ep.name, a.status, a.err)
			refused := last(t, "bundle.refuse")
			require.True(t, strings.HasPrefix(refused.Actor, ep.actor), refused.Actor)
			require.Equal(t, []string{"flows", "from", "why"}, keys(refused.After))
			require.Contains(t, refused.After["why"], "does not match its checksum")
		})
	}
}
