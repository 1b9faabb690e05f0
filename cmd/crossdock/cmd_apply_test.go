package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// applyBundle is an empty installation, the environment crossdock apply
// runs with, and a pool to look at what it did.
type applyBundle struct {
	kv   map[string]string
	pool *pgxpool.Pool
	key  []byte
}

func setupApply(t *testing.T) *applyBundle {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	b := &applyBundle{key: key, kv: map[string]string{
		"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_SECRET_KEY": base64.StdEncoding.EncodeToString(key),
		"CROSSDOCK_DATA_DIR": t.TempDir(), "ERP_TOKEN": "t0ken-of-the-erp",
	}}
	var err error
	b.pool, err = pgxpool.New(context.Background(), b.kv["DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(b.pool.Close)
	return b
}

func (b *applyBundle) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, stderr, err := runCmd(t, env(b.kv), "", args...)
	return out + stderr, err
}

func (b *applyBundle) env(t *testing.T, name string) release.Environment {
	t.Helper()
	e, err := release.EnvironmentByName(context.Background(), b.pool, name)
	require.NoError(t, err)
	return e
}

// running is the version of flow running in env, 0 for none.
func (b *applyBundle) running(t *testing.T, envName, flow string) int {
	t.Helper()
	var n int
	err := b.pool.QueryRow(context.Background(), `select coalesce((select d.version_number from current_deployments c join deployments d on d.id = c.deployment_id
		join flows f on f.id = c.flow_id join environments e on e.id = c.environment_id where f.slug = $1 and e.name = $2), 0)`, flow, envName).Scan(&n)
	require.NoError(t, err)
	return n
}

// pending lists the pending promotion requests as "flow vN env".
func (b *applyBundle) pending(t *testing.T) []string {
	t.Helper()
	list, err := release.PromotionRequestList(context.Background(), b.pool, release.RequestPending, 100)
	require.NoError(t, err)
	out := []string{}
	for _, r := range list {
		out = append(out, fmt.Sprintf("%s v%d %s", r.Flow, r.VersionNumber, r.Environment))
	}
	return out
}

// configDirFiles writes files (path → content) under a new directory;
// a content of "@name" copies engine/testdata/flows/name.json.
func configDirFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for path, content := range files {
		if name, ok := strings.CutPrefix(content, "@"); ok {
			raw, err := os.ReadFile("../../engine/testdata/flows/" + name + ".json")
			require.NoError(t, err)
			content = string(raw)
		}
		full := filepath.Join(dir, filepath.FromSlash(path))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o600))
	}
	return dir
}

// changedFlow is a testdata flow with its description changed.
func changedFlow(t *testing.T, name, description string) string {
	t.Helper()
	raw, err := os.ReadFile("../../engine/testdata/flows/" + name + ".json")
	require.NoError(t, err)
	var def map[string]any
	require.NoError(t, json.Unmarshal(raw, &def))
	def["description"] = description
	out, err := json.MarshalIndent(def, "", "  ")
	require.NoError(t, err)
	return string(out)
}

const devYAML = `# dev: the storefront flow delivers to the dev ERP.
targets:
  erp-sales-orders:
    kind: http
    settings:
      url: https://erp.dev.example/orders
      auth: bearer
    secretFrom: env:ERP_TOKEN
    policy:
      timeout: 5s
      maxAttempts: 3
variables:
  ERP_COMPANY: 1000
deployments:
  storefront-order-to-erp: latest
`

const prodJSON = `{
  "targets": {
    "erp-sales-orders": {"kind": "http", "settings": {"url": "https://erp.example/orders", "auth": "bearer"}, "secretFrom": "env:ERP_TOKEN"}
  },
  "variables": {"ERP_COMPANY": "1000"},
  "deployments": {"storefront-order-to-erp": "latest"}
}
`

