package web

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// promoters may promote versions (to a protected environment: request).
var promoters = []account.Role{account.RoleAdmin, account.RoleAnalyst, account.RoleApprover}

// deciders approve or reject promotion requests.
var deciders = []account.Role{account.RoleAdmin, account.RoleApprover}

const timeFormat = "2006-01-02 15:04 UTC"

// diffParts are the parts of a definition in the order a comparison
// lists them; routes come between targets and tests, one part per route.
var diffParts = []mappings.ChangeSection{mappings.SectionDefinition, mappings.SectionSource, mappings.SectionSamples,
	mappings.SectionKeys, mappings.SectionValidation, mappings.SectionLookups, mappings.SectionTargets,
	mappings.SectionRoutes, mappings.SectionTests}

// diffView groups a definition diff by the part each change is in (a route
// and its mapping rows are one part), leaves out what only reads as a
// change (a format version appearing where the older definition had
// none), and names the parts without changes.
func diffView(d mappings.DefinitionDiff) view.DiffView {
	var v view.DiffView
	changed := map[mappings.ChangeSection]bool{}
	for _, ch := range d.Changes {
		if ch.Section == mappings.SectionDefinition && ch.Field == "formatVersion" && (ch.Old == "0" || ch.Old == "") {
			continue
		}
		title, where := partTitle(ch), ch.Path
		section := ch.Section
		if section == mappings.SectionMapping {
			section = mappings.SectionRoutes
		}
		changed[section] = true
		if where == "" && ch.Section == mappings.SectionRoutes {
			where = "the route"
		}
		if n := len(v.Groups); n == 0 || v.Groups[n-1].Title != title {
			v.Groups = append(v.Groups, view.DiffGroup{Title: title})
		}
		g := &v.Groups[len(v.Groups)-1]
		g.Rows = append(g.Rows, view.DiffRow{Kind: string(ch.Kind), Where: where, Field: ch.Field, Old: ch.Old, New: ch.New})
	}
	if len(v.Groups) > 0 {
		for _, s := range diffParts {
			if !changed[s] {
				v.Unchanged = append(v.Unchanged, string(s))
			}
		}
	}
	return v
}

// partTitle names the part of the definition a change is in.
func partTitle(ch mappings.Change) string {
	switch ch.Section {
	case mappings.SectionRoutes, mappings.SectionMapping:
		return "Route " + ch.Route
	case mappings.SectionKeys:
		return "Keys"
	case mappings.SectionValidation:
		return "Validation rules"
	case mappings.SectionLookups:
		return "Lookup tables"
	case mappings.SectionTargets:
		return "Targets"
	case mappings.SectionTests:
		return "Test cases"
	case mappings.SectionSamples:
		return "Samples"
	case mappings.SectionSource:
		return "Source"
	}
	return "Flow"
}

// firstDeployment summarises what a definition brings where nothing of its
// flow ran before: a comparison with nothing would list every field as
// added.
func firstDeployment(def *engine.Definition) view.DiffView {
	var routes []string
	rows := 0
	var count func(rs []engine.Row)
	count = func(rs []engine.Row) {
		for _, r := range rs {
			rows++
			count(r.Rows)
		}
	}
	for _, r := range def.Routes {
		routes = append(routes, r.Name+" → "+r.Target)
		count(r.Mapping)
	}
	return view.DiffView{Summary: fmt.Sprintf("First deployment of this flow here: %s from %s, %d validation rule%s, %d route%s (%s) with %d mapping row%s, %d lookup table%s, %d test case%s.",
		def.Source.Event, def.Source.System, len(def.Validation), plural(len(def.Validation)), len(def.Routes), plural(len(def.Routes)),
		strings.Join(routes, ", "), rows, plural(rows), len(def.Lookups), plural(len(def.Lookups)), len(def.Tests), plural(len(def.Tests)))}
}

// gatesView shows gates; kinds says which target kinds need no
// configuration.
func gatesView(g release.Gates, kinds release.TargetKinds) view.GatesView {
	v := view.GatesView{Checked: g.Checked(), Passed: g.Passed(), Problems: g.Problems, Failures: g.Failures()}
	for _, t := range g.Targets {
		detail := "configured in " + g.Environment
		needed, known := kinds.NeedsConfiguration(t.Kind)
		switch {
		case t.UnknownKind:
			detail = "kind “" + t.Kind + "”: this installation cannot deliver to it"
		case known && !needed:
			detail = t.Kind + " target: needs no configuration"
		case !t.Configured:
			detail = "not configured in " + g.Environment + "; an admin configures it on the Environments page"
		case len(t.Problems) > 0:
			detail = "configured in " + g.Environment + ", but " + strings.Join(t.Problems, "; ") + "; an admin fixes it on the Environments page"
		}
		v.Targets = append(v.Targets, view.GateRow{Name: t.Name, OK: t.Configured && len(t.Problems) == 0, Detail: detail})
	}
	for _, x := range g.Variables {
		detail := "set in " + g.Environment
		if !x.Set {
			detail = "not set in " + g.Environment
		}
		v.Variables = append(v.Variables, view.GateRow{Name: x.Name, OK: x.Set, Detail: detail})
	}
	for _, r := range g.Tests {
		detail := "passed"
		if !r.Passed {
			detail = strings.TrimPrefix(failureOf(g, r.Name), "test case “"+r.Name+"” failed: ")
		}
		v.Tests = append(v.Tests, view.GateRow{Name: r.Name, OK: r.Passed, Detail: detail})
	}
	return v
}

