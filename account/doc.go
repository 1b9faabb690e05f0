// Package account holds the people and credentials of a Crossdock
// installation: users and their roles, password hashing, sign-in throttling
// and the audit log every other package writes to. It stands beside the
// layered packages because both web and jobs need it.
package account
