package pipeline_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
)

// TestDeliversInTheTargetsFormat: the body a target receives is the
// route's output encoded in the format its environment configures.
func TestDeliversInTheTargetsFormat(t *testing.T) {
	t.Parallel()
	deliver := func(t *testing.T, f format.Spec) (*jobstest.Target, store.MessageView) {
		b := jobstest.Setup(t, true)
		tg := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
		b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) { c.Format = f })
		acc := b.Accept(t, `{"id": 1001, "name": "#1001", "total": 25.5}`)
		return tg, b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
	}

	t.Run("xml", func(t *testing.T) {
		t.Parallel()
		tg, _ := deliver(t, format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "Order", Namespace: "urn:example:orders"}})
		require.Equal(t, "application/xml; charset=utf-8", tg.Requests()[0].Header.Get("Content-Type"))
		require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>
<Order xmlns="urn:example:orders">
  <orderId>1001</orderId>
  <total>25.5</total>
  <qty>1</qty>
  <company>1000</company>
</Order>
`, string(tg.Bodies()[0]))
	})
	t.Run("csv", func(t *testing.T) {
		t.Parallel()
		tg, _ := deliver(t, format.Spec{Kind: format.CSV, CSV: &format.CSVSpec{Delimiter: ";", DecimalSeparator: ",",
			Columns: []format.Column{{Header: "Order", Path: "orderId"}, {Header: "Total", Path: "total"}}}})
		require.Equal(t, "text/csv; charset=utf-8", tg.Requests()[0].Header.Get("Content-Type"))
		require.Equal(t, "Order;Total\r\n1001;25,5\r\n", string(tg.Bodies()[0]))
	})
	t.Run("an output the format cannot carry fails for good without a request", func(t *testing.T) {
		t.Parallel()
		b := jobstest.Setup(t, true)
		tg := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
		b.ConfigureERP(t, tg.URL, func(c *release.TargetConfig) {
			c.Format = format.Spec{Kind: format.CSV, CSV: &format.CSVSpec{Rows: "total", Columns: []format.Column{{Header: "Order", Path: "orderId"}}}}
		})
		acc := b.Accept(t, `{"id": 1002, "name": "#1002", "total": 10}`)
		v := b.WaitStatus(t, acc.MessageID, store.StatusFailed)
		time.Sleep(100 * time.Millisecond)
		require.Zero(t, tg.Count(), "nothing was sent")
		require.Len(t, v.Deliveries, 1)
		require.Equal(t, store.DeliveryFailed, v.Deliveries[0].Status)
		require.Len(t, v.Deliveries[0].AttemptLog, 1, "no retry: the same output fails the same way")
		require.Len(t, v.Exceptions, 1)
		ex := v.Exceptions[0]
		require.Equal(t, store.ExceptionDelivery, ex.Kind)
		require.Equal(t, "encoding csv", ex.ErrorClass)
		require.Contains(t, ex.Message, "cannot be written as the target's format, csv (1 columns, a row per item of total)")
		require.Contains(t, ex.Message, "the rows come from total, which is a number, not an array")
	})
	t.Run("a capture target records the body as sent", func(t *testing.T) {
		t.Parallel()
		b := jobstest.Setup(t, true)
		tg := jobstest.NewTarget(t, jobstest.Status(http.StatusOK))
		b.ConfigureERP(t, tg.URL, nil)
		_, err := release.TargetConfigPut(context.Background(), b.Pool, b.Sealer, release.TargetConfig{EnvironmentID: b.Env.ID, Target: "audit",
			Format: format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "Audit"}}}, b.Editor)
		require.NoError(t, err)
		acc := b.Accept(t, `{"id": 1003, "name": "#1003", "total": 10, "audit": true}`)
		v := b.WaitStatus(t, acc.MessageID, store.StatusDelivered)
		for _, d := range v.Deliveries {
			if d.Target == "audit" {
				require.NotNil(t, d.Capture)
				require.JSONEq(t, `"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Audit>\n  <order>#1003</order>\n</Audit>\n"`, string(d.Capture.Body))
				require.Equal(t, "application/xml; charset=utf-8", d.Capture.Headers["Content-Type"])
				return
			}
		}
		t.Fatal("no audit delivery")
	})
}
