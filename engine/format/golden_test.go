package format_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/engine/format"
)

var update = flag.Bool("update", false, "rewrite testdata/*.xml from the current output")

// TestTemplatesAsXML runs every shipped template's first sample through
// the engine and writes each matched route's output as XML, compared
// with testdata/<template>.<route>.xml.
func TestTemplatesAsXML(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../mappings/templates/*.json")
	require.NoError(t, err)
	require.Len(t, files, 6)
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			def, err := engine.ParseDefinition(data)
			require.NoError(t, err)
			prog, err := engine.Compile(def, engine.Options{})
			require.NoError(t, err)
			require.NotEmpty(t, def.Source.Samples)
			// The environment variables the template's test cases set.
			vars := map[string]string{}
			for _, tc := range def.Tests {
				for k, v := range tc.Vars {
					if _, ok := vars[k]; !ok {
						vars[k] = v
					}
				}
			}
			matched := 0
			for si, sample := range def.Source.Samples {
				res, err := prog.Run(context.Background(), engine.Input{Payload: sample.Payload, Now: now, Vars: vars})
				require.NoError(t, err)
				for _, r := range res.Routes {
					require.Empty(t, r.Errors, "sample %d, route %s", si, r.Name)
					if !r.Matched || r.Output == nil {
						continue
					}
					matched++
					got, err := format.Encode(xmlSpec("Message", "urn:crossdock:"+id), r.Output)
					require.NoError(t, err, "sample %d, route %s", si, r.Name)
					golden := filepath.Join("testdata", fmt.Sprintf("%s.sample%d.%s.xml", id, si+1, r.Name))
					if *update {
						require.NoError(t, os.MkdirAll("testdata", 0o755))
						require.NoError(t, os.WriteFile(golden, got, 0o644))
					}
					want, err := os.ReadFile(golden)
					require.NoError(t, err, "run go test ./engine/format -run TestTemplatesAsXML -update to write it")
					require.Equal(t, string(want), string(got))
					_, err = format.DecodeXML(got)
					require.NoError(t, err, "the XML reads back")
				}
			}
			require.NotZero(t, matched, "a sample matches a route")
		})
	}
}
