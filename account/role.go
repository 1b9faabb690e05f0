package account

import (
	"slices"

	"github.com/crossdock/crossdock/internal/fault"
)

// Role is what a user may do. Every route names the roles it admits.
type Role string

// The roles, from most to least powerful in day-to-day terms.
const (
	RoleAdmin    Role = "admin"    // users, API keys, environments, everything
	RoleAnalyst  Role = "analyst"  // builds and publishes flows
	RoleApprover Role = "approver" // approves promotions to protected environments
	RoleSupport  Role = "support"  // triages the exception inbox, replays messages
	RoleViewer   Role = "viewer"   // reads everything a support person sees, changes nothing
)

// Roles lists every role in display order.
var Roles = []Role{RoleAdmin, RoleAnalyst, RoleApprover, RoleSupport, RoleViewer}

// AllRoles admits any signed-in user.
var AllRoles = Roles

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", &fault.Error{Code: fault.Invalid, Message: "unknown role " + quote(s) + "; choose one of admin, analyst, approver, support, viewer", Fields: map[string]string{"role": "choose a role"}}
	}
	return r, nil
}

// Description says in a few words what the role is for, for the admin pages.
func (r Role) Description() string {
	switch r {
	case RoleAdmin:
		return "manages users, API keys and environments"
	case RoleAnalyst:
		return "builds, tests and publishes flows"
	case RoleApprover:
		return "approves promotions to protected environments"
	case RoleSupport:
		return "triages exceptions and replays messages"
	case RoleViewer:
		return "reads everything, changes nothing"
	}
	return ""
}

func quote(s string) string { return "\u201c" + s + "\u201d" }
