package vcjwt

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldens are the golden tokens: the credential of testCredential issued by the Ed25519 key from
// the seed of 32 bytes 0x01 (did:key), in each encoding. Ed25519 signatures are deterministic, so
// the tokens are.
var goldens = []struct {
	file string
	typ  string
	sign func(Credential, jose.Signer) (string, error)
}{
	{"vcdm2.golden", TypeVCDM2, SignVCDM2},
	{"jwtvc11.golden", TypeJWT, SignJWTVC11},
}

// goldenToken signs the golden credential for g.
func goldenToken(t testing.TB, typ string, sign func(Credential, jose.Signer) (string, error)) string {
	t.Helper()
	p := edParty(t, 1)
	tok, err := sign(testCredential(p.did), p.signer(t, typ))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			tok := goldenToken(t, g.typ, g.sign)
			path := filepath.Join("testdata", g.file)
			// The decoded payload, indented, sits beside each token for reviewers.
			raw, err := b64.DecodeString(strings.Split(tok, ".")[1])
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty := append(buf.Bytes(), '\n')
			prettyPath := path[:len(path)-len(".golden")] + ".payload.json"
			if *update {
				if err := os.WriteFile(path, []byte(tok), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(prettyPath, pretty, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/vcjwt/ -run TestGolden -update)", err)
			}
			if tok != string(want) {
				t.Errorf("%s drifted:\n got %s\nwant %s", path, tok, want)
			}
			wantPretty, err := os.ReadFile(prettyPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pretty, wantPretty) {
				t.Errorf("%s drifted", prettyPath)
			}
			// The golden token verifies and decodes back to the golden credential.
			v, err := Verify(string(want), resolve, testNow, 0)
			if err != nil {
				t.Fatalf("golden token does not verify: %v", err)
			}
			if !reflect.DeepEqual(v.Credential, testCredential(edParty(t, 1).did)) {
				t.Errorf("golden token decodes to %#v", v.Credential)
			}
		})
	}
}
