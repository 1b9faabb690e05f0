package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // zones resolve the same on every machine, even without /usr/share/zoneinfo
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/shopspring/decimal"
)

// FunctionSpec documents one function available in expressions, for the
// designer's help panel. Every spec's Example is run by the tests and must
// produce Result.
type FunctionSpec struct {
	Name        string `json:"name"`
	Category    string `json:"category"`
	Signature   string `json:"signature"`
	Description string `json:"description"`
	// Example is an expression; it runs against the example context: now()
	// is 2026-03-14T09:30:00Z, env("ERP_COMPANY") is "1000" and lookup
	// table "plant" maps "store-berlin" to "P100".
	Example string `json:"example"`
	// Result is the example's result as JSON.
	Result string `json:"result"`
}

// Function categories, in the order the designer shows them.
const (
	CategoryStrings     = "strings"
	CategoryNumbers     = "numbers and money"
	CategoryDates       = "dates"
	CategoryLookups     = "lookups and variables"
	CategoryValues      = "values"
	CategoryCollections = "collections"
)

// function is a spec with its implementation; builtins are expr's own.
type function struct {
	FunctionSpec
	fn    func(args ...any) (any, error)
	types []any
}

// Functions returns the specs of every function expressions may call,
// grouped by category then sorted by name.
func Functions() []FunctionSpec {
	all := allFunctions()
	out := make([]FunctionSpec, len(all))
	for i, f := range all {
		out[i] = f.FunctionSpec
	}
	order := map[string]int{CategoryStrings: 0, CategoryNumbers: 1, CategoryDates: 2, CategoryLookups: 3, CategoryValues: 4, CategoryCollections: 5}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return order[out[i].Category] < order[out[j].Category]
		}
		return out[i].Name < out[j].Name
	})
	return out
}

var functionNameSet = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, f := range allFunctions() {
		m[f.Name] = true
	}
	return m
})

func isFunctionName(name string) bool { return functionNameSet()[name] }

