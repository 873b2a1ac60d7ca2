package ledger

import (
	"errors"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/did"
)

// TestAccreditExternalIssuer: the root authority accredits (and withdraws) issuers that are
// not on the ledger by their did:jwk, did:key or did:web; other methods and malformed DIDs
// are refused before a block, an unknown did:ez is still unknown-did, and an external issuer
// cannot anchor (it has no key on the ledger).
func TestAccreditExternalIssuer(t *testing.T) {
	f := newFixture(t)
	foreign := newActor("foreign")
	jwkDID, _, err := did.NewJWK(foreign.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyDID, _, err := did.NewKey(foreign.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	until := t0.AddDate(1, 0, 0)
	for _, d := range []string{jwkDID, keyDID, "did:web:issuer.example.org"} {
		op := NewAccredit(d, []string{"urn:example:vct:Membership"}, t0, until, f.seq)
		f.seq++
		f.mustOK(mustSign(t, op, f.root.key, f.root.kid()))
		a, err := f.l.Accreditation(f.ctx, d, "urn:example:vct:Membership", t0.AddDate(0, 1, 0))
		if err != nil || a.Issuer != d {
			t.Fatalf("accreditation of %s = %+v, %v", d, a, err)
		}
		if _, err := f.l.Accreditation(f.ctx, d, "urn:example:vct:Other", t0.AddDate(0, 1, 0)); !errors.Is(err, ErrNotAccredited) {
			t.Errorf("%s accredited for a type it was not: %v", d, err)
		}
	}
	// Withdrawn from a month on.
	w := NewWithdraw(jwkDID, []string{"urn:example:vct:Membership"}, t0.AddDate(0, 1, 0), f.seq)
	f.seq++
	f.mustOK(mustSign(t, w, f.root.key, f.root.kid()))
	if _, err := f.l.Accreditation(f.ctx, jwkDID, "urn:example:vct:Membership", t0.AddDate(0, 2, 0)); !errors.Is(err, ErrNotAccredited) {
		t.Errorf("withdrawn accreditation still in force: %v", err)
	}

	root := make([]byte, 32)
	if _, err := SignOp(NewAnchor(jwkDID, root, 1, "b-1"), foreign.key, jwkDID+"#0"); err == nil {
		t.Error("an anchor by an issuer not on the ledger was signed")
	}

	refused := []struct {
		name, issuer string
		code         Code
	}{
		{"another method", "did:example:123", CodeMalformed},
		{"did:web with a bad character", "did:web:issuer example", CodeMalformed},
		{"longer than the limit", "did:web:" + strings.Repeat("a", MaxExternalDIDLen), CodeMalformed},
		{"did:ez not on the ledger", func() string { x := newActor("x"); x.createOp(t); return x.did }(), CodeUnknownDID},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			op := NewAccredit(tt.issuer, []string{"X"}, t0, until, f.seq)
			f.seq++
			// The stateless checks already refuse to sign a malformed operation.
			var r Result
			jws, err := SignOp(op, f.root.key, f.root.kid())
			if err == nil {
				r, err = f.l.Submit(f.ctx, jws)
			}
			var oe *OpError
			if errors.As(err, &oe) {
				r = Result{Code: oe.Code, Reason: oe.Reason}
			} else if err != nil {
				t.Fatal(err)
			}
			if r.Code != tt.code {
				t.Fatalf("code %s (%s), want %s", r.Code, r.Reason, tt.code)
			}
		})
	}
}
