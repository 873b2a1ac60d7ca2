package verifier_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/verifier"
)

// TestExpandCompact: a compact QR expands to the presentation it carries, other text passes
// through untouched, and a compact QR that does not decode is not a presentation.
func TestExpandCompact(t *testing.T) {
	t.Parallel()
	plain, err := os.ReadFile("../internal/compactqr/testdata/drivinglicence-3claims.txt")
	if err != nil {
		t.Fatal(err)
	}
	compact, err := os.ReadFile("../internal/compactqr/testdata/drivinglicence-3claims.ez1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, in, want string
		err            string
	}{
		{name: "compact", in: string(compact), want: string(plain)},
		{name: "plain", in: string(plain), want: string(plain)},
		{name: "JSON credential", in: `{"@context":[]}`, want: `{"@context":[]}`},
		{name: "not base45", in: "EZ1:abc", err: "invalid base45"},
		{name: "truncated", in: string(compact[:len(compact)-30]), err: "compactqr"},
		{name: "later version", in: "EZ2:" + string(compact[4:]), err: "unsupported version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := verifier.ExpandCompact(tt.in)
			if tt.err != "" {
				if !errors.Is(err, verifier.ErrNotPresentation) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ExpandCompact = %v, want ErrNotPresentation saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ExpandCompact = %.40q, %v; want %.40q", got, err, tt.want)
			}
		})
	}
}