func functionNames() []string {
	var out []string
	for n := range functionNameSet() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// baseOptions are the expr options every expression of one program is
// compiled with: the node cap, the function library (lookup bound to this
// program's tables) and expr's builtins reduced to the documented ones.
func baseOptions(tables map[string]*lookupTable, maxNodes uint) []expr.Option {
	opts := []expr.Option{expr.MaxNodes(maxNodes)}
	// A spec without an implementation is one of expr's builtins, kept
	// enabled, or lookup/lookupHas, registered below per program. Every
	// builtin without a spec is disabled: only documented functions exist.
	allowed := map[string]bool{}
	for _, f := range allFunctions() {
		if f.fn == nil {
			allowed[f.Name] = true
			continue
		}
		opts = append(opts, expr.Function(f.Name, f.fn, f.types...))
	}
	for _, b := range builtin.Builtins {
		if !allowed[b.Name] {
			opts = append(opts, expr.DisableBuiltin(b.Name))
		}
	}
	opts = append(opts,
		expr.Function(getFunc, getMember, new(func(any, string) any)),
		expr.Function(addFunc, addFn, new(func(*runState, any, any) any)),
		expr.Function(tickFunc, tickFn, new(func(*runState, any) any)),
	)
	lk := func(args ...any) (any, error) { return lookupFn(tables, args) }
	opts = append(opts,
		expr.Function("lookup", lk, new(func(string, any) any), new(func(string, any, any) any)),
		expr.Function("lookupHas", func(args ...any) (any, error) { return lookupHasFn(tables, args) }, new(func(string, any) bool)),
	)
	return opts
}

var allFunctions = sync.OnceValue(func() []function {
	return []function{
		// Strings.
		builtinSpec(CategoryStrings, "trim", "trim(s string[, chars string]) string", "Removes leading and trailing white space, or the given characters.", `trim("  SKU-1 ")`, `"SKU-1"`),
		builtinSpec(CategoryStrings, "trimPrefix", "trimPrefix(s, prefix string) string", "Removes prefix from s if present.", `trimPrefix("#1001", "#")`, `"1001"`),
		builtinSpec(CategoryStrings, "trimSuffix", "trimSuffix(s, suffix string) string", "Removes suffix from s if present.", `trimSuffix("10 pcs", " pcs")`, `"10"`),
		fn(CategoryStrings, "upper", "upper(s string) string", "Converts to upper case.", `upper("de")`, `"DE"`, caseFn("upper", strings.ToUpper), new(func(*runState, string) string)),
		fn(CategoryStrings, "lower", "lower(s string) string", "Converts to lower case.", `lower("Ana@Example.COM")`, `"ana@example.com"`, caseFn("lower", strings.ToLower), new(func(*runState, string) string)),
		fn(CategoryStrings, "split", "split(s, sep string[, n int]) []string", "Splits s around sep.", `split("a,b,c", ",")`, `["a","b","c"]`, splitFn, new(func(*runState, string, string) []string), new(func(*runState, string, string, int) []string)),
		fn(CategoryStrings, "replace", "replace(s, old, new string) string", "Replaces every old with new.", `replace("12 34", " ", "")`, `"1234"`, replaceFn, new(func(*runState, string, string, string) string)),
		fn(CategoryStrings, "join", "join(items []any[, sep string]) string", "Joins strings (and numbers, as text) with sep (default empty); nulls are skipped.", `join(["Unit 4", "Main St 1"], ", ")`, `"Unit 4, Main St 1"`, joinFn, new(func(*runState, any) string), new(func(*runState, any, string) string)),
		builtinSpec(CategoryStrings, "indexOf", "indexOf(s, sub string) int", "Position of the first sub in s (in characters), -1 if absent.", `indexOf("SKU-42", "-")`, `3`),
		builtinSpec(CategoryStrings, "hasPrefix", "hasPrefix(s, prefix string) bool", "Whether s starts with prefix.", `hasPrefix("GIFT-10", "GIFT-")`, `true`),
		builtinSpec(CategoryStrings, "hasSuffix", "hasSuffix(s, suffix string) bool", "Whether s ends with suffix.", `hasSuffix("order.csv", ".csv")`, `true`),
		fn(CategoryStrings, "padLeft", "padLeft(s any, width int, pad string) string", "Pads s on the left with pad up to width characters (ERP numbers with leading zeros). Width is capped at 1000.", `padLeft(42, 8, "0")`, `"00000042"`, padLeft, new(func(any, int, string) string)),
		fn(CategoryStrings, "padRight", "padRight(s any, width int, pad string) string", "Pads s on the right with pad up to width characters (fixed-width files). Width is capped at 1000.", `padRight("AB", 4, ".")`, `"AB.."`, padRight, new(func(any, int, string) string)),
		fn(CategoryStrings, "substring", "substring(s string, start int[, end int]) string", "Characters from start (inclusive) to end (exclusive, default the end), counted in characters; out-of-range positions are clamped.", `substring("DE-BER-01", 3, 6)`, `"BER"`, substring, new(func(string, int) string), new(func(string, int, int) string)),
		fn(CategoryStrings, "truncate", "truncate(s string, n int) string", "Cuts s to at most n characters (for targets with short fields).", `truncate("Express delivery please", 7)`, `"Express"`, truncate, new(func(string, int) string)),
		fn(CategoryStrings, "normalizeSpace", "normalizeSpace(s string) string", "Trims and collapses every run of white space into one space.", `normalizeSpace("  Main   St\t1 ")`, `"Main St 1"`, normalizeSpace, new(func(string) string)),
		fn(CategoryStrings, "digits", "digits(s string) string", "Keeps only the digits of s (phone numbers, postcodes).", `digits("+49 (30) 1234-56")`, `"4930123456"`, digitsFn, new(func(string) string)),
		fn(CategoryStrings, "capitalize", "capitalize(s string) string", "Upper-cases the first letter of every word and lower-cases the rest.", `capitalize("ana DE silva")`, `"Ana De Silva"`, capitalize, new(func(string) string)),
		fn(CategoryStrings, "regexMatch", "regexMatch(s, pattern string) bool", "Whether s matches the regular expression (RE2 syntax, no backtracking). The operator form `s matches pattern` does the same.", `regexMatch("DE123456789", "^DE[0-9]{9}$")`, `true`, matchesFn, new(func(string, string) bool)),
		fn(CategoryStrings, "regexFind", "regexFind(s, pattern string) any", "The first match of the regular expression, or its first group when it has one; null when nothing matches.", `regexFind("PO: 4500012345", "PO: ([0-9]+)")`, `"4500012345"`, regexFind, new(func(string, string) any)),
		fn(CategoryStrings, "regexReplace", "regexReplace(s, pattern, replacement string) string", "Replaces every match; $1 in the replacement is the first group.", `regexReplace("2026/03/14", "([0-9]+)/([0-9]+)/([0-9]+)", "$3.$2.$1")`, `"14.03.2026"`, regexReplace, new(func(*runState, string, string, string) string)),

		// Numbers and money.
		builtinSpec(CategoryNumbers, "abs", "abs(n number) number", "Absolute value.", `abs(-3)`, `3`),
		builtinSpec(CategoryNumbers, "ceil", "ceil(n number) float", "Smallest whole number not below n.", `ceil(2.1)`, `3`),
		builtinSpec(CategoryNumbers, "floor", "floor(n number) float", "Largest whole number not above n.", `floor(2.9)`, `2`),
		builtinSpec(CategoryNumbers, "round", "round(n number) float", "Nearest whole number, halves away from zero. For money use decRound.", `round(2.5)`, `3`),
		builtinSpec(CategoryNumbers, "int", "int(x any) int", "Converts a number or numeric string to an integer (truncating).", `int("42")`, `42`),
		builtinSpec(CategoryNumbers, "float", "float(x any) float", "Converts a number or numeric string to a binary float. Not for money.", `float("1.5")`, `1.5`),
		builtinSpec(CategoryNumbers, "max", "max(a, b ...number) number", "Largest argument (or element of one array).", `max(3, 7, 5)`, `7`),
		builtinSpec(CategoryNumbers, "min", "min(a, b ...number) number", "Smallest argument (or element of one array).", `min(3, 7, 5)`, `3`),
		builtinSpec(CategoryNumbers, "sum", "sum(items []number[, predicate]) number", "Sum of binary numbers such as quantities. For money use decSum.", `sum([1, 2, 3])`, `6`),
		builtinSpec(CategoryNumbers, "mean", "mean(items []number) float", "Arithmetic mean.", `mean([2, 4])`, `3`),
		fn(CategoryNumbers, "dec", "dec(x any) string", "Normalises a number or numeric string to a decimal string, exactly (no binary float rounding).", `dec("019.990")`, `"19.99"`, decFn, new(func(any) string)),
		fn(CategoryNumbers, "decAdd", "decAdd(a, b any, ...more) string", "Exact decimal sum of amounts given as numbers or strings.", `decAdd("0.1", "0.2")`, `"0.3"`, decAdd, nil),
		fn(CategoryNumbers, "decSub", "decSub(a, b any) string", "Exact decimal a - b.", `decSub("19.99", "5")`, `"14.99"`, decSub, new(func(any, any) string)),
		fn(CategoryNumbers, "decMul", "decMul(a, b any) string", "Exact decimal product, e.g. unit price × quantity.", `decMul("19.999", 3)`, `"59.997"`, decMul, new(func(any, any) string)),
		fn(CategoryNumbers, "decDiv", "decDiv(a, b any, places int) string", "Decimal a ÷ b rounded half-up to places decimals; dividing by zero fails the row.", `decDiv("10", "3", 2)`, `"3.33"`, decDiv, new(func(any, any, int) string)),
		fn(CategoryNumbers, "decRound", "decRound(x any, places int[, mode string]) string", "Rounds to places decimals and writes exactly that many. Modes: \"half-up\" (default), \"half-even\" (banker's), \"down\" (toward zero), \"up\" (away from zero), \"ceil\", \"floor\".", `decRound("2.345", 2, "half-even")`, `"2.34"`, decRound, new(func(any, int) string), new(func(any, int, string) string)),
		fn(CategoryNumbers, "decSum", "decSum(items []any) string", "Exact decimal sum of an array of amounts; nulls count as zero.", `decSum(["19.99", "5.01", 0.1])`, `"25.1"`, decSum, new(func(any) string)),
		fn(CategoryNumbers, "decCmp", "decCmp(a, b any) int", "Compares exactly: -1 if a < b, 0 if equal, 1 if a > b.", `decCmp("10.50", 10.5)`, `0`, decCmp, new(func(any, any) int)),
		fn(CategoryNumbers, "decNeg", "decNeg(x any) string", "Negates an amount (credit memos).", `decNeg("12.50")`, `"-12.5"`, decNeg, new(func(any) string)),
		fn(CategoryNumbers, "toCents", "toCents(x any[, places int]) int", "Amount in minor units (default 2 places), rounded half-up: \"19.99\" → 1999.", `toCents("19.999")`, `2000`, toCents, new(func(any) int), new(func(any, int) int)),
		fn(CategoryNumbers, "fromCents", "fromCents(n any[, places int]) string", "Minor units back to a decimal amount: 1999 → \"19.99\".", `fromCents(1999)`, `"19.99"`, fromCents, new(func(any) string), new(func(any, int) string)),
		fn(CategoryNumbers, "number", "number(x any) number", "Converts a decimal string to a JSON number for targets that want numbers; integers stay exact.", `number("19.90")`, `19.9`, numberFn, new(func(any) any)),

		// Dates.
		fn(CategoryDates, "now", "now() time", "The message's received time (never the wall clock), so a replay maps the same way.", `now()`, `"2026-03-14T09:30:00Z"`, nowFn, new(func(*runState) time.Time)),
		fn(CategoryDates, "parseTime", "parseTime(s string[, layout string[, zone string]]) time", "Parses a time. Without a layout: RFC 3339, or a date/date-time without offset read in zone (default UTC). Layouts: \"RFC3339\", \"date\" (2006-01-02), \"datetime\" (2006-01-02T15:04:05), \"compact\" (20060102) or a Go layout.", `parseTime("14.03.2026 18:05", "02.01.2006 15:04", "Europe/Berlin")`, `"2026-03-14T18:05:00+01:00"`, parseTimeFn, new(func(string) time.Time), new(func(string, string) time.Time), new(func(string, string, string) time.Time)),
		fn(CategoryDates, "formatTime", "formatTime(t any, layout string[, zone string]) string", "Formats a time (or RFC 3339 string) with a layout (see parseTime), optionally in a zone.", `formatTime("2026-03-14T23:30:00Z", "date", "Europe/Berlin")`, `"2026-03-15"`, formatTimeFn, new(func(any, string) string), new(func(any, string, string) string)),
		fn(CategoryDates, "toUTC", "toUTC(t any) time", "The same instant in UTC.", `toUTC("2026-03-14T10:30:00+01:00")`, `"2026-03-14T09:30:00Z"`, toUTCFn, new(func(any) time.Time)),
		fn(CategoryDates, "inZone", "inZone(t any, zone string) time", "The same instant in an IANA time zone.", `inZone("2026-03-14T09:30:00Z", "America/New_York")`, `"2026-03-14T05:30:00-04:00"`, inZoneFn, new(func(any, string) time.Time)),
		fn(CategoryDates, "addDuration", "addDuration(t any, d string) time", "Adds a duration such as \"90m\" or \"-2h\" (or a duration() value).", `addDuration("2026-03-14T09:30:00Z", "90m")`, `"2026-03-14T11:00:00Z"`, addDurationFn, new(func(any, any) time.Time)),
		fn(CategoryDates, "addDays", "addDays(t any, n int) time", "Adds n calendar days (negative to go back).", `addDays("2026-03-14T09:30:00Z", 3)`, `"2026-03-17T09:30:00Z"`, addDaysFn, new(func(any, int) time.Time)),
		fn(CategoryDates, "addBusinessDays", "addBusinessDays(t any, n int) time", "Adds n business days, skipping Saturdays and Sundays (no holiday calendar). n is capped at 10000.", `formatTime(addBusinessDays("2026-03-13T12:00:00Z", 1), "date")`, `"2026-03-16"`, addBusinessDaysFn, new(func(any, int) time.Time)),
		fn(CategoryDates, "isBusinessDay", "isBusinessDay(t any) bool", "Whether t falls on Monday to Friday.", `isBusinessDay("2026-03-14T09:30:00Z")`, `false`, isBusinessDayFn, new(func(any) bool)),
		fn(CategoryDates, "daysBetween", "daysBetween(a, b any) int", "Whole calendar days from a's date to b's date (negative if b is earlier).", `daysBetween("2026-03-01T23:00:00Z", "2026-03-14T01:00:00Z")`, `13`, daysBetweenFn, new(func(any, any) int)),
		fn(CategoryDates, "startOfDay", "startOfDay(t any[, zone string]) time", "Midnight at the start of t's day, in zone (default t's own).", `startOfDay("2026-03-14T09:30:00Z")`, `"2026-03-14T00:00:00Z"`, startOfDayFn, new(func(any) time.Time), new(func(any, string) time.Time)),
		builtinSpec(CategoryDates, "duration", "duration(s string) duration", "Parses a duration such as \"1h30m\"; times can be compared and subtracted.", `duration("1h30m")`, `"1h30m0s"`),

		// Lookups and variables.
		spec(CategoryLookups, "lookup", "lookup(table string, key any[, default any]) any", "The table's value (a code or a whole record) for key. A missing key gives default if passed, else the table's default if it has one, else fails the row.", `lookup("plant", "store-berlin")`, `"P100"`),
		spec(CategoryLookups, "lookupHas", "lookupHas(table string, key any) bool", "Whether the table has an entry for key.", `lookupHas("plant", "store-paris")`, `false`),
		fn(CategoryLookups, "env", "env(name string) string", "The value of a variable of the environment the flow runs in (dev, test, prod); fails the row when it is not set.", `env("ERP_COMPANY")`, `"1000"`, envFn, new(func(*runState, string) string)),

		// Values.
		fn(CategoryValues, "coalesce", "coalesce(values ...any) any", "The first argument that is neither null nor an empty string; null if none.", `coalesce(nil, "", "fallback")`, `"fallback"`, coalesce, nil),
		fn(CategoryValues, "default", "default(x any, fallback any) any", "x unless it is null or an empty string, else fallback.", `default(nil, "N/A")`, `"N/A"`, defaultFn, new(func(any, any) any)),
		fn(CategoryValues, "isEmpty", "isEmpty(x any) bool", "Whether x is null, an empty string, an empty array or an empty object.", `isEmpty([])`, `true`, isEmptyFn, new(func(any) bool)),
		fn(CategoryValues, "sha256", "sha256(s any) string", "Hex SHA-256 of a string (or of a value's JSON), for derived keys.", `substring(sha256("1001"), 0, 12)`, `"fe675fe7aaee"`, sha256Fn, new(func(*runState, any) string)),
		fn(CategoryValues, "hashKey", "hashKey(parts ...any) string", "Hex SHA-256 of the parts joined by an unambiguous separator: a stable derived key from several fields.", `substring(hashKey("storefront", 1001), 0, 12)`, `"1e305dbee482"`, hashKey, nil),
		fn(CategoryValues, "string", "string(x any) string", "Converts to text as JSON writes it: a string stays itself, null is \"null\", numbers and booleans as written, a time in RFC 3339, an array or object as its compact JSON (keys sorted).", `string(1001)`, `"1001"`, stringFn, new(func(*runState, any) string)),
		builtinSpec(CategoryValues, "type", "type(x any) string", "The type's name: \"string\", \"int\", \"float\", \"bool\", \"array\", \"map\", \"nil\"…", `type("x")`, `"string"`),
		fn(CategoryValues, "toJSON", "toJSON(x any) string", "Encodes a value as an indented JSON string.", `toJSON([1,2])`, `"[\n  1,\n  2\n]"`, toJSONFn, new(func(*runState, any) string)),
		fn(CategoryValues, "fromJSON", "fromJSON(s string) any", "Decodes a JSON string (e.g. a JSON string nested in a field).", `fromJSON("{\"a\":1}").a`, `1`, fromJSONFn, new(func(*runState, string) any)),
		fn(CategoryValues, "toBase64", "toBase64(s string) string", "Base64-encodes a string.", `toBase64("hi")`, `"aGk="`, toBase64Fn, new(func(*runState, string) string)),
		builtinSpec(CategoryValues, "fromBase64", "fromBase64(s string) string", "Decodes a base64 string.", `fromBase64("aGk=")`, `"hi"`),
		builtinSpec(CategoryValues, "get", "get(x any, key any) any", "Member or element of x, or null when absent (never fails).", `get({"a": 1}, "b")`, `null`),

		// Collections.
		builtinSpec(CategoryCollections, "len", "len(x any) int", "Length of a string (characters), array or object.", `len([1, 2, 3])`, `3`),
		builtinSpec(CategoryCollections, "all", "all(items []any, predicate) bool", "Whether the predicate holds for every item; # is the item.", `all([1, 2], # > 0)`, `true`),
		builtinSpec(CategoryCollections, "any", "any(items []any, predicate) bool", "Whether the predicate holds for some item.", `any([1, 2], # > 1)`, `true`),
		builtinSpec(CategoryCollections, "none", "none(items []any, predicate) bool", "Whether the predicate holds for no item.", `none([1, 2], # > 2)`, `true`),
		builtinSpec(CategoryCollections, "one", "one(items []any, predicate) bool", "Whether the predicate holds for exactly one item.", `one([1, 2], # > 1)`, `true`),
		builtinSpec(CategoryCollections, "filter", "filter(items []any, predicate) []any", "Items for which the predicate holds.", `filter([1, 2, 3], # != 2)`, `[1,3]`),
		builtinSpec(CategoryCollections, "map", "map(items []any, expression) []any", "The expression for every item; .field reads the item's field.", `map([{"sku": "A"}, {"sku": "B"}], .sku)`, `["A","B"]`),
		builtinSpec(CategoryCollections, "find", "find(items []any, predicate) any", "The first item for which the predicate holds, or null.", `find([{"t": "billing"}, {"t": "shipping"}], .t == "shipping")`, `{"t":"shipping"}`),
		builtinSpec(CategoryCollections, "findIndex", "findIndex(items []any, predicate) int", "Index of the first item for which the predicate holds, or -1.", `findIndex([5, 7], # == 7)`, `1`),
		builtinSpec(CategoryCollections, "count", "count(items []any[, predicate]) int", "How many items satisfy the predicate (or are true).", `count([1, 2, 3], # > 1)`, `2`),
		builtinSpec(CategoryCollections, "groupBy", "groupBy(items []any, expression) map", "Items grouped by the expression's value.", `groupBy([1, 2, 3], # % 2 == 0 ? "even" : "odd")`, `{"even":[2],"odd":[1,3]}`),
		builtinSpec(CategoryCollections, "sortBy", "sortBy(items []any, expression[, order string]) []any", "Items sorted by the expression, \"asc\" (default) or \"desc\".", `sortBy([{"n": 2}, {"n": 1}], .n)`, `[{"n":1},{"n":2}]`),
		builtinSpec(CategoryCollections, "sort", "sort(items []any[, order string]) []any", "Items sorted, \"asc\" (default) or \"desc\".", `sort([3, 1, 2])`, `[1,2,3]`),
		builtinSpec(CategoryCollections, "reduce", "reduce(items []any, expression[, initial]) any", "Folds the items: #acc is the running value, # the item.", `reduce([1, 2, 3], #acc + #, 0)`, `6`),
		builtinSpec(CategoryCollections, "first", "first(items []any) any", "First item, or null.", `first([4, 5])`, `4`),
		builtinSpec(CategoryCollections, "last", "last(items []any) any", "Last item, or null.", `last([4, 5])`, `5`),
		builtinSpec(CategoryCollections, "take", "take(items []any, n int) []any", "The first n items.", `take([1, 2, 3], 2)`, `[1,2]`),
		builtinSpec(CategoryCollections, "keys", "keys(m map) []string", "The object's keys (in no particular order; sort them).", `sort(keys({"b": 1, "a": 2}))`, `["a","b"]`),
		builtinSpec(CategoryCollections, "values", "values(m map) []any", "The object's values (in no particular order).", `values({"a": 2})`, `[2]`),
		builtinSpec(CategoryCollections, "reverse", "reverse(items []any) []any", "Items in reverse order.", `reverse([1, 2])`, `[2,1]`),
		fn(CategoryCollections, "uniq", "uniq(items []any) []any", "Items without repeats, first occurrence kept.", `uniq([1, 1, 2])`, `[1,2]`, uniqFn, new(func(*runState, any) []any)),
		builtinSpec(CategoryCollections, "concat", "concat(a, b ...[]any) []any", "Arrays joined end to end.", `concat([1], [2, 3])`, `[1,2,3]`),
		builtinSpec(CategoryCollections, "flatten", "flatten(items []any) []any", "Nested arrays flattened into one.", `flatten([[1], [2, [3]]])`, `[1,2,3]`),
	}
})

func spec(cat, name, sig, desc, example, result string) function {
	return function{FunctionSpec: FunctionSpec{Name: name, Category: cat, Signature: sig, Description: desc, Example: example, Result: result}}
}

// builtinSpec documents one of expr's builtins that stays enabled.
func builtinSpec(cat, name, sig, desc, example, result string) function {
	return spec(cat, name, sig, desc, example, result)
}

func fn(cat, name, sig, desc, example, result string, impl func(args ...any) (any, error), types ...any) function {
	f := spec(cat, name, sig, desc, example, result)
	f.fn = impl
	for _, t := range types {
		if t != nil {
			f.types = append(f.types, t)
		}
	}
	return f
}

// --- argument helpers ---

type argError struct {
	fn  string
	msg string
}

// Error names the function and what was wrong with its arguments.
func (e *argError) Error() string { return e.fn + ": " + e.msg }

func argErr(fn string, format string, a ...any) error {
	return &argError{fn: fn, msg: fmt.Sprintf(format, a...)}
}

func needArgs(fn string, args []any, lo, hi int) error {
	if len(args) < lo || (hi >= 0 && len(args) > hi) {
		if lo == hi {
			return argErr(fn, "takes %d arguments, got %d", lo, len(args))
		}
		if hi < 0 {
			return argErr(fn, "takes at least %d arguments, got %d", lo, len(args))
		}
		return argErr(fn, "takes %d to %d arguments, got %d", lo, hi, len(args))
	}
	return nil
}

func argString(fn string, args []any, i int) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		return "", argErr(fn, "argument %d must be a string, got %s", i+1, typeName(args[i]))
	}
	return s, nil
}

