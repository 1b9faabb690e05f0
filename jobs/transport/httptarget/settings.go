package httptarget

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

var methods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodGet}

var auths = []string{string(release.AuthNone), string(release.AuthBearer), string(release.AuthBasic), string(release.AuthHeader)}

// Fields: the endpoint, the request's headers and its credential.
func (*Transport) Fields() []transport.Field {
	return []transport.Field{
		{Name: "url", Label: "URL", Input: transport.Text, Required: true, Placeholder: "https://erp.example.com/api/orders",
			Hint: "may use {messageId}, {deliveryId}, {correlationId}, {route}, {target} and ${VAR} (an environment variable)"},
		{Name: "method", Label: "Method", Input: transport.Choice, Options: methods, Hint: "GET sends no body"},
		{Name: "headers", Label: "Headers", Input: transport.Lines, Hint: `one "Name: value" per line; not for secrets`},
		{Name: "auth", Label: "Authentication", Input: transport.Choice, Options: auths},
		{Name: "auth_header_name", Label: "Header name", Input: transport.Text, Placeholder: "X-Api-Key", Hint: `for "header"`},
		{Name: "username", Label: "Username", Input: transport.Text, Hint: `for "basic"`},
		{Name: "secret", Label: "Secret", Input: transport.Secret, Hint: "the token, password or API key; stored encrypted, never shown"},
	}
}

// Values returns the configuration as the form shows it; headers one
// "Name: value" per line, in name order.
func (*Transport) Values(cfg release.TargetConfig) map[string]string {
	headers := make([]string, 0, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers = append(headers, k+": "+v)
	}
	sort.Strings(headers)
	return map[string]string{
		"url": cfg.URLTemplate, "method": cfg.Method, "headers": strings.Join(headers, "\n"), "auth": string(cfg.Auth),
		"auth_header_name": cfg.AuthHeaderName, "username": cfg.Username,
	}
}

// Apply reads the form's fields into cfg.
func (t *Transport) Apply(cfg *release.TargetConfig, values map[string]string) map[string]string {
	problems := map[string]string{}
	cfg.URLTemplate = strings.TrimSpace(values["url"])
	cfg.Method = strings.ToUpper(strings.TrimSpace(values["method"]))
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	cfg.Headers = map[string]string{}
	var bad []string
	for _, line := range strings.Split(values["headers"], "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			bad = append(bad, "“"+line+"”")
			continue
		}
		cfg.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(bad) > 0 {
		problems["headers"] = fmt.Sprintf("each line must read Name: value, not %s", strings.Join(bad, ", "))
	}
	cfg.Auth = release.AuthKind(strings.TrimSpace(values["auth"]))
	if cfg.Auth == "" {
		cfg.Auth = release.AuthNone
	}
	cfg.AuthHeaderName = strings.TrimSpace(values["auth_header_name"])
	cfg.Username = strings.TrimSpace(values["username"])
	if s := values["secret"]; s != "" {
		cfg.Secret, cfg.KeepSecret = s, false
	} else {
		cfg.Secret, cfg.KeepSecret = "", true
	}
	for name, p := range t.Validate(cfg.Masked()) {
		if _, ok := problems[name]; !ok {
			problems[name] = p
		}
	}
	return problems
}

// Validate: an http target needs a URL its deliveries can go to, a method
// and authentication it knows, and the credential its authentication
// sends.
func (*Transport) Validate(cfg release.MaskedTargetConfig) map[string]string {
	problems := map[string]string{}
	switch u := cfg.URLTemplate; {
	case u == "":
		problems["url"] = "enter the endpoint deliveries are sent to, an http:// or https:// URL"
	case !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://"):
		problems["url"] = "“" + u + "” is not an http:// or https:// URL"
	}
	if cfg.Method != "" && !slices.Contains(methods, cfg.Method) {
		problems["method"] = "one of " + strings.Join(methods, ", ")
	}
	switch cfg.Auth {
	case release.AuthNone, "":
	case release.AuthBearer, release.AuthBasic, release.AuthHeader:
		if !cfg.HasSecret {
			problems["secret"] = fmt.Sprintf("%s authentication sends a secret; enter it", cfg.Auth)
		}
	default:
		problems["auth"] = "one of " + strings.Join(auths, ", ")
	}
	if cfg.Auth == release.AuthHeader && http.CanonicalHeaderKey(strings.TrimSpace(cfg.AuthHeaderName)) == "" {
		problems["auth_header_name"] = "name the header that carries the API key, e.g. X-Api-Key"
	}
	if cfg.Auth == release.AuthBasic && cfg.Username == "" {
		problems["username"] = "basic authentication needs a username"
	}
	return problems
}
