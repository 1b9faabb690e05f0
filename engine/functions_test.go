package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crossdock/crossdock/engine"
)

// evalOne compiles expr as the only row of a route and runs it against
// the example context documented on FunctionSpec.Example.
func evalOne(t *testing.T, expr string) (json.RawMessage, string) {
	t.Helper()
	def := fmt.Sprintf(`{"formatVersion":1,"name":"f","source":{"system":"s","event":"e"},
	 "lookups":{"plant":{"entries":{"store-berlin":"P100"}},"rec":{"entries":{"1":{"a":1}},"missing":"default","default":{"a":0}}},
	 "targets":[{"name":"t","kind":"capture"}],
	 "routes":[{"name":"r","target":"t","mapping":[{"target":"v","expr":%s}]}]}`, jsonString(expr))
	d, err := engine.ParseDefinition([]byte(def))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	p, err := engine.Compile(d, engine.Options{})
	if err != nil {
		return nil, "compile: " + err.Error()
	}
	res, err := p.Run(context.Background(), engine.Input{
		Payload: []byte(`{"n": 5, "s": "x", "f": 1.5, "price": 19.99}`),
		Now:     time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC),
		Vars:    map[string]string{"ERP_COMPANY": "1000"},
	})
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	r := res.Routes[0]
	if len(r.Errors) > 0 {
		return nil, r.Errors[0].Message
	}
	var out struct {
		V json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(r.Output, &out); err != nil {
		t.Fatal(err)
	}
	return out.V, ""
}

// TestFunctionExamples runs every documented example: the help panel
// cannot show an example that does not work.
func TestFunctionExamples(t *testing.T) {
	specs := engine.Functions()
	seen := map[string]bool{}
	for _, f := range specs {
		if seen[f.Name] {
			t.Errorf("%s documented twice", f.Name)
		}
		seen[f.Name] = true
		if f.Name == "" || f.Category == "" || f.Signature == "" || f.Description == "" || f.Example == "" || f.Result == "" {
			t.Errorf("incomplete spec %+v", f)
		}
		if !strings.HasPrefix(f.Signature, f.Name+"(") {
			t.Errorf("%s: signature %q does not start with the name", f.Name, f.Signature)
		}
		t.Run(f.Name, func(t *testing.T) {
			got, errMsg := evalOne(t, f.Example)
			if errMsg != "" {
				t.Fatalf("example %s failed: %s", f.Example, errMsg)
			}
			if string(got) != f.Result {
				t.Errorf("example %s = %s, documented %s", f.Example, got, f.Result)
			}
		})
	}
	if len(specs) < 60 {
		t.Errorf("only %d functions documented", len(specs))
	}
}

