package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/verifier"
)

// FuzzVerifyQR feeds arbitrary text to the verifier as a scanned QR: it never panics, input
// that is not a presentation is ErrNotPresentation, and a result is valid only if no check
// failed (a skip the policy allows, such as anchor, is not a failure) — mutations of a valid QR
// never verify.
//
// Under `go test` it runs the seeds. Coverage-guided fuzzing of this target is slow (the
// instrumented SQLite driver makes each execution take seconds); fuzz the parsers themselves
// with internal/sdjwt's FuzzParse and FuzzVerify, which reach a million executions a minute.
func FuzzVerifyQR(f *testing.F) {
	fx := newFixture(f)
	valid := fx.present(fx.issue("DrivingLicence", fx.holderDID, licence), counterClaims, nil, "urn:ezheng:counter")
	f.Add(valid)
	f.Add(strings.Replace(valid, "~", "~~", 1))
	f.Add("a.b.c~")
	f.Add("")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, text string) {
		res, err := fx.srv.Verifier.Verify(ctx, text, verifier.Options{})
		if err != nil {
			if !errors.Is(err, verifier.ErrNotPresentation) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if res.Valid {
			for _, c := range res.Checks {
				if !c.OK && !c.Skipped {
					t.Fatalf("valid with failed check %+v", c)
				}
			}
			if strings.TrimSpace(text) != valid {
				t.Fatalf("a changed QR verified: %q", text)
			}
		}
	})
}
