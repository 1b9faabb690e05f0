package sftp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crossdock/crossdock/jobs/transport"
)

// BenchmarkSend writes one 1 KiB file per delivery to the loopback server
// from 32 goroutines at once (a deliver group's concurrency), all on the
// target's one pooled connection: temporary file, write, close, rename.
func BenchmarkSend(b *testing.B) {
	bb := setup(b)
	cfg := bb.config()
	body := strings.Repeat("x", 1024)
	b.SetParallelism(16) // 16 × GOMAXPROCS (2 here) = 32 goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, _ := bb.tr.Send(context.Background(), transport.Attempt{Delivery: delivery(body), Config: cfg})
			if res.Verdict != transport.Delivered {
				b.Fatal(res.Error)
			}
		}
	})
}
