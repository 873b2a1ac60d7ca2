package compactqr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/sdjwt"
)

// testNow is the time of every test presentation.
var testNow = time.Unix(1795245717, 0) // 2026-11-21T03:21:57Z

// party is a key pair: an issuer or a holder.
type party struct {
	priv crypto.Signer
	pub  crypto.PublicKey
}

// edParty returns the Ed25519 key pair of a seed of 32 bytes b.
func edParty(b byte) party {
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	return party{priv: k, pub: k.Public()}
}

// p256Party returns a fresh P-256 key pair, the kind phones hold the citizen's key in.
func p256Party(t testing.TB) party {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return party{priv: k, pub: k.Public()}
}

// licenceClaims is a DrivingLicence as ezheng's issuer builds it, bound to holder.
func licenceClaims(t testing.TB, holder party) map[string]any {
	t.Helper()
	jwk, err := jose.JSONWebKey{Key: holder.pub}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var cnf map[string]any
	if err := json.Unmarshal(jwk, &cnf); err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"iss": "did:ez:EiCWU4ZYNOcDe6TUWuF34iDwjHAPZYL_nOzVxzRZJfhiRA",
		"vct": "urn:ezheng:vct:DrivingLicence",
		"iat": testNow.Unix(),
		"exp": testNow.AddDate(6, 0, 0).Unix(),
		"cnf": map[string]any{"jwk": cnf},
		"status": map[string]any{"status_list": map[string]any{
			"idx": 46132, "uri": "http://127.0.0.1:8080/issuer/v1/status/sl_kV4K4LehaCvUukMjgamT5A"}},
		"family_name":    "张",
		"given_name":     "三",
		"birth_date":     "1990-05-17",
		"licence_number": "330106199005170012",
		"licence_class":  "C1",
		"issue_date":     "2024-03-01",
		"address":        "浙江省杭州市西湖区文三路 100 号",
	}
}

// allClaims are the selectively disclosable claims of licenceClaims.
var allClaims = []string{"family_name", "given_name", "birth_date", "licence_number", "licence_class", "issue_date", "address"}

// counterClaims are the three claims the traffic police counter asks for.
var counterClaims = []string{"family_name", "given_name", "licence_class"}

// issue signs an SD-JWT VC with issuer for holder, every claim in allClaims disclosable.
func issue(t testing.TB, issuer, holder party, decoys int) string {
	t.Helper()
	signer, err := sdjwt.NewSigner(issuer.priv, sdjwt.TypeSDJWTVC, "did:ez:EiCWU4ZYNOcDe6TUWuF34iDwjHAPZYL_nOzVxzRZJfhiRA#key-1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sdjwt.Issue(signer, licenceClaims(t, holder), allClaims, decoys, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// present discloses keep of issued with a KB-JWT signed by holder, or none when holder is nil.
func present(t testing.TB, issued string, keep []string, holder *party) string {
	t.Helper()
	var kb jose.Signer
	if holder != nil {
		var err error
		if kb, err = sdjwt.NewSigner(holder.priv, sdjwt.TypeKB, ""); err != nil {
			t.Fatal(err)
		}
	}
	p, err := sdjwt.Present(issued, keep, kb, "counter-traffic-police-1", "2AHLAJnwvDQZgM-d", testNow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// verify checks a presentation with the sdjwt package: issuer signature, disclosures and,
// when the presentation has one, the KB-JWT.
func verify(t testing.TB, p string, issuer, holder party) error {
	t.Helper()
	sd, err := sdjwt.Parse(p)
	if err != nil {
		return err
	}
	if _, err := sd.VerifyIssuer(issuer.pub); err != nil {
		return err
	}
	if sd.KeyBinding == "" {
		return nil
	}
	return sd.VerifyKeyBinding(holder.pub, sdjwt.KeyBindingOptions{Now: testNow, MaxAge: time.Minute})
}

// envelope builds a compact text by hand from a raw section and a record.
func envelope(t testing.TB, raw, rec []byte) string {
	t.Helper()
	z, err := deflate(rec)
	if err != nil {
		t.Fatal(err)
	}
	env := binary.AppendUvarint(nil, uint64(len(raw)))
	env = append(append(env, raw...), z...)
	return Prefix + base45Encode(env)
}

// readTestdata returns the contents of testdata/name.
func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