// TestApplyJourney applies a directory to an empty installation, then a
// changed directory (dry run first), then the same again, and checks that
// the protected environment only ever gets promotion requests.
func TestApplyJourney(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupApply(t)
	dir := configDirFiles(t, map[string]string{
		"flows/storefront-order-to-erp.json": "@storefront-order-to-erp",
		"environments/dev.yaml":              devYAML,
		"environments/prod.json":             prodJSON,
		"README.md":                          "not read",
	})

	out, err := b.run(t, "apply", "-f", dir)
	require.NoError(t, err, out)
	for _, want := range []string{
		"flow storefront-order-to-erp: create it and publish v1",
		"dev: add target erp-sales-orders (http)",
		`dev: set variable ERP_COMPANY to "1000"`,
		"dev: deploy storefront-order-to-erp v1",
		"prod: request promotion of storefront-order-to-erp v1 (protected)",
		"dev: storefront-order-to-erp v1 deployed (gates passed)",
		"waits for an approver",
		"applied 7 changes",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, b.kv["ERP_TOKEN"])
	require.Equal(t, 1, b.running(t, "dev", "storefront-order-to-erp"))
	require.Equal(t, 0, b.running(t, "prod", "storefront-order-to-erp"), "a protected environment is never deployed to")
	require.Equal(t, []string{"storefront-order-to-erp v1 prod"}, b.pending(t))
	sealer, err := secret.NewSealer(b.key)
	require.NoError(t, err)
	cfg, err := release.TargetConfigGet(ctx, b.pool, sealer, b.env(t, "dev").ID, "erp-sales-orders")
	require.NoError(t, err)
	require.Equal(t, "https://erp.dev.example/orders", cfg.URLTemplate)
	require.Equal(t, b.kv["ERP_TOKEN"], cfg.Secret)
	require.Equal(t, 3, cfg.Retry.MaxAttempts)
	require.Equal(t, release.DefaultBaseDelay, cfg.Retry.BaseDelay, "what the file leaves out takes the default")

	out, err = b.run(t, "apply", "-f", dir)
	require.NoError(t, err, out)
	require.Equal(t, "no changes: the installation matches "+dir+"\n", out, "the pending request is not filed again")

	// The directory changes: a new definition, another URL and company,
	// and the flow reaches erp-eu under its own name erp-sales-orders.
	dir2 := configDirFiles(t, map[string]string{
		"flows/storefront-order-to-erp.json": changedFlow(t, "storefront-order-to-erp", "Storefront orders to the ERP, v2"),
		"environments/dev.yaml": strings.NewReplacer("erp.dev.example", "erp2.dev.example", "ERP_COMPANY: 1000", "ERP_COMPANY: 2000").Replace(devYAML) + `flows:
  storefront-order-to-erp:
    targets:
      erp-sales-orders: erp-eu
`,
		"environments/prod.json": prodJSON,
	})
	require.NoError(t, os.WriteFile(filepath.Join(dir2, "environments", "dev.yaml"), []byte(strings.Replace(readFile(t, dir2, "environments/dev.yaml"), "targets:\n", "targets:\n  erp-eu:\n    settings: {url: \"https://erp.eu.example/orders\"}\n", 1)), 0o600))

	out, err = b.run(t, "apply", "-f", dir2, "--dry-run")
	require.NoError(t, err, out)
	for _, want := range []string{
		"flow storefront-order-to-erp: publish v2 (definition changed: 1 change from v1)",
		"dev: add target erp-eu (http)",
		"dev: change target erp-sales-orders: settings.url",
		`dev: set variable ERP_COMPANY to "2000" (was "1000")`,
		"dev: flow storefront-order-to-erp reaches erp-sales-orders → erp-eu",
		"dev: deploy storefront-order-to-erp v2; runs v1",
		"prod: request promotion of storefront-order-to-erp v2 (protected)",
		"dry run: 7 changes checked against the installation; nothing was changed",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "deployed (gates passed)")
	require.Len(t, checksums(t, b.kv["DATABASE_URL"], "storefront-order-to-erp"), 1, "the dry run published nothing")
	require.Equal(t, 1, b.running(t, "dev", "storefront-order-to-erp"))
	vars, err := release.Variables(ctx, b.pool, b.env(t, "dev").ID)
	require.NoError(t, err)
	require.Equal(t, "1000", vars["ERP_COMPANY"])
	require.Equal(t, []string{"storefront-order-to-erp v1 prod"}, b.pending(t))

	out, err = b.run(t, "apply", "-f", dir2)
	require.NoError(t, err, out)
	require.Contains(t, out, "applied 7 changes")
	require.Len(t, checksums(t, b.kv["DATABASE_URL"], "storefront-order-to-erp"), 2)
	require.Equal(t, 2, b.running(t, "dev", "storefront-order-to-erp"))
	require.Equal(t, 0, b.running(t, "prod", "storefront-order-to-erp"))
	require.Equal(t, []string{"storefront-order-to-erp v2 prod"}, b.pending(t), "the v1 request is superseded")
	f, err := mappings.FlowBySlug(ctx, b.pool, "storefront-order-to-erp")
	require.NoError(t, err)
	resolved, err := release.FlowTargetConfigGet(ctx, b.pool, sealer, b.env(t, "dev").ID, f.ID, "erp-sales-orders")
	require.NoError(t, err)
	require.Equal(t, "https://erp.eu.example/orders", resolved.URLTemplate, "deliveries of the flow go to erp-eu")

	out, err = b.run(t, "apply", "-f", dir2)
	require.NoError(t, err, out)
	require.Contains(t, out, "no changes")

	// A rotated secret is seen by comparing with the stored one.
	b.kv["ERP_TOKEN"] = "a-rotated-t0ken"
	out, err = b.run(t, "apply", "-f", dir2)
	require.NoError(t, err, out)
	require.Contains(t, out, "dev: change target erp-sales-orders: secret changed")
	require.Contains(t, out, "prod: change target erp-sales-orders: secret changed")
	require.Contains(t, out, "applied 2 changes")
	require.NotContains(t, out, "a-rotated-t0ken")

	var audited int
	require.NoError(t, b.pool.QueryRow(ctx, `select count(*) from audit_entries where action = 'config.apply' and actor_email = 'cli'`).Scan(&audited))
	require.Equal(t, 3, audited, "each apply that changed something is audited; dry runs and no-change runs are not")
	rows, err := b.pool.Query(ctx, `select action from audit_entries where actor_email = 'cli' and action not like 'config.%' group by action order by action`)
	require.NoError(t, err)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"flow.create", "flow.publish", "promotion.deploy", "promotion.request", "target.configure", "target.names", "variable.set"}, actions,
		"every change is audited by the operation that made it")
}

