package sftp

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// The settings' names, as the form posts them and Settings stores them.
const (
	SettingHost      = "host"
	SettingPort      = "port"
	SettingUser      = "user"
	SettingHostKey   = "host_key"
	SettingDirectory = "directory"
	SettingFileName  = "file_name"
	// secretField is the form's name for the configuration's Secret: the
	// password or the private key.
	secretField = "secret"
)

// DefaultPort is SSH's.
const DefaultPort = 22

// Fields: where the server is, who logs in and how, which host key it
// must present, and where and under what name each delivery is written.
func (*Transport) Fields() []transport.Field {
	return []transport.Field{
		{Name: SettingHost, Label: "Host", Input: transport.Text, Required: true, Placeholder: "sftp.3pl.example.com",
			Hint: "the SFTP server's name or IP address"},
		{Name: SettingPort, Label: "Port", Input: transport.Text, Placeholder: "22"},
		{Name: SettingUser, Label: "User", Input: transport.Text, Required: true},
		{Name: secretField, Label: "Password or private key", Input: transport.Secret,
			Hint: "a password, or a private key in PEM (recognised by its -----BEGIN … PRIVATE KEY----- line; without a passphrase); stored encrypted, never shown"},
		{Name: SettingHostKey, Label: "Host key fingerprint", Input: transport.Text, Required: true, Placeholder: "SHA256:…",
			Hint: "as ssh-keygen -lf prints it for the server's host key (e.g. ssh-keyscan HOST | ssh-keygen -lf -); a server presenting another key is refused"},
		{Name: SettingDirectory, Label: "Remote directory", Input: transport.Text, Required: true, Placeholder: "/inbound/orders",
			Hint: "where files are written; it must exist"},
		{Name: SettingFileName, Label: "File name", Input: transport.Text, Required: true, Placeholder: `orders-{{date "20060102-150405"}}-{{seq}}.json`,
			Hint: `a Go template with {{seq}} (the delivery's id, the same on every attempt), {{date "layout"}} (when the message was received, UTC), {{messageId}}, {{deliveryId}}, {{correlationId}}, {{route}}, {{target}}`},
	}
}

// Values returns the stored settings, for the form.
func (*Transport) Values(cfg release.TargetConfig) map[string]string {
	out := map[string]string{}
	for _, k := range []string{SettingHost, SettingPort, SettingUser, SettingHostKey, SettingDirectory, SettingFileName} {
		out[k] = cfg.Settings[k]
	}
	return out
}

