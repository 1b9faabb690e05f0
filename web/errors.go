package web

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// statusOf is the one mapping from fault codes to HTTP statuses.
var statusOf = map[fault.Code]int{
	fault.Invalid:      fiber.StatusUnprocessableEntity,
	fault.Malformed:    fiber.StatusBadRequest,
	fault.TooLarge:     fiber.StatusRequestEntityTooLarge,
	fault.Unsupported:  fiber.StatusUnsupportedMediaType,
	fault.NotFound:     fiber.StatusNotFound,
	fault.Conflict:     fiber.StatusConflict,
	fault.Unauthorized: fiber.StatusUnauthorized,
	fault.Forbidden:    fiber.StatusForbidden,
	fault.TooMany:      fiber.StatusTooManyRequests,
	fault.Unavailable:  fiber.StatusServiceUnavailable,
	fault.Internal:     fiber.StatusInternalServerError,

	fault.HeadersTooLarge: fiber.StatusRequestHeaderFieldsTooLarge,
}

var titleOf = map[fault.Code]string{
	fault.Invalid:      "Check what you entered",
	fault.Malformed:    "The request cannot be read",
	fault.TooLarge:     "Too large",
	fault.Unsupported:  "Unsupported media type",
	fault.NotFound:     "Not found",
	fault.Conflict:     "Conflict",
	fault.Unauthorized: "Sign in needed",
	fault.Forbidden:    "Not allowed",
	fault.TooMany:      "Too many requests",
	fault.Unavailable:  "Temporarily unavailable",
	fault.Internal:     "Something went wrong",

	fault.HeadersTooLarge: "Request headers too large",
}

