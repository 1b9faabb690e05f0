package inbox

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// ExpressionError is a mapping error with the expression that failed and a
// caret under the place the error names.
type ExpressionError struct {
	Where      string `json:"where"` // "row \"to-erp\" lines[2].sku"
	Message    string `json:"message"`
	Expression string `json:"expression,omitempty"`
	Caret      string `json:"caret,omitempty"` // spaces and a ^ under the column
}

var errorPosition = regexp.MustCompile(`\((\d+):(\d+)\)$`)

// MappingErrors explains a mapping exception: every failing expression of
// the version that ran, looked up in its definition, with a caret. Other
// kinds of exception have none.
func MappingErrors(ctx context.Context, db txn.DBTX, it Item) ([]ExpressionError, error) {
	if it.Kind != store.ExceptionMapping {
		return nil, nil
	}
	var d struct {
		Errors []engine.RowError `json:"errors"`
	}
	if err := json.Unmarshal(it.Detail, &d); err != nil || len(d.Errors) == 0 {
		return []ExpressionError{{Message: it.Message}}, nil
	}
	v, err := mappings.VersionGet(ctx, db, it.FlowID, it.VersionNumber)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(v.Definition)
	if err != nil {
		return nil, err
	}
	var def any
	if err := json.Unmarshal(raw, &def); err != nil {
		return nil, err
	}
	out := make([]ExpressionError, 0, len(d.Errors))
	for _, e := range d.Errors {
		where := e.String()
		where = strings.TrimSuffix(where, ": "+e.Message)
		x := ExpressionError{Where: where, Message: e.Message}
		if s, ok := pointerValue(def, e.Pointer).(string); ok {
			x.Expression = s
			x.Caret = caretFor(s, e.Message)
		}
		out = append(out, x)
	}
	return out, nil
}

// caretFor puts a caret under the line and column an expr error names
// ("… (1:14)"), showing only that line of a multi-line expression; without
// a position, under the first character.
func caretFor(expr, msg string) string {
	line, col := 1, 1
	if m := errorPosition.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		col, _ = strconv.Atoi(m[2])
	}
	lines := strings.Split(expr, "\n")
	if line < 1 || line > len(lines) {
		line = 1
	}
	col = max(1, min(col, len([]rune(lines[line-1]))+1))
	return strings.Repeat(" ", col-1) + "^"
}

func pointerValue(doc any, ptr string) any {
	if ptr == "" {
		return nil
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// UnmappedValue is a lookup key a mapping looked for in vain.
type UnmappedValue struct {
	Table string `json:"table"`
	Key   string `json:"key"`
}

var lookupMiss = regexp.MustCompile(`table "([^"]+)" has no entry for "((?:[^"\\]|\\.)*)"`)

// UnmappedLookup finds, in a mapping exception, the lookup table and key
// that had no entry, so the inbox can offer to add the row.
func UnmappedLookup(e store.Exception) (UnmappedValue, bool) {
	if e.Kind != store.ExceptionMapping {
		return UnmappedValue{}, false
	}
	for _, s := range []string{e.Message, string(e.Detail)} {
		if m := lookupMiss.FindStringSubmatch(s); m != nil {
			key, err := strconv.Unquote(`"` + m[2] + `"`)
			if err != nil {
				key = m[2]
			}
			return UnmappedValue{Table: m[1], Key: key}, true
		}
	}
	return UnmappedValue{}, false
}

// RequestHeaders returns, per delivery of a message whose kind shows
// what it is sent with (transport.Transport.Redact: for http, its request
// headers; for sftp, the server, user, directory and file), that under its target's current configuration in env, with
// the credential masked. Nothing is decrypted to build them.
func RequestHeaders(ctx context.Context, db txn.DBTX, kinds *transport.Registry, envID int64, correlationID string, ds []store.Delivery) (map[uuid.UUID]map[string]string, error) {
	cfgs, err := release.TargetConfigList(ctx, db, envID)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]release.MaskedTargetConfig, len(cfgs))
	for _, c := range cfgs {
		byName[c.Target] = c
	}
	out := map[uuid.UUID]map[string]string{}
	for _, d := range ds {
		c, ok := byName[d.Target]
		t, known := kinds.Get(transport.Kind(d.TargetKind))
		if !ok || !known {
			continue
		}
		cfg := release.TargetConfig{Headers: c.Headers, Auth: c.Auth, AuthHeaderName: c.AuthHeaderName, Username: c.Username, Settings: c.Settings, Secret: "••••••"}
		td := pipeline.TransportDelivery(d, correlationID)
		td.ContentType = c.Format.ContentType() // the body's type as it is sent
		if h := t.Redact(cfg, td); h != nil {
			out[d.ID] = h
		}
	}
	return out, nil
}