func failureOf(g release.Gates, name string) string {
	for _, f := range g.Failures() {
		if strings.HasPrefix(f, "test case “"+name+"” failed") {
			return f
		}
	}
	return ""
}

func gatesSummary(g release.Gates) string {
	if !g.Checked() {
		return ""
	}
	return fmt.Sprintf("%d/%d test cases, %d target%s, %d variable%s", g.TestsPassed(), len(g.Tests), len(g.Targets), plural(len(g.Targets)), len(g.Variables), plural(len(g.Variables)))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func requestRow(r release.PromotionRequest) view.PromotionRequestRow {
	row := view.PromotionRequestRow{ID: r.ID, Flow: r.Flow, FlowName: r.FlowName, Version: r.VersionNumber, Environment: r.Environment, Reason: r.Reason,
		RequestedBy: r.RequestedByEmail, RequestedAt: when(r.RequestedAt), Status: r.Status,
		DecidedBy: r.DecidedByEmail, Comment: r.DecisionComment}
	if r.FromVersion != nil {
		row.FromVersion = *r.FromVersion
	}
	if r.DecidedAt != nil {
		row.DecidedAt = r.DecidedAt.UTC().Format(timeFormat)
	}
	return row
}

// matrixView builds flows × environments for the environments page.
func (s *Server) matrixView(c *fiber.Ctx) (view.MatrixView, error) {
	envs, rows, err := release.EnvironmentMatrix(c.UserContext(), s.deps.DB)
	if err != nil {
		return view.MatrixView{}, err
	}
	u := userOf(c)
	v := view.MatrixView{CanPromote: u != nil && u.Can(promoters...)}
	for _, e := range envs {
		v.Environments = append(v.Environments, e.Name)
	}
	for _, r := range rows {
		rv := view.MatrixRowView{Flow: r.Flow.Slug, FlowName: r.Flow.Name, Latest: r.Flow.LatestVersion}
		for _, cell := range r.Cells {
			cv := view.MatrixCellView{Environment: cell.Environment, Drift: cell.Drift, Ahead: cell.Ahead,
				PromoteHref: "/promote?flow=" + r.Flow.Slug + "&to=" + cell.Environment,
				HistoryHref: "/environments/" + cell.Environment + "/flows/" + r.Flow.Slug}
			if d := cell.Deployment; d != nil {
				cv.Version, cv.DeployedBy, cv.DeployedAt = d.VersionNumber, d.DeployedByEmail, when(d.DeployedAt)
			}
			if p := cell.Pending; p != nil {
				cv.PendingID, cv.Pending = p.ID, p.VersionNumber
			}
			rv.Cells = append(rv.Cells, cv)
		}
		v.Rows = append(v.Rows, rv)
	}
	return v, nil
}

// environmentAdmin builds an environment's variables and keys for the
// environments page.
func (s *Server) environmentAdmin(c *fiber.Ctx, e release.Environment, count int, keys []account.APIKey) (view.EnvironmentAdmin, error) {
	a := view.EnvironmentAdmin{Position: 0, Count: count}
	envs, err := release.EnvironmentList(c.UserContext(), s.deps.DB)
	if err != nil {
		return a, err
	}
	for i, x := range envs {
		if x.ID == e.ID {
			a.Position = i + 1
		}
	}
	vars, err := release.Variables(c.UserContext(), s.deps.DB, e.ID)
	if err != nil {
		return a, err
	}
	for name, value := range vars {
		a.Variables = append(a.Variables, view.VariableRow{Name: name, Value: value})
	}
	sortVariables(a.Variables)
	for _, k := range keys {
		if k.Environment == e.Name && k.RevokedAt == nil {
			a.Keys = append(a.Keys, view.EnvironmentKeyRow{Prefix: k.Prefix, Name: k.Name, Manage: k.CanManage, Support: k.CanSupport})
		}
	}
	return a, nil
}

func sortVariables(v []view.VariableRow) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j].Name < v[j-1].Name; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
