package web

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// triageRoles may act on exceptions; every signed-in role reads them.
var triageRoles = []account.Role{account.RoleAdmin, account.RoleSupport}

func canTriage(c *fiber.Ctx) bool {
	u := userOf(c)
	return u != nil && slices.Contains(triageRoles, u.Role)
}

// exceptionID reads :id; a malformed id is NotFound, since no exception can
// have it.
func exceptionID(c *fiber.Ctx) (int64, error) {
	id, err := c.ParamsInt("id")
	if err != nil || id <= 0 {
		return 0, fault.Errorf(fault.NotFound, "no exception “%s”; exception ids are numbers", c.Params("id"))
	}
	return int64(id), nil
}

// inTx runs an inbox action in one short transaction.
func (s *Server) inTx(c *fiber.Ctx, fn func(tx pgx.Tx) error) error {
	return txn.Run(c.UserContext(), s.deps.DB, fn)
}

// requestKey is a random token a form carries so a second click of the
// same form finds the bulk action the first started.
func requestKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// triageUsers are the people exceptions may be assigned to.
func (s *Server) triageUsers(c *fiber.Ctx) ([]account.User, error) {
	all, err := account.UserList(c.UserContext(), s.deps.DB)
	if err != nil {
		return nil, err
	}
	var out []account.User
	for _, u := range all {
		if u.Active && slices.Contains(triageRoles, u.Role) {
			out = append(out, u)
		}
	}
	return out, nil
}

// backToException sends the browser to the exception page with a flash.
func (s *Server) backToException(c *fiber.Ctx, id int64, msg string) error {
	s.flash(c, msg)
	return c.Redirect("/inbox/"+itoa64(id), fiber.StatusSeeOther)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