// TestFunctionBehaviour covers edge cases and every error path of the
// library; "!" prefixes an expected error message fragment.
func TestFunctionBehaviour(t *testing.T) {
	cases := []struct{ expr, want string }{
		// strings
		{`padLeft("abc", 2, "0")`, `"abc"`},
		{`padLeft("7", 4, "ab")`, `"aba7"`},
		{`padLeft(1.5, 4, "0")`, `"01.5"`},
		{`padLeft(nil, 4, "0")`, `!argument 1 must be a string or number, got null`},
		{`padLeft("a", 4, "")`, `!pad must not be empty`},
		{`padLeft("a", 2000, "0")`, `!over the limit`},
		{`padLeft("a", 1.5, "0")`, `compile: `},
		{`padLeft("a", source.f, "0")`, `!argument 2 must be a whole number`},
		{`padLeft("a", 2, 0)`, `compile: `},
		{`padLeft("a", 2, source.n)`, `!argument 3 must be a string`},
		{`padRight("ü", 3, "-")`, `"ü--"`},
		{`substring("héllo", 1)`, `"éllo"`},
		{`substring("abc", -5, 99)`, `"abc"`},
		{`substring("abc", 2, 1)`, `""`},
		{`substring(source.n, 1)`, `!argument 1 must be a string, got int`},
		{`substring("abc", "1")`, `compile: `},
		{`substring("abc", source.s)`, `!argument 2 must be a whole number`},
		{`substring("abc", 0, source.s)`, `!argument 3 must be a whole number`},
		{`truncate("abc", 5)`, `"abc"`},
		{`truncate("abc", -1)`, `!must not be negative`},
		{`truncate(source.n, 1)`, `!must be a string`},
		{`truncate("abc", source.s)`, `!whole number`},
		{`normalizeSpace(source.n)`, `!must be a string`},
		{`digits(source.n)`, `!must be a string`},
		{`capitalize("jean-luc picard")`, `"Jean-Luc Picard"`},
		{`capitalize(source.n)`, `!must be a string`},
		{`regexMatch("abc", "[")`, `!bad pattern`},
		{`regexMatch(source.n, "a")`, `!argument 1 must be a string`},
		{`regexMatch("a", source.n)`, `!argument 2 must be a string`},
		{`regexMatch("a", "` + strings.Repeat("a", 1001) + `")`, `!longer than`},
		{`regexFind("abc", "x")`, `null`},
		{`regexFind("abc", "b")`, `"b"`},
		{`regexFind("abc", "(")`, `!bad pattern`},
		{`regexReplace("abc", "(", "")`, `!bad pattern`},
		{`regexReplace("abc", "b", source.n)`, `!argument 3 must be a string`},
		{`len(regexReplace(join(map(1..20000, "ab"), ""), "(a)b", "$1"))`, `20000`}, // big but legitimate
		{`regexReplace("aXbX", "X", "")`, `"ab"`},
		{`"ab" matches "^a"`, `true`},
		{`join(source.n)`, `!argument 1 must be an array, got int`},
		{`join([1, nil, "a"], "-")`, `"1-a"`},
		{`join([{"a": 1}])`, `!item 0 must be a string or number, got object`},
		{`join(["a"], source.n)`, `!argument 2 must be a string`},
		{`replace(source.n, "a", "b")`, `!argument 1 must be a string`},
		{`source.s + source.n`, `!invalid operation`},
		{`source.n + source.price`, `24.99`},
		{`source.s + "y" + source.s`, `"xyx"`},
		{`formatTime(now() + duration("1h"), "time")`, `"10:30:00"`},
		// numbers and money
		{`dec(source.price)`, `"19.99"`},
		{`dec(12)`, `"12"`},
		{`dec("abc")`, `!is not a decimal number`},
		{`dec(true)`, `!must be a number or numeric string, got bool`},
		{`decAdd("1")`, `!takes at least 2 arguments, got 1`},
		{`decAdd("1", 2, 0.5)`, `"3.5"`},
		{`decAdd("1", "x")`, `!argument 2 "x" is not a decimal number`},
		{`decSub("1")`, `compile: `},
		{`decMul(source.price, 3)`, `"59.97"`},
		{`decMul("a", 1)`, `!not a decimal`},
		{`decDiv("1", "0", 2)`, `!division by zero`},
		{`decDiv("2", "3", 4)`, `"0.6667"`},
		{`decDiv("1", "3", 99)`, `!places must be between 0 and 30`},
		{`decDiv("1", "x", 2)`, `!not a decimal`},
		{`decDiv("1", "3")`, `compile: `},
		{`decRound("2.345", 2)`, `"2.35"`},
		{`decRound("-2.345", 2, "half-up")`, `"-2.35"`},
		{`decRound("2.341", 2, "up")`, `"2.35"`},
		{`decRound("2.349", 2, "down")`, `"2.34"`},
		{`decRound("-2.341", 2, "ceil")`, `"-2.34"`},
		{`decRound("-2.341", 2, "floor")`, `"-2.35"`},
		{`decRound("2", 2)`, `"2.00"`},
		{`decRound("2", 2, "sideways")`, `!unknown rounding mode`},
		{`decRound("2", 2, source.n)`, `!argument 3 must be a string`},
		{`decRound("x", 2)`, `!not a decimal`},
		{`decRound("2", -1)`, `!places must be between`},
		{`decRound("2")`, `compile: `},
		{`decSum([])`, `"0"`},
		{`decSum([nil, "1.10"])`, `"1.1"`},
		{`decSum("x")`, `!must be an array, got string`},
		{`decSum(["1", "y"])`, `!item 1`},
		{`decSum(split("1,2", ","))`, `"3"`},
		{`decCmp("1", "2")`, `-1`},
		{`decCmp(3, "2.0")`, `1`},
		{`decCmp(3)`, `compile: `},
		{`decNeg("x")`, `!not a decimal`},
		{`toCents("0.005")`, `1`},
		{`toCents("1.2345", 3)`, `1235`},
		{`toCents("1e30")`, `!too large`},
		{`toCents("x")`, `!not a decimal`},
		{`toCents("1", 99)`, `!places must be`},
		{`fromCents(5, 3)`, `"0.005"`},
		{`fromCents("x")`, `!not a decimal`},
		{`fromCents(1, -1)`, `!places must be`},
		{`number(7)`, `7`},
		{`number("12")`, `12`},
		{`number("x")`, `!not a decimal`},
		{`number()`, `compile: `},
		// dates
		{`parseTime("2026-03-14")`, `"2026-03-14T00:00:00Z"`},
		{`parseTime("2026-03-14 10:00:00", "datetime")`, `!does not match layout`},
		{`parseTime("2026-03-14T10:00:00", "datetime", "Asia/Tokyo")`, `"2026-03-14T10:00:00+09:00"`},
		{`parseTime("20260314", "compact")`, `"2026-03-14T00:00:00Z"`},
		{`parseTime("soon")`, `!is not RFC 3339 or a date`},
		{`parseTime("x", "date", "Mars/Olympus")`, `!unknown time zone "Mars/Olympus"`},
		{`parseTime("x", "date", "Local")`, `!unknown time zone "Local"`},
		{`parseTime(1)`, `compile: `},
		{`parseTime(source.n)`, `!argument 1 must be a string`},
		{`parseTime("x", source.n)`, `!argument 2 must be a string`},
		{`parseTime("x", "date", source.n)`, `!argument 3 must be a string`},
		{`formatTime(now(), "RFC3339")`, `"2026-03-14T09:30:00Z"`},
		{`formatTime("nope", "date")`, `!is not a time`},
		{`formatTime(1, "date")`, `!must be a time or time string, got int`},
		{`formatTime(now(), source.n)`, `!argument 2 must be a string`},
		{`formatTime(now(), "` + strings.Repeat("x", 101) + `")`, `!layout is too long`},
		{`formatTime(now(), "date", "Nowhere")`, `!unknown time zone`},
		{`formatTime(now(), "date", source.n)`, `!argument 3 must be a string`},
		{`toUTC(1)`, `!must be a time`},
		{`inZone(now(), "X/Y")`, `!unknown time zone`},
		{`inZone(now(), source.n)`, `!argument 2 must be a string`},
		{`inZone(1, "UTC")`, `!must be a time`},
		{`addDuration(now(), duration("1h"))`, `"2026-03-14T10:30:00Z"`},
		{`addDuration(now(), "soon")`, `!is not a duration`},
		{`addDuration(now(), 5)`, `!must be a duration string`},
		{`addDuration(1, "1h")`, `!must be a time`},
		{`addDays(now(), source.s)`, `!whole number`},
		{`addDays(1, 1)`, `!must be a time`},
		{`formatTime(addBusinessDays("2026-03-16T00:00:00Z", -1), "date")`, `"2026-03-13"`},
		{`addBusinessDays(now(), 10001)`, `!beyond the limit`},
		{`addBusinessDays(now(), source.s)`, `!whole number`},
		{`addBusinessDays(1, 1)`, `!must be a time`},
		{`isBusinessDay("2026-03-16T00:00:00Z")`, `true`},
		{`isBusinessDay(1)`, `!must be a time`},
		{`daysBetween(now(), 1)`, `!argument 2 must be a time`},
		{`daysBetween(1, now())`, `!argument 1 must be a time`},
		{`startOfDay("2026-03-14T23:30:00Z", "Europe/Berlin")`, `"2026-03-15T00:00:00+01:00"`},
		{`startOfDay(now(), "X")`, `!unknown time zone`},
		{`startOfDay(now(), source.n)`, `!argument 2 must be a string`},
		{`startOfDay(1)`, `!must be a time`},
		{`now() < addDays(now(), 1)`, `true`},
		// lookups and variables
		{`lookup("plant", "nowhere")`, `!table "plant" has no entry for "nowhere"`},
		{`lookup("plant", "nowhere", "P000")`, `"P000"`},
		{`lookup("rec", 1).a`, `1`},
		{`lookup("rec", 2).a`, `0`},
		{`lookup("plant", [1])`, `!key must be a string or number, got array`},
		{`lookupHas("plant", "store-berlin")`, `true`},
		{`lookupHas("plant", nil)`, `!key must be a string or number, got null`},
		{`lookup(source.s, "x")`, `compile: `},
		{`env("MISSING")`, `!variable "MISSING" is not set`},
		{`env(source.n)`, `!argument 1 must be a string`},
		// values
		{`coalesce()`, `null`},
		{`coalesce(nil, 0)`, `0`},
		{`default("x", "y")`, `"x"`},
		{`default("x")`, `compile: `},
		{`isEmpty({})`, `true`},
		{`isEmpty("a")`, `false`},
		{`isEmpty(0)`, `false`},
		{`isEmpty()`, `compile: `},
		{`sha256({"a": [1]}) == sha256("{\"a\":[1]}")`, `true`},
		{`sha256()`, `compile: `},
		{`sha256(1.0/0)`, `!cannot write`},
		{`hashKey("ab", "c") != hashKey("a", "bc")`, `true`},
		{`hashKey()`, `!takes at least 1 arguments`},
		{`hashKey(1.0/0)`, `!cannot write`},
		// string() writes text as JSON would, never Go's %v
		{`string(nil)`, `"null"`},
		{`string("x")`, `"x"`},
		{`string(1001)`, `"1001"`},
		{`string(1.5)`, `"1.5"`},
		{`string(1e21)`, `"1e+21"`},
		{`string(true)`, `"true"`},
		{`string({"b": 1, "a": [1, "x", nil]})`, `"{\"a\":[1,\"x\",null],\"b\":1}"`},
		{`string([1, "x"])`, `"[1,\"x\"]"`},
		{`string(groupBy([1], "k"))`, `"{\"k\":[1]}"`},
		{`string(duration("90s"))`, `"1m30s"`},
		{`string(1.0/0)`, `!cannot write`},
		// output encoding of what expressions build
		{`split("a,b", ",")`, `["a","b"]`},
		{`{"b": 1, "a": [true, nil, 1.5]}`, `{"a":[true,null,1.5],"b":1}`},
		{`1e21`, `1e+21`},
		{`0.000001`, `0.000001`},
		{`0.0000001`, `1e-7`},
		{`"<tag> & \"q\"\n\t\u2028"`, `"<tag> & \"q\"\n\t\u2028"`},
		{`duration("90s")`, `"1m30s"`},
		{`1.0/0`, `!cannot write +Inf as JSON`},
		{`groupBy([1], "k")`, `{"k":[1]}`},
	}
	for _, c := range cases {
		got, errMsg := evalOne(t, c.expr)
		switch {
		case strings.HasPrefix(c.want, "!"):
			if errMsg == "" || !strings.Contains(errMsg, c.want[1:]) {
				t.Errorf("%s: error %q (value %s), want %q", c.expr, errMsg, got, c.want[1:])
			}
		case strings.HasPrefix(c.want, "compile: "):
			if !strings.HasPrefix(errMsg, "compile: ") {
				t.Errorf("%s compiled: %s %s", c.expr, got, errMsg)
			}
		default:
			if errMsg != "" || string(got) != c.want {
				t.Errorf("%s = %s (error %q), want %s", c.expr, got, errMsg, c.want)
			}
		}
	}
}
