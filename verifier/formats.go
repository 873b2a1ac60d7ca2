package verifier

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/ldvc"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/vcjwt"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// MaxInput bounds the text Verify accepts, in bytes: the largest of the format parsers' limits.
const MaxInput = 64 << 10

// DetectFormat tells which format text is in, by its shape and, for a JWS, the typ of its
// header; it authenticates nothing. A JSON object is ldp_vc; a compact JWS followed by "~" is
// an SD-JWT VC; a bare compact JWS is a vc+jwt, JWT-VC or (typ dc+sd-jwt) an SD-JWT VC
// without disclosures. Anything else is ErrNotPresentation.
func DetectFormat(text string) (string, error) {
	if len(text) > MaxInput {
		return "", fmt.Errorf("%w: larger than %d bytes", ErrNotPresentation, MaxInput)
	}
	if strings.HasPrefix(text, "{") {
		return FormatLDPVC, nil
	}
	jwt, _, sd := strings.Cut(text, "~")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || parts[0] == "" {
		return "", fmt.Errorf("%w: neither a JWS, an SD-JWT nor a JSON credential", ErrNotPresentation)
	}
	if sd {
		return FormatSDJWTVC, nil
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", fmt.Errorf("%w: header is not base64url", ErrNotPresentation)
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return "", fmt.Errorf("%w: header is not JSON", ErrNotPresentation)
	}
	switch strings.TrimPrefix(strings.ToLower(h.Typ), "application/") {
	case sdjwt.TypeSDJWTVC, "vc+sd-jwt":
		return FormatSDJWTVC, nil
	case vcjwt.TypeVCDM2:
		return FormatVCJWT, nil
	case "jwt", "":
		return FormatJWTVC, nil
	}
	return "", fmt.Errorf("%w: JWS typ %q names no credential format", ErrNotPresentation, h.Typ)
}

// sdJWT runs syntax, signature, holder_binding and validity on an SD-JWT VC presentation (or
// a bare SD-JWT VC) and returns what the later checks need (nil when the signature failed).
func (r *run) sdJWT(ctx context.Context, text string) (*presented, error) {
	if !strings.Contains(text, "~") {
		text += "~" // a bare issuer JWT: an SD-JWT with no disclosures
	}
	sd, err := sdjwt.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotPresentation, err)
	}
	r.res.Digest = digest([]byte(sd.IssuerJWT))
	iss, _ := sd.Payload["iss"].(string)
	vct, _ := sd.Payload["vct"].(string)
	kid, _ := sd.Header["kid"].(string)
	typ, _ := sd.Header["typ"].(string)
	r.res.Issuer, r.res.Type = iss, vct
	switch {
	case typ != sdjwt.TypeSDJWTVC && typ != "vc+sd-jwt":
		r.fail(CheckSyntax, fmt.Sprintf("typ %q is not dc+sd-jwt", typ))
	case iss == "" || vct == "":
		r.fail(CheckSyntax, "iss and vct are required")
	case kid == "":
		r.fail(CheckSyntax, "the issuer JWT has no kid")
	default:
		r.pass(CheckSyntax)
	}
	if !r.ok(CheckSyntax) {
		r.skipFrom(CheckSignature, CheckSyntax)
		return nil, nil
	}

	// signature: the issuer's key for assertions, as its DID document listed it at iat.
	at, hasAt, _ := sdjwt.ClaimTime(sd.Payload, "iat")
	var claims map[string]any
	err = r.withIssuerKey(ctx, iss, kid, at, hasAt, func(key *jose.JSONWebKey) error {
		var err error
		claims, err = sd.VerifyIssuer(key)
		return err
	})
	if err != nil {
		if !isVerificationFailure(err) {
			return nil, err
		}
		r.fail(CheckSignature, err.Error())
		r.skipFrom(CheckHolderBinding, CheckSignature)
		return nil, nil
	}
	r.pass(CheckSignature)

	// holder_binding: the KB-JWT, signed by the key in cnf, fresh, for this audience.
	switch hk, err := sdjwt.HolderKey(claims); {
	case err != nil:
		r.fail(CheckHolderBinding, err.Error())
	case sd.KeyBinding == "":
		r.unavailable(CheckHolderBinding, "no key-binding JWT: the holder did not prove possession of the key")
	default:
		if err := r.keyBinding(sd, hk); err != nil {
			r.fail(CheckHolderBinding, err.Error())
		} else {
			r.pass(CheckHolderBinding)
		}
	}

	// validity: the credential's own iat/nbf/exp.
	var times [3]time.Time
	var reason string
	for i, name := range []string{"iat", "nbf", "exp"} {
		t, _, err := sdjwt.ClaimTime(claims, name)
		if err != nil && reason == "" {
			reason = "malformed " + name + ": " + err.Error()
		}
		times[i] = t
	}
	if reason == "" {
		reason = r.s.validity(times[0], times[1], times[2], r.now)
	}
	r.result(CheckValidity, reason)

	p := &presented{issuer: iss, vct: vct, issuedAt: times[0], status: claims["status"]}
	if t, err := r.s.types.ByVCT(vct); err == nil {
		p.typeName = t.Name
	}
	// The claims shown: the disclosed ones, and those the issuer left visible (any claim that
	// is not a registered JWT or SD-JWT VC claim).
	p.claims = disclosed(sd, claims)
	for k, v := range claims {
		if !registeredSDJWTClaims[k] {
			p.claims[k] = v
		}
	}
	r.res.Claims = p.claims
	p.partial = !allDisclosed(sd, claims)
	issued := text
	if sd.KeyBinding != "" {
		issued = strings.TrimSuffix(text, sd.KeyBinding)
	}
	p.anchored = [][]byte{sdjwt.AnchoredForm(issued), []byte(issued)} // the second: credentials anchored before the issuer JWT was
	return p, nil
}

