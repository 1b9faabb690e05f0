package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crossdock/crossdock/engine/format"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// The environment API configures targets and variables for scripts and
// CI, through the same operations as the Environments page
// (release.ConfigureTarget, RemoveTarget, SetVariable, RemoveVariable):
// admins, and API keys created with the configure permission on their own
// environment. Secrets are write-only: no answer carries one.

// configureAccess admits admins and API keys with the configure
// permission; release.Actor.MayConfigure then checks the environment.
func (s *Server) configureAccess() fiber.Handler {
	admins := s.requireRole(account.RoleAdmin)
	return func(c *fiber.Ctx) error {
		key := apiKeyOf(c)
		if key == nil || userOf(c) != nil {
			return admins(c)
		}
		if !key.CanConfigure {
			return fault.Errorf(fault.Forbidden, "the API key %s has no configure permission; the environment API needs a key created with it (Admin → API keys, or crossdock apikey create --configure)", key.Prefix)
		}
		return c.Next()
	}
}

// configurableEnv is the request's environment, when the caller may
// configure it.
func (s *Server) configurableEnv(c *fiber.Ctx) (release.Environment, error) {
	env, err := release.EnvironmentByName(c.UserContext(), s.deps.DB, c.Params("env"))
	if err != nil {
		return env, err
	}
	return env, releaseActor(c).MayConfigure(env)
}

// TargetKindJSON describes a target kind: what its configuration holds.
type TargetKindJSON struct {
	Kind               string              `json:"kind"`
	Label              string              `json:"label"`
	NeedsConfiguration bool                `json:"needsConfiguration"`
	CanTestConnection  bool                `json:"canTestConnection"`
	Settings           []TargetSettingJSON `json:"settings"`
}

// TargetSettingJSON is one setting of a kind.
type TargetSettingJSON struct {
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Hint     string   `json:"hint,omitempty"`
	Input    string   `json:"input"`
	Options  []string `json:"options,omitempty"`
	Required bool     `json:"required,omitempty"`
}

// apiTargetKinds lists the kinds this installation delivers to and the
// settings each takes.
func (s *Server) apiTargetKinds() fiber.Handler {
	return func(c *fiber.Ctx) error {
		out := []TargetKindJSON{}
		for _, k := range s.deps.Transports.Kinds() {
			t, _ := s.deps.Transports.Get(k)
			_, probe := t.(transport.Prober)
			kj := TargetKindJSON{Kind: string(k), Label: t.Traits().Label, NeedsConfiguration: t.Traits().NeedsConfiguration, CanTestConnection: probe,
				Settings: []TargetSettingJSON{}}
			for _, f := range t.Fields() {
				kj.Settings = append(kj.Settings, TargetSettingJSON{Name: f.Name, Label: f.Label, Hint: f.Hint, Input: string(f.Input), Options: f.Options, Required: f.Required})
			}
			out = append(out, kj)
		}
		return c.JSON(fiber.Map{"kinds": out})
	}
}

// TargetJSON is a target's configuration in one environment. Settings are
// the kind's (GET /api/v1/target-kinds); a secret is never included, only
// whether one is stored.
type TargetJSON struct {
	Environment string            `json:"environment"`
	Target      string            `json:"target"`
	Kind        string            `json:"kind"`
	Settings    map[string]string `json:"settings"`
	Secret      struct {
		Set bool `json:"set"`
	} `json:"secret"`
	Policy PolicyJSON `json:"policy"`
	// Format is how the target receives bodies (engine/format.Spec).
	Format    format.Spec `json:"format"`
	UpdatedBy string      `json:"updatedBy,omitempty"`
	UpdatedAt time.Time   `json:"updatedAt"`
}

// PolicyJSON is a target's delivery policy; durations are written like
// 500ms, 30s, 5m or 1h30m.
type PolicyJSON struct {
	Timeout          string  `json:"timeout"`
	RatePerSecond    float64 `json:"ratePerSecond"`
	MaxAttempts      int     `json:"maxAttempts"`
	BaseDelay        string  `json:"baseDelay"`
	MaxDelay         string  `json:"maxDelay"`
	Window           string  `json:"window"`
	FailureThreshold int     `json:"failureThreshold"`
	OpenFor          string  `json:"openFor"`
}

