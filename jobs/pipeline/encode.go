package pipeline

import (
	"time"

	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/jobs/transport"
)

// encodeAttempt returns a with its body encoded the way its target is
// configured to receive it, and the body's content type set. Every
// transport sends what it is handed, so this is the one place a route's
// mapped output becomes the bytes a target receives. An output the
// format cannot carry is not a failure of the target and no retry can
// change it: the attempt fails for good (failed is its outcome).
func encodeAttempt(a transport.Attempt) (_ transport.Attempt, failed *transport.Outcome) {
	body, err := format.Encode(a.Config.Format, a.Body)
	if err != nil {
		return a, encodingFailure(time.Now(), a.Config.Format, err)
	}
	a.Body, a.ContentType = body, a.Config.Format.ContentType()
	return a, nil
}

// encodingFailure is the outcome of an attempt whose body could not be
// encoded: a permanent failure that never reached the target, so it does
// not count against the target's circuit breaker.
func encodingFailure(started time.Time, f format.Spec, err error) *transport.Outcome {
	return &transport.Outcome{Verdict: transport.Failed, Started: started, Class: "encoding " + string(f.Normalized().Kind),
		Error: "the mapped output cannot be written as the target's format, " + f.Label() + ": " + err.Error() +
			"; change the route's mapping or the target's format in the environment"}
}
