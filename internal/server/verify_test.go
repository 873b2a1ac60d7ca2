package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/sdjwt"
)

// TestVerifyNegative: each tampered or stale presentation fails for the named check, and only
// that check.
func TestVerifyNegative(t *testing.T) {
	f := newFixture(t)
	issued := f.issue("DrivingLicence", f.holderDID, licence)
	counter := f.world.Counter.ID
	other, _ := keys.Generate(keys.ES256, nil)

	tests := []struct {
		name   string
		make   func() string // builds the presentation at the fixture's current time
		before func()        // moves the clock after building, before verifying
		want   []string      // failed checks
		reason string        // substring of the first failed check's reason
	}{
		{name: "valid", make: func() string { return f.present(issued, counterClaims, nil, counter) }},
		{name: "generic counter audience", make: func() string { return f.present(issued, counterClaims, nil, "urn:ezheng:counter") }},
		{
			name: "disclosed claim changed",
			make: func() string {
				p := f.present(issued, counterClaims, nil, counter)
				return replaceDisclosure(t, p, "licence_class", "A1")
			},
			want: []string{"signature"}, reason: "disclosure",
		},
		{
			name: "disclosure the issuer never signed, KB-JWT re-signed by the holder",
			make: func() string {
				fake := base64.RawURLEncoding.EncodeToString([]byte(`["c2FsdHNhbHRzYWx0","licence_class","A1"]`))
				return f.present(issued+fake+"~", []string{"family_name", "given_name", "licence_class"}, nil, counter)
			},
			want: []string{"signature"}, reason: "disclosure",
		},
		{
			name: "KB-JWT signed by another key",
			make: func() string {
				return f.present(issued, counterClaims, mustSigner(t, other.Signer(), "kb+jwt", ""), counter)
			},
			want: []string{"holder_binding"},
		},
		{
			name:   "presentation older than its validity",
			make:   func() string { return f.present(issued, counterClaims, nil, counter) },
			before: func() { f.clock.Add(2 * time.Minute) },
			want:   []string{"holder_binding"}, reason: "old",
		},
		{
			name: "presented to another audience",
			make: func() string { return f.present(issued, counterClaims, nil, "counter-somewhere-else") },
			want: []string{"holder_binding"}, reason: "aud",
		},
		{
			name: "no key-binding JWT",
			make: func() string { p, _ := sdjwt.Present(issued, counterClaims, nil, "", "", f.clock.Now()); return p },
			want: []string{"holder_binding"}, reason: "key-binding",
		},
		{
			name: "KB-JWT with alg none",
			make: func() string {
				p := f.present(issued, counterClaims, nil, counter)
				return withAlgNoneKB(t, p)
			},
			want: []string{"holder_binding"},
		},
		{
			name: "issuer JWT with alg none",
			make: func() string {
				p := f.present(issued, counterClaims, nil, counter)
				return f.reSignIssuerJWT(t, p, func(header, payload string) string { return header + "." + payload + "." }, `{"alg":"none","kid":%q,"typ":"dc+sd-jwt"}`)
			},
			want: []string{"signature"},
		},
		{
			name: "issuer JWT with HS256",
			make: func() string {
				p := f.present(issued, counterClaims, nil, counter)
				return f.reSignIssuerJWT(t, p, func(header, payload string) string {
					m := hmac.New(sha256.New, []byte("a shared secret anyone could know"))
					m.Write([]byte(header + "." + payload))
					return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
				}, `{"alg":"HS256","kid":%q,"typ":"dc+sd-jwt"}`)
			},
			want: []string{"signature"},
		},
		{
			name: "exp that is not a NumericDate (and an unknown issuer)",
			make: func() string {
				return f.present(rogueIssuer(t, f.holder, map[string]any{"exp": "next year"}), counterClaims, nil, counter)
			},
			want: []string{"validity", "accreditation"}, reason: "malformed exp",
		},
		{
			name: "issuer not known (nobody accredited it)",
			make: func() string { return f.present(rogueIssuer(t, f.holder), counterClaims, nil, counter) },
			want: []string{"accreditation"}, reason: "not accredited",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuedBefore, heldBefore := f.counts()
			p := tt.make()
			if tt.before != nil {
				tt.before()
				defer f.clock.Add(-2 * time.Minute)
			}
			res := f.verify(p, counter)
			t.Logf("failed checks: %q", res.failed())
			var names []string
			for _, c := range res.failed() {
				names = append(names, strings.SplitN(c, ":", 2)[0])
			}
			if !slices.Equal(names, tt.want) {
				t.Fatalf("failed checks = %q, want %q", res.failed(), tt.want)
			}
			if res.Valid != (len(tt.want) == 0) {
				t.Fatalf("valid = %v with failed checks %q", res.Valid, res.failed())
			}
			if tt.reason != "" && !strings.Contains(res.failed()[0], tt.reason) {
				t.Errorf("reason %q does not mention %q", res.failed()[0], tt.reason)
			}
			if i, h := f.counts(); i != issuedBefore || h != heldBefore {
				t.Errorf("verification stored something: issued %d→%d, held %d→%d", issuedBefore, i, heldBefore, h)
			}
		})
	}
}

