package web

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/transport"
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
			ev.Deployments = append(ev.Deployments, view.DeploymentRow{Flow: slugOf[d.FlowID], Version: d.VersionNumber, DeployedBy: d.DeployedByEmail, DeployedAt: when(d.DeployedAt)})
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

// targetEdit shows one environment's configuration of a target, with the
// settings its kind's transport asks for: the kind the flows give the
// target, or ?kind= when the admin picks another.
func (s *Server) targetEdit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Params("env"))
		if err != nil {
			return err
		}
		name := strings.TrimSpace(c.Params("target", c.Query("name")))
		if name == "" {
			return &fault.Error{Code: fault.Invalid, Message: "name the target to configure"}
		}
		cfg, err := s.storedTarget(c, env, name)
		if err != nil {
			return err
		}
		t, err := s.targetTransport(c, name, c.Query("kind"))
		if err != nil {
			return err
		}
		values := formatValues(cfg.Format)
		for k, v := range t.Values(cfg) {
			values[k] = v
		}
		f := s.targetForm(env.Name, t, cfg, values, nil)
		if f.UsedBy, err = s.targetUses(c, env, t, name); err != nil {
			return err
		}
		return s.render(c, view.TargetPage(s.page(c, "Target "+name, "environments"), f))
	}
}

// targetUses lists the flows that name target, for its page.
func (s *Server) targetUses(c *fiber.Ctx, env release.Environment, t transport.Transport, name string) ([]view.TargetUse, error) {
	uses, err := release.TargetUses(c.UserContext(), s.deps.DB, env.ID, name)
	if err != nil {
		return nil, err
	}
	out := []view.TargetUse{}
	for _, u := range uses {
		var where []string
		if u.As != "" {
			where = append(where, "as “"+u.As+"”")
		}
		if u.Deployed > 0 {
			where = append(where, fmt.Sprintf("v%d runs in %s", u.Deployed, env.Name))
		}
		if u.Latest > 0 && u.Latest != u.Deployed {
			where = append(where, fmt.Sprintf("latest v%d", u.Latest))
		}
		if u.InDraft && u.Latest == 0 {
			where = append(where, "its draft, not published yet")
		}
		out = append(out, view.TargetUse{Flow: u.Flow, Kind: u.Kind, Where: strings.Join(where, ", "), Running: u.Deployed > 0, OtherKind: u.Kind != string(t.Kind())})
	}
	return out, nil
}

// storedTarget is the target's stored configuration in env, or the
// defaults when it has none yet.
func (s *Server) storedTarget(c *fiber.Ctx, env release.Environment, name string) (release.TargetConfig, error) {
	cfg, err := release.TargetConfigGet(c.UserContext(), s.deps.DB, s.deps.Sealer, env.ID, name)
	if fault.CodeOf(err) == fault.NotFound {
		return release.DefaultTargetConfig(env.ID, name), nil
	}
	return cfg, err
}

// targetTransport is the transport of kind, or when kind is empty of the
// kind the flows give target name.
func (s *Server) targetTransport(c *fiber.Ctx, name, kind string) (transport.Transport, error) {
	if kind == "" {
		var err error
		if kind, err = release.TargetKindOf(c.UserContext(), s.deps.DB, name); err != nil {
			return nil, err
		}
	}
	t, ok := s.deps.Transports.Get(transport.Kind(kind))
	if !ok {
		kinds := make([]string, 0)
		for _, k := range s.deps.Transports.Kinds() {
			kinds = append(kinds, string(k))
		}
		return nil, &fault.Error{Code: fault.Invalid, Fields: map[string]string{"kind": "one of " + strings.Join(kinds, ", ")},
			Message: fmt.Sprintf("this installation cannot deliver to targets of kind “%s”; choose one of %s", kind, strings.Join(kinds, ", "))}
	}
	return t, nil
}

// targetForm is the form for cfg as kind t shows it, with values for its
// settings and problems by field name.
func (s *Server) targetForm(env string, t transport.Transport, cfg release.TargetConfig, values, problems map[string]string) view.TargetForm {
	f := view.TargetForm{
		Environment: env, Target: cfg.Target, Kind: string(t.Kind()), KindLabel: t.Traits().Label, HasSecret: cfg.HasSecret,
	}
	_, f.CanProbe = t.(transport.Prober)
	for _, p := range policyFields {
		f.Policy = append(f.Policy, view.PolicyField{ID: p.id, Name: p.form, Key: p.key, Label: p.label, Value: p.show(cfg), Problem: problems[p.key]})
	}
	for _, k := range s.deps.Transports.Kinds() {
		other, _ := s.deps.Transports.Get(k)
		f.Kinds = append(f.Kinds, view.KindChoice{Kind: string(k), Label: other.Traits().Label, Current: k == t.Kind()})
	}
	for _, fd := range t.Fields() {
		v := view.SettingField{Name: fd.Name, Label: fd.Label, Hint: fd.Hint, Input: string(fd.Input), Options: fd.Options,
			Placeholder: fd.Placeholder, Required: fd.Required, Problem: problems[fd.Name]}
		if fd.Input != transport.Secret {
			v.Value = values[fd.Name]
		}
		f.Fields = append(f.Fields, v)
	}
	f.Format = formatSettingFields(values, problems)
	return f
}