func argInt(fn string, args []any, i int) (int, error) {
	switch v := args[i].(type) {
	case int:
		return v, nil
	case int64:
		return int(v), nil
	case float64:
		if v == float64(int(v)) {
			return int(v), nil
		}
	}
	return 0, argErr(fn, "argument %d must be a whole number, got %s", i+1, typeName(args[i]))
}

// stringOf renders scalars as text for functions that accept "anything
// printable" (padLeft of an order number, sha256 of an id).
func stringOf(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int:
		return fmt.Sprint(v), true
	case int64:
		return fmt.Sprint(v), true
	case float64:
		b, err := appendFloat(nil, v, 64)
		return string(b), err == nil
	case bool:
		return fmt.Sprint(v), true
	}
	return "", false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case int, int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case time.Time:
		return "time"
	}
	return reflect.TypeOf(v).String()
}

const maxPad = 1000

// --- strings ---

func pad(name string, left bool, args []any) (any, error) {
	if err := needArgs(name, args, 3, 3); err != nil {
		return nil, err
	}
	s, ok := stringOf(args[0])
	if !ok {
		return nil, argErr(name, "argument 1 must be a string or number, got %s", typeName(args[0]))
	}
	width, err := argInt(name, args, 1)
	if err != nil {
		return nil, err
	}
	p, err := argString(name, args, 2)
	if err != nil {
		return nil, err
	}
	if width > maxPad {
		return nil, argErr(name, "width %d is over the limit of %d", width, maxPad)
	}
	if p == "" {
		return nil, argErr(name, "pad must not be empty")
	}
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s, nil
	}
	var fill strings.Builder
	for fill.Len() < width-n || utf8.RuneCountInString(fill.String()) < width-n {
		fill.WriteString(p)
	}
	f := []rune(fill.String())[:width-n]
	if left {
		return string(f) + s, nil
	}
	return s + string(f), nil
}

