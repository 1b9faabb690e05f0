package web

import (
	"encoding/json"
	"strconv"

	"github.com/crossdock/crossdock/web/view"
)

// exceptionAfter is what the inbox's audit entries record as the state
// after an action (jobs/inbox's exceptionState).
type exceptionAfter struct {
	Status     string `json:"status"`
	AssignedTo *int64 `json:"assignedTo"`
	Resolution string `json:"resolution"`
	Action     string `json:"action"`
	Version    int    `json:"version"`
	ReplayedAs string `json:"replayedAs"`
}

// historySentence says what one entry of an exception's history did, in
// words, naming people rather than user ids ("Assigned to Sam Lee"), with a
// link to a replay's message.
func historySentence(action string, after []byte, people map[int64]string) (string, []view.Link) {
	var a exceptionAfter
	_ = json.Unmarshal(after, &a) // an entry of another shape still gets its action's sentence
	switch action {
	case "comment":
		return "Commented", nil
	case "exception.assign":
		if a.AssignedTo == nil {
			return "Unassigned", nil
		}
		who, ok := people[*a.AssignedTo]
		if !ok {
			who = "user " + strconv.FormatInt(*a.AssignedTo, 10)
		}
		return "Assigned to " + who, nil
	case "exception.retry":
		s := "Retried"
		switch a.Action {
		case "deliver again":
			s = "Retried: the delivery is sent again with a fresh retry budget"
		case "process again":
			s = "Retried: the message is processed again"
		}
		if a.Version > 0 {
			s += " on v" + strconv.Itoa(a.Version)
		}
		return s, nil
	case "exception.resolve":
		return "Resolved: " + a.Resolution, nil
	case "exception.ignore":
		return "Ignored: " + a.Resolution, nil
	case "exception.replay":
		s := "Replayed as a new message"
		if a.Version > 0 {
			s += " on v" + strconv.Itoa(a.Version)
		}
		var links []view.Link
		if a.ReplayedAs != "" {
			links = append(links, view.Link{Text: "the replay", Href: "/messages/" + a.ReplayedAs})
		}
		return s, links
	}
	return action, nil
}

// personName is how pages name a user: their name, or their e-mail.
func personName(name, email string) string {
	if name != "" {
		return name
	}
	return email
}
