package intake_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/mappings"
)

const labelledDefinition = `{
	"formatVersion": 1,
	"name": "labelled",
	"source": {"system": "shop", "event": "order.created"},
	"keys": {"correlation": "source.name", "customer": "source.customer.email",
		"amount": "string(source.total) + \" \" + source.currency"},
	"targets": [{"name": "audit", "kind": "capture"}],
	"routes": [{"name": "to-audit", "target": "audit", "mapping": [{"target": "id", "expr": "source.id"}]}]
}`

// A flow's keys.customer and keys.amount label each message as it is
// accepted (the inbox and the explorer show the columns); a label
// that cannot be derived is left empty and the message is accepted as
// ever.
func TestMessagesCarryTheirCustomerAndAmount(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	def, err := engine.ParseDefinition([]byte(labelledDefinition))
	require.NoError(t, err)
	flow, err := mappings.FlowCreate(ctx, b.Pool, mappings.NewFlow{Name: "Labelled", Slug: "labelled", Definition: def}, b.Editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.Pool, flow.ID, 1, "v1", b.Editor)
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, flow.ID, 1)
	accept := func(payload string) intake.AcceptResult {
		t.Helper()
		res, err := b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "labelled", Payload: []byte(payload)})
		require.NoError(t, err)
		return res
	}
	labels := func(res intake.AcceptResult) (customer, amount string) {
		t.Helper()
		require.NoError(t, b.Pool.QueryRow(ctx, `select customer, amount from messages where id = $1`, res.MessageID).Scan(&customer, &amount))
		return customer, amount
	}

	t.Run("derived when the message is accepted", func(t *testing.T) {
		res := accept(`{"id": 1, "name": "#2014", "total": 129.9, "currency": "EUR", "customer": {"email": "ana.silva@example.com"}}`)
		customer, amount := labels(res)
		require.Equal(t, "ana.silva@example.com", customer)
		require.Equal(t, "129.9 EUR", amount)
	})
	t.Run("a label that cannot be read is empty, the message accepted", func(t *testing.T) {
		res := accept(`{"id": 2, "name": "#2015", "total": 5}`)
		customer, amount := labels(res)
		require.Empty(t, customer)
		require.Empty(t, amount, "no currency: the amount expression fails")
	})
	t.Run("a long label is cut, not refused", func(t *testing.T) {
		res := accept(`{"id": 3, "name": "#2016", "total": 1, "currency": "EUR", "customer": {"email": "` + strings.Repeat("a", 500) + `@example.com"}}`)
		customer, _ := labels(res)
		require.LessOrEqual(t, len(customer), intake.MaxLabelLength+len("…"))
		require.True(t, strings.HasSuffix(customer, "…"))
	})
}