// registeredSDJWTClaims are the claims of an SD-JWT VC that are about the credential, not
// its subject.
var registeredSDJWTClaims = map[string]bool{"iss": true, "sub": true, "vct": true, "vct#integrity": true, "iat": true, "nbf": true, "exp": true,
	"cnf": true, "status": true, "_sd": true, "_sd_alg": true, "jti": true}

func (r *run) keyBinding(sd *sdjwt.SDJWT, hk *jose.JSONWebKey) error {
	maxAge := r.s.maxAge
	if r.pol.MaxQRAge.D > 0 {
		maxAge = r.pol.MaxQRAge.D
	}
	var last error
	for _, aud := range r.audiences {
		last = sd.VerifyKeyBinding(hk, sdjwt.KeyBindingOptions{Audience: aud, Nonce: r.nonce, Now: r.now, MaxAge: maxAge, Skew: r.s.skew})
		if last == nil {
			return nil
		}
	}
	return last
}

// jwtVC runs syntax, signature, holder_binding and validity on a vc+jwt or JWT-VC.
func (r *run) jwtVC(ctx context.Context, text string) (*presented, error) {
	r.res.Digest = digest([]byte(text))
	// The key is the one the issuer's document listed at issuance: validFrom, read before the
	// signature is checked (the signature then covers it). vcjwt checks the validity period at
	// the time it is given, so it is given the issuance time, and validity is checked below
	// with the same rules as every format.
	at, hasAt := unverifiedIssuance(text)
	verifyAt := at
	if !hasAt {
		verifyAt = r.now
	}
	var fault error
	v, err := vcjwt.Verify(text, func(kid string) (any, error) {
		d, _, err := did.SplitURL(kid)
		if err != nil {
			return nil, err
		}
		key, err := r.s.issuerKey(ctx, d, kid, at, hasAt)
		if err != nil && !did.IsUnresolvable(err) {
			fault = err
		}
		return key, err
	}, verifyAt, r.s.skew)
	if fault != nil {
		return nil, fault
	}
	switch {
	case errors.Is(err, vcjwt.ErrMalformed):
		r.fail(CheckSyntax, err.Error())
		r.skipFrom(CheckSignature, CheckSyntax)
		return nil, nil
	case err != nil:
		r.pass(CheckSyntax)
		r.fail(CheckSignature, err.Error())
		r.skipFrom(CheckHolderBinding, CheckSignature)
		return nil, nil
	}
	r.pass(CheckSyntax)
	r.pass(CheckSignature)
	c := v.Credential
	r.res.Format, r.res.Issuer = v.Format, c.Issuer
	p := r.w3c(c.Issuer, c.Types, c.Claims, c.ValidFrom)
	r.w3cHolder(c.Subject)
	r.result(CheckValidity, r.s.validity(time.Time{}, c.ValidFrom, c.ValidUntil, r.now))
	if c.Status != nil {
		p.w3cStatus = []any{c.Status}
	}
	for _, st := range c.Statuses {
		p.w3cStatus = append(p.w3cStatus, st)
	}
	p.anchored = [][]byte{[]byte(text)}
	return p, nil
}