func readFile(t *testing.T, dir, rel string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	require.NoError(t, err)
	return string(raw)
}

// TestApplyRefusals: each problem is reported with the file, line and
// path, and nothing is changed.
func TestApplyRefusals(t *testing.T) {
	t.Parallel()
	flow := "@storefront-order-to-erp"
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown key", map[string]string{"environments/dev.yaml": "targetz: {}\nvariables:\n  A: 1\n  B: {x: 1}\n"},
			[]string{"environments/dev.yaml:1: targetz: unknown key; known keys here: targets, variables, deployments, flows",
				"environments/dev.yaml:4: variables.B: a single value, not a mapping"}},
		{"a variable env() cannot read", map[string]string{"environments/dev.yaml": "variables:\n  ERP-COMPANY: 1000\n"},
			[]string{"environments/dev.yaml:2: variables.ERP-COMPANY: the variable name “ERP-COMPANY” must start with a letter or underscore"}},
		{"limits before parsing", map[string]string{"environments/dev.yaml": "variables:\n  A: \"" + strings.Repeat("x", 300<<10) + "\"\n",
			"environments/test.yaml": "variables: &v {A: \"1\"}\ntargets: *v\n", "environments/prod.yaml": "targets: {a: {settings: {b: {c: {d: {e: {f: 1}}}}}}}\n"},
			[]string{"environments/dev.yaml: 307219 bytes; at most 262144 are read", "environments/test.yaml: YAML anchors and aliases are not supported",
				"environments/prod.yaml: nested 10 deep; an environment file is at most 9"}},
		{"unknown key in a target's policy", map[string]string{"environments/dev.yaml": "targets:\n  erp:\n    policy:\n      timout: 5s\n"},
			[]string{"environments/dev.yaml:4: targets.erp.policy.timout: unknown key; known keys here: timeout, ratePerSecond"}},
		{"missing secret variable", map[string]string{"environments/dev.yaml": strings.Replace(devYAML, "env:ERP_TOKEN", "env:NO_SUCH_TOKEN", 1)},
			[]string{"environments/dev.yaml:8: targets.erp-sales-orders.secretFrom: the environment variable NO_SUCH_TOKEN is not set"}},
		{"a secret written in the file", map[string]string{"environments/dev.yaml": "targets:\n  erp:\n    settings:\n      url: https://erp.example\n      secret: hunter2\n"},
			[]string{"environments/dev.yaml:5: targets.erp.settings.secret: secrets are never written in the file"}},
		{"invalid target settings", map[string]string{"environments/dev.yaml": "targets:\n  erp:\n    settings:\n      url: ftp://erp.example\n      auth: magic\n      colour: red\n    policy:\n      timeout: 2h\n"},
			[]string{"environments/dev.yaml:4: targets.erp.settings.url: “ftp://erp.example” is not an http:// or https:// URL",
				"environments/dev.yaml:5: targets.erp.settings.auth: one of",
				"environments/dev.yaml:6: targets.erp.settings.colour: not a setting of http targets",
				"environments/dev.yaml:8: targets.erp.policy.timeout: more than zero and at most 60 s"}},
		{"a bad body format", map[string]string{"environments/dev.yaml": "targets:\n  erp:\n    settings:\n      url: https://erp.example\n    format:\n      kind: xml\n      xml: {root: 1st}\n"},
			[]string{"environments/dev.yaml:5: targets.erp.format.xml.root: “1st” is not an XML name"}},
		{"csv without columns", map[string]string{"environments/dev.yaml": "targets:\n  erp:\n    settings:\n      url: https://erp.example\n    format: {kind: csv}\n"},
			[]string{"environments/dev.yaml:5: targets.erp.format.csv.columns: declare at least one column"}},
		{"an unknown format key", map[string]string{"environments/dev.yaml": "targets:\n  erp:\n    settings:\n      url: https://erp.example\n    format:\n      kind: xml\n      xml: {rootElement: Order}\n"},
			[]string{"environments/dev.yaml:5: targets.erp.format: a format like {kind: xml, xml: {root: Order}}", "field rootElement not found"}},
		{"bearer without a secret", map[string]string{"environments/dev.yaml": "targets:\n  erp:\n    settings:\n      url: https://erp.example\n      auth: bearer\n"},
			[]string{"environments/dev.yaml:2: targets.erp: secret: bearer authentication sends a secret; enter it; name where it comes from with secretFrom"}},
		{"definition that does not compile", map[string]string{"flows/storefront-order-to-erp.json": strings.Replace(readTestdata(t, "storefront-order-to-erp"), `"validation": [`, `"validation": [{"name": "broken", "rule": "source.id +", "message": "x"},`, 1)},
			[]string{"flows/storefront-order-to-erp.json: cannot publish:"}},
		{"file named after another flow", map[string]string{"flows/orders.json": flow},
			[]string{"flows/orders.json: name: the definition is named “storefront-order-to-erp”"}},
		{"unknown environment and version", map[string]string{"flows/storefront-order-to-erp.json": flow, "environments/staging.yaml": "variables: {A: b}\n",
			"environments/dev.yaml": "deployments:\n  storefront-order-to-erp: 4\n  nowhere: latest\n"},
			[]string{"environments/staging.yaml: this installation has no environment “staging” (it has dev, test, prod)",
				"environments/dev.yaml:2: deployments.storefront-order-to-erp: storefront-order-to-erp has no version 4 (its latest is v1 once applied)",
				"environments/dev.yaml:3: deployments.nowhere: latest is the version of flows/nowhere.json"}},
		{"gates refuse the deployment", map[string]string{"flows/storefront-order-to-erp.json": flow, "environments/dev.yaml": "deployments:\n  storefront-order-to-erp: latest\n"},
			[]string{"dev: deploy storefront-order-to-erp v1: storefront-order-to-erp v1 cannot be promoted to dev: target “erp-sales-orders” is not configured in dev"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupApply(t)
			dir := configDirFiles(t, tc.files)
			for _, args := range [][]string{{"apply", "-f", dir, "--dry-run"}, {"apply", "-f", dir}} {
				out, err := b.run(t, args...)
				require.Error(t, err, out)
				require.Equal(t, 1, exitCode(err))
				for _, want := range tc.want {
					require.Contains(t, err.Error(), want)
				}
			}
			require.Empty(t, checksums(t, b.kv["DATABASE_URL"], "storefront-order-to-erp"), "nothing was published")
			var n int
			require.NoError(t, b.pool.QueryRow(context.Background(), `select (select count(*) from target_configs) + (select count(*) from environment_variables) + (select count(*) from flows)`).Scan(&n))
			require.Zero(t, n, "nothing was configured")
			if tc.name == "gates refuse the deployment" {
				var why string
				require.NoError(t, b.pool.QueryRow(context.Background(), `select after->>'why' from audit_entries where action = 'config.refuse'`).Scan(&why))
				require.Contains(t, why, "is not configured in dev", "a refusal while applying is audited")
			}
		})
	}
	t.Run("no secret key", func(t *testing.T) {
		t.Parallel()
		b := setupApply(t)
		delete(b.kv, "CROSSDOCK_SECRET_KEY")
		_, err := b.run(t, "apply", "-f", configDirFiles(t, map[string]string{"environments/dev.yaml": devYAML}))
		require.ErrorContains(t, err, "environments/dev.yaml:8: targets.erp-sales-orders.secretFrom: CROSSDOCK_SECRET_KEY is not set")
		require.NoFileExists(t, filepath.Join(b.kv["CROSSDOCK_DATA_DIR"], "secret.key"), "apply never generates a key the server does not have")
		var n int
		require.NoError(t, b.pool.QueryRow(context.Background(), `select count(*) from target_configs`).Scan(&n))
		require.Zero(t, n)
	})
	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		b := setupApply(t)
		_, err := b.run(t, "apply")
		require.Equal(t, 2, exitCode(err))
		_, err = b.run(t, "apply", "-f", t.TempDir())
		require.ErrorContains(t, err, "has neither flows/ nor environments/ files")
	})
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("../../engine/testdata/flows/" + name + ".json")
	require.NoError(t, err)
	return string(raw)
}

