package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/valyala/fastjson"
)

// PayloadValuesOf returns, as a JSON array, what the explorer's payload
// search finds of a message: the string and number values at the top of
// its payload and one level down, in objects. It is the SQL function
// message_payload_values (migration 008) computed in Go, where processing
// has the payload at hand, so that recording a message's values does not
// cost PostgreSQL a second read of the payload, two conversions to jsonb
// and two jsonpath queries (about 40 µs a message of PostgreSQL's CPU).
// The array is built to equal the function's answer once cast to jsonb
// (TestPayloadValuesMatchSQL): members in jsonb's order (shorter keys
// first, then bytewise), the last of duplicate keys winning, numbers as
// written (jsonb normalises them the same way), and an empty array for a
// payload that is not an object or carries an escaped NUL, which jsonb
// cannot hold.
func PayloadValuesOf(payload []byte) string {
	if bytes.Contains(payload, []byte(`\u0000`)) {
		return "[]"
	}
	p := payloadParsers.Get()
	defer payloadParsers.Put(p)
	v, err := p.ParseBytes(payload)
	if err != nil || v.Type() != fastjson.TypeObject {
		return "[]" // intake stores only valid JSON; not an object: no values
	}
	top := jsonbMembers(v)
	out := make([]byte, 0, len(payload)/2)
	out = append(out, '[')
	for _, m := range top {
		out = appendScalar(out, m.v)
	}
	for _, m := range top {
		if m.v.Type() == fastjson.TypeObject {
			for _, n := range jsonbMembers(m.v) {
				out = appendScalar(out, n.v)
			}
		}
	}
	if len(out) > 1 {
		out = out[:len(out)-1] // the last comma
	}
	return string(append(out, ']'))
}

var payloadParsers fastjson.ParserPool

type member struct {
	key string
	v   *fastjson.Value
}

// jsonbMembers are the members of object v as jsonb keeps them: one per
// key (the last), ordered by key length and then bytewise.
func jsonbMembers(v *fastjson.Value) []member {
	o, _ := v.Object()
	ms := make([]member, 0, o.Len())
	o.Visit(func(k []byte, v *fastjson.Value) { ms = append(ms, member{key: string(k), v: v}) })
	// Stable, so that among equal keys the document's order stays and the
	// last one can be kept.
	slices.SortStableFunc(ms, func(a, b member) int {
		return cmp.Or(cmp.Compare(len(a.key), len(b.key)), cmp.Compare(a.key, b.key))
	})
	out := ms[:0]
	for i, m := range ms {
		if i+1 < len(ms) && ms[i+1].key == m.key {
			continue
		}
		out = append(out, m)
	}
	return out
}

// appendScalar appends v and a comma when v is a string or a number.
func appendScalar(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeNumber:
		dst = v.MarshalTo(dst) // the number as written
	case fastjson.TypeString:
		dst = appendJSONString(dst, v.GetStringBytes())
	default:
		return dst
	}
	return append(dst, ',')
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, bytes that are not UTF-8 replaced by U+FFFD
// (PostgreSQL refuses them; intake lets none through).
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return append(dst, '"')
}

// RecordPayloadValues writes what the explorer's payload search finds of
// each message (message_values, migration 013), computed from the payloads
// at hand (PayloadValuesOf): the message leaves received in this
// transaction, and from then on it is found through the values' index
// rather than by reading its payload. A message that has its values
// already keeps them (a payload never changes). Routed messages, nearly
// all of them, have theirs written by routeAll.
func RecordPayloadValues(ctx context.Context, tx pgx.Tx, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ids, values := make([]uuid.UUID, len(msgs)), make([]string, len(msgs))
	for i, m := range msgs {
		ids[i], values[i] = m.ID, PayloadValuesOf(m.Payload)
	}
	_, err := tx.Exec(ctx, payloadValuesInsert, ids, values)
	if err != nil {
		return fmt.Errorf("payload values of %d messages: %w", len(ids), err)
	}
	return nil
}

// RecordStoredPayloadValues is RecordPayloadValues for messages whose
// payloads were not read: PostgreSQL computes the values with
// message_payload_values, which gives the same (TestPayloadValuesMatchSQL).
func RecordStoredPayloadValues(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, storedPayloadValuesInsert, ids)
	if err != nil {
		return fmt.Errorf("payload values of %d messages: %w", len(ids), err)
	}
	return nil
}
