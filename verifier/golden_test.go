package verifier_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ezheng/ezheng/verifier"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestBuiltinPoliciesGolden: the built-in policies, as GET /verifier/v1/policies lists them,
// change only on purpose (go test ./verifier -run Golden -update).
func TestBuiltinPoliciesGolden(t *testing.T) {
	got, err := json.MarshalIndent(verifier.BuiltinPolicies().All(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	file := filepath.Join("testdata", "builtin-policies.golden.json")
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("built-in policies changed; run with -update if on purpose:\n%s", got)
	}
}
