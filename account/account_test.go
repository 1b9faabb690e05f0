package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
)

const goodPassword = "correct horse battery"

func TestUserCreateValidates(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()

	u, err := account.UserCreate(ctx, db, account.NewUser{Email: " Ana@Shop.example ", Role: account.RoleAnalyst, Password: goodPassword})
	require.NoError(t, err)
	require.Equal(t, "Ana@Shop.example", u.Email)
	require.True(t, u.Active)

	cases := []struct {
		name string
		in   account.NewUser
		code fault.Code
		msg  string
	}{
		{"duplicate email any case", account.NewUser{Email: "ana@shop.example", Role: account.RoleViewer, Password: goodPassword}, fault.Conflict, "already exists"},
		{"bad email", account.NewUser{Email: "not-an-email", Role: account.RoleViewer, Password: goodPassword}, fault.Invalid, "is not an email address"},
		{"empty email", account.NewUser{Email: " ", Role: account.RoleViewer, Password: goodPassword}, fault.Invalid, "enter an email"},
		{"bad role", account.NewUser{Email: "x@shop.example", Role: "root", Password: goodPassword}, fault.Invalid, "unknown role"},
		{"short password", account.NewUser{Email: "y@shop.example", Role: account.RoleViewer, Password: "short"}, fault.Invalid, "at least 12"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := account.UserCreate(ctx, db, tc.in)
			require.Error(t, err)
			require.Equal(t, tc.code, fault.CodeOf(err))
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	u, err := account.UserCreate(ctx, db, account.NewUser{Email: "sam@shop.example", Role: account.RoleSupport, Password: goodPassword})
	require.NoError(t, err)

	got, err := account.Authenticate(ctx, db, "SAM@shop.example", goodPassword, "10.0.0.1", now)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	require.NotNil(t, got.LastLoginAt)

	_, err = account.Authenticate(ctx, db, "sam@shop.example", "wrong password!!", "10.0.0.1", now)
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
	_, err2 := account.Authenticate(ctx, db, "nobody@shop.example", goodPassword, "10.0.0.1", now)
	require.Equal(t, err.Error(), err2.Error(), "unknown email and wrong password must read the same")

	_, err = account.UserUpdate(ctx, db, u.ID, "", account.RoleSupport, false)
	require.NoError(t, err)
	_, err = account.Authenticate(ctx, db, "sam@shop.example", goodPassword, "10.0.0.1", now)
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
	require.Contains(t, err.Error(), "deactivated")
}

func TestAuthenticateThrottlesPerAccount(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	_, err := account.UserCreate(ctx, db, account.NewUser{Email: "kim@shop.example", Role: account.RoleViewer, Password: goodPassword})
	require.NoError(t, err)

	for i := range account.AccountFailureLimit {
		_, err := account.Authenticate(ctx, db, "kim@shop.example", "wrong password!!", "10.0.0.2", now.Add(time.Duration(i)*time.Second))
		require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
	}
	// Even the right password is refused while throttled, from any address.
	_, err = account.Authenticate(ctx, db, "kim@shop.example", goodPassword, "10.9.9.9", now.Add(time.Minute))
	fe, ok := fault.As(err)
	require.True(t, ok)
	require.Equal(t, fault.TooMany, fe.Code)
	require.Contains(t, fe.Message, "try again in 14 minutes")
	require.Positive(t, fe.RetryAfterSeconds)

	// Another account from the same address is not affected.
	_, err = account.Authenticate(ctx, db, "other@shop.example", "whatever password", "10.0.0.2", now.Add(time.Minute))
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))

	// After the window the account signs in again.
	_, err = account.Authenticate(ctx, db, "kim@shop.example", goodPassword, "10.0.0.2", now.Add(account.ThrottleWindow+time.Minute))
	require.NoError(t, err)
}

func TestAuthenticateThrottlesPerAddress(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	_, err := account.UserCreate(ctx, db, account.NewUser{Email: "lee@shop.example", Role: account.RoleViewer, Password: goodPassword})
	require.NoError(t, err)
	for i := range account.AddressFailureLimit {
		_, _ = account.Authenticate(ctx, db, "guess"+string(rune('a'+i))+"@shop.example", "nope nope nope", "192.0.2.7", now)
	}
	_, err = account.Authenticate(ctx, db, "lee@shop.example", goodPassword, "192.0.2.7", now)
	require.Equal(t, fault.TooMany, fault.CodeOf(err))
	require.Contains(t, err.Error(), "network address")
	_, err = account.Authenticate(ctx, db, "lee@shop.example", goodPassword, "192.0.2.8", now)
	require.NoError(t, err)
}

func TestUserUpdateKeepsAnAdmin(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	created, pw, err := account.EnsureFirstAdmin(ctx, db, "")
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, pw, 24)
	created, _, err = account.EnsureFirstAdmin(ctx, db, "")
	require.NoError(t, err)
	require.False(t, created, "second start must not create or reveal anything")

	admin, err := account.UserByEmail(ctx, db, account.FirstAdminEmail)
	require.NoError(t, err)
	_, err = account.UserUpdate(ctx, db, admin.ID, "", account.RoleViewer, true)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
	_, err = account.UserUpdate(ctx, db, admin.ID, "", account.RoleAdmin, false)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
	_, err = account.UserUpdate(ctx, db, 999999, "", account.RoleAdmin, true)
	require.Equal(t, fault.NotFound, fault.CodeOf(err))

	entries, err := account.AuditList(ctx, db, account.AuditFilter{Action: "user."})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "system", entries[0].ActorEmail)
	require.NotContains(t, string(entries[0].After), pw)
}

func TestAuditListFilters(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := account.WithRequestID(context.Background(), "req-1")
	actor := account.Actor{Email: "ana@shop.example", Address: "10.0.0.1"}
	require.NoError(t, account.Audit(ctx, db, actor, "user.create", "user", "1", nil, map[string]string{"email": "a@b.c"}))
	require.NoError(t, account.Audit(ctx, db, actor, "session.login", "user", "1", nil, nil))
	require.NoError(t, account.Audit(ctx, db, account.SystemActor, "user_x.create", "user", "2", nil, nil))

	all, err := account.AuditList(ctx, db, account.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Equal(t, "user_x.create", all[0].Action, "newest first")
	require.Equal(t, "req-1", all[0].RequestID)

	// "_" in a filter is a literal, not a LIKE wildcard.
	users, err := account.AuditList(ctx, db, account.AuditFilter{Action: "user."})
	require.NoError(t, err)
	require.Len(t, users, 1)
	byActor, err := account.AuditList(ctx, db, account.AuditFilter{Actor: "ANA@"})
	require.NoError(t, err)
	require.Len(t, byActor, 2)
	page, err := account.AuditList(ctx, db, account.AuditFilter{BeforeID: all[0].ID, Limit: 1})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, all[1].ID, page[0].ID)
	sqlish, err := account.AuditList(ctx, db, account.AuditFilter{Actor: "'; drop table users; --"})
	require.NoError(t, err)
	require.Empty(t, sqlish)
}