func (s *Server) targetJSON(c *fiber.Ctx, env string, m release.MaskedTargetConfig) (TargetJSON, error) {
	kind, err := release.TargetKindOf(c.UserContext(), s.deps.DB, m.Target)
	if err != nil {
		return TargetJSON{}, err
	}
	settings := map[string]string{}
	if t, ok := s.deps.Transports.Get(transport.Kind(kind)); ok {
		for k, v := range t.Values(m.Config()) {
			settings[k] = v
		}
	}
	out := TargetJSON{Environment: env, Target: m.Target, Kind: kind, Settings: settings, UpdatedBy: m.UpdatedByEmail, UpdatedAt: m.UpdatedAt,
		Policy: PolicyJSON{Timeout: m.Timeout.String(), RatePerSecond: m.RatePerSecond, MaxAttempts: m.Retry.MaxAttempts,
			BaseDelay: m.Retry.BaseDelay.String(), MaxDelay: m.Retry.MaxDelay.String(), Window: m.Retry.Window.String(),
			FailureThreshold: m.Breaker.FailureThreshold, OpenFor: m.Breaker.OpenFor.String()},
		Format: m.Format.Normalized()}
	out.Secret.Set = m.HasSecret
	return out, nil
}

// apiTargetList lists an environment's configured targets.
func (s *Server) apiTargetList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		list, err := release.TargetConfigList(c.UserContext(), s.deps.DB, env.ID)
		if err != nil {
			return err
		}
		out := []TargetJSON{}
		for _, m := range list {
			t, err := s.targetJSON(c, env.Name, m)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return c.JSON(fiber.Map{"targets": out})
	}
}

// storedTargetJSON is one configured target, or NotFound.
func (s *Server) storedTargetJSON(c *fiber.Ctx, env release.Environment, name string) (TargetJSON, error) {
	m, err := release.TargetConfigMasked(c.UserContext(), s.deps.DB, env.ID, name)
	if fault.CodeOf(err) == fault.NotFound {
		return TargetJSON{}, fault.Errorf(fault.NotFound, "target “%s” is not configured in %s", name, env.Name)
	}
	if err != nil {
		return TargetJSON{}, err
	}
	return s.targetJSON(c, env.Name, m)
}

// apiTargetGet is one target's configuration.
func (s *Server) apiTargetGet() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		t, err := s.storedTargetJSON(c, env, c.Params("target"))
		if err != nil {
			return err
		}
		return c.JSON(t)
	}
}

// targetInput is the body of PUT …/targets/{target}.
type targetInput struct {
	Kind         string            `json:"kind"`
	Settings     map[string]string `json:"settings"`
	RemoveSecret bool              `json:"removeSecret"`
	// Format is the body format; absent is json.
	Format *format.Spec `json:"format"`
	Policy struct {
		Timeout          *string  `json:"timeout"`
		RatePerSecond    *float64 `json:"ratePerSecond"`
		MaxAttempts      *int     `json:"maxAttempts"`
		BaseDelay        *string  `json:"baseDelay"`
		MaxDelay         *string  `json:"maxDelay"`
		Window           *string  `json:"window"`
		FailureThreshold *int     `json:"failureThreshold"`
		OpenFor          *string  `json:"openFor"`
	} `json:"policy"`
}

// maxTargetSettings bounds the settings a body may name, before any is
// read.
const maxTargetSettings = 64