// TestExportConfigRoundTrip exports an installation set up by apply and
// applies the export to it: nothing changes, and no secret is written.
func TestExportConfigRoundTrip(t *testing.T) {
	t.Parallel()
	b := setupApply(t)
	testYAML := strings.Replace(devYAML, "erp.dev.example", "erp.test.example", 1)
	dir := configDirFiles(t, map[string]string{
		"flows/storefront-order-to-erp.json":   "@storefront-order-to-erp",
		"flows/return-to-erp-credit-memo.json": "@return-to-erp-credit-memo",
		"environments/dev.yaml": devYAML + `  return-to-erp-credit-memo: latest
flows:
  return-to-erp-credit-memo:
    targets:
      erp-credit-memos: erp-returns
  storefront-order-to-erp:
    targets:
      crm-vip-orders: crm-dev
`,
		"environments/test.yaml": testYAML,
	})
	devFile := readFile(t, dir, "environments/dev.yaml")
	devFile = strings.Replace(devFile, "targets:\n", "targets:\n  crm-dev: {}\n  erp-returns:\n    settings:\n      url: https://returns.dev.example\n      headers: |-\n        X-Company: 1000\n        X-Tenant: eu\n    policy: {ratePerSecond: 2.5}\n    format: {kind: csv, csv: {rows: lines, delimiter: \";\", columns: [{header: SKU, path: lines.sku}, {header: Qty, path: lines.qty}]}}\n", 1)
	devFile = strings.Replace(devFile, "variables:\n", "variables:\n  REFUND_APPROVAL_LIMIT: \"250.00\"\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "environments", "dev.yaml"), []byte(devFile), 0o600))
	out, err := b.run(t, "apply", "-f", dir)
	require.NoError(t, err, out)
	// v2 in dev, while test keeps v1.
	dir2 := configDirFiles(t, map[string]string{"flows/storefront-order-to-erp.json": changedFlow(t, "storefront-order-to-erp", "v2")})
	out, err = b.run(t, "apply", "-f", dir2)
	require.NoError(t, err, out)
	require.Contains(t, out, "publish v2")
	require.Equal(t, 1, b.running(t, "dev", "storefront-order-to-erp"), "no deployments in the directory: what runs stays")

	exported := filepath.Join(t.TempDir(), "config")
	out, err = b.run(t, "export-config", "-o", exported)
	require.NoError(t, err, out)
	require.Contains(t, out, "environments/prod.yaml")
	devOut := readFile(t, exported, "environments/dev.yaml")
	require.Contains(t, devOut, "secretFrom: env:ERP_SALES_ORDERS_SECRET")
	require.Contains(t, devOut, "storefront-order-to-erp: 1\n")
	require.Contains(t, devOut, "return-to-erp-credit-memo: latest\n")
	require.Contains(t, devOut, "erp-credit-memos: erp-returns")
	require.Contains(t, devOut, "        rows: lines\n", "a target's body format is exported")
	require.Contains(t, devOut, "          - header: SKU\n            path: lines.sku\n")
	require.NotContains(t, devOut, "kind: json", "json, the default, is left out")
	require.Contains(t, devOut, "crm-dev:\n    kind: capture", "the kind of a target reached only by a local name is the one the flow gives the name")
	require.Contains(t, readFile(t, exported, "flows/storefront-order-to-erp.json"), `"description": "v2"`)
	filepath.WalkDir(exported, func(path string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() {
			raw, _ := os.ReadFile(path)
			require.NotContains(t, string(raw), b.kv["ERP_TOKEN"], path)
		}
		return nil
	})

	_, err = b.run(t, "apply", "-f", exported)
	require.ErrorContains(t, err, "the environment variable ERP_SALES_ORDERS_SECRET is not set", "a placeholder must be provided")
	b.kv["ERP_SALES_ORDERS_SECRET"] = b.kv["ERP_TOKEN"]
	out, err = b.run(t, "apply", "-f", exported)
	require.NoError(t, err, out)
	require.Contains(t, out, "no changes", "export → apply on the same installation changes nothing")

	_, err = b.run(t, "export-config", "-o", exported)
	require.ErrorContains(t, err, "already holds files")
	out, err = b.run(t, "export-config", "-o", exported, "--overwrite")
	require.NoError(t, err, out)
}

// TestApplyPrune: what the directory does not list is left alone, unless
// --prune, which still refuses a target a running version delivers to.
func TestApplyPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupApply(t)
	secretFile := filepath.Join(t.TempDir(), "erp-token")
	require.NoError(t, os.WriteFile(secretFile, []byte("t0ken-from-a-file\n"), 0o600))
	flowYAML := "formatVersion: 1\nname: echo\nsource: {system: shop, event: echo}\ntargets: [{name: erp, kind: http}]\nroutes:\n  - {name: to-erp, target: erp, mapping: [{target: id, expr: source.id}]}\n"
	full := configDirFiles(t, map[string]string{
		"flows/echo.yaml": flowYAML,
		"environments/dev.yaml": "targets:\n  erp: {settings: {url: \"https://erp.example\", auth: bearer}, secretFrom: \"file:" + secretFile + "\"}\n" +
			"  old-erp: {settings: {url: \"https://old.example\"}}\nvariables: {A: \"1\", B: \"2\"}\ndeployments: {echo: latest}\nflows: {echo: {targets: {erp: old-erp}}}\n",
	})
	out, err := b.run(t, "apply", "-f", full)
	require.NoError(t, err, out)
	require.Contains(t, out, "dev: flow echo reaches erp → old-erp")
	sealer, err := secret.NewSealer(b.key)
	require.NoError(t, err)
	cfg, err := release.TargetConfigGet(ctx, b.pool, sealer, b.env(t, "dev").ID, "erp")
	require.NoError(t, err)
	require.Equal(t, "t0ken-from-a-file", cfg.Secret, "one trailing newline is dropped")

	less := configDirFiles(t, map[string]string{
		"flows/echo.yaml": flowYAML,
		"environments/dev.yaml": "targets:\n  erp: {settings: {url: \"https://erp.example\", auth: bearer}}\nvariables: {A: \"1\"}\n" +
			"deployments: {echo: latest}\n",
	})
	out, err = b.run(t, "apply", "-f", less)
	require.NoError(t, err, out)
	require.Contains(t, out, "no changes", "without --prune what is not listed stays, and a target without secretFrom keeps its secret")

	// erp is what echo delivers to in dev once its local name is pruned.
	bare := configDirFiles(t, map[string]string{"environments/dev.yaml": "variables: {A: \"1\"}\n"})
	_, err = b.run(t, "apply", "-f", bare, "--prune")
	require.ErrorContains(t, err, "dev: remove target erp (--prune: not in environments/dev.yaml): target “erp” is not removed: echo v1 runs in dev and delivers to it")
	_, err = b.run(t, "apply", "-f", bare, "--prune", "--dry-run")
	require.ErrorContains(t, err, "target “erp” is not removed", "the dry run finds the same refusal")

	out, err = b.run(t, "apply", "-f", less, "--prune")
	require.NoError(t, err, out)
	for _, want := range []string{
		"dev: flow echo uses the environment's target names again",
		"dev: remove target old-erp (--prune: not in environments/dev.yaml)",
		"dev: remove variable B (--prune: not in environments/dev.yaml)",
	} {
		require.Contains(t, out, want)
	}
	targets, err := release.TargetConfigList(ctx, b.pool, b.env(t, "dev").ID)
	require.NoError(t, err)
	require.Len(t, targets, 1)
	vars, err := release.Variables(ctx, b.pool, b.env(t, "dev").ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"A": "1"}, vars)
	out, err = b.run(t, "apply", "-f", less, "--prune")
	require.NoError(t, err, out)
	require.Contains(t, out, "no changes")
}

