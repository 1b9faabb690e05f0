package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const promoteUsage = `Usage:
  crossdock promote --url https://crossdock.example.com --api-key KEY --flow SLUG [--version N] --to ENV [--reason TEXT] [--json]

Promotes a flow version on a running Crossdock through its API, for CI
pipelines. The API key needs the manage permission and must belong to the
target environment (Admin → API keys). --version defaults to what the
previous environment runs. CROSSDOCK_URL and CROSSDOCK_API_KEY may stand in
for --url and --api-key (keep the key out of the command line in CI).

Exit status:
  0  deployed, or the environment already runs that version
  3  waiting for an approver (protected environment); the request id is printed
  4  refused by the gates (a target or variable missing there, a failing test case)
  1  anything else (unreachable, bad key, unknown flow or environment)
  2  wrong usage
The last line of output is always "result=<deployed|unchanged|pending|refused|error> …".
`

// Exit statuses of crossdock promote.
const (
	promotePending = 3
	promoteRefused = 4
)

func runPromote(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("promote", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, promoteUsage); fs.PrintDefaults() }
	base := fs.String("url", getenv("CROSSDOCK_URL"), "Crossdock's base URL (env CROSSDOCK_URL)")
	key := fs.String("api-key", getenv("CROSSDOCK_API_KEY"), "an API key with the manage permission (env CROSSDOCK_API_KEY)")
	flow := fs.String("flow", "", "the flow's slug")
	version := fs.Int("version", 0, "the version to promote (default: what the previous environment runs)")
	to := fs.String("to", "", "the environment to promote to")
	reason := fs.String("reason", "", "why, for the deployment history")
	asJSON := fs.Bool("json", false, "print the API's JSON answer instead of lines")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *key == "" || *flow == "" || *to == "" {
		fs.Usage()
		return exitError{2}
	}
	client := &http.Client{Timeout: *timeout}
	api := strings.TrimRight(*base, "/") + "/api/v1/flows/" + url.PathEscape(*flow)
	call := func(method, u string, body any) (int, []byte, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+*key)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
		return res.StatusCode, data, err
	}
	fail := func(format string, a ...any) error {
		fmt.Fprintf(stdout, "result=error "+format+"\n", a...)
		return exitError{1}
	}

	n := *version
	if n == 0 {
		status, data, err := call(http.MethodGet, api+"/promotions/preview?to="+url.QueryEscape(*to), nil)
		if err != nil {
			return fail("%v", err)
		}
		if status != http.StatusOK {
			return fail("%s", problemDetail(status, data))
		}
		var pv struct{ Version int }
		_ = json.Unmarshal(data, &pv)
		n = pv.Version
		fmt.Fprintf(stdout, "version: v%d (what the previous environment runs)\n", n)
	}
	status, data, err := call(http.MethodPost, api+"/promotions", map[string]any{"version": n, "to": *to, "reason": *reason})
	if err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		stdout.Write(append(bytes.TrimSpace(data), '\n'))
	}
	var out struct {
		Status     string
		Message    string
		Deployment struct{ ID int64 }
		Request    struct{ ID int64 }
		Gates      struct {
			Passed   bool
			Failures []string
			Tests    []struct{ Passed bool }
		}
		Detail string
	}
	_ = json.Unmarshal(data, &out)
	switch {
	case status == http.StatusCreated:
		if !*asJSON {
			fmt.Fprintf(stdout, "gates: passed (%d test case%s)\n", len(out.Gates.Tests), plural(len(out.Gates.Tests)))
		}
		fmt.Fprintf(stdout, "result=deployed flow=%s version=%d env=%s deployment=%d\n", *flow, n, *to, out.Deployment.ID)
		return nil
	case status == http.StatusAccepted:
		if !*asJSON {
			fmt.Fprintln(stdout, out.Message)
		}
		fmt.Fprintf(stdout, "result=pending flow=%s version=%d env=%s request=%d\n", *flow, n, *to, out.Request.ID)
		return exitError{promotePending}
	case status == http.StatusUnprocessableEntity && len(out.Gates.Failures) > 0:
		if !*asJSON {
			for _, f := range out.Gates.Failures {
				fmt.Fprintln(stdout, "gate failed: "+f)
			}
		}
		fmt.Fprintf(stdout, "result=refused flow=%s version=%d env=%s failures=%d\n", *flow, n, *to, len(out.Gates.Failures))
		return exitError{promoteRefused}
	case status == http.StatusConflict:
		// Already running that version is success for a pipeline run twice.
		ps, pdata, perr := call(http.MethodGet, api+"/promotions/preview?to="+url.QueryEscape(*to)+"&version="+strconv.Itoa(n), nil)
		var pv struct{ CurrentVersion *int }
		if perr == nil && ps == http.StatusOK && json.Unmarshal(pdata, &pv) == nil && pv.CurrentVersion != nil && *pv.CurrentVersion == n {
			fmt.Fprintf(stdout, "result=unchanged flow=%s version=%d env=%s\n", *flow, n, *to)
			return nil
		}
		return fail("%s", problemDetail(status, data))
	default:
		return fail("%s", problemDetail(status, data))
	}
}

// problemDetail is the detail of a problem document, or the status.
func problemDetail(status int, data []byte) string {
	var p struct{ Detail string }
	if json.Unmarshal(data, &p) == nil && p.Detail != "" {
		return fmt.Sprintf("status=%d %s", status, p.Detail)
	}
	return fmt.Sprintf("status=%d %s", status, http.StatusText(status))
}
