package vcjwt

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/go-jose/go-jose/v4"
)

// vcdm2 is the JWT payload of SignVCDM2: a VCDM 2.0 credential, members in the order the data
// model's examples use.
type vcdm2 struct {
	Context           []string       `json:"@context"`
	ID                string         `json:"id,omitempty"`
	Type              []string       `json:"type"`
	Issuer            string         `json:"issuer"`
	ValidFrom         string         `json:"validFrom,omitempty"`
	ValidUntil        string         `json:"validUntil,omitempty"`
	CredentialSubject map[string]any `json:"credentialSubject"`
	CredentialStatus  any            `json:"credentialStatus,omitempty"`
	CredentialSchema  map[string]any `json:"credentialSchema,omitempty"`
}

// jwtVC11 is the JWT claims set of SignJWTVC11 (VCDM 1.1 section 6.3.1).
type jwtVC11 struct {
	Iss string  `json:"iss"`
	Sub string  `json:"sub,omitempty"`
	Nbf int64   `json:"nbf"`
	Exp int64   `json:"exp,omitempty"`
	Jti string  `json:"jti,omitempty"`
	VC  vc11Obj `json:"vc"`
}

// vc11Obj is the "vc" claim: the credential without the members the registered claims carry
// (issuer, issuanceDate, expirationDate, id, credentialSubject.id) and without a proof.
type vc11Obj struct {
	Context           []string       `json:"@context"`
	Type              []string       `json:"type"`
	CredentialSubject map[string]any `json:"credentialSubject"`
	CredentialStatus  any            `json:"credentialStatus,omitempty"`
	CredentialSchema  map[string]any `json:"credentialSchema,omitempty"`
}

// SignVCDM2 encodes c as a VCDM 2.0 credential and signs it as the payload of a compact JWS,
// an application/vc+jwt token:
//
//	{"@context":["https://www.w3.org/ns/credentials/v2",...],"id":...,
//	 "type":["VerifiableCredential",...],"issuer":...,"validFrom":...,"validUntil":...,
//	 "credentialSubject":{"id":...,...},"credentialStatus":...,"credentialSchema":...}
//
// with times as RFC 3339 UTC date-time stamps in whole seconds, and optional members omitted
// when empty. signer supplies the protected header (see NewSigner): its typ must be TypeVCDM2
// and its kid a DID URL of c.Issuer.
//
// Errors: an invalid c (Issuer not a DID; neither Subject nor Claims; "id" in Claims; an empty
// or repeated entry, or the base value, in Context or Types; ValidUntil not after ValidFrom; a
// year outside 1970-9999; a claim that does not encode as JSON), a signer with the wrong typ or
// a kid that is not a DID URL of c.Issuer, a failure to sign, or a token over MaxSize. SignVCDM2 does not modify c and is safe for concurrent use if signer
// is. Ed25519 signatures are deterministic, so then is the token.
func SignVCDM2(c Credential, signer jose.Signer) (string, error) {
	if err := checkSigner(signer, TypeVCDM2, c.Issuer); err != nil {
		return "", err
	}
	if err := c.validate(false); err != nil {
		return "", err
	}
	p := vcdm2{
		Context:           append([]string{ContextV2}, c.Context...),
		ID:                c.ID,
		Type:              append([]string{TypeCredential}, c.Types...),
		Issuer:            c.Issuer,
		CredentialSubject: c.subject(),
		CredentialStatus:  c.status(),
		CredentialSchema:  c.Schema,
	}
	if !c.ValidFrom.IsZero() {
		p.ValidFrom = formatTime(c.ValidFrom)
	}
	if !c.ValidUntil.IsZero() {
		p.ValidUntil = formatTime(c.ValidUntil)
	}
	return sign(p, signer)
}

// SignJWTVC11 encodes c as a VCDM 1.1 JWT-VC (VCDM 1.1 section 6.3.1) and signs it as a compact
// JWS. The claims set is
//
//	{"iss":Issuer,"sub":Subject,"nbf":ValidFrom,"exp":ValidUntil,"jti":ID,
//	 "vc":{"@context":["https://www.w3.org/2018/credentials/v1",...],
//	       "type":["VerifiableCredential",...],"credentialSubject":{Claims},
//	       "credentialStatus":...,"credentialSchema":...}}
//
// nbf and exp are NumericDates (Unix seconds). The registered claims are used instead of their
// data-model counterparts (issuer, issuanceDate, expirationDate, id, credentialSubject.id),
// which the "vc" claim therefore omits, as did-jwt-vc and most JWT-VC implementations do; a
// verifier restores them from the claims. sub, exp and jti are omitted when empty. ValidFrom is
// required: VCDM 1.1 requires an issuanceDate. signer supplies the protected header (see
// NewSigner): its typ must be TypeJWT and its kid a DID URL of c.Issuer.
//
// Errors and concurrency are as for SignVCDM2.
func SignJWTVC11(c Credential, signer jose.Signer) (string, error) {
	if err := checkSigner(signer, TypeJWT, c.Issuer); err != nil {
		return "", err
	}
	if err := c.validate(true); err != nil {
		return "", err
	}
	claims := c.subject()
	delete(claims, "id")
	p := jwtVC11{
		Iss: c.Issuer,
		Sub: c.Subject,
		Nbf: c.ValidFrom.Unix(),
		Jti: c.ID,
		VC: vc11Obj{
			Context:           append([]string{ContextV1}, c.Context...),
			Type:              append([]string{TypeCredential}, c.Types...),
			CredentialSubject: claims,
			CredentialStatus:  c.status(),
			CredentialSchema:  c.Schema,
		},
	}
	if !c.ValidUntil.IsZero() {
		p.Exp = c.ValidUntil.Unix()
	}
	return sign(p, signer)
}

