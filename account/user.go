package account

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// User is a person who signs in to the browser UI.
type User struct {
	ID          int64
	Email       string
	Name        string
	Role        Role
	Active      bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt *time.Time
	// SessionGeneration is bumped when the user's password or role
	// changes. A browser session carries the generation it was signed in
	// with and ends when it no longer matches, so the change ends every
	// session of the user in every serve process. Not audited: it says
	// nothing about the user.
	SessionGeneration int64 `json:"-"`
}

// Can reports whether the user holds one of roles.
func (u User) Can(roles ...Role) bool {
	for _, r := range roles {
		if u.Role == r {
			return true
		}
	}
	return false
}

// NewUser is what an admin fills in to create a user.
type NewUser struct {
	Email    string
	Name     string
	Role     Role
	Password string
}

func scanUser(row pgx.Row, extra ...any) (User, error) {
	var u User
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt, &u.SessionGeneration}, extra...)...)
	return u, err
}

// NormalizeEmail trims and validates an email address.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", &fault.Error{Code: fault.Invalid, Message: "enter an email address", Fields: map[string]string{"email": "required"}}
	}
	// admin@localhost is a valid address for net/mail; we accept it on purpose.
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return "", &fault.Error{Code: fault.Invalid, Message: "“" + email + "” is not an email address", Fields: map[string]string{"email": "not an email address"}}
	}
	return email, nil
}

// UserCreate validates and stores a new user with a hashed password.
func UserCreate(ctx context.Context, db txn.DBTX, nu NewUser) (User, error) {
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(nu.Role)); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(nu.Password)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(db.QueryRow(ctx, userInsert, email, strings.TrimSpace(nu.Name), nu.Role, hash))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
		return User{}, &fault.Error{Code: fault.Conflict, Message: "a user with the email " + email + " already exists", Fields: map[string]string{"email": "already in use"}}
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// UserByID returns the user or a NotFound fault.
func UserByID(ctx context.Context, db txn.DBTX, id int64) (User, error) {
	u, err := scanUser(db.QueryRow(ctx, userByIDSelect, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fault.Errorf(fault.NotFound, "no user with id %d", id)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserList returns every user, active ones first, then by email.
func UserList(ctx context.Context, db txn.DBTX) ([]User, error) {
	rows, err := db.Query(ctx, userListSelect)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

// UserCount returns how many users exist (zero on a new installation).
func UserCount(ctx context.Context, db txn.DBTX) (int, error) {
	var n int
	err := db.QueryRow(ctx, userCountSelect).Scan(&n)
	return n, err
}

// UserUpdate changes a user's name, role and active flag. It refuses to leave
// the installation without an active admin. A new role ends the user's
// sessions (SessionGeneration); a deactivated user's sessions end anyway.
func UserUpdate(ctx context.Context, db txn.DBTX, id int64, name string, role Role, active bool) (User, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if role != RoleAdmin || !active {
		// Only demoting or deactivating an active admin can remove the last one.
		var isAdmin bool
		var others int
		err := db.QueryRow(ctx, lastAdminSelect, id).Scan(&isAdmin, &others)
		if err != nil {
			return User{}, fmt.Errorf("count admins: %w", err)
		}
		if isAdmin && others == 0 {
			return User{}, &fault.Error{Code: fault.Conflict, Message: "this is the last active admin; make another user admin first"}
		}
	}
	u, err := scanUser(db.QueryRow(ctx, userUpdate, id, strings.TrimSpace(name), role, active))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fault.Errorf(fault.NotFound, "no user with id %d", id)
	}
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

// UserSetPassword replaces a user's password and ends all their sessions
// (SessionGeneration). It returns the new generation, for a caller that
// keeps its own session on.
func UserSetPassword(ctx context.Context, db txn.DBTX, id int64, password string) (generation int64, err error) {
	hash, err := HashPassword(password)
	if err != nil {
		return 0, err
	}
	err = db.QueryRow(ctx, passwordUpdate, id, hash).Scan(&generation)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fault.Errorf(fault.NotFound, "no user with id %d", id)
	}
	if err != nil {
		return 0, fmt.Errorf("set password of user %d: %w", id, err)
	}
	return generation, nil
}

// UserByEmail returns the user with that email (any case) or NotFound.
func UserByEmail(ctx context.Context, db txn.DBTX, email string) (User, error) {
	u, err := scanUser(db.QueryRow(ctx, userByEmailSelect, strings.TrimSpace(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fault.Errorf(fault.NotFound, "no user with email %s", email)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", email, err)
	}
	return u, nil
}

// FirstAdminEmail is the account a new installation starts with.
const FirstAdminEmail = "admin@localhost"

// EnsureFirstAdmin creates admin@localhost when the installation has no users
// at all. password may be empty, in which case a random one is generated. It
// returns the password only when it created the account, so a caller can show
// it exactly once.
func EnsureFirstAdmin(ctx context.Context, db txn.DBTX, password string) (created bool, usedPassword string, err error) {
	n, err := UserCount(ctx, db)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		password = GeneratePassword()
	}
	u, err := UserCreate(ctx, db, NewUser{Email: FirstAdminEmail, Name: "Administrator", Role: RoleAdmin, Password: password})
	if fault.CodeOf(err) == fault.Conflict {
		return false, "", nil // another process won the race
	}
	if err != nil {
		return false, "", fmt.Errorf("first admin: %w", err)
	}
	if err := Audit(ctx, db, SystemActor, "user.create", "user", fmt.Sprint(u.ID), nil, u); err != nil {
		return false, "", err
	}
	return true, password, nil
}