// TestVerifyExpiredCredential: a fresh presentation of a credential past its exp fails
// validity.
func TestVerifyExpiredCredential(t *testing.T) {
	f := newFixture(t)
	hc := f.issue("HealthCode", f.holderDID, map[string]any{"family_name": "张", "given_name": "三", "health_status": "green"})
	f.clock.Add(25 * time.Hour)
	res := f.verify(f.present(hc, []string{"health_status"}, nil, "urn:ezheng:counter"), "")
	if res.Valid || len(res.failed()) != 1 || !strings.HasPrefix(res.failed()[0], "validity") {
		t.Fatalf("failed = %q, want only validity", res.failed())
	}
}

// TestVerifyBadInput: input that is not a presentation, or not a request at all, is a problem.
func TestVerifyBadInput(t *testing.T) {
	f := newFixture(t)
	big := `{"qr":"` + strings.Repeat("a", 2<<20) + `"}`
	tests := []struct {
		name, ctype, body string
		status            int
		ptype             string
	}{
		{"truncated JSON", "application/json", `{"qr":`, 400, "/problems/malformed-request"},
		{"not JSON", "application/json", `qr=abc`, 400, "/problems/malformed-request"},
		{"unknown field", "application/json", `{"qr":"a~","x":1}`, 400, "/problems/malformed-request"},
		{"empty qr", "application/json", `{"qr":""}`, 400, "/problems/malformed-request"},
		{"not a presentation", "application/json", `{"qr":"hello counter"}`, 400, "/problems/not-a-presentation"},
		{"three dots", "application/json", `{"qr":"a.b.c~"}`, 400, "/problems/not-a-presentation"},
		{"oversized", "application/json", big, 413, "/problems/too-large"},
		{"wrong media type", "text/plain", `hello`, 415, "/problems/unsupported-media-type"},
		{"garbage image", "image/png", "\x89PNG\r\n\x1a\nnot really", 400, "/problems/bad-image"},
		{"image without a code", "image/png", string(blankPNG()), 400, "/problems/no-qr-code"},
		{"unknown counter", "application/json", `{"qr":"` + f.present(f.issue("DrivingLicence", f.holderDID, licence), counterClaims, nil, "x") + `","counter":"nope"}`, 404, "/problems/not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(http.MethodPost, "/verifier/v1/verify", "", tt.ctype, []byte(tt.body))
			if r.status != tt.status || r.problemType() != tt.ptype {
				t.Fatalf("HTTP %d %s, want %d %s: %.200s", r.status, r.problemType(), tt.status, tt.ptype, r.body)
			}
			if !strings.HasPrefix(r.ctype, "application/problem+json") {
				t.Errorf("content type %q", r.ctype)
			}
		})
	}
}

// replaceDisclosure swaps the disclosure of name in presentation p for one with the same salt
// and a new value.
func replaceDisclosure(t *testing.T, p, name string, value any) string {
	t.Helper()
	parts := strings.Split(p, "~")
	for i := 1; i < len(parts)-1; i++ {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		var d []any
		json.Unmarshal(raw, &d)
		if d[1] == name {
			d[2] = value
			b, _ := json.Marshal(d)
			parts[i] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(parts, "~")
		}
	}
	t.Fatalf("no disclosure for %s", name)
	return ""
}

// withAlgNoneKB replaces the KB-JWT of p with an unsigned one carrying the same claims.
func withAlgNoneKB(t *testing.T, p string) string {
	t.Helper()
	i := strings.LastIndex(p, "~")
	kb := strings.Split(p[i+1:], ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"kb+jwt"}`))
	return p[:i+1] + header + "." + kb[1] + "."
}

// reSignIssuerJWT replaces the issuer JWT of p by sign(header, payload) with the given header
// template (%q is the original kid), keeps the disclosures and re-signs the KB-JWT with the
// holder key so that only the issuer signature is wrong.
func (f *fixture) reSignIssuerJWT(t *testing.T, p string, sign func(h, pl string) string, headerTmpl string) string {
	t.Helper()
	sd, err := sdjwt.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := sd.Header["kid"].(string)
	jwt := strings.Split(sd.IssuerJWT, ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(headerTmpl, kid)))
	forged := sign(header, jwt[1])
	var names []string
	for _, d := range sd.Disclosures {
		names = append(names, d.Name)
	}
	issued := forged + "~"
	for _, d := range sd.Disclosures {
		issued += d.Encoded + "~"
	}
	return f.present(issued, names, nil, f.world.Counter.ID)
}
