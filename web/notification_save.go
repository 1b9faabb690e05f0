package web

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// notifyView is an environment's webhook as the environments page shows it.
func notifyView(c release.NotificationConfig, ok bool) view.NotifyView {
	if !ok {
		return view.NotifyView{Threshold: strconv.Itoa(release.DefaultNotifyThreshold), Window: shortDuration(release.DefaultNotifyWindow)}
	}
	return view.NotifyView{Configured: true, URLHint: c.URLHint, Enabled: c.Enabled, Threshold: strconv.Itoa(c.Threshold),
		Window: shortDuration(c.Window), Approvals: c.Approvals, UpdatedBy: c.UpdatedByEmail}
}

// shortDuration writes 15m rather than 15m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// notificationSave stores an environment's exception notification webhook,
// the URL sealed (an empty URL keeps the stored one), and audits the change
// without the URL.
func (s *Server) notificationSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		cfg := release.NotificationConfig{EnvironmentID: env.ID, URL: c.FormValue("url"), Enabled: c.FormValue("enabled") == "on",
			Approvals: c.FormValue("approvals") == "on"}
		var problems []string
		if v := strings.TrimSpace(c.FormValue("threshold")); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxInt4 {
				problems = append(problems, fmt.Sprintf("the threshold “%s” is not a whole number from 1 to %d", v, maxInt4))
			}
			cfg.Threshold = n
		}
		if v := strings.TrimSpace(c.FormValue("window")); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < release.MinNotifyWindow {
				problems = append(problems, fmt.Sprintf("the window “%s” is not a duration of at least 1m, such as 15m or 1h", v))
			}
			cfg.Window = d
		}
		if len(problems) > 0 {
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderEnvironments(c, "Notifications for "+env.Name+": "+strings.Join(problems, "; ")+". Nothing was saved.")
		}
		_, err = release.ConfigureNotifications(ctx, s.deps.DB, s.deps.Sealer, releaseActor(c), env, cfg)
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Code == fault.Invalid {
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderEnvironments(c, "Notifications for "+env.Name+": "+fe.Message+". Nothing was saved.")
		}
		if err != nil {
			return err
		}
		s.flash(c, "Saved exception notifications for "+env.Name+".")
		return c.Redirect("/environments#notify-"+env.Name, fiber.StatusSeeOther)
	}
}
