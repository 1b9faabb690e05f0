package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

const flowUsage = `Usage:
  crossdock flow import FILE [--name NAME] [--publish [--note TEXT]] [--deploy ENV [--request-only]]

Creates the flow named in the definition (its "name" is the slug) or
replaces its draft and optionally publishes the draft, in one transaction.
--deploy ENV then promotes the version to ENV through the release policy,
as the Promote… page does: the gates run (a target or variable missing
there, a failing test case refuses it); an unprotected ENV switches at
once; a protected ENV gets a promotion request, whose id is printed, for
an approver to decide — the command line never deploys to a protected
environment. --request-only files a request even for an unprotected ENV.
Every outcome, refusals included, is in the audit log. Needs DATABASE_URL.
`

func runFlow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprint(stderr, flowUsage)
		return exitError{2}
	}
	fs := flag.NewFlagSet("flow import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, flowUsage); fs.PrintDefaults() }
	name := fs.String("name", "", "display name for a new flow (default: the slug)")
	publish := fs.Bool("publish", false, "publish the imported draft as a new version")
	note := fs.String("note", "imported", "the version's note")
	deploy := fs.String("deploy", "", "promote the published version to this environment (a protected one gets a promotion request)")
	requestOnly := fs.Bool("request-only", false, "with --deploy: file a promotion request for an approver instead of deploying, even where the environment would switch at once")
	// Flags may follow the file name.
	rest := args[1:]
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
		return errors.New("name the definition file to import")
	}
	if *deploy != "" && !*publish {
		return errors.New("--deploy needs --publish: only published versions can be deployed")
	}
	if *requestOnly && *deploy == "" {
		return errors.New("--request-only needs --deploy ENV: say which environment the request is for")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	def, err := engine.ParseDefinition(raw)
	if err != nil {
		return fmt.Errorf("%s is not a valid flow definition:\n%w", file, err)
	}
	databaseURL := getenv("DATABASE_URL")
	if databaseURL == "" {
		return errors.New("DATABASE_URL is not set: point it at Crossdock's database")
	}
	pool, err := openPool(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	ed := mappings.Editor{Email: "cli"}
	var published mappings.Version
	var f mappings.Flow
	err = txn.Run(ctx, pool, func(tx pgx.Tx) error {
		var err error
		f, err = mappings.FlowBySlug(ctx, tx, def.Name)
		switch {
		case fault.CodeOf(err) == fault.NotFound:
			display := *name
			if display == "" {
				display = def.Name
			}
			if f, err = mappings.FlowCreate(ctx, tx, mappings.NewFlow{Name: display, Slug: def.Name, Definition: def}, ed); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created flow %s\n", f.Slug)
		case err != nil:
			return err
		default:
			if _, err := mappings.DraftSave(ctx, tx, f.ID, f.DraftRevision, def, ed); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "replaced the draft of %s\n", f.Slug)
		}
		if err := account.Audit(ctx, tx, release.CLI().AuditActor(), "flow.import", "flow", f.Slug, nil, map[string]string{"file": file}); err != nil {
			return err
		}
		if !*publish {
			return nil
		}
		d, err := mappings.DraftGet(ctx, tx, f.ID)
		if err != nil {
			return err
		}
		v, err := mappings.Publish(ctx, tx, f.ID, d.Revision, *note, ed)
		if fault.CodeOf(err) == fault.Conflict {
			// Identical to the latest version: nothing new to publish; deploy that one.
			versions, lerr := mappings.VersionList(ctx, tx, f.ID)
			if lerr != nil || len(versions) == 0 {
				return err
			}
			v = versions[0]
			fmt.Fprintf(stdout, "unchanged since version %d\n", v.Number)
		} else if err != nil {
			return err
		} else {
			fmt.Fprintf(stdout, "published version %d (%s)\n", v.Number, v.Checksum[:12])
		}
		published = v
		return nil
	})
	if err != nil || *deploy == "" {
		return err
	}
	env, err := release.EnvironmentByName(ctx, pool, *deploy)
	if err != nil {
		return cliFault(err)
	}
	res, err := release.Promote(ctx, pool, release.CLI(), release.Promotion{Flow: f, Environment: env, Version: published.Number,
		Reason: "crossdock flow import " + filepath.Base(file), RequestOnly: *requestOnly, Kinds: pipeline.Transports(pool, nil)})
	if fault.CodeOf(err) == fault.Conflict {
		fmt.Fprintf(stdout, "version %d already runs in %s\n", published.Number, env.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("version %d is published but not deployed to %s: %w", published.Number, env.Name, cliFault(err))
	}
	printPromotion(stdout, f.Slug, published.Number, env, res)
	return nil
}

// printPromotion says what a promotion from the command line did: the
// deployment, or the request an approver must decide (with its id).
func printPromotion(stdout io.Writer, slug string, version int, env release.Environment, res release.PromotionResult) {
	if r := res.Request; r != nil {
		why := env.Name + " is protected"
		if !env.Protected {
			why = "--request-only"
		}
		fmt.Fprintf(stdout, "%s v%d: %s; promotion request %d waits for an approver (gates passed)\nrequest=%d\n", slug, version, why, r.ID, r.ID)
		return
	}
	fmt.Fprintf(stdout, "deployed version %d to %s (gates passed)\n", version, env.Name)
}