// sign encodes payload and signs it with signer as a compact JWS.
func sign(payload any, signer jose.Signer) (string, error) {
	b, err := encodeJSON(payload)
	if err != nil {
		return "", fmt.Errorf("vcjwt: encoding the payload: %w", err)
	}
	jws, err := signer.Sign(b)
	if err != nil {
		return "", fmt.Errorf("vcjwt: signing: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("vcjwt: serializing: %w", err)
	}
	if len(tok) > MaxSize {
		return "", fmt.Errorf("vcjwt: token of %d bytes exceeds %d", len(tok), MaxSize)
	}
	return tok, nil
}

// checkSigner checks that signer's protected header has typ typ and a kid that is a DID URL of
// issuer, so that Verify accepts what we sign.
func checkSigner(signer jose.Signer, typ, issuer string) error {
	if signer == nil {
		return errors.New("vcjwt: nil signer")
	}
	h := signer.Options().ExtraHeaders
	if got, _ := h[jose.HeaderType].(string); got != typ {
		if ct, ok := h[jose.HeaderType].(jose.ContentType); !ok || string(ct) != typ {
			return fmt.Errorf("vcjwt: signer typ %v, want %q", h[jose.HeaderType], typ)
		}
	}
	kid, _ := h["kid"].(string)
	d, err := kidDID(kid)
	if err != nil {
		return fmt.Errorf("vcjwt: signer kid %q: %w", kid, err)
	}
	if d != issuer {
		return fmt.Errorf("vcjwt: signer kid %q is not a key of issuer %q", kid, issuer)
	}
	return nil
}

// kidDID returns the DID of kid, which must be an absolute DID URL with a fragment.
func kidDID(kid string) (string, error) {
	d, frag, err := did.SplitURL(kid)
	if err != nil {
		return "", err
	}
	if frag == "" {
		return "", errors.New("kid has no fragment")
	}
	return d.String(), nil
}

// validate checks c before signing: an issuer DID; a subject id or claims; no base context or
// base type, and no empty or repeated entry, in Context and Types; no "id" in Claims (Subject
// carries it); ValidFrom before ValidUntil; and, if v11, a ValidFrom.
func (c Credential) validate(v11 bool) error {
	if _, err := did.Parse(c.Issuer); err != nil {
		return fmt.Errorf("vcjwt: issuer: %w", err)
	}
	if c.Subject == "" && len(c.Claims) == 0 {
		return errors.New("vcjwt: credentialSubject would be empty")
	}
	if _, ok := c.Claims["id"]; ok {
		return errors.New(`vcjwt: Claims must not hold "id"; set Subject`)
	}
	base := ContextV2
	if v11 {
		base = ContextV1
	}
	if err := checkList("Context", c.Context, base); err != nil {
		return err
	}
	if err := checkList("Types", c.Types, TypeCredential); err != nil {
		return err
	}
	if c.Status != nil && len(c.Statuses) > 0 {
		return errors.New("vcjwt: set Status or Statuses, not both")
	}
	for _, st := range c.Statuses {
		if len(st) == 0 {
			return errors.New("vcjwt: Statuses holds an empty entry")
		}
	}
	if v11 && c.ValidFrom.IsZero() {
		return errors.New("vcjwt: a JWT-VC needs ValidFrom (issuanceDate)")
	}
	if !c.ValidFrom.IsZero() && !c.ValidUntil.IsZero() && !c.ValidFrom.Before(c.ValidUntil) {
		return errors.New("vcjwt: ValidUntil is not after ValidFrom")
	}
	for _, t := range []time.Time{c.ValidFrom, c.ValidUntil} {
		if !t.IsZero() && (t.Year() < 1970 || t.Year() > 9999) {
			return fmt.Errorf("vcjwt: time %v out of range", t)
		}
	}
	return nil
}

// status returns the credentialStatus member: Status, Statuses or nil (omitted).
func (c Credential) status() any {
	if len(c.Statuses) > 0 {
		return c.Statuses
	}
	if c.Status != nil {
		return c.Status
	}
	return nil
}

// checkList checks that list has no empty or repeated entry and does not hold base.
func checkList(name string, list []string, base string) error {
	for i, s := range list {
		if s == "" || s == base || slices.Contains(list[:i], s) {
			return fmt.Errorf("vcjwt: %s: entry %q is empty, repeated or the base value", name, s)
		}
	}
	return nil
}

// subject returns credentialSubject: a copy of c.Claims with "id" set to c.Subject if any.
func (c Credential) subject() map[string]any {
	m := make(map[string]any, len(c.Claims)+1)
	for k, v := range c.Claims {
		m[k] = v
	}
	if c.Subject != "" {
		m["id"] = c.Subject
	}
	return m
}

// formatTime formats t as an RFC 3339 date-time stamp in UTC, whole seconds.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}
