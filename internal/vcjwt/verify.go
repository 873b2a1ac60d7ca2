package vcjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Verify verifies token, a VCDM 2.0 vc+jwt or a VCDM 1.1 JWT-VC, and returns the credential.
//
// keys returns the issuer's public key for a kid (an ed25519.PublicKey, a P-256
// *ecdsa.PublicKey, or a jose.JSONWebKey or *jose.JSONWebKey holding one), typically by
// resolving the DID of the kid and taking the verification method for assertionMethod (see
// did.ResolveKey); it is called once, after the header passed its checks, and its error is
// returned wrapped together with ErrSignature. A nil key, a private key or any other type is
// ErrSignature too. now is the verifier's clock and skew the clock
// difference tolerated with the issuer (at least 0).
//
// The checks, in order:
//
//  1. size (MaxSize), three canonical base64url parts, a header that is a JSON object without
//     repeated members, with a string alg in Algs, no "crit" or "b64", a kid that is a DID URL
//     with a fragment, and a typ naming a format: "vc+jwt" (cty absent or "vc") for VCDM 2.0,
//     "JWT" (no cty) or no typ at all for a JWT-VC; typ and cty compare case-insensitively and
//     may carry the "application/" prefix (ErrMalformed or ErrSignature);
//  2. the signature, with the key from keys(kid) (ErrSignature);
//  3. the payload: strict JSON, then the data model of the format: the base @context first,
//     "VerifiableCredential" among the types, an issuer, one credentialSubject object, dates
//     as RFC 3339 date-time stamps or NumericDates; a JWT-VC's registered claims must agree
//     with any data-model counterparts left in "vc", and a vc+jwt's optional iss, nbf and exp
//     claims with issuer, validFrom and validUntil (ErrMalformed);
//  4. the issuer equals the DID of the kid (ErrIssuerMismatch);
//  5. the validity period: now+skew must not be before validFrom/nbf (ErrNotYetValid), and
//     now-skew must be before validUntil/exp (ErrExpired).
//
// Errors wrap exactly one sentinel (or, for keys' own error, ErrSignature and that error);
// a zero now or a negative skew gives an error wrapping none. Verify does not check a
// credentialStatus, a credentialSchema or the meaning of the @context: the caller must.
// It is safe for concurrent use if keys is.
func Verify(token string, keys func(kid string) (any, error), now time.Time, skew time.Duration) (*Verified, error) {
	if now.IsZero() || skew < 0 || keys == nil {
		return nil, errors.New("vcjwt: Verify needs a clock, a key lookup and a skew of at least 0")
	}
	if len(token) > MaxSize {
		return nil, fmt.Errorf("%w: token of %d bytes exceeds %d", ErrMalformed, len(token), MaxSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d parts separated by '.', want 3", ErrMalformed, len(parts))
	}
	hb, err := decodeSegment(parts[0], "header")
	if err != nil {
		return nil, err
	}
	if _, err := decodeSegment(parts[1], "payload"); err != nil {
		return nil, err
	}
	if _, err := decodeSegment(parts[2], "signature"); err != nil {
		return nil, err
	}
	header, err := decodeObject(hb, "header")
	if err != nil {
		return nil, err
	}
	format, kid, err := checkHeader(header)
	if err != nil {
		return nil, err
	}
	issuerDID, err := kidDID(kid)
	if err != nil {
		return nil, fmt.Errorf("%w: kid %q: %v", ErrMalformed, kid, err)
	}

	// Parse, then verify: the algorithm allow-list is enforced by go-jose as well as above.
	jws, err := jose.ParseSignedCompact(token, Algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	key, err := keys(kid)
	if err != nil {
		return nil, fmt.Errorf("%w: no key for kid %q: %w", ErrSignature, kid, err)
	}
	pub, err := publicKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: key for kid %q: %v", ErrSignature, kid, err)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}

	raw, err := decodeObject(payload, "payload")
	if err != nil {
		return nil, err
	}
	var c Credential
	if format == FormatVCDM2 {
		c, err = decodeVCDM2(raw)
	} else {
		c, err = decodeJWTVC11(raw)
	}
	if err != nil {
		return nil, err
	}
	if c.Issuer != issuerDID {
		return nil, fmt.Errorf("%w: issuer %q, kid %q belongs to %q", ErrIssuerMismatch, c.Issuer, kid, issuerDID)
	}
	if !c.ValidFrom.IsZero() && now.Add(skew).Before(c.ValidFrom) {
		return nil, fmt.Errorf("%w: valid from %s, now %s", ErrNotYetValid, formatTime(c.ValidFrom), formatTime(now))
	}
	if !c.ValidUntil.IsZero() && !now.Add(-skew).Before(c.ValidUntil) {
		return nil, fmt.Errorf("%w: valid until %s, now %s", ErrExpired, formatTime(c.ValidUntil), formatTime(now))
	}
	return &Verified{Credential: c, Raw: raw, Format: format, KID: kid}, nil
}

// publicKey unwraps key, as keys returned it, to an ed25519.PublicKey or a P-256
// *ecdsa.PublicKey, rejecting nil keys, private keys and other types.
func publicKey(key any) (crypto.PublicKey, error) {
	switch k := key.(type) {
	case *jose.JSONWebKey:
		if k == nil {
			return nil, errors.New("nil key")
		}
		key = k.Key
	case jose.JSONWebKey:
		key = k.Key
	}
	switch k := key.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return k, nil
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, fmt.Errorf("not an Ed25519 or P-256 public key (%T)", key)
}

// checkHeader checks the decoded protected header and returns the format it names and its kid.
func checkHeader(h map[string]any) (format, kid string, err error) {
	alg, _ := h["alg"].(string)
	if !slices.Contains(Algs, jose.SignatureAlgorithm(alg)) {
		return "", "", fmt.Errorf("%w: algorithm %q not allowed", ErrSignature, alg)
	}
	for _, name := range []string{"crit", "b64"} {
		if _, ok := h[name]; ok {
			return "", "", fmt.Errorf("%w: header %q not supported", ErrSignature, name)
		}
	}
	kid, ok := h["kid"].(string)
	if !ok || kid == "" {
		return "", "", fmt.Errorf("%w: kid missing or not a string", ErrMalformed)
	}
	typ, hasTyp := h["typ"]
	cty, hasCty := h["cty"]
	switch mediaType(typ) {
	case TypeVCDM2:
		if hasCty && mediaType(cty) != ContentTypeVC {
			return "", "", fmt.Errorf("%w: cty %v with typ %v", ErrMalformed, cty, typ)
		}
		return FormatVCDM2, kid, nil
	case "jwt":
		if hasCty {
			return "", "", fmt.Errorf("%w: cty %v with typ JWT", ErrMalformed, cty)
		}
		return FormatJWTVC11, kid, nil
	}
	if !hasTyp && !hasCty {
		return FormatJWTVC11, kid, nil
	}
	return "", "", fmt.Errorf("%w: typ %v is not a credential type", ErrMalformed, typ)
}

// mediaType returns the header parameter v (typ or cty) in the short form RFC 7515 section 4.1.9
// allows, lower-cased, since media types compare case-insensitively: "application/vc+jwt" and
// "VC+JWT" both give "vc+jwt". A value that is not a string gives "".
func mediaType(v any) string {
	s, _ := v.(string)
	s = strings.ToLower(s)
	if r, ok := strings.CutPrefix(s, "application/"); ok && !strings.Contains(r, "/") {
		return r
	}
	return s
}

// decodeVCDM2 decodes a VCDM 2.0 credential from the verified payload p.
func decodeVCDM2(p map[string]any) (Credential, error) {
	c, err := decodeCommon(p, ContextV2)
	if err != nil {
		return c, err
	}
	if c.Issuer, err = issuerID(p["issuer"]); err != nil {
		return c, err
	}
	if c.ID, err = optString(p, "id"); err != nil {
		return c, err
	}
	if c.ValidFrom, err = optDate(p, "validFrom"); err != nil {
		return c, err
	}
	if c.ValidUntil, err = optDate(p, "validUntil"); err != nil {
		return c, err
	}
	// VC-JOSE-COSE lets the JWT claims appear beside the credential; when present they must
	// not contradict it.
	if iss, ok := p["iss"]; ok && iss != c.Issuer {
		return c, fmt.Errorf("%w: iss %v differs from issuer %q", ErrMalformed, iss, c.Issuer)
	}
	if err := agree(p, "nbf", c.ValidFrom); err != nil {
		return c, err
	}
	if err := agree(p, "exp", c.ValidUntil); err != nil {
		return c, err
	}
	return c, nil
}

// decodeJWTVC11 decodes a VCDM 1.1 JWT-VC from its verified claims set p, following the decoding
// rules of VCDM 1.1 section 6.3.1: iss is the issuer, nbf the issuanceDate, exp the
// expirationDate, jti the id and sub the credentialSubject.id; where "vc" also holds the
// data-model member, the two must agree.
func decodeJWTVC11(p map[string]any) (Credential, error) {
	vc, ok := p["vc"].(map[string]any)
	if !ok {
		return Credential{}, fmt.Errorf(`%w: JWT-VC without a "vc" object`, ErrMalformed)
	}
	c, err := decodeCommon(vc, ContextV1)
	if err != nil {
		return c, err
	}
	if c.Issuer, err = optString(p, "iss"); err != nil {
		return c, err
	}
	if v, ok := vc["issuer"]; ok {
		id, err := issuerID(v)
		if err != nil {
			return c, err
		}
		if c.Issuer != "" && id != c.Issuer {
			return c, fmt.Errorf("%w: iss %q differs from vc.issuer %q", ErrMalformed, c.Issuer, id)
		}
		c.Issuer = id
	}
	if c.Issuer == "" {
		return c, fmt.Errorf("%w: no iss", ErrMalformed)
	}
	for _, m := range []struct {
		claim string
		dst   *string
	}{{"jti", &c.ID}, {"sub", &c.Subject}} {
		v, err := optString(p, m.claim)
		if err != nil {
			return c, err
		}
		if v == "" {
			continue
		}
		if *m.dst != "" && *m.dst != v {
			return c, fmt.Errorf("%w: %s %q differs from the credential's %q", ErrMalformed, m.claim, v, *m.dst)
		}
		*m.dst = v
	}
	if v, err := optString(vc, "id"); err != nil {
		return c, err
	} else if v != "" && c.ID != "" && v != c.ID {
		return c, fmt.Errorf("%w: jti %q differs from vc.id %q", ErrMalformed, c.ID, v)
	} else if c.ID == "" {
		c.ID = v
	}
	for _, m := range []struct {
		claim, member string
		dst           *time.Time
	}{{"nbf", "issuanceDate", &c.ValidFrom}, {"exp", "expirationDate", &c.ValidUntil}} {
		t, err := optNumericDate(p, m.claim)
		if err != nil {
			return c, err
		}
		d, err := optDate(vc, m.member)
		if err != nil {
			return c, err
		}
		if !t.IsZero() && !d.IsZero() && !t.Equal(d) {
			return c, fmt.Errorf("%w: %s and vc.%s differ", ErrMalformed, m.claim, m.member)
		}
		if t.IsZero() {
			t = d
		}
		*m.dst = t
	}
	if c.ValidFrom.IsZero() {
		return c, fmt.Errorf("%w: no nbf or issuanceDate", ErrMalformed)
	}
	return c, nil
}

// decodeCommon decodes the members both data models share from the credential object m:
// @context (base first), type ("VerifiableCredential" first), credentialSubject (one object;
// its id, if any, into Subject), credentialStatus (one object, or an array of objects) and
// credentialSchema (one object).
func decodeCommon(m map[string]any, base string) (Credential, error) {
	var c Credential
	ctx, err := stringList(m["@context"], "@context")
	if err != nil {
		return c, err
	}
	if len(ctx) == 0 || ctx[0] != base {
		return c, fmt.Errorf("%w: @context does not start with %q", ErrMalformed, base)
	}
	if len(ctx) > 1 {
		c.Context = ctx[1:]
	}
	types, err := stringList(m["type"], "type")
	if err != nil {
		return c, err
	}
	i := slices.Index(types, TypeCredential)
	if i < 0 {
		return c, fmt.Errorf("%w: type lacks %q", ErrMalformed, TypeCredential)
	}
	if types = slices.Delete(types, i, i+1); len(types) > 0 {
		c.Types = types
	}
	subj, ok := m["credentialSubject"].(map[string]any)
	if !ok {
		return c, fmt.Errorf("%w: credentialSubject missing or not a single object", ErrMalformed)
	}
	c.Claims = make(map[string]any, len(subj))
	for k, v := range subj {
		c.Claims[k] = v
	}
	if id, ok := subj["id"]; ok {
		if c.Subject, ok = id.(string); !ok || c.Subject == "" {
			return c, fmt.Errorf("%w: credentialSubject.id not a string", ErrMalformed)
		}
		delete(c.Claims, "id")
	}
	if len(subj) == 0 {
		return c, fmt.Errorf("%w: empty credentialSubject", ErrMalformed)
	}
	if a, ok := m["credentialStatus"].([]any); ok {
		if len(a) == 0 {
			return c, fmt.Errorf("%w: credentialStatus is an empty array", ErrMalformed)
		}
		for _, e := range a {
			o, ok := e.(map[string]any)
			if !ok {
				return c, fmt.Errorf("%w: credentialStatus holds a non-object", ErrMalformed)
			}
			c.Statuses = append(c.Statuses, o)
		}
	}
	for _, f := range []struct {
		name string
		dst  *map[string]any
	}{{"credentialStatus", &c.Status}, {"credentialSchema", &c.Schema}} {
		v, ok := m[f.name]
		if !ok || (f.name == "credentialStatus" && c.Statuses != nil) {
			continue
		}
		if *f.dst, ok = v.(map[string]any); !ok {
			return c, fmt.Errorf("%w: %s is not a single object", ErrMalformed, f.name)
		}
	}
	return c, nil
}

// stringList decodes a JSON array of non-empty strings, or a single string, as a list.
func stringList(v any, name string) ([]string, error) {
	if s, ok := v.(string); ok && s != "" {
		return []string{s}, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s missing or not a list of strings", ErrMalformed, name)
	}
	out := make([]string, 0, len(a))
	for _, e := range a {
		s, ok := e.(string)
		if !ok || s == "" {
			// A @context may hold an inline context object; we do not process them, so we
			// do not accept them either.
			return nil, fmt.Errorf("%w: %s holds a non-string or empty entry", ErrMalformed, name)
		}
		out = append(out, s)
	}
	return out, nil
}

// issuerID returns the issuer's id from an issuer member: a URL string or an object with an id.
func issuerID(v any) (string, error) {
	if m, ok := v.(map[string]any); ok {
		v = m["id"]
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%w: issuer missing or not a URL or an object with an id", ErrMalformed)
	}
	return s, nil
}

// optString returns the string member name of m, "" when absent.
func optString(m map[string]any, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%w: %s is not a non-empty string", ErrMalformed, name)
	}
	return s, nil
}

// optDate returns the member name of m, an RFC 3339 date-time stamp with a time zone, as a UTC
// time; the zero time when absent.
func optDate(m map[string]any, name string) (time.Time, error) {
	v, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1970 {
		return time.Time{}, fmt.Errorf("%w: %s %q is not an RFC 3339 date-time stamp", ErrMalformed, name, s)
	}
	return t.UTC(), nil
}

// optNumericDate returns the member name of m, a NumericDate (seconds since the epoch, possibly
// fractional, not negative), as a UTC time; the zero time when absent.
func optNumericDate(m map[string]any, name string) (time.Time, error) {
	v, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %s is not a number", ErrMalformed, name)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f > 253402300799 || math.IsNaN(f) { // up to 9999-12-31T23:59:59Z
		return time.Time{}, fmt.Errorf("%w: %s %s is not a NumericDate", ErrMalformed, name, n)
	}
	sec, frac := math.Modf(f)
	if sec == 0 && frac == 0 {
		return time.Time{}, fmt.Errorf("%w: %s is 0", ErrMalformed, name)
	}
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// agree checks that the optional NumericDate claim name of p, when present, equals t.
func agree(p map[string]any, name string, t time.Time) error {
	n, err := optNumericDate(p, name)
	if err != nil || n.IsZero() {
		return err
	}
	if !n.Equal(t) {
		return fmt.Errorf("%w: %s differs from the credential's date", ErrMalformed, name)
	}
	return nil
}