func padLeft(args ...any) (any, error)  { return pad("padLeft", true, args) }
func padRight(args ...any) (any, error) { return pad("padRight", false, args) }

func substring(args ...any) (any, error) {
	if err := needArgs("substring", args, 2, 3); err != nil {
		return nil, err
	}
	s, err := argString("substring", args, 0)
	if err != nil {
		return nil, err
	}
	r := []rune(s)
	start, err := argInt("substring", args, 1)
	if err != nil {
		return nil, err
	}
	end := len(r)
	if len(args) == 3 {
		if end, err = argInt("substring", args, 2); err != nil {
			return nil, err
		}
	}
	start = max(0, min(start, len(r)))
	end = max(start, min(end, len(r)))
	return string(r[start:end]), nil
}

func truncate(args ...any) (any, error) {
	if err := needArgs("truncate", args, 2, 2); err != nil {
		return nil, err
	}
	s, err := argString("truncate", args, 0)
	if err != nil {
		return nil, err
	}
	n, err := argInt("truncate", args, 1)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, argErr("truncate", "length must not be negative")
	}
	r := []rune(s)
	if len(r) <= n {
		return s, nil
	}
	return string(r[:n]), nil
}

func normalizeSpace(args ...any) (any, error) {
	if err := needArgs("normalizeSpace", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("normalizeSpace", args, 0)
	if err != nil {
		return nil, err
	}
	return strings.Join(strings.Fields(s), " "), nil
}

func digitsFn(args ...any) (any, error) {
	if err := needArgs("digits", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("digits", args, 0)
	if err != nil {
		return nil, err
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s), nil
}

func capitalize(args ...any) (any, error) {
	if err := needArgs("capitalize", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("capitalize", args, 0)
	if err != nil {
		return nil, err
	}
	out := []rune(strings.ToLower(s))
	start := true
	for i, r := range out {
		if unicode.IsSpace(r) || r == '-' {
			start = true
			continue
		}
		if start {
			out[i] = unicode.ToUpper(r)
		}
		start = false
	}
	return string(out), nil
}

// regexCache keeps compiled patterns: mappings use a handful of constant
// patterns, compiled once per process instead of once per row. It stops
// growing at maxCached entries so patterns taken from payloads cannot fill
// memory; later patterns are compiled per call.
var (
	regexCache  sync.Map
	regexCached atomic.Int64
)

const (
	maxPattern = 1000
	maxCached  = 1000
)

func compileRegex(name, pattern string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	if len(pattern) > maxPattern {
		return nil, argErr(name, "pattern is longer than %d bytes", maxPattern)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, argErr(name, "bad pattern: %v", err)
	}
	if regexCached.Load() < maxCached {
		if _, loaded := regexCache.LoadOrStore(pattern, re); !loaded {
			regexCached.Add(1)
		}
	}
	return re, nil
}

func regexArgs(name string, args []any, n int) (string, *regexp.Regexp, error) {
	if err := needArgs(name, args, n, n); err != nil {
		return "", nil, err
	}
	s, err := argString(name, args, 0)
	if err != nil {
		return "", nil, err
	}
	p, err := argString(name, args, 1)
	if err != nil {
		return "", nil, err
	}
	re, err := compileRegex(name, p)
	return s, re, err
}

func matchesFn(args ...any) (any, error) {
	s, re, err := regexArgs("regexMatch", args, 2)
	if err != nil {
		return nil, err
	}
	return re.MatchString(s), nil
}

func regexFind(args ...any) (any, error) {
	s, re, err := regexArgs("regexFind", args, 2)
	if err != nil {
		return nil, err
	}
	m := re.FindStringSubmatch(s)
	switch {
	case m == nil:
		return nil, nil
	case len(m) > 1:
		return m[1], nil
	}
	return m[0], nil
}

func regexReplace(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	s, re, err := regexArgs("regexReplace", args, 3)
	if err != nil {
		return nil, err
	}
	repl, err := argString("regexReplace", args, 2)
	if err != nil {
		return nil, err
	}
	// Charge the largest result the replacement can produce before
	// building it: each match becomes repl, and each $n in repl at most
	// the match itself. Matches are only counted as far as the budget
	// could pay for them, so a huge input fails fast.
	bound := len(s)
	if repl != "" {
		dollars := strings.Count(repl, "$")
		limit := max(rs.p.opts.MaxWorkBytes-rs.work-len(s), 0)/len(repl) + 1
		for _, m := range re.FindAllStringIndex(s, limit) {
			bound += len(repl) + dollars*(m[1]-m[0])
		}
	}
	if err := rs.charge("regexReplace", bound); err != nil {
		return nil, err
	}
	return re.ReplaceAllString(s, repl), nil
}

func replaceFn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("replace", args, 3, 3); err != nil {
		return nil, err
	}
	var strs [3]string
	for i := range strs {
		v, err := argString("replace", args, i)
		if err != nil {
			return nil, err
		}
		strs[i] = v
	}
	s, old, repl := strs[0], strs[1], strs[2]
	n := strings.Count(s, old)
	if err := rs.charge("replace", len(s)+n*len(repl)); err != nil {
		return nil, err
	}
	return strings.ReplaceAll(s, old, repl), nil
}

func joinFn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("join", args, 1, 2); err != nil {
		return nil, err
	}
	items, ok := asSlice(args[0])
	if !ok {
		return nil, argErr("join", "argument 1 must be an array, got %s", typeName(args[0]))
	}
	sep := ""
	if len(args) == 2 {
		var err error
		if sep, err = argString("join", args, 1); err != nil {
			return nil, err
		}
	}
	parts := make([]string, 0, len(items))
	size := 0
	for i, it := range items {
		if it == nil {
			continue
		}
		p, ok := stringOf(it)
		if !ok {
			return nil, argErr("join", "item %d must be a string or number, got %s", i, typeName(it))
		}
		parts = append(parts, p)
		size += len(p) + len(sep)
	}
	if err := rs.charge("join", size); err != nil {
		return nil, err
	}
	return strings.Join(parts, sep), nil
}

// addFn is `a + b` where neither side is a number literal: repeated string
// concatenation is how an expression could eat memory or time, so string
// growth is charged to the run's budget. (expr has no array +; concat is
// covered by expr's own memory budget.)
func addFn(args ...any) (any, error) {
	rs := args[0].(*runState)
	a, b := args[1], args[2]
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			if err := rs.charge("+", len(x)+len(y)); err != nil {
				return nil, err
			}
			return x + y, nil
		}
	}
	return exprAdd(a, b)
}