// fingerprintRE is a SHA256 fingerprint as OpenSSH prints it: unpadded
// base64 of 32 bytes.
var fingerprintRE = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]{43}`)

// Apply reads the form into cfg's settings and secret. A whole line of
// ssh-keygen -lf output is accepted as the fingerprint: the SHA256 part
// is kept.
func (t *Transport) Apply(cfg *release.TargetConfig, values map[string]string) map[string]string {
	s := map[string]string{}
	for _, k := range []string{SettingHost, SettingPort, SettingUser, SettingDirectory, SettingFileName} {
		if v := strings.TrimSpace(values[k]); v != "" {
			s[k] = v
		}
	}
	if fp := strings.TrimSpace(values[SettingHostKey]); fp != "" {
		if m := fingerprintRE.FindString(fp); m != "" {
			fp = m
		}
		s[SettingHostKey] = fp
	}
	cfg.Settings = s
	if v := values[secretField]; v != "" {
		cfg.Secret, cfg.KeepSecret = v, false
	} else {
		cfg.Secret, cfg.KeepSecret = "", true
	}
	return t.Validate(cfg.Masked())
}

// Validate checks a stored configuration: every required setting, a
// port, a fingerprint in the form OpenSSH prints, a directory path, a
// file name template that names each delivery's file apart, and a stored
// password or key.
func (*Transport) Validate(cfg release.MaskedTargetConfig) map[string]string {
	problems := map[string]string{}
	st := cfg.Settings
	switch h := st[SettingHost]; {
	case h == "":
		problems[SettingHost] = "enter the SFTP server's host name or IP address"
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/ @"):
		problems[SettingHost] = fmt.Sprintf("“%s” is not a host name: enter the name alone (the port and user have their own fields)", h)
	}
	if p := st[SettingPort]; p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			problems[SettingPort] = fmt.Sprintf("“%s” is not a port: a number from 1 to 65535 (SSH's is 22)", p)
		}
	}
	if st[SettingUser] == "" {
		problems[SettingUser] = "enter the user Crossdock logs in as"
	}
	if !cfg.HasSecret {
		problems[secretField] = "enter the user's password or private key"
	}
	switch fp := st[SettingHostKey]; {
	case fp == "":
		problems[SettingHostKey] = "enter the server's host key fingerprint (SHA256:…, as ssh-keygen -lf prints it); Crossdock refuses servers it cannot recognise"
	case !fingerprintRE.MatchString(fp) || len(fp) != len("SHA256:")+43:
		problems[SettingHostKey] = fmt.Sprintf("“%s” is not a SHA256 fingerprint: it reads SHA256: and 43 characters, as ssh-keygen -lf prints it", fp)
	}
	switch d := st[SettingDirectory]; {
	case d == "":
		problems[SettingDirectory] = "enter the remote directory files are written to, e.g. /inbound/orders (. for the login directory)"
	case strings.ContainsRune(d, 0):
		problems[SettingDirectory] = "the directory contains a NUL character"
	}
	if _, err := checkNameTemplate(st[SettingFileName]); err != "" {
		problems[SettingFileName] = err
	}
	return problems
}

// settings are a configuration's settings, read for sending.
type settings struct {
	host, user, hostKey, dir string
	port                     int
	name                     *template.Template
}

// addr is host:port.
func (s settings) addr() string { return joinHostPort(s.host, s.port) }

// readSettings reads cfg's settings; a stored configuration has passed
// Validate, so a problem here is a configuration the store let through
// and reads as such.
func readSettings(cfg release.TargetConfig) (settings, error) {
	if p := (&Transport{}).Validate(cfg.Masked()); len(p) > 0 {
		return settings{}, fmt.Errorf("the target's sftp configuration is incomplete: %s", strings.Join(problemList(p), "; "))
	}
	st := cfg.Settings
	s := settings{host: st[SettingHost], user: st[SettingUser], hostKey: st[SettingHostKey], dir: st[SettingDirectory], port: DefaultPort}
	if p := st[SettingPort]; p != "" {
		s.port, _ = strconv.Atoi(p)
	}
	s.name, _ = checkNameTemplate(st[SettingFileName])
	return s, nil
}

func problemList(p map[string]string) []string {
	out := make([]string, 0, len(p))
	for _, f := range (&Transport{}).Fields() {
		if v, ok := p[f.Name]; ok {
			out = append(out, f.Label+": "+v)
		}
	}
	return out
}

// nameFuncs are the file name template's functions; parse-time stand-ins
// that nameData replaces for each delivery.
var nameFuncs = template.FuncMap{
	"date": func(string) string { return "" }, "seq": func() string { return "" }, "messageId": func() string { return "" },
	"deliveryId": func() string { return "" }, "correlationId": func() string { return "" }, "route": func() string { return "" },
	"target": func() string { return "" },
}

// checkNameTemplate parses a file name template and renders it for two
// made-up deliveries: it must give each a valid file name, and different
// names, or the second delivery's file would replace the first's.
func checkNameTemplate(src string) (*template.Template, string) {
	if src == "" {
		return nil, `enter the file name template, e.g. orders-{{date "20060102-150405"}}-{{seq}}.json`
	}
	tpl, err := template.New("file name").Option("missingkey=error").Funcs(nameFuncs).Parse(src)
	if err != nil {
		return nil, "the template does not parse: " + strings.TrimPrefix(err.Error(), "template: ")
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var names [2]string
	for i := range names {
		d := transport.Delivery{ID: uuid.New(), MessageID: uuid.New(), Route: "route", Target: "target", CorrelationID: "corr-" + strconv.Itoa(i)}
		n, err := render(tpl, d, at)
		if err != nil {
			return nil, err.Error()
		}
		names[i] = n
	}
	if names[0] == names[1] {
		return nil, "every delivery would get the file name “" + names[0] + "”, each replacing the one before: use {{seq}} (or {{deliveryId}})"
	}
	return tpl, ""
}

// render fills the file name template for d; at is when its message was
// received. Values are reduced to letters, digits, '.', '-' and '_' so
// that none (a correlation id is the sender's) can reach another
// directory.
func render(tpl *template.Template, d transport.Delivery, at time.Time) (string, error) {
	var b bytes.Buffer
	err := template.Must(tpl.Clone()).Funcs(template.FuncMap{
		"date":          func(layout string) string { return safe(at.UTC().Format(layout)) },
		"seq":           func() string { return d.ID.String() },
		"messageId":     func() string { return d.MessageID.String() },
		"deliveryId":    func() string { return d.ID.String() },
		"correlationId": func() string { return safe(d.CorrelationID) },
		"route":         func() string { return safe(d.Route) },
		"target":        func() string { return safe(d.Target) },
	}).Execute(&b, nil)
	if err != nil {
		return "", fmt.Errorf("the file name template fails: %s", strings.TrimPrefix(err.Error(), "template: "))
	}
	name := b.String()
	switch {
	case name == "" || name == "." || name == "..":
		return "", fmt.Errorf("the file name template gives “%s”, which is not a file name", name)
	case strings.ContainsAny(name, "/\\\x00\n\r"):
		return "", fmt.Errorf("the file name template gives “%s”: a file name has no / (put the path in the remote directory), \\ or line breaks", name)
	case len(name) > 255:
		return "", fmt.Errorf("the file name template gives a name of %d bytes; at most 255", len(name))
	}
	return name, nil
}

// safe keeps letters, digits, '.', '-' and '_' and writes '_' for
// anything else; a leading dot becomes '_' too, so no value hides a file
// or climbs a directory.
func safe(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && i > 0:
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// receivedAt is when d's message was received: message ids are
// time-ordered (UUIDv7) and a delivery's id begins with its message's
// time (store.DeliveryID), so every attempt of a delivery, before and
// after a crash, names the same file.
func receivedAt(d transport.Delivery) time.Time {
	id := d.MessageID
	if id.Version() != 7 {
		id = d.ID
	}
	ms := int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
	return time.UnixMilli(ms).UTC()
}

// FileName is the name d's file is written under in cfg's directory.
func FileName(cfg release.TargetConfig, d transport.Delivery) (string, error) {
	tpl, problem := checkNameTemplate(cfg.Settings[SettingFileName])
	if problem != "" {
		return "", fmt.Errorf("%s", problem)
	}
	return render(tpl, d, receivedAt(d))
}