// ldpVC runs syntax, signature, holder_binding and validity on a VCDM 1.1 JSON-LD credential
// through internal/ldvc (proof required, strict JSON-LD, offline contexts, no schema fetch).
func (r *run) ldpVC(ctx context.Context, text string) (*presented, error) {
	raw := []byte(text)
	r.res.Digest = digest(raw)
	at, hasAt := unverifiedIssuance(text)
	verifyAt := at
	if !hasAt {
		verifyAt = r.now
	}
	var fault error
	v, err := ldvc.Verify(raw, func(vm string) (ed25519.PublicKey, error) {
		d, _, err := did.SplitURL(vm)
		if err != nil {
			return nil, err
		}
		key, err := r.s.issuerKey(ctx, d, vm, at, hasAt)
		if err != nil {
			if !did.IsUnresolvable(err) {
				fault = err
			}
			return nil, err
		}
		pub, ok := key.Key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("key %s is not an Ed25519 key", vm)
		}
		return pub, nil
	}, verifyAt)
	if fault != nil {
		return nil, fault
	}
	switch {
	case errors.Is(err, ldvc.ErrMalformed), errors.Is(err, ldvc.ErrUndefinedTerm), errors.Is(err, ldvc.ErrNoProof):
		r.fail(CheckSyntax, err.Error())
		r.skipFrom(CheckSignature, CheckSyntax)
		return nil, nil
	case errors.Is(err, ldvc.ErrNotYetValid), errors.Is(err, ldvc.ErrExpired):
		// Only at a malformed issuance time: verifyAt is the credential's issuanceDate.
		r.fail(CheckSyntax, err.Error())
		r.skipFrom(CheckSignature, CheckSyntax)
		return nil, nil
	case err != nil:
		r.pass(CheckSyntax)
		r.fail(CheckSignature, err.Error())
		r.skipFrom(CheckHolderBinding, CheckSignature)
		return nil, nil
	}
	r.pass(CheckSyntax)
	r.pass(CheckSignature)
	r.res.Issuer = v.Issuer
	claims := make(map[string]any, len(v.Subject))
	subject, _ := v.Subject["id"].(string)
	for k, val := range v.Subject {
		if k != "id" {
			claims[k] = val
		}
	}
	var types []string
	for _, t := range v.Types {
		if t != vcjwt.TypeCredential {
			types = append(types, t)
		}
	}
	p := r.w3c(v.Issuer, types, claims, v.IssuanceDate)
	r.w3cHolder(subject)
	r.result(CheckValidity, r.s.validity(time.Time{}, v.IssuanceDate, v.ExpirationDate, r.now))
	switch st := v.Credential["credentialStatus"].(type) {
	case nil:
	case []any:
		p.w3cStatus = st
	default:
		p.w3cStatus = []any{st}
	}
	p.anchored = [][]byte{raw}
	return p, nil
}

