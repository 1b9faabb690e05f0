package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// signInAtOnce sends one sign-in per browser, all released at one moment,
// and returns the answers in browser order.
func signInAtOnce(browsers []*browser, form func(i int) url.Values) []response {
	out := make([]response, len(browsers))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, br := range browsers {
		wg.Go(func() {
			<-start
			out[i] = br.post("/login", form(i))
		})
	}
	close(start)
	wg.Wait()
	return out
}

func signInForms(t *testing.T, b *testBundle, n int) []*browser {
	browsers := make([]*browser, n)
	for i := range browsers {
		browsers[i] = b.browser(t)
		browsers[i].get("/login")
	}
	return browsers
}

// TestConcurrentWrongPasswordsGetAtMostTheLimit: 30 wrong passwords for one
// account at once get at most account.AccountFailureLimit "wrong password"
// answers; the rest are 429 with Retry-After, from the throttle or for
// want of a hashing slot. Before the attempt was reserved ahead of
// hashing, all 30 got 401.
func TestConcurrentWrongPasswordsGetAtMostTheLimit(t *testing.T) {
	t.Parallel()
	// Slots for all 30, so that only the throttle refuses.
	b := setup(t, setupOpts{passwordHashes: 30})
	b.user(t, "sam@shop.example", account.RoleSupport)
	res := signInAtOnce(signInForms(t, b, 30), func(int) url.Values {
		return url.Values{"email": {"sam@shop.example"}, "password": {"not the password"}}
	})
	counts := map[int]int{}
	for _, r := range res {
		counts[r.StatusCode]++
		if r.StatusCode == http.StatusTooManyRequests {
			require.NotEmpty(t, r.Header.Get("Retry-After"))
			require.Contains(t, r.body, "Too many failed sign-ins for this account")
		}
	}
	require.Equal(t, map[int]int{http.StatusUnauthorized: account.AccountFailureLimit, http.StatusTooManyRequests: 30 - account.AccountFailureLimit}, counts)
}

// TestPasswordHashingIsBounded: with one hashing slot, sign-ins that arrive
// while a password is being checked are answered 429 at once, with
// Retry-After and a message on the sign-in page, and leave no attempt
// behind (they were not tried).
func TestPasswordHashingIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{passwordHashes: 1})
	res := signInAtOnce(signInForms(t, b, 30), func(i int) url.Values {
		return url.Values{"email": {fmt.Sprintf("guess%d@shop.example", i)}, "password": {"not the password"}}
	})
	busy, tried := 0, 0
	for _, r := range res {
		switch r.StatusCode {
		case http.StatusTooManyRequests:
			busy++
			require.Equal(t, "1", r.Header.Get("Retry-After"))
			require.Contains(t, r.body, "Crossdock is checking too many passwords at once; try again in a second.")
			require.Contains(t, r.body, `name="password"`, "the sign-in form again")
		case http.StatusUnauthorized:
			tried++
		default:
			t.Fatalf("unexpected %d: %s", r.StatusCode, bodyGist(r.body))
		}
	}
	require.Positive(t, busy, "30 at once with one slot: some must be refused")
	var attempts int
	require.NoError(t, b.db.QueryRow(context.Background(), `select count(*) from login_attempts`).Scan(&attempts))
	require.Equal(t, tried, attempts, "only the sign-ins that got a slot were attempts")
}
