package pipeline

import (
	"net/http"

	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/jobs/transport/capture"
	"github.com/crossdock/crossdock/jobs/transport/httptarget"
	"github.com/crossdock/crossdock/jobs/transport/sftp"
)

// Transports returns the target kinds Crossdock delivers to, one line
// each: httpClient sends http deliveries (nil: a pooled client), db
// stores captures, sftp writes files (with a connection pool of its own
// per registry). A new kind is a package under jobs/transport and one
// more line here; the designer's choice of kinds, the promotion gates and
// the deliver jobs all follow from the registry (see package transport).
func Transports(db store.DB, httpClient *http.Client) *transport.Registry {
	return transport.NewRegistry(
		httptarget.New(httpClient),
		capture.New(db),
		sftp.New(),
	)
}
