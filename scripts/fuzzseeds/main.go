// Command fuzzseeds writes the hostile seed corpora of the fuzz targets
// FuzzTrigger (web/testdata/fuzz/FuzzTrigger) and FuzzCompileRun
// (engine/testdata/fuzz/FuzzCompileRun): invalid UTF-8, 10,000-deep
// nesting, huge numbers, wrong media types, oversized bodies, expressions
// built to exhaust memory or time. The files are committed, so `go test`
// runs every seed as an ordinary test and `go test -fuzz` starts from
// them; this program exists so that they can be read as code and
// regenerated when a fuzz target's arguments change:
//
//	go run ./scripts/fuzzseeds
//
// It writes only files named seed-*, leaving the found-* entries the
// fuzzer added (crashers it found, kept as regression tests) alone.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzseeds:", err)
		os.Exit(1)
	}
}

// Trigger modes, as FuzzTrigger reads its mode byte.
const (
	single = 0
	batch  = 1
	wait   = 2
)

type triggerSeed struct {
	name        string
	body        string
	contentType string
	mode        uint8
	idemKey     string
}

type engineSeed struct {
	name    string
	expr    string
	payload string
}

func run() error {
	if err := write("web/testdata/fuzz/FuzzTrigger", triggerSeeds(), func(s triggerSeed) (string, []any) {
		return s.name, []any{[]byte(s.body), s.contentType, s.mode, s.idemKey}
	}); err != nil {
		return err
	}
	return write("engine/testdata/fuzz/FuzzCompileRun", engineSeeds(), func(s engineSeed) (string, []any) {
		return s.name, []any{s.expr, []byte(s.payload)}
	})
}