// exprAdd is expr's own + for every other pair of types.
func exprAdd(a, b any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return runtime.Add(a, b), nil
}

// tickFn wraps the body of every predicate (map, filter, reduce…): it
// counts iterations against the run's budget and notices cancellation, so
// a loop in an expression cannot outlive its message.
func tickFn(args ...any) (any, error) {
	rs := args[0].(*runState)
	if err := rs.tick(); err != nil {
		return nil, err
	}
	return args[1], nil
}

// --- numbers and money ---

// toAmount reads an amount. Strings are parsed exactly; float64 values
// (JSON numbers with a fraction) through their shortest representation, so
// 19.99 stays 19.99.
func toAmount(name string, v any, i int) (amount, error) {
	switch v := v.(type) {
	case string:
		if a, ok := parseAmount(v); ok {
			return a, nil
		}
		d, err := decimal.NewFromString(strings.TrimSpace(v))
		if err != nil || len(v) > 100 {
			return amount{}, argErr(name, "argument %d %q is not a decimal number", i+1, v)
		}
		return bigAmount(d), nil
	case int:
		return intAmount(int64(v)), nil
	case int64:
		return intAmount(v), nil
	case float64:
		if a, ok := floatAmount(v); ok {
			return a, nil
		}
		return amount{}, argErr(name, "argument %d is not a finite number", i+1)
	}
	return amount{}, argErr(name, "argument %d must be a number or numeric string, got %s", i+1, typeName(v))
}

