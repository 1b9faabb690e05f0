package web

import (
	"fmt"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
)

// apiJSONBody refuses, with 415, a management API request whose body is
// not JSON in UTF-8: a multipart or url-encoded form, plain text, or a
// body without a Content-Type. Every management call takes JSON (the
// triggers, which take other formats too, check their own); without this a
// form would fail later as a JSON syntax error that hides the cause. A
// request without a body passes whatever it says, as do methods whose
// body the API never reads.
func (s *Server) apiJSONBody() fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch:
		default:
			return c.Next() // a body on GET or DELETE is never read
		}
		if len(c.Body()) == 0 {
			return c.Next()
		}
		ct := c.Get(fiber.HeaderContentType)
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return &fault.Error{Code: fault.Unsupported, Message: fmt.Sprintf("send the body as application/json (got Content-Type %q)", ct)}
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return &fault.Error{Code: fault.Unsupported, Message: fmt.Sprintf("send the body as application/json encoded as UTF-8 (Content-Type says charset=%q)", cs)}
		}
		return c.Next()
	}
}
