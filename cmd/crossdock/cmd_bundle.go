package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/mappings/release"
)

const exportUsage = `Usage:
  crossdock export --flow A [--flow B …] > bundle.json

Writes a bundle of every published version of the flows: definitions with
their lookup snapshots and test cases, sha256 checksums, and an HMAC-SHA256
signature when CROSSDOCK_PROMOTION_KEY is set. No configuration (targets,
variables, secrets, keys) is ever in a bundle. Needs DATABASE_URL.
`

const importUsage = `Usage:
  crossdock import bundle.json [--dry-run] [--env ENV --deploy [--request-only]]

Verifies the bundle (a valid signature is required when
CROSSDOCK_PROMOTION_KEY is set; every checksum always) and stores its new
versions. Versions already here with the same checksum are left alone, so
importing twice changes nothing; a version number here with a different
checksum refuses the whole import. --dry-run only says what would change.
--env ENV --deploy then promotes each flow's newest version to ENV through
the release policy and the gates (configuration check, test cases); a
protected ENV gets a promotion request for an approver, whose id is
printed; --request-only files requests for an unprotected ENV too. A
refusal imports nothing. It is the same import as the Bundles page and
POST /api/v1/bundle, audited the same way, refusals included. Needs
DATABASE_URL.
`

func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exportUsage); fs.PrintDefaults() }
	var flows stringList
	fs.Var(&flows, "flow", "a flow's slug (repeat for several)")
	source := fs.String("source", getenv("CROSSDOCK_BASE_URL"), "where the bundle comes from, recorded in it (default CROSSDOCK_BASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(flows) == 0 {
		fs.Usage()
		return exitError{2}
	}
	key, err := parsePromotionKey(getenv("CROSSDOCK_PROMOTION_KEY"))
	if err != nil {
		return err
	}
	pool, err := poolFromEnv(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	b, err := release.BundleExport(ctx, pool, flows, *source, key, time.Now())
	if err != nil {
		return cliFault(err)
	}
	if err := account.Audit(ctx, pool, account.Actor{Email: "cli"}, "bundle.export", "bundle", "", nil,
		map[string]any{"flows": []string(flows), "signed": b.Signature != ""}); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(b); err != nil {
		return err
	}
	if b.Signature == "" {
		fmt.Fprintln(stderr, "crossdock export: the bundle is unsigned (CROSSDOCK_PROMOTION_KEY is not set)")
	}
	return nil
}

func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage); fs.PrintDefaults() }
	dryRun := fs.Bool("dry-run", false, "say what would change; import nothing")
	envName := fs.String("env", "", "environment to deploy to (with --deploy)")
	deploy := fs.Bool("deploy", false, "promote each flow's newest imported version to --env")
	requestOnly := fs.Bool("request-only", false, "with --deploy: file promotion requests for an approver instead of deploying")
	rest := args
	var file string
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	if file == "" {
		fs.Usage()
		return exitError{2}
	}
	if *deploy && *envName == "" {
		return errors.New("--deploy needs --env: say which environment to deploy to")
	}
	if *requestOnly && !*deploy {
		return errors.New("--request-only needs --env ENV --deploy")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	key, err := parsePromotionKey(getenv("CROSSDOCK_PROMOTION_KEY"))
	if err != nil {
		return err
	}
	b, err := release.ParseBundle(data)
	if err != nil {
		return cliFault(err)
	}
	pool, err := poolFromEnv(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	in := release.Import{Key: key, DryRun: *dryRun, From: filepath.Base(file), RequestOnly: *requestOnly, Kinds: pipeline.Transports(pool, nil)}
	if *deploy {
		in.Environment = *envName
	}
	imported, err := release.ImportBundle(ctx, pool, release.CLI(), b, in)
	if err != nil {
		return cliFault(err)
	}
	plan := imported.Plan
	fmt.Fprintf(stdout, "bundle %s: %s\n", file, plan.Note)
	for _, f := range plan.Flows {
		state := "existing flow"
		if f.NewFlow {
			state = "new flow"
		}
		fmt.Fprintf(stdout, "%s (%s):", f.Slug, state)
		for _, v := range f.Versions {
			fmt.Fprintf(stdout, " v%d %s", v.Number, v.Action)
		}
		fmt.Fprintf(stdout, "; %d change%s in v%d against the newest version here\n", len(f.Diff.Changes), plural(len(f.Diff.Changes)), f.Latest)
		if *dryRun {
			for _, ch := range f.Diff.Changes {
				fmt.Fprintf(stdout, "  %s\n", ch)
			}
		}
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was imported")
		return nil
	}
	if !plan.Changed() {
		fmt.Fprintln(stdout, "nothing changed: every version is here already")
	}
	if len(imported.Promotions) == 0 {
		return nil
	}
	env, err := release.EnvironmentByName(ctx, pool, *envName)
	if err != nil {
		return cliFault(err)
	}
	for _, p := range imported.Promotions {
		if p.Unchanged {
			fmt.Fprintf(stdout, "%s v%d already runs in %s\n", p.Flow, p.Version, env.Name)
			continue
		}
		printPromotion(stdout, p.Flow, p.Version, env, p.PromotionResult)
	}
	return nil
}

// cliFault turns a refusal into its message alone (what to fix), keeping
// other errors as they are.
func cliFault(err error) error {
	if fe, ok := fault.As(err); ok && fe.Code != fault.Internal {
		return errors.New(fe.Message)
	}
	var gf *release.GatesFailedError
	if errors.As(err, &gf) {
		return errors.New(gf.Error())
	}
	return err
}

func poolFromEnv(ctx context.Context, getenv func(string) string) (*pgxpool.Pool, error) {
	databaseURL := getenv("DATABASE_URL")
	if databaseURL == "" {
		return nil, errors.New("DATABASE_URL is not set: point it at Crossdock's database")
	}
	return openPool(ctx, databaseURL)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