func amountArgs(name string, args []any, lo, hi int) ([]amount, error) {
	if err := needArgs(name, args, lo, hi); err != nil {
		return nil, err
	}
	out := make([]amount, len(args))
	for i, a := range args {
		d, err := toAmount(name, a, i)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func decFn(args ...any) (any, error) {
	d, err := amountArgs("dec", args, 1, 1)
	if err != nil {
		return nil, err
	}
	return d[0].string(), nil
}

func decAdd(args ...any) (any, error) {
	d, err := amountArgs("decAdd", args, 2, -1)
	if err != nil {
		return nil, err
	}
	sum := d[0]
	for _, x := range d[1:] {
		sum = sum.add(x)
	}
	return sum.string(), nil
}

func decSub(args ...any) (any, error) {
	d, err := amountArgs("decSub", args, 2, 2)
	if err != nil {
		return nil, err
	}
	return d[0].sub(d[1]).string(), nil
}

func decMul(args ...any) (any, error) {
	d, err := amountArgs("decMul", args, 2, 2)
	if err != nil {
		return nil, err
	}
	return d[0].mul(d[1]).string(), nil
}

const maxPlaces = 30

func argPlaces(name string, args []any, i int) (int32, error) {
	p, err := argInt(name, args, i)
	if err != nil {
		return 0, err
	}
	if p < 0 || p > maxPlaces {
		return 0, argErr(name, "places must be between 0 and %d, got %d", maxPlaces, p)
	}
	return int32(p), nil
}

func decDiv(args ...any) (any, error) {
	if err := needArgs("decDiv", args, 3, 3); err != nil {
		return nil, err
	}
	d, err := amountArgs("decDiv", args[:2], 2, 2)
	if err != nil {
		return nil, err
	}
	places, err := argPlaces("decDiv", args, 2)
	if err != nil {
		return nil, err
	}
	if d[1].isZero() {
		return nil, argErr("decDiv", "division by zero")
	}
	// Divide with spare precision, then round once, so the result is the
	// correctly rounded quotient.
	return d[0].toBig().DivRound(d[1].toBig(), places+4).Round(places).StringFixed(places), nil
}

var roundingModes = map[string]bool{"half-up": true, "half-even": true, "down": true, "up": true, "ceil": true, "floor": true}

func decRound(args ...any) (any, error) {
	if err := needArgs("decRound", args, 2, 3); err != nil {
		return nil, err
	}
	d, err := toAmount("decRound", args[0], 0)
	if err != nil {
		return nil, err
	}
	places, err := argPlaces("decRound", args, 1)
	if err != nil {
		return nil, err
	}
	mode := "half-up"
	if len(args) == 3 {
		if mode, err = argString("decRound", args, 2); err != nil {
			return nil, err
		}
	}
	if !roundingModes[mode] {
		return nil, argErr("decRound", "unknown rounding mode %q; use half-up, half-even, down, up, ceil or floor", mode)
	}
	return d.round(places, mode).stringFixed(places), nil
}

func decSum(args ...any) (any, error) {
	if err := needArgs("decSum", args, 1, 1); err != nil {
		return nil, err
	}
	items, ok := asSlice(args[0])
	if !ok {
		return nil, argErr("decSum", "argument 1 must be an array, got %s", typeName(args[0]))
	}
	sum := intAmount(0)
	for i, it := range items {
		if it == nil {
			continue
		}
		d, err := toAmount("decSum", it, i)
		if err != nil {
			return nil, argErr("decSum", "item %d: %v", i, err.(*argError).msg)
		}
		sum = sum.add(d)
	}
	return sum.string(), nil
}

func decCmp(args ...any) (any, error) {
	d, err := amountArgs("decCmp", args, 2, 2)
	if err != nil {
		return nil, err
	}
	return d[0].cmp(d[1]), nil
}

func decNeg(args ...any) (any, error) {
	d, err := amountArgs("decNeg", args, 1, 1)
	if err != nil {
		return nil, err
	}
	return d[0].neg().string(), nil
}

func toCents(args ...any) (any, error) {
	if err := needArgs("toCents", args, 1, 2); err != nil {
		return nil, err
	}
	a, err := toAmount("toCents", args[0], 0)
	if err != nil {
		return nil, err
	}
	d := a.toBig()
	places := int32(2)
	if len(args) == 2 {
		if places, err = argPlaces("toCents", args, 1); err != nil {
			return nil, err
		}
	}
	c := d.Shift(places).Round(0)
	if !c.IsInteger() || c.Abs().Cmp(decimal.New(1, 18)) >= 0 {
		return nil, argErr("toCents", "amount %s is too large", d)
	}
	return int(c.IntPart()), nil
}

func fromCents(args ...any) (any, error) {
	if err := needArgs("fromCents", args, 1, 2); err != nil {
		return nil, err
	}
	a, err := toAmount("fromCents", args[0], 0)
	if err != nil {
		return nil, err
	}
	places := int32(2)
	if len(args) == 2 {
		if places, err = argPlaces("fromCents", args, 1); err != nil {
			return nil, err
		}
	}
	return a.toBig().Shift(-places).StringFixed(places), nil
}

func numberFn(args ...any) (any, error) {
	if err := needArgs("number", args, 1, 1); err != nil {
		return nil, err
	}
	switch v := args[0].(type) {
	case int, int64, float64:
		return v, nil
	}
	a, err := toAmount("number", args[0], 0)
	if err != nil {
		return nil, err
	}
	d := a.toBig()
	if d.IsInteger() && d.Abs().Cmp(decimal.New(1, 18)) < 0 {
		return int(d.IntPart()), nil
	}
	f, _ := d.Float64()
	return f, nil
}

// --- dates ---

var layouts = map[string]string{
	"RFC3339":     time.RFC3339,
	"RFC3339Nano": time.RFC3339Nano,
	"date":        "2006-01-02",
	"datetime":    "2006-01-02T15:04:05",
	"compact":     "20060102",
	"time":        "15:04:05",
}

func layoutOf(s string) string {
	if l, ok := layouts[s]; ok {
		return l
	}
	return s
}

// zoneCache holds loaded zones and, as nil, names that failed, so a zone
// name is read from the zone database once; bounded like regexCache.
var (
	zoneCache  sync.Map
	zoneCached atomic.Int64
)

func loadZone(name, zone string) (*time.Location, error) {
	cached, ok := zoneCache.Load(zone)
	if !ok {
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" || zone == "Local" {
			loc = nil
		}
		cached = loc
		if zoneCached.Load() < maxCached {
			if _, loaded := zoneCache.LoadOrStore(zone, loc); !loaded {
				zoneCached.Add(1)
			}
		}
	}
	loc, _ := cached.(*time.Location)
	if loc == nil {
		return nil, argErr(name, "unknown time zone %q; use an IANA name such as \"Europe/Berlin\"", zone)
	}
	return loc, nil
}

// toTime reads a time value or an RFC 3339 / date / date-time string.
func toTime(name string, v any, i int) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case string:
		t, err := parseFlexible(v, time.UTC)
		if err != nil {
			return time.Time{}, argErr(name, "argument %d %q is not a time; use parseTime with a layout", i+1, v)
		}
		return t, nil
	}
	return time.Time{}, argErr(name, "argument %d must be a time or time string, got %s", i+1, typeName(v))
}