// targetSave stores a target's configuration through
// release.ConfigureTarget; an empty secret field keeps the stored one. A
// refused form comes back with what was entered and each problem next to
// its field.
func (s *Server) targetSave() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, t, cfg, values, problems, err := s.targetFromForm(c)
		if err != nil {
			return err
		}
		if len(problems) == 0 {
			_, err = release.ConfigureTarget(c.UserContext(), s.deps.DB, s.deps.Sealer, s.deps.Transports, releaseActor(c),
				release.TargetConfiguration{Environment: env, Kind: string(t.Kind()), Config: cfg})
			if fe, ok := fault.As(err); ok && fe.Code == fault.Invalid {
				problems = fe.Fields
			} else if err != nil {
				return err
			}
		}
		if len(problems) > 0 {
			f := s.targetForm(env.Name, t, cfg, values, problems)
			f.Error, f.Problems = "Nothing was saved. Fix:", targetProblems(t, problems)
			if f.UsedBy, err = s.targetUses(c, env, t, cfg.Target); err != nil {
				return err
			}
			c.Status(fiber.StatusUnprocessableEntity)
			return s.render(c, view.TargetPage(s.page(c, "Target "+cfg.Target, "environments"), f))
		}
		s.flash(c, fmt.Sprintf("Saved target %s in %s.", cfg.Target, env.Name))
		return c.Redirect("/environments#env-"+env.Name, fiber.StatusSeeOther)
	}
}

// targetProbe tests the connection the form describes, saving nothing:
// the form comes back as entered with what the test found.
func (s *Server) targetProbe() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, t, cfg, values, problems, err := s.targetFromForm(c)
		if err != nil {
			return err
		}
		f := s.targetForm(env.Name, t, cfg, values, problems)
		if f.UsedBy, err = s.targetUses(c, env, t, cfg.Target); err != nil {
			return err
		}
		prober, ok := t.(transport.Prober)
		switch {
		case !ok:
			f.Error = fmt.Sprintf("Targets of kind %s cannot be tested without a delivery.", t.Kind())
		case len(problems) > 0:
			f.Error, f.Problems = "Not tested. Fix:", targetProblems(t, problems)
		default:
			if cfg.KeepSecret && cfg.Secret == "" {
				if stored, err := s.storedTarget(c, env, cfg.Target); err == nil {
					cfg.Secret = stored.Secret
				}
			}
			vars, err := release.Variables(c.UserContext(), s.deps.DB, env.ID)
			if err != nil {
				return err
			}
			p := prober.Probe(c.UserContext(), transport.Attempt{
				Delivery: transport.Delivery{ID: uuid.Nil, EnvironmentID: env.ID, Target: cfg.Target, Route: "test", CorrelationID: "connection-test"},
				Config:   cfg, Vars: vars})
			f.Probe = &view.ProbeView{OK: p.OK, Summary: p.Summary, Steps: p.Steps, Latency: p.Latency.Round(time.Millisecond).String()}
		}
		return s.render(c, view.TargetPage(s.page(c, "Target "+cfg.Target, "environments"), f))
	}
}

// targetFromForm reads the target form: the stored configuration (or the
// defaults) with the delivery policy and the kind's settings as posted,
// and what is wrong with them by field name.
func (s *Server) targetFromForm(c *fiber.Ctx) (release.Environment, transport.Transport, release.TargetConfig, map[string]string, map[string]string, error) {
	env, err := release.EnvironmentByName(c.UserContext(), s.deps.DB, c.Params("env"))
	if err != nil {
		return env, nil, release.TargetConfig{}, nil, nil, err
	}
	name := c.Params("target")
	t, err := s.targetTransport(c, name, c.FormValue("kind"))
	if err != nil {
		return env, nil, release.TargetConfig{}, nil, nil, err
	}
	cfg, err := s.storedTarget(c, env, name)
	if err != nil {
		return env, nil, release.TargetConfig{}, nil, nil, err
	}
	cfg.Secret = "" // Apply sets it from the form, or keeps the stored one
	problems := map[string]string{}
	for _, p := range policyFields {
		if v := strings.TrimSpace(c.FormValue(p.form)); v != "" {
			if err := p.read(&cfg, v); err != nil {
				problems[p.key] = err.Error()
			}
		}
	}
	values := map[string]string{}
	for _, f := range t.Fields() {
		values[f.Name] = c.FormValue(f.Name)
	}
	for k, v := range t.Apply(&cfg, values) {
		problems[k] = v
	}
	for _, f := range formatFields {
		values[f.form] = c.FormValue(f.form)
	}
	var formatProblems map[string]string
	cfg.Format, formatProblems = readFormat(values)
	for k, v := range formatProblems {
		form, _, _ := formatFormKey(k)
		problems[form] = v
	}
	if err := cfg.Check(); err != nil {
		fe, ok := fault.As(err)
		if !ok || fe.Code != fault.Invalid {
			return env, nil, release.TargetConfig{}, nil, nil, err
		}
		for k, v := range fe.Fields {
			if setting, ok := requestSettings[k]; ok {
				k = setting
			}
			if form, _, ok := formatFormKey(k); ok {
				k = form
			}
			if _, dup := problems[k]; !dup {
				problems[k] = v
			}
		}
	}
	return env, t, cfg, values, problems, nil
}

// requestSettings are the http settings release.TargetConfig.Check
// checks the shape of, by its names for them.
var requestSettings = map[string]string{
	"urlTemplate": "url", "method": "method", "auth": "auth", "authHeaderName": "auth_header_name", "username": "username",
}

// targetProblems lists problems in the form's order, each with the label
// of its field and the anchor of its message.
func targetProblems(t transport.Transport, problems map[string]string) []view.FieldProblem {
	var out []view.FieldProblem
	for _, p := range transport.Problems(t.Fields(), problems) {
		label := p.Label
		if l := policyLabel(p.Field); l != "" {
			label = l
		}
		for _, f := range formatFields {
			if f.form == p.Field {
				label = f.label
			}
		}
		out = append(out, view.FieldProblem{Field: p.Field, Label: label, Problem: p.Problem})
	}
	return out
}
