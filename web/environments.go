package web

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// environmentsList shows every environment, what runs there and its targets.
func (s *Server) environmentsList() fiber.Handler {
	return func(c *fiber.Ctx) error { return s.renderEnvironments(c, "") }
}

func (s *Server) renderEnvironments(c *fiber.Ctx, msg string) error {
	ctx := c.UserContext()
	envs, err := release.EnvironmentList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	flows, err := mappings.FlowList(ctx, s.deps.DB, mappings.FlowFilter{})
	if err != nil {
		return err
	}
	slugOf := map[int64]string{}
	v := view.EnvironmentsView{CanConfigure: userOf(c).Can(account.RoleAdmin), Error: msg}
	for _, f := range flows {
		slugOf[f.ID] = f.Slug
		if f.LatestVersion > 0 {
			opt := view.DeployOption{Slug: f.Slug}
			for n := f.LatestVersion; n >= 1; n-- {
				opt.Versions = append(opt.Versions, n)
			}
			v.Flows = append(v.Flows, opt)
		}
	}
	sort.Slice(v.Flows, func(i, j int) bool { return v.Flows[i].Slug < v.Flows[j].Slug })
	// Promotion: the matrix and each environment's administration.
	if v.Matrix, err = s.matrixView(c); err != nil {
		return err
	}
	keys, err := account.APIKeyList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	notify, err := release.NotificationConfigList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	for _, e := range envs {
		n, ok := notify[e.ID]
		ev := view.EnvironmentView{Name: e.Name, Protected: e.Protected, CanDeploy: userOf(c) != nil && releaseActor(c).MayPromote(e, "") == nil && !e.Protected, Notify: notifyView(n, ok)}
		if ev.Admin, err = s.environmentAdmin(c, e, len(envs), keys); err != nil {
			return err
		}
		deps, err := release.DeploymentList(ctx, s.deps.DB, e.ID)
		if err != nil {
			return err
		}
		for _, d := range deps {
			ev.Deployments = append(ev.Deployments, view.DeploymentRow{Flow: slugOf[d.FlowID], Version: d.VersionNumber, DeployedBy: d.DeployedByEmail, DeployedAt: d.DeployedAt.UTC().Format("2006-01-02 15:04 UTC")})
		}
		targets, err := release.TargetConfigList(ctx, s.deps.DB, e.ID)
		if err != nil {
			return err
		}
		for _, t := range targets {
			ev.Targets = append(ev.Targets, view.TargetRow{Target: t.Target, URL: t.URLTemplate, Auth: string(t.Auth), HasSecret: t.HasSecret})
		}
		v.Environments = append(v.Environments, ev)
	}
	return s.render(c, view.EnvironmentsPage(s.page(c, "Environments", "environments"), v))
}

// environmentDeploy is the Environments page's Deploy form: a promotion
// like Promote…, through the same release policy and gates — an
// unprotected environment switches when the gates pass; a protected one
// gets a promotion request. Messages already accepted keep their version.
func (s *Server) environmentDeploy() fiber.Handler {
	return func(c *fiber.Ctx) error {
		version := strings.TrimSpace(c.FormValue("version"))
		if version == "" {
			f, err := mappings.FlowBySlug(c.UserContext(), s.deps.DB, c.FormValue("flow"))
			if err != nil {
				return err
			}
			if f.LatestVersion == 0 {
				c.Status(fiber.StatusUnprocessableEntity)
				return s.renderEnvironments(c, f.Slug+" has no published version; publish it in the designer first.")
			}
			version = strconv.Itoa(f.LatestVersion)
		}
		res, env, err := s.promote(c, c.FormValue("flow"), c.Params("env"), version, c.FormValue("reason"))
		var refused *release.GatesFailedError
		if code := fault.CodeOf(err); errors.As(err, &refused) || code == fault.Invalid || code == fault.Conflict || code == fault.NotFound {
			if code == fault.NotFound {
				c.Status(fiber.StatusUnprocessableEntity)
			} else {
				c.Status(toStatus(err))
			}
			return s.renderEnvironments(c, "Not deployed: "+toFault(err).Message+".")
		}
		if err != nil {
			return err
		}
		if r := res.Request; r != nil {
			s.flash(c, fmt.Sprintf("%s is protected: promotion request %d for %s v%d waits for an approver other than you.", env.Name, r.ID, r.Flow, r.VersionNumber))
			return c.Redirect(fmt.Sprintf("/promotions/%d", r.ID), fiber.StatusSeeOther)
		}
		s.flash(c, fmt.Sprintf("Deployed %s v%d to %s (gates passed).", c.FormValue("flow"), res.Deployment.VersionNumber, env.Name))
		return c.Redirect("/environments#env-"+env.Name, fiber.StatusSeeOther)
	}
}

