package web

import (
	"bytes"
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// FlowTargetNamesJSON is a flow's local target names in an environment:
// definition target name → the environment target it reaches.
type FlowTargetNamesJSON struct {
	Environment string            `json:"environment"`
	Flow        string            `json:"flow"`
	Targets     map[string]string `json:"targets"`
}

// apiFlowTargetNames is a flow's local target names in an environment.
func (s *Server) apiFlowTargetNames() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		f, err := mappings.FlowBySlug(c.UserContext(), s.deps.DB, c.Params("slug"))
		if err != nil {
			return err
		}
		names, err := release.FlowTargetNames(c.UserContext(), s.deps.DB, env.ID, f.ID)
		if err != nil {
			return err
		}
		return c.JSON(FlowTargetNamesJSON{Environment: env.Name, Flow: f.Slug, Targets: names})
	}
}

// maxFlowTargetNames bounds the names a body may give, before any is
// read: a definition has at most as many targets.
const maxFlowTargetNames = 64

// apiFlowTargetNamesPut replaces a flow's local target names in an
// environment through release.SetFlowTargetNames: {"targets": {"erp":
// "erp-eu"}}; {"targets": {}} removes them. Problems answer 422 by name.
func (s *Server) apiFlowTargetNamesPut() fiber.Handler {
	return func(c *fiber.Ctx) error {
		env, err := s.configurableEnv(c)
		if err != nil {
			return err
		}
		f, err := mappings.FlowBySlug(c.UserContext(), s.deps.DB, c.Params("slug"))
		if err != nil {
			return err
		}
		var in struct {
			Targets map[string]string `json:"targets"`
		}
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || in.Targets == nil {
			return &fault.Error{Code: fault.Malformed, Fields: map[string]string{"targets": "required"},
				Message: `the body must be JSON like {"targets": {"erp": "erp-eu"}}: the flow's target name, then the environment target it reaches`}
		}
		if len(in.Targets) > maxFlowTargetNames {
			return &fault.Error{Code: fault.Invalid, Fields: map[string]string{"targets": "at most 64"},
				Message: "a flow gives at most 64 local target names"}
		}
		if err := release.SetFlowTargetNames(c.UserContext(), s.deps.DB, releaseActor(c), env, f, in.Targets); err != nil {
			return err
		}
		return c.JSON(FlowTargetNamesJSON{Environment: env.Name, Flow: f.Slug, Targets: in.Targets})
	}
}
