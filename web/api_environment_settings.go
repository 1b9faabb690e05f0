package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
)

// RetentionJSON is an environment's retention in the JSON API.
type RetentionJSON struct {
	Environment string `json:"environment"`
	Days        int    `json:"days"`
	MinDays     int    `json:"minDays"`
	MaxDays     int    `json:"maxDays"`
}

// apiRetentionGet is GET /api/v1/environments/{env}/retention.
func (s *Server) apiRetentionGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		days, err := release.RetentionDays(c.UserContext(), s.deps.DB, env.ID)
		if err != nil {
			return err
		}
		return c.JSON(RetentionJSON{Environment: env.Name, Days: days, MinDays: release.MinRetentionDays, MaxDays: release.MaxRetentionDays})
	}
}

// apiRetentionPut is PUT /api/v1/environments/{env}/retention.
func (s *Server) apiRetentionPut() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		var in struct {
			Days *int `json:"days"`
		}
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || in.Days == nil {
			return &fault.Error{Code: fault.Malformed, Fields: map[string]string{"days": "required"}, Message: `the body must be JSON like {"days": 30}`}
		}
		if err := release.SetRetention(c.UserContext(), s.deps.DB, releaseActor(c), env, *in.Days); err != nil {
			return err
		}
		return c.JSON(RetentionJSON{Environment: env.Name, Days: *in.Days, MinDays: release.MinRetentionDays, MaxDays: release.MaxRetentionDays})
	}
}

// NotificationsJSON is an environment's exception notification webhook in
// the JSON API. The URL is a credential (Slack's and Teams' webhook URLs
// are): it is written, never read back; urlHint shows its scheme and host.
type NotificationsJSON struct {
	Environment string     `json:"environment"`
	Configured  bool       `json:"configured"`
	Enabled     bool       `json:"enabled"`
	URLHint     string     `json:"urlHint,omitempty"`
	Threshold   int        `json:"threshold,omitempty"`
	Window      string     `json:"window,omitempty"`
	Approvals   bool       `json:"approvals"`
	UpdatedBy   string     `json:"updatedBy,omitempty"`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty"`
}

func notificationsJSON(env string, c release.NotificationConfig) NotificationsJSON {
	at := c.UpdatedAt.UTC()
	return NotificationsJSON{Environment: env, Configured: true, Enabled: c.Enabled, URLHint: c.URLHint, Threshold: c.Threshold,
		Window: shortDuration(c.Window), Approvals: c.Approvals, UpdatedBy: c.UpdatedByEmail, UpdatedAt: &at}
}

// apiNotificationsGet is GET /api/v1/environments/{env}/notifications.
func (s *Server) apiNotificationsGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		cfg, err := release.NotificationConfigGet(c.UserContext(), s.deps.DB, s.deps.Sealer, env.ID)
		if fault.CodeOf(err) == fault.NotFound {
			return c.JSON(NotificationsJSON{Environment: env.Name})
		}
		if err != nil {
			return err
		}
		return c.JSON(notificationsJSON(env.Name, cfg))
	}
}

// apiNotificationsPut is PUT /api/v1/environments/{env}/notifications:
// {"url": "https://hooks.slack.com/…", "enabled": true, "threshold": 100,
// "window": "15m"}; without url the stored one stays.
func (s *Server) apiNotificationsPut() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		var in struct {
			URL       string `json:"url"`
			Enabled   *bool  `json:"enabled"`
			Threshold int    `json:"threshold"`
			Window    string `json:"window"`
			Approvals bool   `json:"approvals"`
		}
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || in.Enabled == nil {
			return &fault.Error{Code: fault.Malformed, Fields: map[string]string{"enabled": "required"},
				Message: `the body must be JSON like {"url": "https://hooks.example/…", "enabled": true, "threshold": 100, "window": "15m"}`}
		}
		// Threshold and window are checked by ConfigureNotifications, as for
		// the page's form; only the window's text is read here.
		cfg := release.NotificationConfig{URL: in.URL, Enabled: *in.Enabled, Threshold: in.Threshold, Approvals: in.Approvals}
		if in.Window != "" {
			d, err := time.ParseDuration(in.Window)
			if err != nil {
				return &fault.Error{Code: fault.Invalid, Fields: map[string]string{"window": "a duration such as 15m or 1h"},
					Message: fmt.Sprintf("the window “%s” is not a duration such as 15m or 1h", in.Window)}
			}
			cfg.Window = d
		}
		saved, err := release.ConfigureNotifications(c.UserContext(), s.deps.DB, s.deps.Sealer, releaseActor(c), env, cfg)
		if err != nil {
			return err
		}
		return c.JSON(notificationsJSON(env.Name, saved))
	}
}

// apiNotificationsDelete is DELETE /api/v1/environments/{env}/notifications.
func (s *Server) apiNotificationsDelete() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		if err := release.RemoveNotifications(c.UserContext(), s.deps.DB, s.deps.Sealer, releaseActor(c), env); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}
