package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

// A request that changes nothing in the session must not write back the
// values it loaded over what a concurrent request saved meanwhile. It did
// whenever an idle timeout was set (scs then marks every loaded session
// modified): the designer's live preview, sent as the analyst clicked
// Save, erased Save's notice (an e2e test caught it under load).
func TestAnUnchangedSessionDoesNotOverwriteAConcurrentWrite(t *testing.T) {
	t.Parallel()
	sm := scs.New()
	sm.Store = memstore.New()
	sm.IdleTimeout, sm.Lifetime = 30*time.Minute, time.Hour
	sm.Cookie.Name = "s"
	s := &Server{deps: Deps{Sessions: sm}}

	loaded, release := make(chan struct{}), make(chan struct{})
	app := fiber.New()
	app.Use(s.loadSession())
	app.Get("/start", func(c *fiber.Ctx) error { sm.Put(c.UserContext(), "user_id", 7); return nil })
	app.Get("/preview", func(c *fiber.Ctx) error { close(loaded); <-release; return nil })
	app.Get("/save", func(c *fiber.Ctx) error { s.flash(c, "Saved draft revision 3."); return nil })
	app.Get("/page", func(c *fiber.Ctx) error {
		return c.SendString(sm.PopString(c.UserContext(), sessionFlash) + "|" + sm.Token(c.UserContext()))
	})

	do := func(path, cookie string) *http.Response {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		res, err := app.Test(req, -1)
		require.NoError(t, err)
		return res
	}
	var cookie string
	for _, ck := range do("/start", "").Cookies() {
		cookie = ck.Name + "=" + ck.Value
	}
	require.NotEmpty(t, cookie)

	preview := make(chan *http.Response)
	go func() { preview <- do("/preview", cookie) }()
	<-loaded // the preview has loaded the session (no notice in it yet)
	do("/save", cookie)
	close(release) // and finishes after Save's commit
	<-preview

	res := do("/page", cookie)
	body := make([]byte, 256)
	n, _ := res.Body.Read(body)
	got := string(body[:n])
	require.True(t, strings.HasPrefix(got, "Saved draft revision 3.|"), "the next page showed %q", got)
	// The notice is shown once.
	res = do("/page", cookie)
	n, _ = res.Body.Read(body)
	require.True(t, strings.HasPrefix(string(body[:n]), "|"))
}
