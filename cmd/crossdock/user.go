package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/txn"
)

const userUsage = `Usage:
  crossdock user add --email E --role R [--name N] [--password-stdin]
  crossdock user reset-password --email E [--password-stdin]

Without --password-stdin a random password is generated and printed once.
reset-password also ends every browser session of the user.
Roles: admin, analyst, approver, support, viewer. Needs DATABASE_URL.
`

func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, userUsage)
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, userUsage); fs.PrintDefaults() }
	email := fs.String("email", "", "the user's email address")
	role := fs.String("role", "", "admin, analyst, approver, support or viewer")
	name := fs.String("name", "", "display name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if sub != "add" && sub != "reset-password" {
		fmt.Fprintf(stderr, "crossdock user: unknown subcommand %q\n\n%s", sub, userUsage)
		return exitError{2}
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	password := account.GeneratePassword()
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
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
	err = txn.Run(ctx, pool, func(tx pgx.Tx) error {
		switch sub {
		case "add":
			r, err := account.ParseRole(*role)
			if err != nil {
				return err
			}
			u, err := account.UserCreate(ctx, tx, account.NewUser{Email: *email, Name: *name, Role: r, Password: password})
			if err != nil {
				return err
			}
			return account.Audit(ctx, tx, actor, "user.create", "user", fmt.Sprint(u.ID), nil, u)
		default:
			u, err := account.UserByEmail(ctx, tx, *email)
			if err != nil {
				return err
			}
			if _, err := account.UserSetPassword(ctx, tx, u.ID, password); err != nil {
				return err
			}
			return account.Audit(ctx, tx, actor, "user.password_reset", "user", fmt.Sprint(u.ID), nil, nil)
		}
	})
	if err != nil {
		return err
	}
	if sub == "add" {
		fmt.Fprintf(stdout, "added %s (%s)\n", *email, *role)
	} else {
		fmt.Fprintf(stdout, "reset the password of %s and signed them out everywhere\n", *email)
	}
	if !*fromStdin {
		fmt.Fprintf(stdout, "password: %s\n(shown only now)\n", password)
	}
	return nil
}
