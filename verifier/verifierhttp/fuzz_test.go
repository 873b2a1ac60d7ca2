package verifierhttp

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/verifier"
)

// FuzzCredentialText: the VC-API credential decoder never panics, refuses with a malformed
// request or not-a-presentation, returns a string credential unchanged and an enveloped one's
// payload.
func FuzzCredentialText(f *testing.F) {
	for _, s := range []string{`"a.b.c"`, `{"type":"EnvelopedVerifiableCredential","id":"data:application/vc+jwt,a.b.c"}`,
		`{"@context":["https://www.w3.org/2018/credentials/v1"]}`, `[1]`, `""`, `{"type":"EnvelopedVerifiablePresentation","id":"data:,x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		text, err := credentialText(raw)
		if err != nil {
			if !errors.Is(err, problem.ErrMalformed) && !errors.Is(err, verifier.ErrNotPresentation) {
				t.Fatalf("error %v is neither malformed nor not-a-presentation", err)
			}
			return
		}
		if text == "" {
			t.Fatal("empty credential accepted")
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != text {
			t.Fatalf("string %q came back as %q", s, text)
		}
	})
}
