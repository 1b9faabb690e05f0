package release

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// Environment is a stage a flow version runs in: dev, test, prod, in that
// order. Its configuration (variables, targets) is never promoted.
type Environment struct {
	ID       int64
	Name     string
	Position int
	// Protected environments need the approver role and passing test cases
	// to deploy to; prod is protected from the start.
	Protected bool
}

// EnvironmentList returns every environment in promotion order.
func EnvironmentList(ctx context.Context, db txn.DBTX) ([]Environment, error) {
	rows, err := db.Query(ctx, environmentListSelect)
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Environment, error) {
		var e Environment
		err := r.Scan(&e.ID, &e.Name, &e.Position, &e.Protected)
		return e, err
	})
}

// EnvironmentByName returns an environment or NotFound.
func EnvironmentByName(ctx context.Context, db txn.DBTX, name string) (Environment, error) {
	var e Environment
	err := db.QueryRow(ctx, environmentByNameSelect, name).
		Scan(&e.ID, &e.Name, &e.Position, &e.Protected)
	if errors.Is(err, pgx.ErrNoRows) {
		return Environment{}, fault.Errorf(fault.NotFound, "no environment “%s”; the environments are listed on the Environments page (dev, test, prod by default)", name)
	}
	if err != nil {
		return Environment{}, fmt.Errorf("environment %s: %w", name, err)
	}
	return e, nil
}

// EnvironmentByID returns an environment or NotFound.
func EnvironmentByID(ctx context.Context, db txn.DBTX, id int64) (Environment, error) {
	var e Environment
	err := db.QueryRow(ctx, environmentByIDSelect, id).
		Scan(&e.ID, &e.Name, &e.Position, &e.Protected)
	if errors.Is(err, pgx.ErrNoRows) {
		return Environment{}, fault.Errorf(fault.NotFound, "no environment with id %d", id)
	}
	if err != nil {
		return Environment{}, fmt.Errorf("environment %d: %w", id, err)
	}
	return e, nil
}

var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Variables returns an environment's variables, the values env("NAME")
// reads in expressions. An environment without any gives an empty map.
func Variables(ctx context.Context, db txn.DBTX, envID int64) (map[string]string, error) {
	rows, err := db.Query(ctx, variablesSelect, envID)
	if err != nil {
		return nil, fmt.Errorf("environment variables: %w", err)
	}
	defer rows.Close()
	vars := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("environment variables: %w", err)
		}
		vars[name] = value
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("environment variables: %w", err)
	}
	return vars, nil
}

// CheckVariableName refuses a name env() cannot read (a fault.Invalid
// saying what is allowed).
func CheckVariableName(name string) error {
	if !variableName.MatchString(name) {
		return &fault.Error{Code: fault.Invalid,
			Message: "the variable name “" + name + "” must start with a letter or underscore and contain only letters, digits and underscores (at most 64)",
			Fields:  map[string]string{"name": "letters, digits and underscores"}}
	}
	return nil
}

// VariableSet creates or replaces one variable. Names are what env() accepts:
// a letter or underscore, then letters, digits and underscores.
func VariableSet(ctx context.Context, db txn.DBTX, envID int64, name, value string) error {
	if err := CheckVariableName(name); err != nil {
		return err
	}
	_, err := db.Exec(ctx, variableUpsert, envID, name, value)
	if err != nil {
		return fmt.Errorf("set variable %s: %w", name, err)
	}
	return nil
}

// VariableDelete removes a variable; removing one that does not exist is
// NotFound so a typo does not pass silently.
func VariableDelete(ctx context.Context, db txn.DBTX, envID int64, name string) error {
	tag, err := db.Exec(ctx, variableDelete, envID, name)
	if err != nil {
		return fmt.Errorf("delete variable %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.Errorf(fault.NotFound, "no variable “%s” in this environment", name)
	}
	return nil
}