func parseFlexible(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time")
}

func nowFn(args ...any) (any, error) {
	rs := args[0].(*runState)
	return rs.now, nil
}

func parseTimeFn(args ...any) (any, error) {
	if err := needArgs("parseTime", args, 1, 3); err != nil {
		return nil, err
	}
	s, err := argString("parseTime", args, 0)
	if err != nil {
		return nil, err
	}
	loc := time.UTC
	if len(args) == 3 {
		z, err := argString("parseTime", args, 2)
		if err != nil {
			return nil, err
		}
		if loc, err = loadZone("parseTime", z); err != nil {
			return nil, err
		}
	}
	if len(args) == 1 {
		t, err := parseFlexible(s, loc)
		if err != nil {
			return nil, argErr("parseTime", "%q is not RFC 3339 or a date; pass a layout", s)
		}
		return t, nil
	}
	l, err := argString("parseTime", args, 1)
	if err != nil {
		return nil, err
	}
	t, err := time.ParseInLocation(layoutOf(l), s, loc)
	if err != nil {
		return nil, argErr("parseTime", "%q does not match layout %q", s, l)
	}
	return t, nil
}

func formatTimeFn(args ...any) (any, error) {
	if err := needArgs("formatTime", args, 2, 3); err != nil {
		return nil, err
	}
	t, err := toTime("formatTime", args[0], 0)
	if err != nil {
		return nil, err
	}
	l, err := argString("formatTime", args, 1)
	if err != nil {
		return nil, err
	}
	if len(l) > 100 {
		return nil, argErr("formatTime", "layout is too long")
	}
	if len(args) == 3 {
		z, err := argString("formatTime", args, 2)
		if err != nil {
			return nil, err
		}
		loc, err := loadZone("formatTime", z)
		if err != nil {
			return nil, err
		}
		t = t.In(loc)
	}
	return t.Format(layoutOf(l)), nil
}

