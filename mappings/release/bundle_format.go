package release

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// BundleFormat names the bundle format; a bundle of another format is
// refused.
const BundleFormat = "crossdock-bundle/1"

// Bundle carries flows and their versions from one Crossdock installation
// to another. Each version's definition includes its lookup snapshots and
// test cases; its checksum is the sha256 of the canonical definition, the
// same on both sides. Configuration (targets, variables, secrets, keys)
// never travels. With a promotion key the bundle carries an HMAC-SHA256
// signature over everything else in it.
type Bundle struct {
	Format    string       `json:"format"`
	CreatedAt time.Time    `json:"createdAt"`
	Source    string       `json:"source,omitempty"`
	Flows     []BundleFlow `json:"flows"`
	// Signature is "hmac-sha256:<hex>" over the bundle's JSON without it.
	Signature string `json:"signature,omitempty"`
}

// BundleFlow is one flow of a bundle with its versions, oldest first.
type BundleFlow struct {
	Slug         string          `json:"slug"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	SourceSystem string          `json:"sourceSystem,omitempty"`
	Versions     []BundleVersion `json:"versions"`
}

// BundleVersion is one immutable version.
type BundleVersion struct {
	Number     int             `json:"number"`
	Checksum   string          `json:"checksum"`
	Note       string          `json:"note,omitempty"`
	Author     string          `json:"author,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
	Definition json.RawMessage `json:"definition"`
}

// BundleExport builds a bundle of every version of the named flows, signed
// with key when key is not empty.
func BundleExport(ctx context.Context, db txn.DBTX, slugs []string, source string, key []byte, now time.Time) (*Bundle, error) {
	if len(slugs) == 0 {
		return nil, &fault.Error{Code: fault.Invalid, Message: "name at least one flow to export", Fields: map[string]string{"flow": "required"}}
	}
	b := &Bundle{Format: BundleFormat, CreatedAt: now.UTC().Truncate(time.Second), Source: source, Flows: []BundleFlow{}}
	seen := map[string]bool{}
	for _, slug := range slugs {
		if seen[slug] {
			continue
		}
		seen[slug] = true
		f, err := mappings.FlowBySlug(ctx, db, slug)
		if err != nil {
			return nil, err
		}
		if f.LatestVersion == 0 {
			return nil, fault.Errorf(fault.Invalid, "flow “%s” has no published version to export; publish it first", slug)
		}
		bf := BundleFlow{Slug: f.Slug, Name: f.Name, Description: f.Description, SourceSystem: f.SourceSystem}
		list, err := mappings.VersionList(ctx, db, f.ID)
		if err != nil {
			return nil, err
		}
		slices.Reverse(list)
		for _, meta := range list {
			v, err := mappings.VersionGet(ctx, db, f.ID, meta.Number)
			if err != nil {
				return nil, err
			}
			canonical, err := v.Definition.Canonical()
			if err != nil {
				return nil, fmt.Errorf("export %s v%d: %w", slug, v.Number, err)
			}
			bf.Versions = append(bf.Versions, BundleVersion{Number: v.Number, Checksum: v.Checksum, Note: v.Note, Author: v.AuthorEmail,
				CreatedAt: v.CreatedAt.UTC(), Definition: canonical})
		}
		b.Flows = append(b.Flows, bf)
	}
	if len(key) > 0 {
		sig, err := b.sign(key)
		if err != nil {
			return nil, err
		}
		b.Signature = sig
	}
	return b, nil
}

func (b *Bundle) sign(key []byte) (string, error) {
	unsigned := *b
	unsigned.Signature = ""
	data, err := json.Marshal(unsigned)
	if err != nil {
		return "", fmt.Errorf("sign bundle: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil)), nil
}

// ParseBundle reads a bundle file, refusing anything that is not one.
func ParseBundle(data []byte) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fault.Errorf(fault.Invalid, "this is not a Crossdock bundle: %v", err)
	}
	if b.Format != BundleFormat {
		return nil, fault.Errorf(fault.Invalid, "this is not a Crossdock bundle (format %q, want %q); create one with `crossdock export`", b.Format, BundleFormat)
	}
	return &b, nil
}

