package release

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writesRelease matches SQL that changes what runs or what waits for an
// approver.
var writesRelease = regexp.MustCompile(`(?i)(insert\s+into|update|delete\s+from)\s+(deployments|current_deployments|promotion_requests)\b`)

// TestOnlyThisPackageChangesWhatRuns guards the release policy: no Go file
// outside mappings/release writes a deployment, the current pointer or a
// promotion request (the one exception is internal/dbtest's fixture, for
// tests), and package mappings exports no operation that would deploy,
// promote, decide, roll back or import without the policy.
func TestOnlyThisPackageChangesWhatRuns(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the module root is two levels up")
	var offenders []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == filepath.Join("mappings", "release") || strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || rel == "bench" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || rel == filepath.Join("internal", "dbtest", "deploy.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if m := writesRelease.Find(data); m != nil {
			offenders = append(offenders, rel+": "+string(m))
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, offenders, "only package mappings/release changes what runs; call release.Promote, Decide, Rollback or ImportBundle")

	files, err := filepath.Glob(filepath.Join(root, "mappings", "*.go"))
	require.NoError(t, err)
	forbidden := regexp.MustCompile(`^(Deploy|DeployWith|Promote|PromotionDecide|Decide|Rollback|BundleImport|ImportBundle)$`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && forbidden.MatchString(fn.Name.Name) {
				t.Errorf("%s: package mappings exports %s, which would bypass the release policy", filepath.Base(name), fn.Name.Name)
			}
		}
	}
}
