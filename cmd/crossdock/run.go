package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// exitError ends the program with a status without printing anything more
// (the command has already said what failed).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

const usage = `crossdock — integration middleware for retail systems

Usage:
  crossdock serve     [flags]   run the web UI and the JSON API
  crossdock migrate   [flags]   bring the database schema up to date
  crossdock user add  --email E --role R [--name N] [--password-stdin]
  crossdock user reset-password --email E [--password-stdin]
  crossdock apikey create --env ENV --name NAME [--flow SLUG] [--rate N] | list | revoke --prefix P
  crossdock flow import FILE [--publish [--note TEXT]] [--deploy ENV]
  crossdock export --flow A [--flow B …] > bundle.json
  crossdock import bundle.json [--dry-run] [--env ENV --deploy]
  crossdock promote --url URL --api-key KEY --flow SLUG [--version N] --to ENV
                                promote on a running instance (CI); exit 0 deployed, 3 pending, 4 refused
  crossdock apply -f DIR [--dry-run] [--prune]
                                make the installation match a directory of flows and environments
  crossdock export-config -o DIR
                                write the installation's flows and environments as such a directory
  crossdock map --flow def.json [--route R] [--var K=V] [--lookup name=file.csv] < in.ndjson
                                map NDJSON input lines to output lines, in order, on all cores
  crossdock test def.json       run a definition's test cases; per-field diff for each failure
  crossdock seed-volume --messages N --exceptions M [--env ENV]
                                fill a database with messages and exceptions for benchmarks
  crossdock version             print the version

Run "crossdock <command> --help" for a command's flags and environment.
`

// run is the whole program. It owns the signal context: SIGINT or SIGTERM
// cancels ctx and the running command shuts down in order.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	cmd, rest := args[1], args[2:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, getenv, stdout, stderr)
	case "user":
		err = runUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "apikey":
		err = runAPIKey(ctx, rest, getenv, stdout, stderr)
	case "flow":
		err = runFlow(ctx, rest, getenv, stdout, stderr)
	case "export":
		err = runExport(ctx, rest, getenv, stdout, stderr)
	case "import":
		err = runImport(ctx, rest, getenv, stdout, stderr)
	case "promote":
		err = runPromote(ctx, rest, getenv, stdout, stderr)
	case "apply":
		err = runApply(ctx, rest, getenv, stdout, stderr)
	case "export-config":
		err = runExportConfig(ctx, rest, getenv, stdout, stderr)
	case "map":
		err = runMap(ctx, rest, stdin, stdout, stderr)
	case "test":
		err = runTest(ctx, rest, stdout, stderr)
	case "seed-volume":
		err = runSeedVolume(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "crossdock", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "crossdock: unknown command %q\n\n%s", cmd, usage)
		return exitError{2}
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if errors.Is(err, errFailures) {
		// map and test have already said which inputs failed.
		return exitError{1}
	}
	return err
}

func buildVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}