// write replaces the seed-* files of dir with one file per seed, in the
// corpus format of `go test -fuzz` ("go test fuzz v1", then one Go literal
// per argument).
func write[S any](dir string, seeds []S, args func(S) (string, []any)) error {
	old, err := filepath.Glob(filepath.Join(dir, "seed-*"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range seeds {
		name, values := args(s)
		if seen[name] {
			return fmt.Errorf("two seeds named %s", name)
		}
		seen[name] = true
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range values {
			switch v := v.(type) {
			case []byte:
				b.WriteString("[]byte(" + strconv.Quote(string(v)) + ")\n")
			case string:
				b.WriteString("string(" + strconv.Quote(v) + ")\n")
			case uint8:
				b.WriteString("uint8(" + strconv.Itoa(int(v)) + ")\n")
			default:
				return fmt.Errorf("seed %s: no corpus literal for %T", name, v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d seeds\n", dir, len(seeds))
	return nil
}

// nest returns open×n + inner + close×n.
func nest(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// order is a small storefront order, the shape the fuzzed flow expects.
func order(id string) string {
	return `{"id": ` + id + `, "name": "#1001", "email": "a@shop.example", "currency": "EUR", "total_price": "10.00", "line_items": [{"sku": "A", "quantity": 1, "price": "10.00"}]}`
}

// lines joins NDJSON lines with a trailing newline.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

func triggerSeeds() []triggerSeed {
	const json = "application/json"
	const ndjson = "application/x-ndjson"
	many := func(n int, line string) string {
		l := make([]string, n)
		for i := range l {
			l[i] = strings.ReplaceAll(line, "N", strconv.Itoa(i))
		}
		return lines(l...)
	}
	s := []triggerSeed{
		// Invalid UTF-8: in a string value, in a key, outside any string,
		// overlong and surrogate encodings, and escapes of lone surrogates
		// (valid to Go, refused by PostgreSQL's json type).
		{"utf8-in-string", `{"id": 1, "name": "caf` + "\xe9" + `"}`, json, single, ""},
		{"utf8-in-key", `{"id": 1, "` + "\xc3\x28" + `": 1}`, json, single, ""},
		{"utf8-bare", "\xff\xfe{}", json, single, ""},
		{"utf8-overlong", `{"id": "` + "\xc0\xaf" + `"}`, json, single, ""},
		{"utf8-surrogate-bytes", `{"id": "` + "\xed\xa0\x80" + `"}`, json, single, ""},
		{"utf8-lone-surrogate-escape", `{"id": "\ud800", "name": "\udfff"}`, json, single, ""},
		{"utf8-in-batch-line", lines(order("1"), `{"id": "`+"\xff"+`"}`), ndjson, batch, ""},
		{"utf8-sync", `{"id": "` + "\xff" + `", "line_items": []}`, json, wait, ""},
		{"utf8-in-idempotency-key", order("2"), json, single, "key-\xff\xfe"},
		// NUL: raw in the body, escaped in a value that becomes the key,
		// in the Idempotency-Key header.
		{"nul-raw", "{\"id\": 1}\x00", json, single, ""},
		{"nul-raw-in-string", "{\"id\": \"a\x00b\"}", json, single, ""},
		{"nul-escape-in-key-value", `{"id": "a\u0000b", "name": "\u0000"}`, json, single, ""},
		{"nul-escape-sync", `{"id": "\u0000", "line_items": [{"sku": "\u0000", "quantity": 1}]}`, json, wait, ""},
		{"nul-in-idempotency-key", order("3"), json, single, "a\x00b"},
		{"control-in-idempotency-key", order("4"), json, single, "a\tb\x7f"},
		{"long-idempotency-key", order("5"), json, single, strings.Repeat("k", 256)},
		// Deep nesting: 10,000 levels of arrays and of objects, as the
		// whole body, under a key, in a batch line and synchronously.
		{"deep-array-10000", nest("[", "", "]", 10000), json, single, ""},
		{"deep-object-10000", nest(`{"a":`, "1", "}", 10000), json, single, ""},
		{"deep-under-id", `{"id": ` + nest("[", "1", "]", 10000) + `}`, json, single, ""},
		{"deep-array-unclosed", strings.Repeat("[", 10000), json, single, ""},
		{"deep-in-batch", lines(order("6"), nest("[", "", "]", 10000)), ndjson, batch, ""},
		{"deep-sync", `{"id": 7, "line_items": ` + nest("[", "", "]", 5000) + `}`, json, wait, ""},
		{"deep-300", nest("[", "", "]", 300), json, single, ""},
		{"deep-301", `{"id": 8, "x": ` + nest("[", "", "]", 301) + `}`, json, single, ""},
		// Huge numbers: beyond float64, beyond int64, negative zero,
		// underflow, as the id the key is derived from and as amounts.
		{"number-1e400", `{"id": 1e400}`, json, single, ""},
		{"number-minus-1e400", `{"id": -1e400, "total_price": 1e400}`, json, single, ""},
		{"number-1e-400", `{"id": 1e-400}`, json, single, ""},
		{"number-100-digits", `{"id": ` + strings.Repeat("9", 100) + `}`, json, single, ""},
		{"number-minus-zero", `{"id": -0}`, json, single, ""},
		{"number-int64-edge", `{"id": 9223372036854775808}`, json, single, ""},
		{"number-huge-exponent", `{"id": 1e999999999999}`, json, single, ""},
		{"number-sync-amounts", `{"id": 9, "total_price": 1e400, "line_items": [{"sku": "A", "quantity": 1e400, "price": "` + strings.Repeat("9", 400) + `"}]}`, json, wait, ""},
		{"number-bare", "1e400", json, single, ""},
		// Wrong content types.
		{"ctype-text-plain", order("10"), "text/plain", single, ""},
		{"ctype-xml", "<order><id>1</id></order>", "application/xml", single, ""},
		{"ctype-multipart", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n", "multipart/form-data; boundary=b", single, ""},
		{"ctype-latin1", `{"id": 11, "name": "caf` + "\xe9" + `"}`, "application/json; charset=latin1", single, ""},
		{"ctype-form", "id=1", "application/x-www-form-urlencoded", single, ""},
		{"ctype-missing", order("12"), "", single, ""},
		{"ctype-garbage", order("13"), ";;;===", single, ""},
		{"ctype-nul", order("14"), "application/json\x00", single, ""},
		{"ctype-json-suffix", order("15"), "application/vnd.shop+json", single, ""},
		{"ctype-json-to-batch", lines(order("16")), json, batch, ""},
		{"ctype-ndjson-to-single", order("17"), ndjson, single, ""},
		{"ctype-jsonl-batch", lines(order("18")), "application/jsonl", batch, ""},
		{"ctype-sync-text", order("19"), "text/plain", wait, ""},
		// Sizes: an oversized event, an oversized batch line, empty bodies.
		{"oversized", `{"id": 20, "pad": "` + strings.Repeat("x", 70_000) + `"}`, json, single, ""},
		{"oversized-sync", `{"id": 21, "pad": "` + strings.Repeat("x", 70_000) + `"}`, json, wait, ""},
		{"oversized-batch-line", lines(order("22"), `{"id": 23, "pad": "`+strings.Repeat("x", 70_000)+`"}`), ndjson, batch, ""},
		{"empty", "", json, single, ""},
		{"empty-batch", "", ndjson, batch, ""},
		{"whitespace", " \n\t\r ", json, single, ""},
		{"whitespace-batch", "\n\n \n", ndjson, batch, ""},
		{"empty-sync", "", json, wait, ""},
		// JSON oddities: a byte-order mark, duplicate keys, trailing
		// garbage, two documents, scalars, comments.
		{"bom", "\xef\xbb\xbf" + order("24"), json, single, ""},
		{"duplicate-keys", `{"id": 25, "id": "25", "name": "#1", "name": null}`, json, single, ""},
		{"trailing-garbage", order("26") + "}", json, single, ""},
		{"two-documents", order("27") + order("28"), json, single, ""},
		{"scalar-null", "null", json, single, ""},
		{"scalar-string", `"order"`, json, single, ""},
		{"scalar-array", `[1, 2, 3]`, json, wait, ""},
		{"comment", "// order\n" + order("29"), json, single, ""},
		{"single-quotes", `{'id': 30}`, json, single, ""},
		{"nan", `{"id": NaN}`, json, single, ""},
		{"control-char-in-string", "{\"id\": \"a\tb\"}", json, single, ""},
		{"id-object", `{"id": {"a": [1, {"b": null}]}}`, json, single, ""},
		{"long-string-id", `{"id": "` + strings.Repeat("é", 300) + `"}`, json, single, ""},
		{"long-name", `{"id": 31, "name": "` + strings.Repeat("n", 300) + `"}`, json, single, ""},
		// NDJSON: bad lines among good ones, CRLF, one line over the limit
		// of lines, 1,001 lines, the same key twice with different
		// payloads.
		{"batch-bad-lines", lines(order("32"), `{"id": 33,`, "not json", "", order("34"), "}{"), ndjson, batch, ""},
		{"batch-crlf", strings.ReplaceAll(lines(order("35"), order("36")), "\n", "\r\n"), ndjson, batch, ""},
		{"batch-1001-lines", many(1001, `{"id": N}`), ndjson, batch, ""},
		{"batch-1000-lines-bad", many(1000, `{"id": N,`), ndjson, batch, ""},
		{"batch-same-key", lines(`{"id": 37, "name": "a"}`, `{"id": 37, "name": "b"}`), ndjson, batch, ""},
		{"batch-no-newline", order("38"), ndjson, batch, ""},
		{"batch-nul-line", lines(order("39"), "\x00"), ndjson, batch, ""},
		// Idempotency-Key reused with a different payload.
		{"key-reused", order("40"), json, single, "fuzz-canary"},
		{"key-sync", order("41"), json, wait, "sync-key"},
	}
	return s
}

func engineSeeds() []engineSeed {
	return []engineSeed{
		// Huge ranges and work over them.
		{"range-1e9", `1..1000000000`, `{}`},
		{"range-minint-maxint", `-9223372036854775808..9223372036854775807`, `{}`},
		{"range-len", `len(1..1000000000)`, `{}`},
		{"range-float", `1..1e9`, `{}`},
		{"map-range", `map(1..100000000, # * 2)`, `{}`},
		{"map-map-range", `map(1..100000, map(1..100000, # + 1))`, `{}`},
		{"filter-filter-range", `filter(1..100000, len(filter(1..100000, # > 1)) > 0)`, `{}`},
		{"reduce-concat", `reduce(1..1000000, #acc + string(#), "")`, `{}`},
		{"reduce-array-grow", `reduce(1..100000, #acc + [#], [])`, `{}`},
		{"sort-range", `sort(1..10000000)`, `{}`},
		{"concat-ranges", `concat(1..10000000, 1..10000000)`, `{}`},
		{"flatten-nested", `flatten(map(1..10000, map(1..10000, [#])))`, `{}`},
		{"group-range", `groupBy(1..10000000, # % 1000)`, `{}`},
		{"sum-range", `sum(1..100000000)`, `{}`},
		{"count-source-range", `count(1..source.n, true)`, `{"n": 1000000000}`},
		{"map-source-range", `map(1..source.n, padLeft("", 1000, "x"))`, `{"n": 100000}`},
		// Strings built to exhaust memory: repetition, padding, joining,
		// replacing with a longer string, doubling by concatenation.
		{"repeat-huge", `repeat("x", 1000000000)`, `{}`},
		{"repeat-map", `map(1..100000, repeat("x", 100000))`, `{}`},
		{"padleft-huge", `padLeft("x", 1000000000, "0")`, `{}`},
		{"padleft-map", `map(1..1000000, padLeft(string(#), 1000, "0"))`, `{}`},
		{"padright-multibyte", `padRight("", 1000, "😀")`, `{}`},
		{"join-huge", `join(map(1..1000000, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), ",")`, `{}`},
		{"replace-grow", `replace(replace(replace(source.s, "a", source.s), "a", source.s), "a", source.s)`, `{"s": "` + strings.Repeat("a", 1000) + `"}`},
		{"double-by-concat", `let a = source.s + source.s; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; f + f + f + f`, `{"s": "` + strings.Repeat("x", 100000) + `"}`},
		{"upper-huge", `upper(join(map(1..1000000, "ß"), ""))`, `{}`},
		{"tojson-range", `toJSON(1..10000000)`, `{}`},
		{"split-huge", `split(join(map(1..1000000, "a"), ","), ",")`, `{}`},
		// Regular expressions: catastrophic backtracking patterns (RE2 is
		// linear, but the pattern comes from the expression), a huge
		// repetition count, deep group nesting, a regex per item.
		{"regex-backtracking", `regexFind(source.s, "(a+)+$")`, `{"s": "` + strings.Repeat("a", 50000) + `!"}`},
		{"regex-backtracking-matches", `matches(source.s, "^(a|aa)*c$")`, `{"s": "` + strings.Repeat("a", 50000) + `"}`},
		{"regex-big-repeat", `matches("a", "((a{1000}){1000}){1000}")`, `{}`},
		{"regex-deep-groups", `matches("a", "` + nest("(", "a", ")", 2000) + `")`, `{}`},
		{"regex-replace-grow", `regexReplace(source.s, "", source.s)`, `{"s": "` + strings.Repeat("a", 5000) + `"}`},
		{"regex-per-item", `map(1..100000, regexFind(string(#), "[0-9]+" + string(#)))`, `{}`},
		// Syntax built to be deep or large.
		{"parens-4999", nest("(", "1", ")", 4999), `{}`},
		{"parens-10000", nest("(", "1", ")", 10000), `{}`},
		{"parens-unclosed", strings.Repeat("(", 10000), `{}`},
		{"arrays-deep", nest("[", "1", "]", 5000), `{}`},
		{"unary-minus-chain", strings.Repeat("-", 10000) + "1", `{}`},
		{"not-chain", strings.Repeat("!", 10000) + "true", `{}`},
		{"ternary-chain", strings.Repeat("true ? 1 : ", 3000) + "2", `{}`},
		{"member-chain", "source" + strings.Repeat(".a", 5000), `{}`},
		{"optional-chain", "source" + strings.Repeat("?.a", 5000), `{}`},
		{"plus-chain", strings.Repeat("1 + ", 5000) + "1", `{}`},
		{"long-string-literal", `"` + strings.Repeat("x", 9000) + `"`, `{}`},
		{"let-chain", strings.Repeat("let a = 1; ", 2000) + "a", `{}`},
		{"closures-deep", nest("map([1], ", "#", ")", 500), `{}`},
		// Numbers at and beyond their limits.
		{"int-overflow-literal", `99999999999999999999999999999999`, `{}`},
		{"float-overflow-literal", `1e400`, `{}`},
		{"pow-huge", `2 ** 100000`, `{}`},
		{"minint-div", `-9223372036854775807 - 1 / -1`, `{}`},
		{"minint-mod", `(-9223372036854775807 - 1) % -1`, `{}`},
		{"mul-overflow", `9223372036854775807 * 9223372036854775807`, `{}`},
		{"div-zero", `1 / 0`, `{}`},
		{"mod-zero", `1 % 0`, `{}`},
		{"payload-1e400", `source.n * 2`, `{"n": 1e400}`},
		{"payload-100-digits", `source.n + 1`, `{"n": ` + strings.Repeat("9", 100) + `}`},
		{"payload-minus-zero", `source.n`, `{"n": -0}`},
		{"payload-1e-400", `source.n`, `{"n": 1e-400}`},
		{"dec-huge-exponent", `decMul(source.a, source.a)`, `{"a": "1e999999999"}`},
		{"dec-400-digits", `decMul(source.a, source.a)`, `{"a": "` + strings.Repeat("9", 400) + `"}`},
		{"dec-div-places", `decDiv(1, 3, 1000000000)`, `{}`},
		{"dec-round-places", `decRound(source.a, 1000000000, "half-even")`, `{"a": "1.5"}`},
		{"cents-huge", `toCents(source.a)`, `{"a": 1e300}`},
		{"fromcents-huge", `fromCents(source.a)`, `{"a": 9223372036854775807}`},
		// Dates far out.
		{"business-days-huge", `addBusinessDays(now(), 1000000000)`, `{}`},
		{"add-days-huge", `addDays(now(), 9223372036854775807)`, `{}`},
		{"add-duration-huge", `addDuration(now(), "9999999999h")`, `{}`},
		{"days-between-far", `daysBetween(parseTime("0001-01-01T00:00:00Z"), parseTime("9999-12-31T23:59:59Z"))`, `{}`},
		{"parse-time-year-huge", `parseTime("99999999-01-01")`, `{}`},
		// Payloads: invalid UTF-8, deep nesting, NUL, duplicate keys.
		{"payload-utf8-invalid", `upper(source.s) + source.s`, `{"s": "` + "\xff\xfe" + `"}`},
		{"payload-utf8-key", `toJSON(source)`, `{"` + "\xc3\x28" + `": 1}`},
		{"payload-deep-10000", `toJSON(source)`, nest("[", "", "]", 10000)},
		{"payload-deep-object", `source.a.a.a`, nest(`{"a":`, "1", "}", 10000)},
		{"payload-deep-300", `toJSON(source)`, nest("[", "", "]", 300)},
		{"payload-nul", `source.s + "x"`, `{"s": "a\u0000b"}`},
		{"payload-duplicate-keys", `source.a`, `{"a": 1, "a": 2}`},
		{"payload-bom", `source.a`, "\xef\xbb\xbf" + `{"a": 1}`},
		{"payload-big-array", `map(source, # + 1)`, "[" + strings.TrimSuffix(strings.Repeat("1,", 200000), ",") + "]"},
		{"expr-invalid-utf8", "source.\xff", `{}`},
		{"expr-nul", "\"a\x00b\"", `{}`},
		// Nesting at and over the limits checked before parsing (100
		// levels, 10,000 characters), in every construct that nests.
		{"brackets-100", nest("(", "1", ")", 100), `{}`},
		{"brackets-101", nest("(", "1", ")", 101), `{}`},
		{"brackets-mixed-4000", nest("[{\"a\": (", "1", ")}]", 1000), `{}`},
		{"unary-mixed-200", strings.Repeat("-!not ", 70) + "1", `{}`},
		{"pow-chain", strings.Repeat("2 ** ", 200) + "2", `{}`},
		{"if-chain", strings.Repeat("if true { 1 } else ", 200) + "{ 2 }", `{}`},
		{"brackets-in-strings", `"` + strings.Repeat("(", 5000) + `" + '` + strings.Repeat("[", 3000) + `'`, `{}`},
		// Output amplification: a structure of references to the payload
		// written out by a function, a row, a hash; structures grown by
		// decoding, splitting, encoding; comparisons by uniq.
		{"tojson-references", `len(toJSON(map(1..100000, source)))`, order100()},
		{"string-references", `len(string(map(1..100000, source)))`, order100()},
		{"sha256-references", `sha256(map(1..100000, source))`, order100()},
		{"hashkey-references", `hashKey(map(1..100000, source), 1)`, order100()},
		{"row-references", `map(1..100000, source)`, order100()},
		{"fromjson-grow", `len(fromJSON(toJSON(map(1..1000, source))))`, order100()},
		{"split-runes", `len(split(toJSON(map(1..1000, source)), ""))`, order100()},
		{"base64-nested", nest("toBase64(", "toJSON(source)", ")", 60), order100()},
		{"uniq-range", `len(uniq(1..100000))`, `{}`},
		{"uniq-objects", `len(uniq(map(1..100000, ({"a": #}))))`, `{}`},
		// Methods of Go values, which expressions may not call.
		{"method-adddate", `now().AddDate(100000, 0, 0)`, `{}`},
		{"method-via-let", `let f = now().AddDate; f(1, 0, 0)`, `{}`},
	}
}

// order100 is an order payload of about 10 KB: 100 lines.
func order100() string {
	var l []string
	for i := range 100 {
		l = append(l, fmt.Sprintf(`{"sku": "SKU-%04d-%s", "qty": %d, "price": "19.99"}`, i, strings.Repeat("x", 40), i))
	}
	return `{"id": 1, "lines": [` + strings.Join(l, ", ") + `]}`
}
