// Package goldenfile compares test output with golden files under the
// repository's testdata, or rewrites them when the test binary runs with
// -update. It is for tests only.
package goldenfile

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Update is the test binary's -update flag.
var Update = flag.Bool("update", false, "rewrite the golden files under testdata")

// Check compares got with testdata/<area>/<test>/<name>.golden (test is the
// top-level test's name), or rewrites it under -update. It is called from a
// package directory one level below the repository root.
func Check(t testing.TB, area, name, got string) {
	t.Helper()
	test, _, _ := strings.Cut(t.Name(), "/")
	path := filepath.Join("..", "testdata", area, test, strings.NewReplacer(" ", "_", "/", "_").Replace(name)+".golden")
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