// w3c fills what the W3C formats share: the type (the first one after VerifiableCredential),
// its vct and the subject's claims.
func (r *run) w3c(issuer string, types []string, claims map[string]any, issued time.Time) *presented {
	p := &presented{issuer: issuer, issuedAt: issued, claims: claims}
	if len(types) > 0 {
		r.res.Type = types[0]
		p.typeName = types[0]
		p.vct = credtype.VCTPrefix + types[0]
		if t, err := r.s.types.Lookup(types[0]); err == nil {
			p.vct = t.VCT
		}
	}
	r.res.Claims = claims
	return p
}

// w3cHolder reports holder_binding for a W3C credential shown on its own: nothing proves the
// holder, so the check is skipped when the policy allows it and failed otherwise.
func (r *run) w3cHolder(subject string) {
	reason := "a W3C credential shown on its own carries no proof of possession of its subject's key"
	if subject == "" {
		reason = "a bearer W3C credential names no holder"
	}
	r.unavailable(CheckHolderBinding, reason)
}

// result reports name as passed when reason is "" and failed with reason otherwise.
func (r *run) result(name, reason string) {
	if reason == "" {
		r.pass(name)
	} else {
		r.fail(name, reason)
	}
}

// skipFrom reports every check from name up to validity as skipped, because needs failed.
func (r *run) skipFrom(name, needs string) {
	on := false
	for _, n := range CheckNames[:4] {
		if n == name {
			on = true
		}
		if on {
			r.skip(n, needs)
		}
	}
}

// validity returns why a credential issued at iat and valid from nbf until exp is not valid
// at now, allowing the service's clock skew, or "" when it is. Zero times are absent.
func (s *Service) validity(iat, nbf, exp, now time.Time) string {
	switch {
	case !exp.IsZero() && !now.Before(exp.Add(s.skew)):
		return "credential expired at " + exp.UTC().Format(time.RFC3339)
	case !nbf.IsZero() && now.Add(s.skew).Before(nbf):
		return "credential not valid before " + nbf.UTC().Format(time.RFC3339)
	case !iat.IsZero() && now.Add(s.skew).Before(iat):
		return "credential issued in the future (" + iat.UTC().Format(time.RFC3339) + ")"
	}
	return ""
}

