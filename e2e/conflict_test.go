package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTwoAnalystsEditTheSameDraft: both open revision 1; the first save
// wins, the second is refused with the conflict message, keeps the second
// analyst's edit in the form and lists the first one's change; reloading
// shows the first analyst's work — nothing is lost or overwritten.
func TestTwoAnalystsEditTheSameDraft(t *testing.T) {
	t.Parallel()
	p := startProgram(t, "CROSSDOCK_ADMIN_PASSWORD=admin password for e2e")
	p.addUser(t, "ana@shop.example", "analyst", "analyst password ana")
	p.addUser(t, "kim@shop.example", "analyst", "analyst password kim")
	ana, kim := newBrowser(t), newBrowser(t)
	base := p.baseURL

	signIn(t, ana, base, "ana@shop.example", "analyst password ana")
	must(t, ana, "create a flow",
		chromedp.WaitVisible(chromedp.CSS("#create-flow")),
		chromedp.SendKeys(chromedp.CSS("#flow-name"), "Returns"),
		chromedp.SetValue(chromedp.CSS("#flow-template"), "return-to-erp-credit-memo"),
		chromedp.Click(chromedp.CSS(`#create-flow button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	signIn(t, kim, base, "kim@shop.example", "analyst password kim")
	must(t, kim, "open the same draft", chromedp.Navigate(base+"/flows/returns"), chromedp.WaitVisible(chromedp.CSS("#draft")))

	const msg = `input[name="f:/validation/0/message"]`
	must(t, kim, "kim edits and saves first",
		typeInto(msg, "KIM: every return needs a reason"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
	)
	waitText(t, kim, ".alert-ok", "Saved draft revision 2.")

	must(t, ana, "ana edits the same field and saves",
		typeInto(msg, "ANA: a reason is required"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#conflict")),
	)
	waitText(t, ana, "#conflict", "kim@shop.example saved this draft")
	waitText(t, ana, "#conflict", "KIM: every return needs a reason")
	// The difference reads as a comparison: the part, theirs beside yours.
	waitText(t, ana, "#conflict .change-group", "Validation rules")
	// (column headings are shown in capitals)
	waitText(t, ana, "#conflict thead", "THEIRS")
	waitText(t, ana, "#conflict thead", "YOURS")
	waitText(t, ana, "#conflict tbody", "ANA: a reason is required")
	mine, err := chromedp.Run(ana, chromedp.Value(chromedp.CSS(msg)))
	if err != nil || mine != "ANA: a reason is required" {
		t.Fatalf("after the refusal ana's edit reads %q (%v), want it kept", mine, err)
	}

	must(t, ana, "reload their version", chromedp.Click(chromedp.CSS("#reload")), chromedp.WaitVisible(chromedp.CSS("#draft")))
	now, err := chromedp.Run(ana, chromedp.Value(chromedp.CSS(msg)))
	if err != nil || !strings.HasPrefix(now, "KIM:") {
		t.Fatalf("after reloading the draft reads %q (%v), want kim's saved text", now, err)
	}
}