// TestApplySFTPTarget applies the sftp target of
// docs/environments-as-code.md: its settings are stored as written, its
// private key comes from a file and is stored sealed.
func TestApplySFTPTarget(t *testing.T) {
	t.Parallel()
	b := setupApply(t)
	keyFile := filepath.Join(t.TempDir(), "3pl-key")
	require.NoError(t, os.WriteFile(keyFile, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600))
	dir := configDirFiles(t, map[string]string{"environments/dev.yaml": `targets:
  logistics-orders:
    kind: sftp
    settings:
      host: sftp.3pl.example
      port: "22"
      user: crossdock
      host_key: SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s   # ssh-keyscan HOST | ssh-keygen -lf -
      directory: /inbound/orders
      file_name: 'orders-{{date "20060102-150405"}}-{{seq}}.csv'
    secretFrom: file:` + keyFile + `
`})
	out, err := b.run(t, "apply", "-f", dir)
	require.NoError(t, err, out)
	sealer, err := secret.NewSealer(b.key)
	require.NoError(t, err)
	cfg, err := release.TargetConfigGet(context.Background(), b.pool, sealer, b.env(t, "dev").ID, "logistics-orders")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"host": "sftp.3pl.example", "port": "22", "user": "crossdock", "host_key": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
		"directory": "/inbound/orders", "file_name": `orders-{{date "20060102-150405"}}-{{seq}}.csv`}, cfg.Settings)
	require.Contains(t, cfg.Secret, "-----BEGIN OPENSSH PRIVATE KEY-----")

	t.Run("a missing fingerprint is refused with the field", func(t *testing.T) {
		dir := configDirFiles(t, map[string]string{"environments/dev.yaml": "targets:\n  logistics-orders:\n    kind: sftp\n    settings:\n      host: sftp.3pl.example\n      user: crossdock\n      directory: /in\n      file_name: '{{seq}}.csv'\n    secretFrom: file:" + keyFile + "\n"})
		_, err := b.run(t, "apply", "-f", dir)
		require.Error(t, err)
		require.Contains(t, err.Error(), "host_key: enter the server's host key fingerprint")
	})
}