func toUTCFn(args ...any) (any, error) {
	if err := needArgs("toUTC", args, 1, 1); err != nil {
		return nil, err
	}
	t, err := toTime("toUTC", args[0], 0)
	if err != nil {
		return nil, err
	}
	return t.UTC(), nil
}

func inZoneFn(args ...any) (any, error) {
	if err := needArgs("inZone", args, 2, 2); err != nil {
		return nil, err
	}
	t, err := toTime("inZone", args[0], 0)
	if err != nil {
		return nil, err
	}
	z, err := argString("inZone", args, 1)
	if err != nil {
		return nil, err
	}
	loc, err := loadZone("inZone", z)
	if err != nil {
		return nil, err
	}
	return t.In(loc), nil
}

func addDurationFn(args ...any) (any, error) {
	if err := needArgs("addDuration", args, 2, 2); err != nil {
		return nil, err
	}
	t, err := toTime("addDuration", args[0], 0)
	if err != nil {
		return nil, err
	}
	var d time.Duration
	switch v := args[1].(type) {
	case time.Duration:
		d = v
	case string:
		if d, err = time.ParseDuration(v); err != nil {
			return nil, argErr("addDuration", "%q is not a duration such as \"90m\" or \"-2h\"", v)
		}
	default:
		return nil, argErr("addDuration", "argument 2 must be a duration string, got %s", typeName(v))
	}
	return t.Add(d), nil
}

func addDaysFn(args ...any) (any, error) {
	if err := needArgs("addDays", args, 2, 2); err != nil {
		return nil, err
	}
	t, err := toTime("addDays", args[0], 0)
	if err != nil {
		return nil, err
	}
	n, err := argInt("addDays", args, 1)
	if err != nil {
		return nil, err
	}
	return t.AddDate(0, 0, n), nil
}

const maxBusinessDays = 10000

func addBusinessDaysFn(args ...any) (any, error) {
	if err := needArgs("addBusinessDays", args, 2, 2); err != nil {
		return nil, err
	}
	t, err := toTime("addBusinessDays", args[0], 0)
	if err != nil {
		return nil, err
	}
	n, err := argInt("addBusinessDays", args, 1)
	if err != nil {
		return nil, err
	}
	if n > maxBusinessDays || n < -maxBusinessDays {
		return nil, argErr("addBusinessDays", "%d is beyond the limit of %d days", n, maxBusinessDays)
	}
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		t = t.AddDate(0, 0, step)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t, nil
}

func isBusinessDayFn(args ...any) (any, error) {
	if err := needArgs("isBusinessDay", args, 1, 1); err != nil {
		return nil, err
	}
	t, err := toTime("isBusinessDay", args[0], 0)
	if err != nil {
		return nil, err
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday, nil
}

func daysBetweenFn(args ...any) (any, error) {
	if err := needArgs("daysBetween", args, 2, 2); err != nil {
		return nil, err
	}
	a, err := toTime("daysBetween", args[0], 0)
	if err != nil {
		return nil, err
	}
	b, err := toTime("daysBetween", args[1], 1)
	if err != nil {
		return nil, err
	}
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24), nil
}

func startOfDayFn(args ...any) (any, error) {
	if err := needArgs("startOfDay", args, 1, 2); err != nil {
		return nil, err
	}
	t, err := toTime("startOfDay", args[0], 0)
	if err != nil {
		return nil, err
	}
	if len(args) == 2 {
		z, err := argString("startOfDay", args, 1)
		if err != nil {
			return nil, err
		}
		loc, err := loadZone("startOfDay", z)
		if err != nil {
			return nil, err
		}
		t = t.In(loc)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()), nil
}

// --- lookups and variables ---

func envFn(args ...any) (any, error) {
	rs := args[0].(*runState)
	if err := needArgs("env", args[1:], 1, 1); err != nil {
		return nil, err
	}
	name, err := argString("env", args[1:], 0)
	if err != nil {
		return nil, err
	}
	v, ok := rs.vars[name]
	if !ok {
		return nil, argErr("env", "variable %q is not set in this environment", name)
	}
	return v, nil
}

// --- values ---

func isEmptyValue(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

func coalesce(args ...any) (any, error) {
	for _, a := range args {
		if a == nil {
			continue
		}
		if s, ok := a.(string); ok && s == "" {
			continue
		}
		return a, nil
	}
	return nil, nil
}

func defaultFn(args ...any) (any, error) {
	if err := needArgs("default", args, 2, 2); err != nil {
		return nil, err
	}
	return coalesce(args...)
}

func isEmptyFn(args ...any) (any, error) {
	if err := needArgs("isEmpty", args, 1, 1); err != nil {
		return nil, err
	}
	return isEmptyValue(args[0]), nil
}

// hashInput is the bytes a hash function hashes: a string as it is, any
// other value as JSON, written under the message's work budget.
func hashInput(rs *runState, name string, v any) ([]byte, error) {
	if s, ok := stringOf(v); ok {
		return []byte(s), nil
	}
	b, err := appendValueBudget(nil, v, rs.workBudget(name, 0))
	if err != nil {
		if errors.Is(err, ErrLimit) || rs.ctxErr() != nil {
			return nil, err
		}
		return nil, argErr(name, "%v", err)
	}
	if err := rs.charge(name, len(b)); err != nil {
		return nil, err
	}
	return b, nil
}

func sha256Fn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("sha256", args, 1, 1); err != nil {
		return nil, err
	}
	b, err := hashInput(rs, "sha256", args[0])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func hashKey(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("hashKey", args, 1, -1); err != nil {
		return nil, err
	}
	h := sha256.New()
	for i, a := range args {
		b, err := hashInput(rs, "hashKey", a)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			// The unit separator cannot be confused with field content,
			// so ("ab","c") and ("a","bc") hash differently.
			h.Write([]byte{0x1f})
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// asSlice accepts []any and any other slice an expression can produce.
func asSlice(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case nil:
		return nil, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}
