package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/jobs/insight"
)

// MessageListJSON is a page of GET /api/v1/messages.
type MessageListJSON struct {
	Messages []insight.MessageRow `json:"messages"`
	// Next is the cursor of the next (older) page, for after=; empty on the
	// last page. NextURL is the same search from there.
	Next    string `json:"next,omitempty"`
	NextURL string `json:"nextUrl,omitempty"`
}

// apiMessageList searches messages with the explorer's filters.
func (s *Server) apiMessageList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		res, err := s.searchMessages(c)
		if err != nil {
			return err
		}
		out := MessageListJSON{Messages: res.Messages}
		if out.Messages == nil {
			out.Messages = []insight.MessageRow{}
		}
		if res.Next != nil {
			out.Next = res.Next.String()
			out.NextURL = "/api/v1/messages?" + messagePageQuery(c, res.Next)
		}
		return c.JSON(out)
	}
}
