package vcjwt

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestStatuses: a credentialStatus array round-trips through both encodings; Sign refuses
// Status and Statuses together or an empty entry; Verify refuses an empty array or a
// non-object entry.
func TestStatuses(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	entry := func(purpose string) map[string]any {
		return map[string]any{
			"id": "https://issuer.example.gov.tw/status/1/" + purpose + "#94567", "type": "BitstringStatusListEntry",
			"statusPurpose": purpose, "statusListIndex": "94567",
			"statusListCredential": "https://issuer.example.gov.tw/status/1/" + purpose,
		}
	}
	want := testCredential(p.did)
	want.Status, want.Statuses = nil, []map[string]any{entry("revocation"), entry("suspension")}
	for _, s := range signers {
		t.Run(s.name, func(t *testing.T) {
			tok, err := s.sign(want, p.signer(t, s.typ))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(tok, resolve, testNow, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Credential, want) {
				t.Errorf("credential differs:\n got %#v\nwant %#v", got.Credential, want)
			}
			_, pl, _ := parts(t, tok)
			if vc, ok := pl["vc"].(map[string]any); ok {
				pl = vc
			}
			if a, ok := pl["credentialStatus"].([]any); !ok || len(a) != 2 {
				t.Errorf("credentialStatus %v, want an array of 2", pl["credentialStatus"])
			}

			both := want
			both.Status = entry("revocation")
			empty := want
			empty.Statuses = []map[string]any{entry("revocation"), {}}
			for name, c := range map[string]Credential{"Status and Statuses": both, "empty entry": empty} {
				if _, err := s.sign(c, p.signer(t, s.typ)); err == nil {
					t.Errorf("%s: signed", name)
				}
			}
		})
	}
	_, pl, _ := parts(t, mustSign(t, SignVCDM2, testCredential(p.did), p.signer(t, TypeVCDM2)))
	for name, v := range map[string]any{"empty array": []any{}, "non-object entry": []any{entry("revocation"), "x"}} {
		pl["credentialStatus"] = v
		tok := rawSign(t, p.priv, map[string]any{"typ": TypeVCDM2, "kid": p.kid}, []byte(mustJSON(t, pl)))
		if _, err := Verify(tok, resolve, testNow, 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func mustSign(t *testing.T, sign func(Credential, jose.Signer) (string, error), c Credential, s jose.Signer) string {
	t.Helper()
	tok, err := sign(c, s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
