// Command gen writes the fixtures of the interop check (scripts/interop/run.sh) into a directory:
// credentials issued by ezheng's own code (internal/sdjwt, internal/vcjwt), fresh keys for every
// run, and what an independent verifier should find in them.
//
// Usage:
//
//	go run ./scripts/interop/gen [--tamper] DIR
//
// It writes, into DIR (which must exist):
//
//	sd-jwt-vc.txt         SD-JWT VC (typ dc+sd-jwt), Ed25519 issuer (did:key), all disclosures
//	sd-jwt-kb.txt         its presentation: two disclosures and an ES256 Key Binding JWT
//	vcdm2-eddsa.jwt       VCDM 2.0 vc+jwt, Ed25519 issuer (did:key)
//	vcdm2-es256.jwt       VCDM 2.0 vc+jwt, P-256 issuer (did:jwk)
//	jwtvc11-eddsa.jwt     VCDM 1.1 JWT-VC, Ed25519 issuer (did:key)
//	jwtvc11-es256.jwt     VCDM 1.1 JWT-VC, P-256 issuer (did:jwk)
//	ldp-vc.json           VCDM 1.1 JSON-LD DrivingLicence, Ed25519Signature2020 (internal/ldvc),
//	                      Ed25519 issuer (did:key), with the BitstringStatusListEntry the
//	                      issuer gives every ldp_vc (issuer.LDPStatusEntry)
//	licence-v1.jsonld     our JSON-LD context, which the verifier cannot get elsewhere
//	issuer-ed25519.jwk.json, issuer-p256.jwk.json, holder.jwk.json   public JWKs
//	expected.json         issuers, kids, claims, audience, nonce and times to check against
//
// With --tamper, every signed fixture gets one bit flipped in a signed byte (a claim value in a
// JWT payload or in a disclosure; the status list index of the JSON-LD credential) after signing, so that a correct verifier must reject each one;
// run.sh uses it as a self-check of the verifier script.
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/ldvc"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/vcjwt"
	ezissuer "github.com/ezheng/ezheng/issuer"
	"github.com/go-jose/go-jose/v4"
)