// Verify checks the bundle's signature and every version's checksum. With
// a key, an unsigned bundle or a signature that does not match is refused;
// without one, a signature cannot be checked and is ignored (Verify reports
// that in its note). A definition that does not hash to its checksum is
// refused either way: the bundle was changed after export.
func (b *Bundle) Verify(key []byte) (note string, err error) {
	switch {
	case len(key) > 0 && b.Signature == "":
		return "", fault.Errorf(fault.Invalid, "the bundle is not signed, and this installation requires signed bundles (a promotion key is configured); export it again from an installation with the same CROSSDOCK_PROMOTION_KEY")
	case len(key) > 0:
		want, err := b.sign(key)
		if err != nil {
			return "", err
		}
		if !hmac.Equal([]byte(want), []byte(b.Signature)) {
			return "", fault.Errorf(fault.Invalid, "the bundle's signature does not match: it was changed after export, or signed with another promotion key; nothing was imported")
		}
		note = "signature verified"
	case b.Signature != "":
		note = "signed, but the signature was not checked: no promotion key is configured here"
	default:
		note = "unsigned"
	}
	for _, f := range b.Flows {
		if err := mappings.CheckSlug(f.Slug); err != nil {
			return "", err
		}
		// Names and version numbers the database cannot hold are refused
		// before anything is imported.
		if name := strings.TrimSpace(f.Name); name != "" {
			if err := mappings.CheckFlowName(name); err != nil {
				return "", err
			}
		}
		for _, v := range f.Versions {
			if v.Number < 1 || v.Number > math.MaxInt32 {
				return "", &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("%s has version number %d in the bundle; version numbers run from 1 to %d; nothing was imported", f.Slug, v.Number, math.MaxInt32),
					Fields: map[string]string{"number": fmt.Sprintf("from 1 to %d", math.MaxInt32)}}
			}
			def, err := engine.ParseDefinition(v.Definition)
			if err != nil {
				return "", fault.Errorf(fault.Invalid, "%s v%d in the bundle is not a valid definition: %v", f.Slug, v.Number, err)
			}
			sum, err := def.Checksum()
			if err != nil {
				return "", fmt.Errorf("checksum %s v%d: %w", f.Slug, v.Number, err)
			}
			if sum != v.Checksum {
				return "", fault.Errorf(fault.Invalid, "%s v%d in the bundle does not match its checksum (sha256 %s…, the bundle says %s…): the bundle was modified after export; nothing was imported",
					f.Slug, v.Number, sum[:12], short(v.Checksum))
			}
		}
	}
	return note, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Import actions of a version.
const (
	ImportCreate    = "create"    // the version is new here
	ImportUnchanged = "unchanged" // the same version (same checksum) is here already
)

// ImportPlan is what importing a bundle does (or did): per flow, whether it
// is new, each version's action and the diff of its newest version against
// the newest one here.
type ImportPlan struct {
	Note  string           `json:"note"`
	Flows []ImportFlowPlan `json:"flows"`
}

// ImportFlowPlan is one flow's part of an import.
type ImportFlowPlan struct {
	Slug     string              `json:"slug"`
	NewFlow  bool                `json:"newFlow"`
	Versions []ImportVersionPlan `json:"versions"`
	// Latest is the bundle's newest version of the flow.
	Latest int `json:"latest"`
	// Diff compares the bundle's newest version with the newest version
	// already here (everything added for a new flow).
	Diff mappings.DefinitionDiff `json:"diff"`
}

// ImportVersionPlan is one version's action.
type ImportVersionPlan struct {
	Number   int    `json:"number"`
	Checksum string `json:"checksum"`
	Action   string `json:"action"`
}

// Changed reports whether the import adds anything.
func (p ImportPlan) Changed() bool {
	for _, f := range p.Flows {
		for _, v := range f.Versions {
			if v.Action == ImportCreate {
				return true
			}
		}
	}
	return false
}

// ImportedFlows returns the slugs of the flows in a plan, for messages.
func (p ImportPlan) ImportedFlows() string {
	var s []string
	for _, f := range p.Flows {
		s = append(s, f.Slug)
	}
	return strings.Join(s, ", ")
}
