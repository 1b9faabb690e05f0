// Package static holds Crossdock's CSS, JavaScript and images, embedded in the
// binary and served at content-hashed URLs (app.3f2a1b9c.css) so browsers may
// cache them for a year and still see every change at once.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
)

//go:embed css js img
var files embed.FS

// Asset is one embedded file.
type Asset struct {
	Name        string // css/app.css
	URL         string // /static/css/app.3f2a1b9c.css
	ContentType string
	Body        []byte
}

// Assets indexes the embedded files by name and by hashed URL.
type Assets struct {
	byName map[string]*Asset
	byURL  map[string]*Asset
}

// Prefix is where assets are served.
const Prefix = "/static/"

// New hashes every embedded file. It is cheap (a few hundred KB) and done once
// at start.
func New() (*Assets, error) {
	a := &Assets{byName: map[string]*Asset{}, byURL: map[string]*Asset{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		// htmx.min.js -> htmx.min.<hash>.js: the hash goes before the last extension.
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:10] + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		as := &Asset{Name: name, URL: Prefix + hashed, ContentType: ct, Body: body}
		a.byName[name] = as
		a.byURL[as.URL] = as
		return nil
	})
	return a, err
}

// URL returns the hashed URL of the named asset ("css/app.css"). An unknown
// name is a programming error and panics at the first render, in tests.
func (a *Assets) URL(name string) string {
	as, ok := a.byName[name]
	if !ok {
		panic("static: no asset " + name)
	}
	return as.URL
}

// ByURL finds an asset by the URL it is served at.
func (a *Assets) ByURL(url string) (*Asset, bool) {
	as, ok := a.byURL[url]
	return as, ok
}