// Problem is an RFC 9457 problem document, the body of every API error.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail"`
	Instance  string            `json:"instance,omitempty"`
	Code      fault.Code        `json:"code"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
	// Diagnostics lists every problem of a definition (compile errors with
	// line, column and caret snippet), when that is what was wrong.
	Diagnostics []engine.Diagnostic `json:"diagnostics,omitempty"`
	// FailedTests lists the test cases that stopped a publish.
	FailedTests []engine.TestResult `json:"failedTests,omitempty"`
	// CurrentRevision and Differences explain a refused draft save.
	CurrentRevision int               `json:"currentRevision,omitempty"`
	Differences     []mappings.Change `json:"differences,omitempty"`
	// Gates are the promotion gates that refused a promotion.
	Gates *GatesJSON `json:"gates,omitempty"`
}

// enrich adds what a caller needs to fix a definition, a publish or a
// conflicting save to the problem document.
func (p *Problem) enrich(err error) {
	var de *engine.DefinitionError
	if errors.As(err, &de) {
		p.Diagnostics = de.Diagnostics
	}
	var pr *mappings.PublishRefusedError
	if errors.As(err, &pr) {
		p.Diagnostics, p.FailedTests = pr.Diagnostics, pr.FailedTests
	}
	var gf *release.GatesFailedError
	if errors.As(err, &gf) {
		g := gatesJSON(gf.Gates)
		p.Gates = &g
	}
	var dc *mappings.DraftConflictError
	if errors.As(err, &dc) {
		p.CurrentRevision, p.Differences = dc.Current.Revision, dc.Differences.Changes
	}
}

// toFault classifies any error: our faults as they are, fiber's own errors
// (unknown route, body too large) by status, a database that cannot be
// reached as Unavailable, everything else Internal.
func toFault(err error) *fault.Error {
	if fe, ok := fault.As(err); ok {
		return fe
	}
	var de *engine.DefinitionError
	if errors.As(err, &de) {
		return &fault.Error{Code: fault.Invalid, Message: "the definition has problems: " + err.Error(), Err: err}
	}
	var fErr *fiber.Error
	if errors.As(err, &fErr) {
		switch fErr.Code {
		case fiber.StatusNotFound:
			return &fault.Error{Code: fault.NotFound, Message: "there is nothing at this address"}
		case fiber.StatusRequestEntityTooLarge:
			return &fault.Error{Code: fault.TooLarge, Message: "the request body is larger than this server accepts", Err: err}
		case fiber.StatusRequestHeaderFieldsTooLarge:
			return &fault.Error{Code: fault.HeadersTooLarge, Err: err,
				Message: fmt.Sprintf("the request's headers (its URL, cookies and other header fields) are larger than this server accepts: at most %d bytes in all", maxHeaderBytes)}
		case fiber.StatusMethodNotAllowed:
			return &fault.Error{Code: fault.NotFound, Message: "this address does not accept that method"}
		}
		if fErr.Code >= 400 && fErr.Code < 500 {
			return &fault.Error{Code: fault.Invalid, Message: fErr.Message, Err: err}
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.CharacterNotInRepertoire || pgErr.Code == pgerrcode.UntranslatableCharacter) {
		// Text PostgreSQL cannot store or compare (a NUL byte in a filter or
		// a form): the request is at fault, not the server.
		return &fault.Error{Code: fault.Malformed, Message: "the request contains a character that cannot be used (such as a NUL byte); remove it and try again", Err: err}
	}
	if isDatabaseDown(err) {
		return &fault.Error{Code: fault.Unavailable, Message: "the database cannot be reached; try again in a moment", RetryAfterSeconds: 5, Err: err}
	}
	return &fault.Error{Code: fault.Internal, Message: "an unexpected error happened; it has been logged", Err: err}
}

func isDatabaseDown(err error) bool { return txn.Unreachable(err) }

// handleError renders any error a handler returned: problem JSON under /api/
// (or when the client asks for JSON), an HTML page otherwise. Internal
// errors are logged with the request id and never shown.
// problemOf is the problem document (RFC 9457) of fe answered with status.
func problemOf(c *fiber.Ctx, fe *fault.Error, status int) Problem {
	return Problem{
		Type:      "https://crossdock.dev/problems/" + strings.ReplaceAll(string(fe.Code), "_", "-"),
		Title:     titleOf[fe.Code],
		Status:    status,
		Detail:    fe.Message,
		Instance:  c.OriginalURL(),
		Code:      fe.Code,
		RequestID: requestIDOf(c),
		Errors:    fe.Fields,
	}
}

func (s *Server) handleError(c *fiber.Ctx, err error) error {
	fe := toFault(err)
	var fErr *fiber.Error
	if errors.As(err, &fErr) && fErr.Code == fiber.StatusRequestEntityTooLarge {
		// fasthttp refused the body before any handler ran; say the limit.
		fe.Message = fmt.Sprintf("the request body is larger than this server accepts: at most %d bytes", s.cfg.BodyLimit)
	}
	status := statusOf[fe.Code]
	if status == 0 {
		status = fiber.StatusInternalServerError
	}
	rid := requestIDOf(c)
	switch fe.Code {
	case fault.Internal:
		s.log.ErrorContext(c.UserContext(), "request failed", "request_id", rid, "path", c.Path(), "error", err)
	case fault.Unavailable:
		if isDatabaseDown(err) {
			s.gate.trip()
		}
		s.log.WarnContext(c.UserContext(), "dependency unavailable", "request_id", rid, "path", c.Path(), "error", err)
	}
	if fe.RetryAfterSeconds > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(fe.RetryAfterSeconds))
	}
	c.Status(status)
	// Headers too large were refused before the request line was read:
	// the path is unknown, and a problem document serves every caller
	// (a browser shows it as text).
	if fe.Code == fault.HeadersTooLarge || strings.HasPrefix(c.Path(), "/api/") || strings.Contains(c.Get(fiber.HeaderAccept), "application/problem+json") {
		c.Set(fiber.HeaderContentType, "application/problem+json")
		p := problemOf(c, fe, status)
		p.enrich(err)
		return c.JSON(p, "application/problem+json")
	}
	p := s.basePage(c, titleOf[fe.Code], "")
	return s.render(c, view.ErrorPage(p, view.ErrorView{Status: status, Title: titleOf[fe.Code], Message: fe.Message}))
}
