package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

// expr lets an expression call any method of the Go values functions
// return: now().String(), now().AddDate(100000, 0, 0), duration("1h").Hours(),
// even through a variable. Only the documented functions are callable;
// the documented date functions work.
func TestExpressionsCannotCallMethodsOfValues(t *testing.T) {
	for expr, want := range map[string]string{
		`now().String()`:                            "String is a method of a value, which expressions cannot call; use the documented functions (such as formatTime or addDays) at 1:7",
		`now().AddDate(100000, 0, 0)`:               "AddDate is a method of a value, which expressions cannot call",
		`now()?.AddDate(1, 0, 0)`:                   "AddDate is a method of a value",
		`duration("1h").Hours()`:                    "Hours is a method of a value",
		`source.a.b()`:                              "b is a method of a value",
		`let f = now().AddDate; f(1, 0, 0)`:         "f is not a function; only the documented functions can be called at 1:24",
		`let upper = now().AddDate; upper(1, 0, 0)`: "upper is not a function",
	} {
		t.Run(expr, func(t *testing.T) {
			_, err := engine.Compile(limitDef("", expr), engine.Options{})
			d := diagnostics(t, err)
			require.Len(t, d, 1)
			require.Equal(t, "/routes/0/mapping/0/expr", d[0].Pointer)
			require.Contains(t, d[0].String(), want)
		})
	}

	t.Run("documented date functions still work", func(t *testing.T) {
		for _, expr := range []string{
			`formatTime(addDays(now(), 1), "date")`,
			`formatTime(now(), "2006")`,
			`daysBetween(now(), addBusinessDays(now(), 3))`,
			`now() - duration("1h") < now()`,
			`toUTC(inZone(now(), "Europe/Berlin"))`,
		} {
			_, err := engine.Compile(limitDef("", expr), engine.Options{})
			require.NoError(t, err, expr)
		}
	})
}
