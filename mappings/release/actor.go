package release

import (
	"strings"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
)

// actorKind says what sort of principal acts.
type actorKind int

const (
	kindUser actorKind = iota + 1
	kindKey
	kindCLI
	kindSystem
)

// Actor is who asks for a release operation, with what the policy needs to
// decide: a user's role, an API key's environment, flows and permissions.
// Build one with User, Key, CLI or System; the zero Actor may do nothing.
type Actor struct {
	kind    actorKind
	userID  int64
	email   string
	role    account.Role
	key     account.APIKey
	address string
}

// User is a signed-in person acting from address (the client IP).
func User(u account.User, address string) Actor {
	return Actor{kind: kindUser, userID: u.ID, email: u.Email, role: u.Role, address: address}
}

// Key is a system calling the API with an API key from address.
func Key(k account.APIKey, address string) Actor {
	return Actor{kind: kindKey, email: "apikey " + k.Prefix, key: k, address: address}
}

// CLI is the operator of the command line: someone holding DATABASE_URL,
// with no user account. It promotes like an analyst (a protected
// environment gets a promotion request) and never approves or rolls back.
func CLI() Actor { return Actor{kind: kindCLI, email: "cli"} }

// System is Crossdock acting by itself under name (the demo seed): it may
// promote to unprotected environments only.
func System(name string) Actor { return Actor{kind: kindSystem, email: name} }

// Name is how the audit log and the deployment history name the actor.
func (a Actor) Name() string { return a.email }

func (a Actor) audit() account.Actor {
	return account.Actor{UserID: a.userID, Email: a.email, Address: a.address}
}

func (a Actor) editor() mappings.Editor { return mappings.Editor{UserID: a.userID, Email: a.email} }

func (a Actor) hasRole(roles ...account.Role) bool {
	if a.kind != kindUser {
		return false
	}
	for _, r := range roles {
		if a.role == r {
			return true
		}
	}
	return false
}

// keyOn refuses a key outside its environment, its flows or without the
// manage permission.
func (a Actor) keyOn(env Environment, flow string, doing string) error {
	k := a.key
	if !k.CanManage {
		return fault.Errorf(fault.Forbidden, "the API key %s may only post events; %s needs a key created with the manage permission", k.Prefix, doing)
	}
	if k.Environment != env.Name {
		return fault.Errorf(fault.Forbidden, "the API key %s belongs to environment %s; %s needs a key of %s", k.Prefix, k.Environment, doing, env.Name)
	}
	if flow != "" && !k.AllowsFlow(flow) {
		return fault.Errorf(fault.Forbidden, "the API key %s is limited to %s; not %s", k.Prefix, strings.Join(k.Flows, ", "), flow)
	}
	return nil
}

// MayPromote says whether the actor may deploy or promote flow to env
// (Forbidden, saying why, when not); a protected environment then gets a
// request, never a direct switch. Pages use it to offer only what works.
func (a Actor) MayPromote(env Environment, flow string) error {
	doing := "promoting to " + env.Name
	switch a.kind {
	case kindUser:
		if a.hasRole(account.RoleAdmin, account.RoleAnalyst, account.RoleApprover) {
			return nil
		}
		return fault.Errorf(fault.Forbidden, "%s needs the admin, analyst or approver role; you are signed in as %s", doing, a.role)
	case kindKey:
		return a.keyOn(env, flow, doing)
	case kindCLI:
		return nil
	case kindSystem:
		if !env.Protected {
			return nil
		}
		return fault.Errorf(fault.Forbidden, "%s is protected: only a person's promotion request, approved by another, changes what runs there", env.Name)
	}
	return fault.Errorf(fault.Forbidden, "%s needs a signed-in user or an API key", doing)
}

// MayRollback says whether the actor may roll flow back in env: analysts
// and manage keys in unprotected environments, approvers and admins
// anywhere.
func (a Actor) MayRollback(env Environment, flow string) error {
	if env.Protected {
		if a.hasRole(account.RoleAdmin, account.RoleApprover) {
			return nil
		}
		return fault.Errorf(fault.Forbidden, "rolling back %s needs the approver or admin role: it is protected", env.Name)
	}
	switch {
	case a.hasRole(account.RoleAdmin, account.RoleAnalyst, account.RoleApprover):
		return nil
	case a.kind == kindKey:
		return a.keyOn(env, flow, "rolling back "+env.Name)
	}
	return fault.Errorf(fault.Forbidden, "rolling back %s needs the admin, analyst or approver role", env.Name)
}

// MayDecide says whether the actor may approve or reject promotion
// requests: approvers and admins, never keys or the command line (that it
// is not their own request is checked with the request).
func (a Actor) MayDecide() error {
	if a.hasRole(account.RoleAdmin, account.RoleApprover) {
		return nil
	}
	return fault.Errorf(fault.Forbidden, "approving or rejecting a promotion needs the approver or admin role; API keys and the command line never decide")
}

// MayImport says whether the actor may import a bundle of flows: admins,
// analysts, manage keys whose flows cover them, the command line.
func (a Actor) MayImport(flows []string) error {
	switch a.kind {
	case kindUser:
		if a.hasRole(account.RoleAdmin, account.RoleAnalyst) {
			return nil
		}
		return fault.Errorf(fault.Forbidden, "importing a bundle needs the admin or analyst role; you are signed in as %s", a.role)
	case kindKey:
		if !a.key.CanManage {
			return fault.Errorf(fault.Forbidden, "the API key %s may only post events; importing a bundle needs a key created with the manage permission", a.key.Prefix)
		}
		for _, f := range flows {
			if !a.key.AllowsFlow(f) {
				return fault.Errorf(fault.Forbidden, "the API key %s is limited to %s; not %s", a.key.Prefix, strings.Join(a.key.Flows, ", "), f)
			}
		}
		return nil
	case kindCLI:
		return nil
	}
	return fault.Errorf(fault.Forbidden, "importing a bundle needs a person, a manage key or the command line")
}

// isRequester reports whether a filed the request.
func (a Actor) isRequester(r PromotionRequest) bool {
	return (r.RequestedByID != nil && a.userID != 0 && *r.RequestedByID == a.userID) || strings.EqualFold(r.RequestedByEmail, a.email)
}

// AuditActor is the actor as the audit log records it, for entries the
// caller writes itself (a flow imported before a promotion).
func (a Actor) AuditActor() account.Actor { return a.audit() }
