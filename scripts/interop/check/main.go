// Command check is the Go half of the reverse interop check: it verifies, with
// internal/vcjwt.Verify and keys resolved from the kid by did.Local, the credentials that
// scripts/interop/issue.mjs issued with independent JavaScript libraries.
//
// Usage:
//
//	go run ./scripts/interop/check DIR
//
// It prints one line per credential ("ok   ..." or "FAIL ...") and exits 1 if any failed.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/vcjwt"
)

// fixtures are the files issue.mjs writes, with who made them and the format Verify must detect.
var fixtures = []struct{ file, by, format string }{
	{"js-vcdm2-eddsa.jwt", "jose SignJWT, EdDSA, did:jwk", vcjwt.FormatVCDM2},
	{"js-jwtvc11-es256.jwt", "did-jwt-vc, ES256, did:jwk", vcjwt.FormatJWTVC11},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: check DIR")
		os.Exit(2)
	}
	keys := func(kid string) (any, error) {
		return did.ResolveKey(context.Background(), did.Local{}, kid, did.AssertionMethod)
	}
	failed := 0
	for _, f := range fixtures {
		name := fmt.Sprintf("ezheng vcjwt.Verify accepts a %s from %s", f.format, f.by)
		err := check(filepath.Join(os.Args[1], f.file), f.format, keys)
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %v\n", name, err)
			continue
		}
		fmt.Printf("ok   %s: issuer = DID of kid, givenName as issued\n", name)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// check verifies the token in file and checks its format and subject.
func check(file, format string, keys func(string) (any, error)) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	v, err := vcjwt.Verify(strings.TrimSpace(string(b)), keys, time.Now(), time.Minute)
	if err != nil {
		return err
	}
	if v.Format != format {
		return fmt.Errorf("format %q, want %q", v.Format, format)
	}
	if got := v.Credential.Claims["givenName"]; got != "Mei" {
		return fmt.Errorf("givenName %v, want Mei", got)
	}
	if v.Credential.Subject == "" || v.Credential.ID == "" {
		return fmt.Errorf("subject %q, id %q: want both", v.Credential.Subject, v.Credential.ID)
	}
	return nil
}
