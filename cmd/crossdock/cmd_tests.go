package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/crossdock/crossdock/engine"
)

const testUsage = `Usage: crossdock test [--lookup name=file.csv]... def.json...

Runs each definition's test cases and prints a per-field diff for every
failure. The exit status is 1 when a case failed; a definition that does not
compile is an error.

Flags:
`

// runTest is `crossdock test`. (It lives in cmd_tests.go: a file named
// cmd_test.go would only be compiled into tests.)
func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("crossdock test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, testUsage); fs.PrintDefaults() }
	lookups := keyValues{}
	verbose := fs.Bool("v", false, "also list passing cases")
	fs.Var(lookups, "lookup", "lookup table from CSV, name=file.csv (repeatable)")
	// Allow flags after the file names too: `crossdock test def.json -v`.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) == 0 {
		fs.Usage()
		return errors.New("test: name at least one definition file")
	}
	passed, failed := 0, 0
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		def, prog, err := loadProgram(path, lookups)
		if err != nil {
			return err
		}
		if len(def.Tests) == 0 {
			fmt.Fprintf(stdout, "?    %s: no test cases\n", path)
			continue
		}
		for _, r := range engine.RunTests(prog, def) {
			if r.Passed {
				passed++
				if *verbose {
					fmt.Fprintf(stdout, "ok   %s: %s\n", path, r.Name)
				}
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %s\n", path, r.Name)
			if r.Error != "" {
				fmt.Fprintf(stdout, "     %s\n", r.Error)
			}
			for _, d := range r.Diffs {
				fmt.Fprintf(stdout, "     %s\n", strings.ReplaceAll(d.String(), "\n", "\n     "))
			}
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("test: %d of %d cases failed: %w", failed, passed+failed, errFailures)
	}
	return nil
}