// apiTargetPut creates or replaces a target's configuration: the kind's
// settings (an absent or empty secret keeps the stored one; removeSecret
// removes it) and the delivery policy (absent fields take the defaults).
// Problems answer 422 with errors by field ("settings.url",
// "policy.maxAttempts"); nothing is stored then.
func (s *Server) apiTargetPut() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		name := c.Params("target")
		var in targetInput
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return fault.Errorf(fault.Malformed, `the body must be JSON like {"kind": "http", "settings": {"url": "https://…", "auth": "bearer", "secret": "…"}, "policy": {"timeout": "10s"}}: %v`, err)
		}
		if len(in.Settings) > maxTargetSettings {
			return &fault.Error{Code: fault.Invalid, Fields: map[string]string{"settings": fmt.Sprintf("at most %d", maxTargetSettings)},
				Message: fmt.Sprintf("%d settings is more than any kind has (at most %d)", len(in.Settings), maxTargetSettings)}
		}
		t, err := s.targetTransport(c, name, in.Kind)
		if err != nil {
			return err
		}
		problems := map[string]string{}
		var names []string
		for _, f := range t.Fields() {
			names = append(names, f.Name)
		}
		for k := range in.Settings {
			if !slices.Contains(names, k) {
				problems["settings."+k] = fmt.Sprintf("not a setting of %s targets; they are %s", t.Kind(), strings.Join(names, ", "))
			}
		}
		// PUT replaces the configuration, but a secret is write-only: the
		// stored one stays unless the body gives or removes it.
		cfg := release.DefaultTargetConfig(env.ID, name)
		switch stored, err := release.TargetConfigMasked(c.UserContext(), s.deps.DB, env.ID, name); {
		case err == nil:
			cfg.HasSecret = stored.HasSecret
		case fault.CodeOf(err) != fault.NotFound:
			return err
		}
		p := in.Policy
		dur := func(field string, v *string, dst *time.Duration) {
			if v == nil {
				return
			}
			d, err := time.ParseDuration(*v)
			if err != nil || d < 0 {
				problems["policy."+field] = fmt.Sprintf("“%s” is not a duration such as 500ms, 30s or 5m", *v)
				return
			}
			*dst = d
		}
		dur("timeout", p.Timeout, &cfg.Timeout)
		dur("baseDelay", p.BaseDelay, &cfg.Retry.BaseDelay)
		dur("maxDelay", p.MaxDelay, &cfg.Retry.MaxDelay)
		dur("window", p.Window, &cfg.Retry.Window)
		dur("openFor", p.OpenFor, &cfg.Breaker.OpenFor)
		if p.RatePerSecond != nil {
			cfg.RatePerSecond = *p.RatePerSecond
		}
		if p.MaxAttempts != nil {
			cfg.Retry.MaxAttempts = *p.MaxAttempts
		}
		if p.FailureThreshold != nil {
			cfg.Breaker.FailureThreshold = *p.FailureThreshold
		}
		if in.Format != nil {
			cfg.Format = *in.Format
		}
		values := map[string]string{}
		for _, n := range names {
			values[n] = in.Settings[n]
		}
		for k, v := range t.Apply(&cfg, values) {
			problems["settings."+k] = v
		}
		if in.RemoveSecret {
			if values["secret"] != "" {
				problems["removeSecret"] = "either give a secret or remove it, not both"
			}
			cfg.Secret, cfg.KeepSecret = "", false
		}
		if len(problems) == 0 {
			_, err = release.ConfigureTarget(c.UserContext(), s.deps.DB, s.deps.Sealer, s.deps.Transports, releaseActor(c),
				release.TargetConfiguration{Environment: env, Kind: string(t.Kind()), Config: cfg})
			fe, ok := fault.As(err)
			switch {
			case ok && fe.Code == fault.Invalid && len(fe.Fields) > 0:
				for k, v := range fe.Fields {
					problems[apiTargetField(t, k)] = v
				}
			case err != nil:
				return err
			}
		}
		if len(problems) > 0 {
			keys := make([]string, 0, len(problems))
			for k, v := range problems {
				keys = append(keys, k+": "+v)
			}
			slices.Sort(keys)
			return &fault.Error{Code: fault.Invalid, Fields: problems,
				Message: fmt.Sprintf("target “%s” in %s was not saved: %s", name, env.Name, strings.Join(keys, "; "))}
		}
		out, err := s.storedTargetJSON(c, env, name)
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}

// apiTargetField names a problem of release.ConfigureTarget as the API's
// body does: a kind's setting under settings, the policy under policy.
func apiTargetField(t transport.Transport, k string) string {
	if setting, ok := requestSettings[k]; ok {
		k = setting
	}
	if slices.ContainsFunc(t.Fields(), func(f transport.Field) bool { return f.Name == k }) {
		return "settings." + k
	}
	if policyLabel(k) != "" {
		return "policy." + k
	}
	return k
}

// apiTargetDelete removes a target's configuration; 409 while a version
// running in the environment delivers to it.
func (s *Server) apiTargetDelete() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		if err := release.RemoveTarget(c.UserContext(), s.deps.DB, s.deps.Transports, releaseActor(c), env, c.Params("target")); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// apiVariableList is an environment's variables, by name.
func (s *Server) apiVariableList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		vars, err := release.Variables(c.UserContext(), s.deps.DB, env.ID)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"environment": env.Name, "variables": vars})
	}
}

// apiVariablePut sets one variable: {"value": "…"}.
func (s *Server) apiVariablePut() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		var in struct {
			Value *string `json:"value"`
		}
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || in.Value == nil {
			return &fault.Error{Code: fault.Malformed, Fields: map[string]string{"value": "required"}, Message: `the body must be JSON like {"value": "1000"}`}
		}
		name := c.Params("name")
		if err := release.SetVariable(c.UserContext(), s.deps.DB, releaseActor(c), env, name, *in.Value); err != nil {
			return err
		}
		return c.JSON(fiber.Map{"environment": env.Name, "name": name, "value": *in.Value})
	}
}

// apiVariableDelete removes one variable.
func (s *Server) apiVariableDelete() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		if err := release.RemoveVariable(c.UserContext(), s.deps.DB, releaseActor(c), env, c.Params("name")); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}
