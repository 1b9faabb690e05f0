package web_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

var (
	draftForm     = regexp.MustCompile(`(?s)<form[^>]*id="draft".*?</form>`)
	submitButtons = regexp.MustCompile(`<button[^>]*>`)
)

// Pressing Enter in a text field submits the form's default button, the
// first submit button in it. It must be a plain save, never a removal.
func TestEnterInTheDesignerSubmitsSaveNotARemoval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "ana@shop.example", account.RoleAnalyst)
	br := b.browser(t)
	br.signIn("ana@shop.example")
	createStorefrontFlow(t, br)

	form := draftForm.FindString(br.get("/flows/shop-orders").body)
	require.NotEmpty(t, form)
	var first string
	for _, btn := range submitButtons.FindAllString(form, -1) {
		if !strings.Contains(btn, `type="button"`) {
			first = btn
			break
		}
	}
	require.Contains(t, first, `value="save"`, "the form's default button is %s", first)
	require.NotContains(t, first, "remove")
}
