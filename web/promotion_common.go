package web

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/web/view"
)

// promoters may promote versions (to a protected environment: request).
var promoters = []account.Role{account.RoleAdmin, account.RoleAnalyst, account.RoleApprover}

// deciders approve or reject promotion requests.
var deciders = []account.Role{account.RoleAdmin, account.RoleApprover}

const timeFormat = "2006-01-02 15:04 UTC"

func diffRows(d mappings.DefinitionDiff) []view.DiffRow {
	var out []view.DiffRow
	for _, ch := range d.Changes {
		where := string(ch.Section)
		if ch.Route != "" {
			where += " · route " + ch.Route
		}
		if ch.Path != "" {
			where += " · " + ch.Path
		}
		out = append(out, view.DiffRow{Kind: string(ch.Kind), Where: where, Field: ch.Field, Old: ch.Old, New: ch.New})
	}
	return out
}

// gatesView shows gates; kinds says which target kinds need no
// configuration.
func gatesView(g mappings.Gates, kinds mappings.TargetKinds) view.GatesView {
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
		}
		v.Targets = append(v.Targets, view.GateRow{Name: t.Name, OK: t.Configured, Detail: detail})
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

func failureOf(g mappings.Gates, name string) string {
	for _, f := range g.Failures() {
		if strings.HasPrefix(f, "test case “"+name+"” failed") {
			return f
		}
	}
	return ""
}

func gatesSummary(g mappings.Gates) string {
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

func requestRow(r mappings.PromotionRequest) view.PromotionRequestRow {
	row := view.PromotionRequestRow{ID: r.ID, Flow: r.Flow, Version: r.VersionNumber, Environment: r.Environment, Reason: r.Reason,
		RequestedBy: r.RequestedByEmail, RequestedAt: r.RequestedAt.UTC().Format(timeFormat), Status: r.Status,
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
	envs, rows, err := mappings.EnvironmentMatrix(c.UserContext(), s.deps.DB)
	if err != nil {
		return view.MatrixView{}, err
	}
	u := userOf(c)
	v := view.MatrixView{CanPromote: u != nil && u.Can(promoters...)}
	for _, e := range envs {
		v.Environments = append(v.Environments, e.Name)
	}
	for _, r := range rows {
		rv := view.MatrixRowView{Flow: r.Flow.Slug, Latest: r.Flow.LatestVersion}
		for _, cell := range r.Cells {
			cv := view.MatrixCellView{Environment: cell.Environment, Drift: cell.Drift,
				PromoteHref: "/promote?flow=" + r.Flow.Slug + "&to=" + cell.Environment,
				HistoryHref: "/environments/" + cell.Environment + "/flows/" + r.Flow.Slug}
			if d := cell.Deployment; d != nil {
				cv.Version, cv.DeployedBy, cv.DeployedAt = d.VersionNumber, d.DeployedByEmail, d.DeployedAt.UTC().Format(timeFormat)
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
func (s *Server) environmentAdmin(c *fiber.Ctx, e mappings.Environment, count int, keys []account.APIKey) (view.EnvironmentAdmin, error) {
	a := view.EnvironmentAdmin{Position: 0, Count: count}
	envs, err := mappings.EnvironmentList(c.UserContext(), s.deps.DB)
	if err != nil {
		return a, err
	}
	for i, x := range envs {
		if x.ID == e.ID {
			a.Position = i + 1
		}
	}
	vars, err := mappings.Variables(c.UserContext(), s.deps.DB, e.ID)
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