// targetEdit shows one environment's configuration of a target.
func (s *Server) targetEdit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		name := c.Params("target", c.Query("name"))
		if name == "" {
			return &fault.Error{Code: fault.Invalid, Message: "name the target to configure"}
		}
		cfg, err := release.TargetConfigGet(ctx, s.deps.DB, s.deps.Sealer, env.ID, name)
		if fault.CodeOf(err) == fault.NotFound {
			cfg, err = release.DefaultTargetConfig(env.ID, name), nil
		}
		if err != nil {
			return err
		}
		return s.render(c, view.TargetPage(s.page(c, "Target "+name, "environments"), targetForm(env.Name, cfg)))
	}
}

func targetForm(env string, cfg release.TargetConfig) view.TargetForm {
	m := cfg.Masked()
	var headers []string
	for k, v := range m.Headers {
		headers = append(headers, k+": "+v)
	}
	sort.Strings(headers)
	return view.TargetForm{
		Environment: env, Target: m.Target, URL: m.URLTemplate, Method: m.Method, Headers: strings.Join(headers, "\n"),
		Auth: string(m.Auth), AuthHeaderName: m.AuthHeaderName, Username: m.Username, HasSecret: m.HasSecret,
		TimeoutSeconds: strconv.FormatFloat(m.Timeout.Seconds(), 'f', -1, 64), RatePerSecond: strconv.FormatFloat(m.RatePerSecond, 'f', -1, 64),
		MaxAttempts: strconv.Itoa(m.Retry.MaxAttempts), BaseDelay: m.Retry.BaseDelay.String(), MaxDelay: m.Retry.MaxDelay.String(),
		Window: m.Retry.Window.String(), BreakerFails: strconv.Itoa(m.Breaker.FailureThreshold), BreakerOpenFor: m.Breaker.OpenFor.String(),
	}
}

// targetSave stores a target's configuration, the secret sealed; an empty
// secret field keeps the stored one.
func (s *Server) targetSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		name := c.Params("target")
		cfg := release.DefaultTargetConfig(env.ID, name)
		var problems []string
		num := func(field, label string, parse func(string) error) {
			if v := strings.TrimSpace(c.FormValue(field)); v != "" {
				if err := parse(v); err != nil {
					problems = append(problems, label+": "+err.Error())
				}
			}
		}
		dur := func(dst *time.Duration) func(string) error {
			return func(v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("“%s” is not a duration such as 500ms, 30s or 5m", v)
				}
				*dst = d
				return nil
			}
		}
		cfg.URLTemplate = strings.TrimSpace(c.FormValue("url"))
		cfg.Method = c.FormValue("method", "POST")
		cfg.Headers = map[string]string{}
		for _, line := range strings.Split(c.FormValue("headers"), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(k) == "" {
				problems = append(problems, fmt.Sprintf("header line “%s” must read Name: value", line))
				continue
			}
			cfg.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		cfg.Auth = release.AuthKind(c.FormValue("auth", "none"))
		cfg.AuthHeaderName = strings.TrimSpace(c.FormValue("auth_header_name"))
		cfg.Username = strings.TrimSpace(c.FormValue("username"))
		cfg.Secret = c.FormValue("secret")
		cfg.KeepSecret = cfg.Secret == ""
		num("timeout", "Timeout", func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return fmt.Errorf("“%s” is not a number of seconds", v)
			}
			cfg.Timeout = time.Duration(f * float64(time.Second))
			return nil
		})
		num("rate", "Rate limit", func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return fmt.Errorf("“%s” is not a number of requests per second", v)
			}
			cfg.RatePerSecond = f
			return nil
		})
		num("max_attempts", "Max attempts", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("“%s” is not a whole number", v)
			}
			cfg.Retry.MaxAttempts = n
			return nil
		})
		num("base_delay", "First retry after", dur(&cfg.Retry.BaseDelay))
		num("max_delay", "Longest wait", dur(&cfg.Retry.MaxDelay))
		num("window", "Give up after", dur(&cfg.Retry.Window))
		num("breaker_failures", "Open circuit after", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("“%s” is not a whole number", v)
			}
			cfg.Breaker.FailureThreshold = n
			return nil
		})
		num("breaker_open_for", "Keep circuit open", dur(&cfg.Breaker.OpenFor))
		if err := cfg.Check(); err != nil && len(problems) == 0 {
			problems = append(problems, toFault(err).Message)
		}
		if len(problems) > 0 {
			f := targetForm(env.Name, cfg)
			f.Error = capitalize(strings.Join(problems, "; ")) + ". Nothing was saved."
			c.Status(fiber.StatusUnprocessableEntity)
			return s.render(c, view.TargetPage(s.page(c, "Target "+name, "environments"), f))
		}
		err = txn.Run(ctx, s.deps.DB, func(tx pgx.Tx) error {
			saved, err := release.TargetConfigPut(ctx, tx, s.deps.Sealer, cfg, editorOf(c))
			if err != nil {
				return err
			}
			return account.Audit(ctx, tx, actorOf(c), "target.configure", "target", env.Name+"/"+name, nil, saved.Masked())
		})
		if err != nil {
			return err
		}
		s.flash(c, fmt.Sprintf("Saved target %s in %s.", name, env.Name))
		return c.Redirect("/environments#env-"+env.Name, fiber.StatusSeeOther)
	}
}
