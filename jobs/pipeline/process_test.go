package pipeline_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/jobstest"
	"github.com/crossdock/crossdock/jobs/store"
)

func TestProcessFilesExceptionsByKind(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, true)
	ctx := context.Background()
	invalid := b.Accept(t, `{"id": 300, "name": "#300", "total": -1}`)
	invalid2 := b.Accept(t, `{"id": 301, "name": "#301", "total": -2}`)
	broken := b.Accept(t, `{"id": 302, "name": "#302", "total": 1, "qty": "many"}`)

	v := b.WaitStatus(t, invalid.MessageID, store.StatusRejected)
	require.Contains(t, jobstest.Stages(v), store.StageRejected)
	require.Len(t, v.Exceptions, 1)
	require.Equal(t, store.ExceptionValidation, v.Exceptions[0].Kind)
	require.Equal(t, "The order needs a positive total.", v.Exceptions[0].Message)
	require.Empty(t, v.Deliveries)
	v2 := b.WaitStatus(t, invalid2.MessageID, store.StatusRejected)
	require.Equal(t, v.Exceptions[0].Fingerprint, v2.Exceptions[0].Fingerprint, "identical failures group together")

	vb := b.WaitStatus(t, broken.MessageID, store.StatusFailed)
	require.Len(t, vb.Exceptions, 1)
	require.Equal(t, store.ExceptionMapping, vb.Exceptions[0].Kind)
	require.Contains(t, vb.Exceptions[0].ErrorClass, "to-erp")
	require.Empty(t, vb.Deliveries)
	require.NotEqual(t, v.Exceptions[0].Fingerprint, vb.Exceptions[0].Fingerprint)
	require.Equal(t, 2, b.CountRows(t, `select count(*) from exceptions where kind = 'validation' and status = 'open'`))
	var n int
	require.NoError(t, b.Pool.QueryRow(ctx, `select count(distinct fingerprint) from exceptions`).Scan(&n))
	require.Equal(t, 2, n)
}
