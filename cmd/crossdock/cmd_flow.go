package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

const flowUsage = `Usage:
  crossdock flow import FILE [--name NAME] [--publish [--note TEXT]] [--deploy ENV]

Creates the flow named in the definition (its "name" is the slug) or
replaces its draft, optionally publishes the draft and deploys the new
version, all in one transaction. Needs DATABASE_URL.
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
	deploy := fs.String("deploy", "", "deploy the published version to this environment")
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
	return txn.Run(ctx, pool, func(tx pgx.Tx) error {
		f, err := mappings.FlowBySlug(ctx, tx, def.Name)
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
		if err := account.Audit(ctx, tx, account.Actor{Email: "cli"}, "flow.import", "flow", f.Slug, nil, map[string]string{"file": file}); err != nil {
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
		if *deploy == "" {
			return nil
		}
		env, err := mappings.EnvironmentByName(ctx, tx, *deploy)
		if err != nil {
			return err
		}
		if _, err := mappings.Deploy(ctx, tx, env.ID, f.ID, v.Number, ed); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deployed version %d to %s\n", v.Number, env.Name)
		return account.Audit(ctx, tx, account.Actor{Email: "cli"}, "deployment.create", "flow", f.Slug, nil, map[string]any{"environment": env.Name, "version": v.Number})
	})
}
