package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/jobs/store"
)

// The message page names the step each delivery sends and shows the
// answer a delivery keeps for the steps after it.
func TestMessagePageShowsSteps(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	res, _ := tb.post(t, devPath, tb.devKey, "application/json", tb.sample)
	require.Equal(t, http.StatusAccepted, res.StatusCode, res.body)
	var out struct {
		ID uuid.UUID `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &out))
	ctx := context.Background()
	book, step := store.DeliveryID(out.ID, "erp-sales-order"), store.StepDeliveryID(out.ID, "erp-sales-order", "writeback")
	_, err := tb.db.Exec(ctx, `insert into deliveries (id, message_id, route, target, target_kind, body, status, response)
		values ($1, $2, 'erp-sales-order', 'erp-sales-orders', 'http', '{}', 'delivered', '{"status": 201, "body": {"documentNumber": "SO-77"}}')`, book, out.ID)
	require.NoError(t, err)
	_, err = tb.db.Exec(ctx, `insert into deliveries (id, message_id, route, step, parent_id, target, target_kind, body, status)
		values ($1, $2, 'erp-sales-order', 'writeback', $3, 'storefront', 'http', '{"erpOrderNumber": "SO-77"}', 'failed')`, step, out.ID, book)
	require.NoError(t, err)

	tb.user(t, "sue@shop.example", account.RoleSupport)
	br := tb.browser(t)
	br.signIn("sue@shop.example")
	page := br.get("/messages/" + out.ID.String())
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.body, "· step writeback")
	require.Contains(t, page.body, "Answer kept for the steps after it")
	require.Contains(t, page.body, "SO-77")

	// The step's failure in the inbox: the list and the exception say
	// which step failed, and the retry is the step's.
	var excID int64
	require.NoError(t, tb.db.QueryRow(ctx, `insert into exceptions (kind, fingerprint, environment_id, flow_id, message_id, delivery_id, stage, error_class, message)
		select 'delivery', 'fp-writeback', environment_id, flow_id, id, $2, 'deliver', 'http 409', 'step writeback: target “storefront” answered 409'
		from messages where id = $1 returning id`, out.ID, step).Scan(&excID))
	t.Run("the inbox list names the failed step", func(t *testing.T) {
		list := br.get("/inbox?view=list")
		require.Equal(t, http.StatusOK, list.StatusCode)
		require.Regexp(t, `storefront\s*<div class="hint">step writeback</div>`, list.body)
	})
	t.Run("the exception retries the step", func(t *testing.T) {
		exc := br.get(fmt.Sprintf("/inbox/%d", excID))
		require.Equal(t, http.StatusOK, exc.StatusCode)
		require.Regexp(t, `id="retry">\s*Retry step writeback\s*</button>`, exc.body)
	})
}
