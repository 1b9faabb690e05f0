package jobs

import (
	"github.com/crossdock/crossdock/jobs/transport/httptarget"
)

// SameOrigin is the http transport's, for the test of the target
// redirect policy.
var SameOrigin = httptarget.SameOrigin
