package web

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

const capturesPageSize = 50

// capturesList shows what capture targets recorded in one environment.
func (s *Server) capturesList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		envs, err := release.EnvironmentList(ctx, s.deps.DB)
		if err != nil {
			return err
		}
		v := view.CapturesView{Environment: c.Query("env", "dev"), Target: c.Query("target")}
		var envID int64
		for _, e := range envs {
			v.Environments = append(v.Environments, e.Name)
			if e.Name == v.Environment {
				envID = e.ID
			}
		}
		if envID == 0 {
			env, err := release.EnvironmentByName(ctx, s.deps.DB, v.Environment)
			if err != nil {
				return err
			}
			envID = env.ID
		}
		before, err := parseCursorID("before", c.Query("before"))
		if err != nil {
			return err
		}
		caps, err := store.CaptureList(ctx, s.deps.DB, envID, v.Target, before, capturesPageSize)
		if err != nil {
			return err
		}
		for _, cp := range caps {
			v.Rows = append(v.Rows, view.CaptureRow{At: stamp(cp.CapturedAt), Target: cp.Target, MessageID: cp.MessageID.String(),
				CorrelationID: cp.CorrelationID, URL: cp.Method + " " + cp.URL, Body: shorten(prettyJSON(cp.Body), 32<<10)})
		}
		if len(caps) == capturesPageSize {
			q := url.Values{"env": {v.Environment}, "before": {strconv.FormatInt(caps[len(caps)-1].ID, 10)}}
			if v.Target != "" {
				q.Set("target", v.Target)
			}
			v.NextURL = "/captures?" + q.Encode()
		}
		return s.render(c, view.CapturesPage(s.page(c, "Captured requests", "environments"), v))
	}
}
