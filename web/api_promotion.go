package web

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings/release"
)

// DeploymentJSON is a deployment in the management API.
type DeploymentJSON struct {
	ID          int64         `json:"id"`
	Environment string        `json:"environment"`
	Flow        string        `json:"flow"`
	Version     int           `json:"version"`
	Checksum    string        `json:"checksum"`
	Kind        string        `json:"kind"`
	Reason      string        `json:"reason"`
	DeployedBy  string        `json:"deployedBy"`
	DeployedAt  time.Time     `json:"deployedAt"`
	Active      bool          `json:"active"`
	Gates       release.Gates `json:"gates"`
}

func deploymentJSON(d release.Deployment, env, flow string) DeploymentJSON {
	return DeploymentJSON{ID: d.ID, Environment: env, Flow: flow, Version: d.VersionNumber, Checksum: d.Checksum, Kind: d.Kind,
		Reason: d.Reason, DeployedBy: d.DeployedByEmail, DeployedAt: d.DeployedAt, Active: d.Active, Gates: d.Gates}
}

// GatesJSON is a promotion's gates with the verdict spelled out.
type GatesJSON struct {
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures"`
	release.Gates
}

func gatesJSON(g release.Gates) GatesJSON {
	f := g.Failures()
	if f == nil {
		f = []string{}
	}
	return GatesJSON{Passed: g.Passed(), Failures: f, Gates: g}
}

// apiEnvironments is the environment matrix: the environments in order and
// what each runs of every published flow.
func (s *Server) apiEnvironments() fiber.Handler {
	return func(c *fiber.Ctx) error {
		envs, rows, err := release.EnvironmentMatrix(c.UserContext(), s.deps.DB)
		if err != nil {
			return err
		}
		type envJSON struct {
			Name      string `json:"name"`
			Position  int    `json:"position"`
			Protected bool   `json:"protected"`
		}
		type cellJSON struct {
			Environment    string          `json:"environment"`
			Deployment     *DeploymentJSON `json:"deployment"`
			Drift          bool            `json:"drift"`
			AheadVersion   int             `json:"aheadVersion,omitempty"`
			PendingRequest *int64          `json:"pendingRequest,omitempty"`
		}
		type flowJSON struct {
			Flow          string     `json:"flow"`
			LatestVersion int        `json:"latestVersion"`
			Environments  []cellJSON `json:"environments"`
		}
		out := struct {
			Environments []envJSON  `json:"environments"`
			Flows        []flowJSON `json:"flows"`
		}{Environments: []envJSON{}, Flows: []flowJSON{}}
		for i, e := range envs {
			out.Environments = append(out.Environments, envJSON{Name: e.Name, Position: i + 1, Protected: e.Protected})
		}
		key := apiKeyOf(c)
		for _, r := range rows {
			if key != nil && !key.AllowsFlow(r.Flow.Slug) {
				continue
			}
			fj := flowJSON{Flow: r.Flow.Slug, LatestVersion: r.Flow.LatestVersion}
			for _, cell := range r.Cells {
				cj := cellJSON{Environment: cell.Environment, Drift: cell.Drift, AheadVersion: cell.Ahead}
				if cell.Deployment != nil {
					d := deploymentJSON(*cell.Deployment, cell.Environment, r.Flow.Slug)
					cj.Deployment = &d
				}
				if cell.Pending != nil {
					cj.PendingRequest = &cell.Pending.ID
				}
				fj.Environments = append(fj.Environments, cj)
			}
			out.Flows = append(out.Flows, fj)
		}
		return c.JSON(out)
	}
}

// apiPromotionPreview answers what promoting ?version= (default: what the
// previous environment runs) to ?to= would change, with the gates.
func (s *Server) apiPromotionPreview() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Query("to"))
		if err != nil {
			return err
		}
		n := 0
		if q := c.Query("version"); q != "" {
			if n, err = parseVersionNumber("version", q); err != nil {
				return err
			}
		} else if n, err = release.DefaultPromotionVersion(ctx, s.deps.DB, f, env); err != nil {
			return err
		}
		p, err := release.PreviewPromotion(ctx, s.deps.DB, s.deps.Transports, f, n, env, s.deps.Now())
		if err != nil {
			return err
		}
		var current *int
		if p.Current != nil {
			current = &p.Current.VersionNumber
		}
		return c.JSON(fiber.Map{"flow": f.Slug, "version": n, "checksum": p.Version.Checksum, "environment": env.Name,
			"protected": env.Protected, "currentVersion": current, "diff": p.Diff, "gates": gatesJSON(p.Gates)})
	}
}

// PromoteRequestJSON is the body of a promotion.
type PromoteRequestJSON struct {
	Version int    `json:"version"`
	To      string `json:"to"`
	Reason  string `json:"reason"`
}

