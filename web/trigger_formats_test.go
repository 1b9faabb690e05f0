package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/store"
)

// TestTriggerTakesXML: an XML body is read into the structure the output
// convention writes before the flow sees it; a DOCTYPE is refused.
func TestTriggerTakesXML(t *testing.T) {
	t.Parallel()
	payloadOf := func(t *testing.T, tb *triggerBundle, body string) json.RawMessage {
		t.Helper()
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		id, err := store.ParseMessageID(out["id"].(string))
		require.NoError(t, err)
		v, err := store.MessageGet(context.Background(), tb.db, id)
		require.NoError(t, err)
		return v.Message.Payload
	}
	messages := func(t *testing.T, tb *triggerBundle) int {
		var n int
		require.NoError(t, tb.db.QueryRow(context.Background(), `select count(*) from messages`).Scan(&n))
		return n
	}

	for _, ct := range []string{"application/xml", "text/xml; charset=utf-8"} {
		t.Run("accepted as "+ct, func(t *testing.T) {
			t.Parallel()
			tb := setupTrigger(t)
			res, _ := tb.post(t, devPath, tb.devKey, ct, `<?xml version="1.0" encoding="UTF-8"?>
<order id="1001"><name>#1001 Zoë &amp; Søn</name><line_items><sku>A</sku></line_items><line_items><sku>B</sku></line_items></order>`)
			require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
			require.JSONEq(t, `{"@id":"1001","name":"#1001 Zoë & Søn","line_items":[{"sku":"A"},{"sku":"B"}]}`, string(payloadOf(t, tb, res.body)))
		})
	}
	t.Run("an external entity is refused without being read", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		var fetched atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetched.Add(1)
			_, _ = w.Write([]byte("secret"))
		}))
		t.Cleanup(srv.Close)
		xxe := fmt.Sprintf(`<?xml version="1.0"?>
<!DOCTYPE order [<!ENTITY leak SYSTEM "%s/leak"><!ENTITY file SYSTEM "file:///etc/passwd">]>
<order><name>&leak;&file;</name></order>`, srv.URL)
		res, p := tb.post(t, devPath, tb.devKey, "application/xml", xxe)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Equal(t, "application/problem+json", strings.Split(res.Header.Get("Content-Type"), ";")[0])
		require.Contains(t, p.Detail, "declares a DOCTYPE; Crossdock does not accept DTDs or entity declarations")
		require.Zero(t, fetched.Load(), "the entity's URL was never fetched")
		require.NotContains(t, res.body, "root:")
		require.Zero(t, messages(t, tb), "nothing was recorded")
	})
	t.Run("a malformed document is 400 saying where", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		res, p := tb.post(t, devPath, tb.devKey, "application/xml", `<order><name>x</order>`)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Contains(t, p.Detail, "closes <name> with </order>")
	})
	t.Run("the size limit applies before parsing", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t, setupOpts{maxMessageBytes: 1024})
		res, p := tb.post(t, devPath, tb.devKey, "application/xml", "<order>"+strings.Repeat("<a/>", 300)+"</order>")
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		require.Contains(t, p.Detail, "at most 1024")
	})
	t.Run("too deep is 400", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		res, p := tb.post(t, devPath, tb.devKey, "application/xml", strings.Repeat("<a>", 100)+strings.Repeat("</a>", 100))
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Contains(t, p.Detail, "more than 64 levels deep")
	})
	t.Run("another media type is 415 naming the ones taken", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		res, p := tb.post(t, devPath, tb.devKey, "text/plain", "hello")
		require.Equal(t, http.StatusUnsupportedMediaType, res.StatusCode)
		require.Contains(t, p.Detail, "application/json or application/xml or text/xml")
	})
}

// TestTriggerBatchTakesCSV: a CSV body posted to the batch endpoint is
// one message per row, values as strings, answered row by row.
func TestTriggerBatchTakesCSV(t *testing.T) {
	t.Parallel()
	batch := devPath + ":batch"

	t.Run("one message per row", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		body := "id,name,note\r\n1001,#1001,\"Zoë said \"\"hi\"\", then left\nline two\"\r\n1002,#1002,東京 🚚\r\n"
		res, _ := tb.post(t, batch, tb.devKey, "text/csv; charset=utf-8", body)
		require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
		var out struct {
			Accepted int `json:"accepted"`
			Results  []struct {
				Line int    `json:"line"`
				ID   string `json:"id"`
			} `json:"results"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.body), &out))
		require.Equal(t, 2, out.Accepted)
		require.Equal(t, 1, out.Results[0].Line)
		require.Equal(t, 2, out.Results[1].Line)
		id, err := store.ParseMessageID(out.Results[0].ID)
		require.NoError(t, err)
		v, err := store.MessageGet(context.Background(), tb.db, id)
		require.NoError(t, err)
		require.JSONEq(t, `{"id":"1001","name":"#1001","note":"Zoë said \"hi\", then left\nline two"}`, string(v.Message.Payload))
	})
	t.Run("no header row worth the name is 400", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		res, p := tb.post(t, batch, tb.devKey, "text/csv", "id,,name\r\n1,2,3\r\n")
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Contains(t, p.Detail, "no name for column 2")
	})
	t.Run("a row of another length is 400 naming its line", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		res, p := tb.post(t, batch, tb.devKey, "text/csv", "id,name\r\n1,a\r\n2\r\n")
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Contains(t, p.Detail, "line 3 has another number of fields")
	})
	t.Run("more rows than a batch takes is 413", func(t *testing.T) {
		t.Parallel()
		tb := setupTrigger(t)
		res, p := tb.post(t, batch, tb.devKey, "text/csv", "id\n"+strings.Repeat("1\n", 1001))
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		require.Contains(t, p.Detail, "more than 1000")
	})
}
