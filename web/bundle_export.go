package web

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/mappings/release"
)

// exportBundle builds a bundle of the ?flow= flows, signed when a promotion
// key is configured, and audits the export.
func (s *Server) exportBundle(c *fiber.Ctx) ([]byte, error) {
	ctx := c.UserContext()
	var slugs []string
	for _, v := range c.Context().QueryArgs().PeekMulti("flow") {
		slugs = append(slugs, string(v))
	}
	if k := apiKeyOf(c); k != nil && userOf(c) == nil {
		for _, slug := range slugs {
			if !k.AllowsFlow(slug) {
				return nil, forbiddenFlow(k, slug)
			}
		}
	}
	b, err := release.BundleExport(ctx, s.deps.DB, slugs, s.cfg.BaseURL, s.cfg.PromotionKey, s.deps.Now())
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := account.Audit(ctx, s.deps.DB, actorOf(c), "bundle.export", "bundle", "", nil,
		map[string]any{"flows": slugs, "signed": b.Signature != ""}); err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// bundleExport downloads bundle.json from the bundles page.
func (s *Server) bundleExport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		data, err := s.exportBundle(c)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="bundle.json"`)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(data)
	}
}
