// Package fault gives Crossdock's packages one small vocabulary of failure
// kinds. Storage and domain code return *fault.Error (or wrap one); the web
// layer maps each Code to an HTTP status in exactly one place and renders it as
// an HTML page or an RFC 9457 problem document. Anything that is not a
// *fault.Error is an internal error: logged with the request id, never shown.
package fault

import (
	"errors"
	"fmt"
)

// Code is a kind of failure a caller can act on.
type Code string

// The codes. Keep this list short: a new code means a new HTTP mapping and a
// new way for callers to react.
const (
	Invalid      Code = "invalid"      // the input is wrong; the message says what to fix
	Malformed    Code = "malformed"    // the request cannot even be read (bad JSON syntax)
	TooLarge     Code = "too_large"    // the body is over the limit
	Unsupported  Code = "unsupported"  // the body's media type is not one we accept
	NotFound     Code = "not_found"    // the thing asked for does not exist (or is not visible)
	Conflict     Code = "conflict"     // the request clashes with the current state
	Unauthorized Code = "unauthorized" // no or bad credentials
	Forbidden    Code = "forbidden"    // credentials fine, role not allowed
	TooMany      Code = "too_many"     // throttled; RetryAfter says when to come back
	Unavailable  Code = "unavailable"  // a dependency (the database) is down; try again
	Internal     Code = "internal"     // a bug or an unexpected failure; details only in the log

	// HeadersTooLarge: the request line and headers together are over
	// the server's limit (the body is TooLarge's).
	HeadersTooLarge Code = "headers_too_large"
)

// Error is a failure with a code and a message written for the person who has
// to fix it. Fields optionally names the form fields at fault, for inline
// errors. RetryAfterSeconds is set with TooMany and Unavailable.
type Error struct {
	Code              Code
	Message           string
	Fields            map[string]string
	RetryAfterSeconds int
	Err               error // the cause, for logs and errors.Is; never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a code and a user-facing message to a cause.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the Code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}
