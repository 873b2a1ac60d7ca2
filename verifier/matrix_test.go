package verifier_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/vcjwt"
	"github.com/ezheng/ezheng/verifier"
)

// matrixCase is one row of the negative matrix: a credential or presentation that fails
// exactly the named check (or none), under a policy, with the world changed by setup.
type matrixCase struct {
	name    string
	make    func(w *world) (text string, receipt []byte)
	setup   func(w *world) (undo func())
	policy  string
	want    string // the one failed check, "" for a valid result
	reason  string // substring of its reason
	skipped []string
}

// runMatrix checks that every case fails exactly its check, that the result says so, and
// that every other check passed or was skipped because of it (never failed).
func runMatrix(t *testing.T, format string, cases []matrixCase) {
	w := newWorld(t)
	s := w.service(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				defer tc.setup(w)()
			}
			text, receipt := tc.make(w)
			res := verify(t, s, text, tc.policy, receipt)
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if got := res.Failed(); !slices.Equal(got, want) {
				t.Fatalf("failed = %q, want %q%s", got, want, explain(res))
			}
			if res.Valid != (tc.want == "") {
				t.Fatalf("valid = %v%s", res.Valid, explain(res))
			}
			if res.Format != format {
				t.Errorf("format = %q, want %q", res.Format, format)
			}
			var names []string
			for _, c := range res.Checks {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, verifier.CheckNames) {
				t.Errorf("checks reported = %q, want %q", names, verifier.CheckNames)
			}
			if tc.want != "" {
				c, _ := res.Check(tc.want)
				if !strings.Contains(c.Reason, tc.reason) {
					t.Errorf("reason %q does not mention %q", c.Reason, tc.reason)
				}
			}
			for _, n := range tc.skipped {
				if c, _ := res.Check(n); !c.Skipped {
					t.Errorf("check %s not skipped: %+v", n, c)
				}
			}
			if res.Policy == "" || res.Source.Mode != verifier.SourceOnline {
				t.Errorf("policy %q, source %+v", res.Policy, res.Source)
			}
		})
	}
}

// accredit sets the accreditation period of the driving licence type, undone afterwards.
func accredit(from, until time.Time) func(w *world) func() {
	return func(w *world) func() {
		prev := w.accredited[dlVCT]
		w.accredited[dlVCT] = [2]time.Time{from, until}
		return func() { w.accredited[dlVCT] = prev }
	}
}

