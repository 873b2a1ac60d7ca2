package statuslist

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenToken is testdata/token.golden: testList signed by the Ed25519 key from the seed of 32
// bytes 0x01, kid status-1, for testURI at testNow with a ttl of one hour.
func goldenToken(t testing.TB) string {
	t.Helper()
	tok, err := SignToken(testList(t), testURI, testNow, time.Hour, tokenSigner(t, edKey(1)))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// goldenCredential is testdata/bitstring-credential.golden: testBitstring as a revocation list
// credential at testListCredential, issued by testIssuer, validFrom testNow, signed by the same key
// with kid testIssuer#key-1.
func goldenCredential(t testing.TB) (map[string]any, string) {
	t.Helper()
	cred, err := BitstringCredential(testListCredential, testIssuer, PurposeRevocation, testNow, testBitstring(t))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SignBitstringCredential(cred, credentialSigner(t, edKey(1)))
	if err != nil {
		t.Fatal(err)
	}
	return cred, tok
}

// checkGolden compares got with testdata/name, or rewrites the file under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed: the bytes this package signs have drifted, and so would their digests on the ledger.\n got  %s\n want %s\nIf the change is intended, run go test ./internal/statuslist/ -run TestGolden -update and review the diff.", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	tok := goldenToken(t)
	checkGolden(t, "token.golden", []byte(tok))
	if _, _, err := VerifyToken(tok, edKey(1).Public(), testURI, testNow, 1<<20); err != nil {
		t.Errorf("golden token does not verify: %v", err)
	}

	cred, signed := goldenCredential(t)
	pretty, err := json.MarshalIndent(cred, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "bitstring-credential.json", append(pretty, '\n'))
	checkGolden(t, "bitstring-credential.golden", []byte(signed))
	if _, _, _, err := VerifyBitstringCredential(signed, edKey(1).Public(), testNow, 1<<20); err != nil {
		t.Errorf("golden credential does not verify: %v", err)
	}
}
