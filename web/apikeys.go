package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings/release"
	"github.com/crossdock/crossdock/web/view"
)

// apiKeysList shows every key (never a secret) and the create form.
func (s *Server) apiKeysList() fiber.Handler {
	return func(c *fiber.Ctx) error { return s.renderAPIKeys(c, view.APIKeysView{}) }
}

func (s *Server) renderAPIKeys(c *fiber.Ctx, v view.APIKeysView) error {
	ctx := c.UserContext()
	keys, err := account.APIKeyList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	for _, k := range keys {
		row := view.APIKeyRow{Prefix: k.Prefix, Name: k.Name, Environment: k.Environment, Flows: strings.Join(k.Flows, ", "),
			Rate: k.RatePerMinute, Manage: k.CanManage, Support: k.CanSupport, Configure: k.CanConfigure, Created: k.CreatedAt.UTC().Format("2006-01-02"), LastUsed: "never", Revoked: k.RevokedAt != nil}
		if row.Flows == "" {
			row.Flows = "all"
		}
		if k.LastUsedAt != nil {
			row.LastUsed = k.LastUsedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		v.Keys = append(v.Keys, row)
	}
	envs, err := release.EnvironmentList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	for _, e := range envs {
		v.Environments = append(v.Environments, e.Name)
	}
	return s.render(c, view.APIKeysPage(s.page(c, "API keys", "admin-api-keys"), v))
}

// apiKeyCreate mints a key and shows it on the answering page only.
func (s *Server) apiKeyCreate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		nk := account.NewAPIKey{Name: c.FormValue("name"), Environment: c.FormValue("environment"), CanManage: c.FormValue("manage") == "on", CanSupport: c.FormValue("support") == "on", CanConfigure: c.FormValue("configure") == "on"}
		for _, f := range strings.Split(c.FormValue("flows"), ",") {
			if f = strings.TrimSpace(f); f != "" {
				nk.Flows = append(nk.Flows, f)
			}
		}
		if r := strings.TrimSpace(c.FormValue("rate")); r != "" {
			n, err := strconv.Atoi(r)
			if err != nil {
				c.Status(fiber.StatusUnprocessableEntity)
				return s.renderAPIKeys(c, view.APIKeysView{Error: "The rate must be a whole number of messages a minute."})
			}
			nk.RatePerMinute = n
		}
		var k account.APIKey
		var token string
		err := txn.Run(c.UserContext(), s.deps.DB, func(tx pgx.Tx) error {
			var err error
			k, token, err = account.APIKeyCreate(c.UserContext(), tx, nk, actorOf(c))
			return err
		})
		if fe, ok := fault.As(err); ok && fe.Code == fault.Invalid {
			c.Status(fiber.StatusUnprocessableEntity)
			return s.renderAPIKeys(c, view.APIKeysView{Error: capitalize(fe.Message) + "."})
		}
		if err != nil {
			return err
		}
		return s.renderAPIKeys(c, view.APIKeysView{NewToken: token, NewPrefix: k.Prefix})
	}
}

// apiKeyRevoke revokes a key at once.
func (s *Server) apiKeyRevoke() fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := txn.Run(c.UserContext(), s.deps.DB, func(tx pgx.Tx) error {
			return account.APIKeyRevoke(c.UserContext(), tx, c.Params("prefix"), actorOf(c))
		})
		if err != nil {
			return err
		}
		s.deps.KeyCache.Forget(c.Params("prefix")) // other processes: within account.KeyCacheTTL
		s.flash(c, "Revoked "+c.Params("prefix")+".")
		return c.Redirect("/admin/api-keys", fiber.StatusSeeOther)
	}
}
