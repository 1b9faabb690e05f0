package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/txn"
)

const apikeyUsage = `Usage:
  crossdock apikey create --env ENV --name NAME [--flow SLUG ...] [--rate N] [--manage]
  crossdock apikey list
  crossdock apikey revoke --prefix cdk_dev_xxxxxxxx

create prints the key once; only a hash is stored. Needs DATABASE_URL.
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runAPIKey implements `crossdock apikey create|list|revoke` for scripts
// that set up an installation. The full key is printed once by create and
// never again: only its hash is stored. Create and revoke run in one
// transaction with their audit entry, so a key never exists unaudited.
func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, apikeyUsage)
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "create", "list", "revoke":
	default:
		// Before opening the database: a typo should be named as such, not
		// reported as a missing DATABASE_URL.
		fmt.Fprintf(stderr, "crossdock apikey: unknown subcommand %q\n\n%s", sub, apikeyUsage)
		return exitError{2}
	}
	fs := flag.NewFlagSet("apikey "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, apikeyUsage); fs.PrintDefaults() }
	env := fs.String("env", "", "environment the key may post to")
	name := fs.String("name", "", "who uses the key, e.g. shopify-storefront")
	rate := fs.Int("rate", account.DefaultRatePerMinute, "messages a minute")
	prefix := fs.String("prefix", "", "the key's visible prefix (revoke)")
	manage := fs.Bool("manage", false, "also allow the management API (drafts, publish) on the key's flows, for CI pipelines")
	support := fs.Bool("support", false, "also allow the exception inbox API (read, retry, replay, resolve, ignore, assign) on the key's environment, as a support person")
	configure := fs.Bool("configure", false, "also allow the environment API (targets, variables) on the key's environment, as an admin, for configuration applied from CI")
	var flows stringList
	fs.Var(&flows, "flow", "limit the key to this flow (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
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
	actor := account.Actor{Email: "cli"}
	switch sub {
	case "create":
		if *env == "" {
			return errors.New("--env is required: the environment the key may post to (dev, test, prod)")
		}
		var k account.APIKey
		var token string
		err := txn.Run(ctx, pool, func(tx pgx.Tx) error {
			var err error
			k, token, err = account.APIKeyCreate(ctx, tx, account.NewAPIKey{Name: *name, Environment: *env, Flows: flows, RatePerMinute: *rate, CanManage: *manage, CanSupport: *support, CanConfigure: *configure}, actor)
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created API key %s (%s) for %s\n%s\n(this is the only time the key is shown: it cannot be shown again; store it in the calling system's secrets)\n", k.Prefix, k.Name, k.Environment, token)
	case "list":
		keys, err := account.APIKeyList(ctx, pool)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "PREFIX\tNAME\tENV\tFLOWS\tRATE/MIN\tLAST USED\tSTATE")
		for _, k := range keys {
			used, state := "never", "active"
			if k.LastUsedAt != nil {
				used = k.LastUsedAt.UTC().Format("2006-01-02 15:04")
			}
			if k.RevokedAt != nil {
				state = "revoked"
			}
			fl := strings.Join(k.Flows, ",")
			if fl == "" {
				fl = "all"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", k.Prefix, k.Name, k.Environment, fl, k.RatePerMinute, used, state)
		}
		return w.Flush()
	case "revoke":
		if *prefix == "" {
			return errors.New("--prefix is required (see crossdock apikey list)")
		}
		err := txn.Run(ctx, pool, func(tx pgx.Tx) error {
			return account.APIKeyRevoke(ctx, tx, *prefix, actor)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", *prefix)
	}
	return nil
}