// foreignLedger returns a note signer for the ledger's name with a key the verifier does not
// know.
func foreignLedger(t testing.TB) note.Signer {
	skey, _, err := merklelog.NewKey(ledgerName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMatrixSDJWT: an SD-JWT VC presentation (every claim shown, key-bound, anchored) fails
// each check alone.
func TestMatrixSDJWT(t *testing.T) {
	full := func(mod ...func(map[string]any)) func(w *world) (string, []byte) {
		return func(w *world) (string, []byte) {
			issued := w.sdJWT(w.key1, "#key-1", tIssue, mod...)
			w.anchor([]byte(issued), w.noteSigner, issuerDID)
			return w.present(issued, nil, w.holder), nil
		}
	}
	otherHolder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	later := []string{verifier.CheckHolderBinding, verifier.CheckValidity, verifier.CheckStatus, verifier.CheckAccreditation,
		verifier.CheckAnchor, verifier.CheckSchema, verifier.CheckPolicy}
	runMatrix(t, verifier.FormatSDJWTVC, []matrixCase{
		{name: "valid, key rotated after issuance", make: full(), policy: "strict"},
		{name: "valid, default policy", make: full()},
		{name: "valid, selective disclosure without receipt under the default policy", make: func(w *world) (string, []byte) {
			return w.present(w.sdJWT(w.key1, "#key-1", tIssue), []string{"family_name", "licence_class"}, w.holder), nil
		}, skipped: []string{verifier.CheckAnchor}},
		{name: "syntax: no vct", make: full(func(m map[string]any) { delete(m, "vct") }), policy: "strict",
			want: verifier.CheckSyntax, reason: "vct", skipped: append([]string{verifier.CheckSignature}, later...)},
		{name: "signature: another key under the issuer's kid", make: func(w *world) (string, []byte) {
			return w.present(w.sdJWT(w.key2, "#key-1", tIssue), nil, w.holder), nil
		}, policy: "strict", want: verifier.CheckSignature, skipped: later},
		{name: "signature: a key the issuer did not have at issuance", make: func(w *world) (string, []byte) {
			return w.present(w.sdJWT(w.key2, "#key-2", tIssue), nil, w.holder), nil
		}, policy: "strict", want: verifier.CheckSignature, reason: "issuance time", skipped: later},
		{name: "signature: a retired key after the rotation", make: func(w *world) (string, []byte) {
			return w.present(w.sdJWT(w.key1, "#key-1", tRotate.Add(time.Hour)), nil, w.holder), nil
		}, policy: "strict", want: verifier.CheckSignature, reason: "issuance time", skipped: later},
		{name: "holder_binding: KB-JWT by another key", make: func(w *world) (string, []byte) {
			issued := w.sdJWT(w.key1, "#key-1", tIssue)
			w.anchor([]byte(issued), w.noteSigner, issuerDID)
			return w.present(issued, nil, otherHolder), nil
		}, policy: "strict", want: verifier.CheckHolderBinding},
		{name: "holder_binding: bare credential under a policy that requires it", make: func(w *world) (string, []byte) {
			issued := w.sdJWT(w.key1, "#key-1", tIssue)
			w.anchor([]byte(issued), w.noteSigner, issuerDID)
			return issued, nil
		}, policy: "strict", want: verifier.CheckHolderBinding, reason: "key-binding"},
		{name: "bare credential under a policy that lets holder binding be skipped", make: func(w *world) (string, []byte) {
			issued := w.sdJWT(w.key1, "#key-1", tIssue)
			w.anchor([]byte(issued), w.noteSigner, issuerDID)
			return issued, nil
		}, policy: "strict-credential", skipped: []string{verifier.CheckHolderBinding}},
		{name: "validity: expired", make: full(func(m map[string]any) { m["exp"] = tNow.Add(-time.Hour).Unix() }), policy: "strict",
			want: verifier.CheckValidity, reason: "expired"},
		{name: "status: revoked", make: full(func(m map[string]any) {
			m["status"] = map[string]any{"status_list": map[string]any{"idx": revokedIdx, "uri": statusURI}}
		}),
			policy: "strict", want: verifier.CheckStatus, reason: "revoked"},
		{name: "status: suspended", make: full(func(m map[string]any) {
			m["status"] = map[string]any{"status_list": map[string]any{"idx": suspendIdx, "uri": statusURI}}
		}),
			policy: "strict", want: verifier.CheckStatus, reason: "suspended"},
		{name: "accreditation: withdrawn before issuance", make: full(), setup: accredit(t0, tIssue.Add(-time.Hour)), policy: "strict",
			want: verifier.CheckAccreditation, reason: "not accredited"},
		{name: "accreditation: withdrawn after issuance (still valid)", make: full(), setup: accredit(t0, tIssue.Add(time.Hour)), policy: "strict"},
		{name: "accreditation: granted only after issuance", make: full(), setup: accredit(tIssue.Add(time.Hour), tNow.Add(time.Hour)), policy: "strict",
			want: verifier.CheckAccreditation},
		{name: "anchor: checkpoint signed by an unknown ledger key", make: func(w *world) (string, []byte) {
			issued := w.sdJWT(w.key1, "#key-1", tIssue)
			w.anchor([]byte(issued), foreignLedger(t), issuerDID)
			return w.present(issued, nil, w.holder), nil
		}, policy: "strict", want: verifier.CheckAnchor, reason: "checkpoint"},
		{name: "anchor: batch anchored by someone else", make: func(w *world) (string, []byte) {
			issued := w.sdJWT(w.key1, "#key-1", tIssue)
			w.anchor([]byte(issued), w.noteSigner, "did:ez:EiSomeoneElse")
			return w.present(issued, nil, w.holder), nil
		}, policy: "strict", want: verifier.CheckAnchor, reason: "not by the issuer"},
		{name: "anchor: never anchored, policy requires it", make: func(w *world) (string, []byte) {
			return w.present(w.sdJWT(w.key1, "#key-1", tIssue), nil, w.holder), nil
		}, policy: "strict", want: verifier.CheckAnchor, reason: "no anchor receipt"},
		{name: "schema: licence class not a class", make: full(func(m map[string]any) { m["licence_class"] = "Z9" }), policy: "strict",
			want: verifier.CheckSchema, reason: "/licence_class"},
		{name: "policy: wrong type for the policy", make: full(), policy: "health-only", want: verifier.CheckPolicy, reason: "types"},
	})
}

// TestMatrixVCJWT: a W3C VCDM 2.0 vc+jwt (anchored, with Bitstring status entries) fails each
// check alone.
func TestMatrixVCJWT(t *testing.T) { matrixW3C(t, false) }

// TestMatrixJWTVC: the same for a VCDM 1.1 JWT-VC.
func TestMatrixJWTVC(t *testing.T) { matrixW3C(t, true) }

func matrixW3C(t *testing.T, v11 bool) {
	format := verifier.FormatVCJWT
	if v11 {
		format = verifier.FormatJWTVC
	}
	full := func(idx int, mod ...func(*vcjwt.Credential)) func(w *world) (string, []byte) {
		return func(w *world) (string, []byte) {
			tok := w.vcJWT(v11, w.key1, "#key-1", tIssue, idx, mod...)
			w.anchor([]byte(tok), w.noteSigner, issuerDID)
			return tok, nil
		}
	}
	const pol = "strict-credential"
	runMatrix(t, format, []matrixCase{
		{name: "valid, key rotated after issuance", make: full(validIdx), policy: pol, skipped: []string{verifier.CheckHolderBinding}},
		{name: "valid under the built-in credential policy", make: full(validIdx), policy: "credential"},
		{name: "syntax: header without kid", make: func(w *world) (string, []byte) {
			tok := w.vcJWT(v11, w.key1, "#key-1", tIssue, validIdx)
			_, rest, _ := strings.Cut(tok, ".")
			typ := "vc+jwt"
			if v11 {
				typ = "JWT"
			}
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"`+typ+`"}`)) + "." + rest, nil
		}, policy: pol, want: verifier.CheckSyntax, reason: "kid"},
		{name: "signature: another key under the issuer's kid", make: func(w *world) (string, []byte) {
			return w.vcJWT(v11, w.key2, "#key-1", tIssue, validIdx), nil
		}, policy: pol, want: verifier.CheckSignature},
		{name: "signature: a key the issuer did not have at issuance", make: func(w *world) (string, []byte) {
			return w.vcJWT(v11, w.key2, "#key-2", tIssue, validIdx), nil
		}, policy: pol, want: verifier.CheckSignature, reason: "issuance time"},
		{name: "holder_binding: required by the policy", make: full(validIdx), policy: "strict", want: verifier.CheckHolderBinding, reason: "on its own"},
		{name: "validity: expired", make: full(validIdx, func(c *vcjwt.Credential) { c.ValidUntil = tNow.Add(-time.Hour) }), policy: pol,
			want: verifier.CheckValidity, reason: "expired"},
		{name: "validity: not yet valid", make: func(w *world) (string, []byte) {
			tok := w.vcJWT(v11, w.key2, "#key-2", tNow.Add(time.Hour), validIdx)
			w.anchor([]byte(tok), w.noteSigner, issuerDID)
			return tok, nil
		}, setup: accredit(t0, tNow.Add(48*time.Hour)), policy: pol, want: verifier.CheckValidity, reason: "not valid before"},
		{name: "status: revoked (W3C Bitstring)", make: full(revokedIdx), policy: pol, want: verifier.CheckStatus, reason: "revoked"},
		{name: "status: suspended (W3C Bitstring)", make: full(suspendIdx), policy: pol, want: verifier.CheckStatus, reason: "suspended"},
		{name: "accreditation: withdrawn before issuance", make: full(validIdx), setup: accredit(t0, tIssue.Add(-time.Hour)), policy: pol,
			want: verifier.CheckAccreditation},
		{name: "accreditation: withdrawn after issuance (still valid)", make: full(validIdx), setup: accredit(t0, tIssue.Add(time.Hour)), policy: pol},
		{name: "anchor: receipt of another credential", make: func(w *world) (string, []byte) {
			other := w.sdJWT(w.key1, "#key-1", tIssue)
			return w.vcJWT(v11, w.key1, "#key-1", tIssue, validIdx), w.anchor([]byte(other), w.noteSigner, issuerDID)
		}, policy: pol, want: verifier.CheckAnchor, reason: "another credential"},
		{name: "schema: licence class not a class", make: full(validIdx, func(c *vcjwt.Credential) { c.Claims["licence_class"] = "Z9" }), policy: pol,
			want: verifier.CheckSchema, reason: "/licence_class"},
		{name: "policy: wrong type for the policy", make: full(validIdx), policy: "health-only", want: verifier.CheckPolicy, reason: "types"},
	})
}

// TestMatrixLDP: a VCDM 1.1 JSON-LD credential with an Ed25519Signature2020 proof goes
// through internal/ldvc and the same checks.
func TestMatrixLDP(t *testing.T) {
	claims := func(mod ...func(map[string]any)) map[string]any {
		m := map[string]any{}
		for k, v := range licence {
			m[k] = v
		}
		for _, f := range mod {
			f(m)
		}
		return m
	}
	full := func(mod ...func(map[string]any)) func(w *world) (string, []byte) {
		return func(w *world) (string, []byte) {
			raw := w.ldp(w.key1, "#key-1", tIssue, claims(mod...))
			w.anchor([]byte(raw), w.noteSigner, issuerDID)
			return raw, nil
		}
	}
	withStatus := func(idx int) func(w *world) (string, []byte) {
		return func(w *world) (string, []byte) {
			raw := w.ldp(w.key1, "#key-1", tIssue, claims(), messageEntry(idx))
			w.anchor([]byte(raw), w.noteSigner, issuerDID)
			return raw, nil
		}
	}
	const pol = "strict-credential"
	runMatrix(t, verifier.FormatLDPVC, []matrixCase{
		{name: "valid", make: full(), policy: pol},
		{name: "syntax: undefined term", make: func(w *world) (string, []byte) {
			raw := w.ldp(w.key1, "#key-1", tIssue, claims())
			return strings.Replace(raw, `"family_name"`, `"familyName"`, 1), nil
		}, policy: pol, want: verifier.CheckSyntax},
		{name: "signature: claim changed after signing", make: func(w *world) (string, []byte) {
			raw := w.ldp(w.key1, "#key-1", tIssue, claims())
			return strings.Replace(raw, `"C1"`, `"A1"`, 1), nil
		}, policy: pol, want: verifier.CheckSignature},
		{name: "signature: a key the issuer did not have at issuance", make: func(w *world) (string, []byte) {
			return w.ldp(w.key2, "#key-2", tIssue, claims()), nil
		}, policy: pol, want: verifier.CheckSignature},
		{name: "validity: expired", make: func(w *world) (string, []byte) {
			raw := w.ldp(w.key1, "#key-1", tIssue.Add(-7*365*24*time.Hour), claims())
			w.anchor([]byte(raw), w.noteSigner, issuerDID)
			return raw, nil
		}, policy: pol, want: verifier.CheckValidity, reason: "expired"},
		{name: "schema: licence class not a class", make: full(func(m map[string]any) { m["licence_class"] = "Z9" }), policy: pol,
			want: verifier.CheckSchema, reason: "/licence_class"},
		{name: "valid, with a message status entry", make: withStatus(validIdx), policy: pol},
		{name: "status: revoked (two-bit message entry)", make: withStatus(revokedIdx), policy: pol, want: verifier.CheckStatus, reason: "revoked (status 0x1"},
		{name: "status: suspended (two-bit message entry)", make: withStatus(suspendIdx), policy: pol, want: verifier.CheckStatus, reason: "suspended (status 0x2"},
	})
}