// unverifiedIssuance reads the issuance time of a JWT credential (iat, nbf, validFrom or
// vc.issuanceDate) or a JSON-LD credential (issuanceDate), without authenticating it: it only
// chooses which version of the issuer's DID document to take the key from, and the signature
// then covers it.
func unverifiedIssuance(text string) (time.Time, bool) {
	var payload []byte
	if strings.HasPrefix(text, "{") {
		payload = []byte(text)
	} else {
		parts := strings.Split(text, ".")
		if len(parts) != 3 {
			return time.Time{}, false
		}
		var err error
		if payload, err = base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
			return time.Time{}, false
		}
	}
	var m struct {
		IAT          json.Number `json:"iat"`
		NBF          json.Number `json:"nbf"`
		ValidFrom    string      `json:"validFrom"`
		IssuanceDate string      `json:"issuanceDate"`
		VC           struct {
			IssuanceDate string `json:"issuanceDate"`
		} `json:"vc"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return time.Time{}, false
	}
	for _, n := range []json.Number{m.IAT, m.NBF} {
		if i, err := n.Int64(); err == nil && i > 0 && i < 1<<40 {
			return time.Unix(i, 0).UTC(), true
		}
	}
	for _, s := range []string{m.ValidFrom, m.IssuanceDate, m.VC.IssuanceDate} {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// withIssuerKey resolves kid, which must be a key of iss, as of at (when hasAt) and calls
// verify with it. Failures (an unresolvable key, a bad signature) are verificationFailures;
// other errors are faults.
func (r *run) withIssuerKey(ctx context.Context, iss, kid string, at time.Time, hasAt bool, verify func(*jose.JSONWebKey) error) error {
	kidDID, _, err := did.SplitURL(kid)
	if err != nil {
		return verificationFailure{fmt.Errorf("kid %q: %v", kid, err)}
	}
	if kidDID.String() != iss {
		return verificationFailure{fmt.Errorf("kid %q is not a key of issuer %s", kid, iss)}
	}
	key, err := r.s.issuerKey(ctx, kidDID, kid, at, hasAt)
	if err != nil {
		if did.IsUnresolvable(err) {
			return verificationFailure{fmt.Errorf("issuer key: %v", err)}
		}
		return err
	}
	if err := verify(key); err != nil {
		return verificationFailure{err}
	}
	return nil
}

// issuerKey returns the assertion key kid names as the issuer's DID document listed it when
// the credential was issued: the version in force at at (read before the signature is
// checked; the signature then covers it). At second precision both the version before and the
// one after an update are in force during the update's second. A DID deactivated since has no
// keys. Methods without versions (did:key, did:jwk) and credentials without a well-formed
// issuance time (hasAt false) use the current document. Errors are those of did.ResolveKey;
// a key not listed at at wraps did.ErrKeyNotFound.
func (s *Service) issuerKey(ctx context.Context, d did.DID, kid string, at time.Time, hasAt bool) (*jose.JSONWebKey, error) {
	vr := versions(s.resolver, d)
	if vr == nil || !hasAt {
		return did.ResolveKey(ctx, s.resolver, kid, did.AssertionMethod)
	}
	if _, md, err := vr.ResolveVersion(ctx, d.String(), did.Query{}); err != nil {
		return nil, err
	} else if md.Deactivated {
		return nil, fmt.Errorf("%w: %s is deactivated", did.ErrKeyNotFound, d)
	}
	at = at.Truncate(time.Second)
	notListed := fmt.Errorf("%w: kid %s was not an assertion key of the issuer at %s (issuance time)", did.ErrKeyNotFound, kid, at.Format(time.RFC3339))
	doc, md, err := vr.ResolveVersion(ctx, d.String(), did.Query{VersionTime: at})
	if errors.Is(err, did.ErrNotFound) {
		return nil, notListed
	}
	if err != nil {
		return nil, err
	}
	key, err := doc.Key(kid, did.AssertionMethod)
	if errors.Is(err, did.ErrKeyNotFound) && md.Updated != nil && md.Updated.Truncate(time.Second).Equal(at) {
		// Updated during the issuance second: the version before was in force too.
		if doc, _, err2 := vr.ResolveVersion(ctx, d.String(), did.Query{VersionTime: at.Add(-time.Second)}); err2 == nil {
			key, err = doc.Key(kid, did.AssertionMethod)
		}
	}
	if errors.Is(err, did.ErrKeyNotFound) {
		return nil, notListed
	}
	return key, err
}

// versions returns r's ability to resolve past versions of d's method, or nil.
func versions(r did.Resolver, d did.DID) did.VersionResolver {
	if m, ok := r.(did.Methods); ok {
		if r, ok = m[d.Method]; !ok {
			return nil
		}
	}
	vr, _ := r.(did.VersionResolver)
	return vr
}

// disclosed returns the claims the holder disclosed.
func disclosed(sd *sdjwt.SDJWT, claims map[string]any) map[string]any {
	out := map[string]any{}
	for _, d := range sd.Disclosures {
		if v, ok := claims[d.Name]; ok {
			out[d.Name] = v
		}
	}
	return out
}

// allDisclosed reports whether every digest in the issuer JWT's _sd has its disclosure (no
// claim withheld; decoys count as withheld, since nobody can tell them apart).
func allDisclosed(sd *sdjwt.SDJWT, claims map[string]any) bool {
	digests, _ := sd.Payload["_sd"].([]any)
	return len(digests) == len(sd.Disclosures)
}