// apiPromote promotes a version: 201 with the deployment when it runs,
// 202 with the request when a protected environment waits for an
// approver, 422 with the failed gates, 409 when it runs already.
func (s *Server) apiPromote() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in PromoteRequestJSON
		if err := json.Unmarshal(c.Body(), &in); err != nil {
			return fault.Errorf(fault.Malformed, "the body must be JSON like {\"version\": 2, \"to\": \"test\", \"reason\": \"…\"}: %v", err)
		}
		if in.To == "" {
			return &fault.Error{Code: fault.Invalid, Message: "say which environment to promote to (\"to\")", Fields: map[string]string{"to": "required"}}
		}
		res, env, err := s.promote(c, c.Params("slug"), in.To, strconv.Itoa(in.Version), in.Reason)
		if err != nil {
			return err
		}
		if res.Request != nil {
			return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "pending", "request": res.Request, "gates": gatesJSON(res.Gates),
				"message": env.Name + " is protected: an approver other than the requester must approve request " + strconv.FormatInt(res.Request.ID, 10)})
		}
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"status": "deployed", "deployment": deploymentJSON(*res.Deployment, env.Name, c.Params("slug")),
			"gates": gatesJSON(res.Gates)})
	}
}

// apiDeploymentHistory lists a flow's deployments to ?env=, newest first.
func (s *Server) apiDeploymentHistory() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		f, err := s.flowFromPath(c)
		if err != nil {
			return err
		}
		env, err := release.EnvironmentByName(ctx, s.deps.DB, c.Query("env"))
		if err != nil {
			return err
		}
		hist, err := release.DeploymentHistory(ctx, s.deps.DB, env.ID, f.ID)
		if err != nil {
			return err
		}
		out := []DeploymentJSON{}
		for _, d := range hist {
			out = append(out, deploymentJSON(d, env.Name, f.Slug))
		}
		return c.JSON(fiber.Map{"deployments": out})
	}
}

// apiRollback rolls a flow in an environment back to its previous
// deployment.
func (s *Server) apiRollback() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in struct {
			Environment string `json:"environment"`
			Reason      string `json:"reason"`
		}
		if err := json.Unmarshal(c.Body(), &in); err != nil {
			return fault.Errorf(fault.Malformed, "the body must be JSON like {\"environment\": \"prod\", \"reason\": \"…\"}: %v", err)
		}
		d, env, err := s.rollback(c, in.Environment, c.Params("slug"), in.Reason)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(deploymentJSON(d, env.Name, c.Params("slug")))
	}
}

// apiPromotionRequests lists promotion requests (?status=pending…); an API
// key limited to some flows sees only theirs.
func (s *Server) apiPromotionRequests() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var flows []string
		if k := apiKeyOf(c); k != nil && userOf(c) == nil {
			flows = k.Flows
		}
		list, err := release.PromotionRequestListOfFlows(c.UserContext(), s.deps.DB, c.Query("status"), flows, 500)
		if err != nil {
			return err
		}
		if list == nil {
			list = []release.PromotionRequest{}
		}
		return c.JSON(fiber.Map{"requests": list})
	}
}

// apiPromotionDecide approves or rejects a request (people only: API keys
// cannot approve).
func (s *Server) apiPromotionDecide(approve bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in struct {
			Comment string `json:"comment"`
		}
		if len(c.Body()) > 0 {
			if err := json.Unmarshal(c.Body(), &in); err != nil {
				return fault.Errorf(fault.Malformed, "the body must be JSON like {\"comment\": \"…\"}: %v", err)
			}
		}
		r, d, err := s.decide(c, approve, in.Comment)
		if err != nil {
			return err
		}
		out := fiber.Map{"request": r}
		if d != nil {
			out["deployment"] = deploymentJSON(*d, r.Environment, r.Flow)
		}
		return c.JSON(out)
	}
}

// apiBundleExport returns a bundle of the ?flow= flows.
func (s *Server) apiBundleExport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		data, err := s.exportBundle(c)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(data)
	}
}

// apiBundleImport imports the bundle in the body (?dryRun=true to only see
// what would change; ?env=test&deploy=true to promote each flow's newest
// version afterwards, in the same transaction: a refusal imports nothing).
func (s *Server) apiBundleImport() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Body()) > MaxBundleBytes {
			return fault.Errorf(fault.TooLarge, "a bundle may be at most %d MB", MaxBundleBytes>>20)
		}
		dryRun, deploy := c.QueryBool("dryRun"), c.QueryBool("deploy")
		env := ""
		if deploy {
			if env = c.Query("env"); env == "" {
				return &fault.Error{Code: fault.Invalid, Message: "deploying an imported bundle needs the environment to deploy to", Fields: map[string]string{"env": "required"}}
			}
		}
		imported, err := s.importBundle(c, c.Body(), dryRun, env, "api")
		if err != nil {
			return err
		}
		var deployed, pending []any
		for _, r := range imported.Promotions {
			if r.Deployment != nil {
				deployed = append(deployed, fiber.Map{"flow": r.Flow, "version": r.Deployment.VersionNumber})
			}
			if r.Request != nil {
				pending = append(pending, r.Request)
			}
		}
		return c.JSON(fiber.Map{"dryRun": dryRun, "changed": imported.Plan.Changed(), "plan": imported.Plan, "deployed": deployed, "pending": pending})
	}
}