// Values the verifier checks; the given name is also the byte --tamper flips.
const (
	givenName = "Mei"
	vct       = "https://ezheng.example/credentials/driving-licence"
	audience  = "https://verifier.example.gov.tw"
	holderDID = "did:example:holder-0001"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// issuer is a signing key with its DID, kid and public JWK.
type issuer struct {
	key      crypto.Signer
	did, kid string
}

func newIssuer(key crypto.Signer, newDID func(crypto.PublicKey) (string, string, error)) (issuer, error) {
	d, kid, err := newDID(key.Public())
	return issuer{key: key, did: d, kid: kid}, err
}

func run(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	tamper := fs.Bool("tamper", false, "flip one signed bit in every fixture after signing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: gen [--tamper] DIR")
	}
	dir := fs.Arg(0)

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	holderKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	edIss, err := newIssuer(edKey, did.NewKey)
	if err != nil {
		return err
	}
	pIss, err := newIssuer(pKey, did.NewJWK)
	if err != nil {
		return err
	}

	now := time.Now().UTC().Truncate(time.Second)
	from, until := now.Add(-time.Hour), now.AddDate(1, 0, 0)
	files := map[string]string{}

	// SD-JWT VC and its presentation.
	sdClaims := map[string]any{
		"iss":         edIss.did,
		"iat":         from.Unix(),
		"nbf":         from.Unix(),
		"exp":         until.Unix(),
		"vct":         vct,
		"sub":         holderDID,
		"cnf":         map[string]any{"jwk": jose.JSONWebKey{Key: &holderKey.PublicKey}},
		"given_name":  givenName,
		"family_name": "Zheng",
		"birthdate":   "1990-02-03",
		"categories":  []any{"B", "C1"},
		"address":     map[string]any{"locality": "Taipei", "country": "TW"},
	}
	disclosable := []string{"given_name", "family_name", "birthdate", "categories", "address"}
	kept := []string{"given_name", "birthdate"}
	sdSigner, err := sdjwt.NewSigner(edKey, sdjwt.TypeSDJWTVC, edIss.kid)
	if err != nil {
		return err
	}
	issued, err := sdjwt.Issue(sdSigner, sdClaims, disclosable, 2, nil)
	if err != nil {
		return fmt.Errorf("sdjwt.Issue: %w", err)
	}
	kbSigner, err := sdjwt.NewSigner(holderKey, sdjwt.TypeKB, "")
	if err != nil {
		return err
	}
	nonce := base64.RawURLEncoding.EncodeToString(randBytes(12))
	presented, err := sdjwt.Present(issued, kept, kbSigner, audience, nonce, now)
	if err != nil {
		return fmt.Errorf("sdjwt.Present: %w", err)
	}
	files["sd-jwt-vc.txt"], files["sd-jwt-kb.txt"] = issued, presented

	// VCDM 2.0 vc+jwt and VCDM 1.1 JWT-VC, with each issuer key.
	subject := map[string]any{
		"givenName":  givenName,
		"familyName": "Zheng",
		"birthDate":  "1990-02-03",
		"categories": []any{"B", "C1"},
		"address":    map[string]any{"addressLocality": "Taipei", "addressCountry": "TW"},
	}
	type vcOut struct {
		File     string         `json:"file"`
		Format   string         `json:"format"`
		Alg      string         `json:"alg"`
		Typ      string         `json:"typ"`
		JWK      string         `json:"jwk"`
		Issuer   string         `json:"issuer"`
		KID      string         `json:"kid"`
		ID       string         `json:"id"`
		Subject  string         `json:"subject"`
		Types    []string       `json:"types"`
		Context  string         `json:"context"`
		From     int64          `json:"validFrom"`
		Until    int64          `json:"validUntil"`
		Claims   map[string]any `json:"claims"`
		StatusID string         `json:"statusId"`
	}
	var vcs []vcOut
	for _, iss := range []struct {
		issuer
		alg, suffix, jwk string
	}{{edIss, "EdDSA", "eddsa", "issuer-ed25519.jwk.json"}, {pIss, "ES256", "es256", "issuer-p256.jwk.json"}} {
		for _, f := range []struct {
			name, typ, format, context string
			sign                       func(vcjwt.Credential, jose.Signer) (string, error)
		}{
			{"vcdm2", vcjwt.TypeVCDM2, vcjwt.FormatVCDM2, vcjwt.ContextV2, vcjwt.SignVCDM2},
			{"jwtvc11", vcjwt.TypeJWT, vcjwt.FormatJWTVC11, vcjwt.ContextV1, vcjwt.SignJWTVC11},
		} {
			c := vcjwt.Credential{
				ID:         "urn:uuid:" + uuid4(),
				Issuer:     iss.did,
				Subject:    holderDID,
				Types:      []string{"DrivingLicenceCredential"},
				ValidFrom:  from,
				ValidUntil: until,
				Claims:     subject,
				Status: map[string]any{
					"id":                   "https://issuer.example.gov.tw/status/1#94567",
					"type":                 "BitstringStatusListEntry",
					"statusPurpose":        "revocation",
					"statusListIndex":      "94567",
					"statusListCredential": "https://issuer.example.gov.tw/status/1",
				},
			}
			signer, err := vcjwt.NewSigner(iss.key, f.typ, iss.kid)
			if err != nil {
				return err
			}
			tok, err := f.sign(c, signer)
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			// Our own verifier must accept what we hand to the others.
			if _, err := vcjwt.Verify(tok, func(string) (any, error) { return iss.key.Public(), nil }, now, 0); err != nil {
				return fmt.Errorf("%s: own Verify: %w", f.name, err)
			}
			file := f.name + "-" + iss.suffix + ".jwt"
			files[file] = tok
			vcs = append(vcs, vcOut{File: file, Format: f.format, Alg: iss.alg, Typ: f.typ, JWK: iss.jwk,
				Issuer: iss.did, KID: iss.kid, ID: c.ID, Subject: holderDID, Types: c.Types,
				Context: f.context, From: from.Unix(), Until: until.Unix(), Claims: subject,
				StatusID: c.Status["id"].(string)})
		}
	}

	// VCDM 1.1 JSON-LD with an Ed25519Signature2020 proof and a status entry.
	ldpStatus := ezissuer.LDPStatusEntry("https://issuer.example.gov.tw/issuer/v1/status/sl_1/w3c/message", ldpIndex)
	ldpSubject := map[string]any{"family_name": "Zheng", "given_name": givenName, "licence_class": "C1", "birth_date": "1990-02-03"}
	ldpCred := map[string]any{
		"@context":          []any{ldvc.ContextCredentialsV1, ldvc.ContextLicenceV1, ldvc.ContextStatusV1},
		"id":                "urn:uuid:" + uuid4(),
		"type":              []any{"VerifiableCredential", "DrivingLicence"},
		"issuer":            edIss.did,
		"issuanceDate":      from.Format(time.RFC3339),
		"expirationDate":    until.Format(time.RFC3339),
		"credentialSubject": withID(ldpSubject, holderDID),
		"credentialStatus":  ldpStatus,
	}
	ldp, err := ldvc.Sign(ldpCred, edKey, edIss.kid, now)
	if err != nil {
		return fmt.Errorf("ldvc.Sign: %w", err)
	}
	if _, err := ldvc.Verify(ldp, func(string) (ed25519.PublicKey, error) { return edKey.Public().(ed25519.PublicKey), nil }, now); err != nil {
		return fmt.Errorf("ldp_vc: own Verify: %w", err)
	}
	files["ldp-vc.json"] = string(ldp)
	licenceContext, _ := ldvc.ContextDocument(ldvc.ContextLicenceV1)
	files["licence-v1.jsonld"] = string(licenceContext)

	if *tamper {
		for name, s := range files {
			if name == "licence-v1.jsonld" {
				continue
			}
			if name == "ldp-vc.json" {
				// The status entry is covered by the proof: another index must not verify.
				want := fmt.Sprintf(`"statusListIndex":"%d"`, ldpIndex)
				if !strings.Contains(s, want) {
					return errors.New("tampering ldp-vc.json: no statusListIndex")
				}
				files[name] = strings.Replace(s, want, fmt.Sprintf(`"statusListIndex":"%d"`, ldpIndex^1), 1)
				continue
			}
			t, err := tamperToken(s)
			if err != nil {
				return fmt.Errorf("tampering %s: %w", name, err)
			}
			files[name] = t
		}
	}

	for name, k := range map[string]crypto.PublicKey{
		"issuer-ed25519.jwk.json": edKey.Public(), "issuer-p256.jwk.json": &pKey.PublicKey, "holder.jwk.json": &holderKey.PublicKey,
	} {
		b, err := json.MarshalIndent(jose.JSONWebKey{Key: k}, "", "  ")
		if err != nil {
			return err
		}
		files[name] = string(b) + "\n"
	}
	expected := map[string]any{
		"now": now.Unix(),
		"sdjwt": map[string]any{
			"issued":    "sd-jwt-vc.txt",
			"presented": "sd-jwt-kb.txt",
			"typ":       sdjwt.TypeSDJWTVC,
			"alg":       "EdDSA",
			"jwk":       "issuer-ed25519.jwk.json",
			"holderJwk": "holder.jwk.json",
			"issuer":    edIss.did,
			"kid":       edIss.kid,
			"vct":       vct,
			"subject":   holderDID,
			"validFrom": from.Unix(),
			"exp":       until.Unix(),
			"claims":    pick(sdClaims, disclosable),
			"kept":      kept,
			"aud":       audience,
			"nonce":     nonce,
			"iat":       now.Unix(),
		},
		"credentials": vcs,
		"ldp": map[string]any{
			"file":           "ldp-vc.json",
			"licenceContext": "licence-v1.jsonld",
			"jwk":            "issuer-ed25519.jwk.json",
			"issuer":         edIss.did,
			"kid":            edIss.kid,
			"id":             ldpCred["id"],
			"subject":        holderDID,
			"types":          []string{"VerifiableCredential", "DrivingLicence"},
			"claims":         ldpSubject,
			"status":         ldpStatus,
		},
	}
	b, err := json.MarshalIndent(expected, "", "  ")
	if err != nil {
		return err
	}
	files["expected.json"] = string(b) + "\n"

	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// tamperToken flips the lowest bit of the last byte of the first givenName found in a signed
// part of s: the payload of a JWT, or else (for an SD-JWT whose payload holds no given name)
// a disclosure, or else the issuer JWT's vct. The result still parses; only its signature,
// digest or sd_hash no longer matches.
func tamperToken(s string) (string, error) {
	segs := strings.Split(s, "~")
	jwt := strings.Split(segs[0], ".")
	if len(jwt) != 3 {
		return "", errors.New("not a JWS")
	}
	if p, ok := flip(jwt[1], givenName); ok {
		jwt[1] = p
		segs[0] = strings.Join(jwt, ".")
		return strings.Join(segs, "~"), nil
	}
	// SD-JWT: a presentation loses the digest and sd_hash match through a disclosure; an
	// issued SD-JWT loses its signature through the payload.
	if len(segs) > 1 && segs[len(segs)-1] != "" {
		for i := 1; i < len(segs)-1; i++ {
			if d, ok := flip(segs[i], givenName); ok {
				segs[i] = d
				return strings.Join(segs, "~"), nil
			}
		}
	}
	if p, ok := flip(jwt[1], "driving-licence"); ok {
		jwt[1] = p
		segs[0] = strings.Join(jwt, ".")
		return strings.Join(segs, "~"), nil
	}
	return "", errors.New("nothing to flip")
}

// flip decodes the base64url segment seg, flips the lowest bit of the last byte of the first
// occurrence of needle, and re-encodes it.
func flip(seg, needle string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	i := bytes.Index(b, []byte(needle))
	if i < 0 {
		return "", false
	}
	b[i+len(needle)-1] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(b), true
}

// ldpIndex is the status list index of the JSON-LD fixture.
const ldpIndex = 94567

// withID returns a copy of subject with id set.
func withID(subject map[string]any, id string) map[string]any {
	out := map[string]any{"id": id}
	for k, v := range subject {
		out[k] = v
	}
	return out
}

// pick returns the members of m named in names.
func pick(m map[string]any, names []string) map[string]any {
	out := make(map[string]any, len(names))
	for _, n := range names {
		out[n] = m[n]
	}
	return out
}

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// uuid4 returns a random UUID (version 4) in its string form.
func uuid4() string {
	b := randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
