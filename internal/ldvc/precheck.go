package ldvc

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// checked holds what precheck extracted from a credential.
type checked struct {
	issuer             string
	types              []string
	subject            map[string]any
	issued, expires    time.Time
	verificationMethod string // empty when the credential has no proof
}

// proofMembers are the only members an Ed25519Signature2020 proof of ours
// may carry; anything else (domain, challenge, expires, nonce, ...) is a
// feature we do not check, so we refuse it rather than ignore it.
var proofMembers = map[string]bool{
	"type": true, "created": true, "verificationMethod": true,
	"proofPurpose": true, "proofValue": true,
}

// precheck does the structural checks aries does not do (or does
// differently) before any JSON-LD processing. withProof says whether the
// credential must carry exactly one proof (Verify) or none (Sign).
func precheck(doc map[string]any, withProof bool) (*checked, error) {
	var c checked

	if _, ok := doc["jwt"]; ok {
		// aries' ParseCredential would verify the embedded JWT instead.
		return nil, fmt.Errorf("%w: member \"jwt\" is not allowed", ErrMalformed)
	}
	if err := checkContexts(doc["@context"]); err != nil {
		return nil, err
	}
	if _, ok := doc["credentialStatus"]; ok {
		// The entry's terms are scoped by its type in the status context; without that
		// context they are undefined and the proof would not cover them.
		if ctx, _ := doc["@context"].([]any); !slices.Contains(ctx, any(ContextStatusV1)) {
			return nil, fmt.Errorf("%w: credentialStatus needs the @context %s", ErrUndefinedTerm, ContextStatusV1)
		}
	}
	if _, ok := doc["credentialSchema"]; ok {
		return nil, ErrCredentialSchema
	}
	for _, m := range []string{"validFrom", "validUntil"} {
		if _, ok := doc[m]; ok {
			return nil, fmt.Errorf("%w: %s is not used in VCDM 1.1; use issuanceDate/expirationDate", ErrMalformed, m)
		}
	}
	if id, ok := doc["id"]; ok {
		s, _ := id.(string)
		if !isAbsoluteIRI(s) {
			return nil, fmt.Errorf("%w: id must be an absolute IRI", ErrMalformed)
		}
	}

	if err := checkTerms(doc, true); err != nil {
		return nil, err
	}
	if err := checkClaimValues(doc); err != nil {
		return nil, err
	}
	types, err := checkTypes(doc["type"])
	if err != nil {
		return nil, err
	}
	c.types = types

	switch is := doc["issuer"].(type) {
	case string:
		c.issuer = is
	case map[string]any:
		c.issuer, _ = is["id"].(string)
	}
	if !strings.HasPrefix(c.issuer, "did:") || strings.ContainsAny(c.issuer, "#?/") {
		return nil, fmt.Errorf("%w: issuer must be a DID", ErrMalformed)
	}

	subj, ok := doc["credentialSubject"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: credentialSubject must be one JSON object", ErrMalformed)
	}
	if id, ok := subj["id"]; ok {
		s, _ := id.(string)
		if !isAbsoluteIRI(s) {
			return nil, fmt.Errorf("%w: credentialSubject.id must be an absolute IRI", ErrMalformed)
		}
	}
	c.subject = subj

	if c.issued, err = dateTime(doc, "issuanceDate", true); err != nil {
		return nil, err
	}
	if c.expires, err = dateTime(doc, "expirationDate", false); err != nil {
		return nil, err
	}
	if !c.expires.IsZero() && !c.issued.Before(c.expires) {
		return nil, fmt.Errorf("%w: expirationDate is not after issuanceDate", ErrMalformed)
	}

	p, present := doc["proof"]
	if !withProof {
		if present {
			return nil, fmt.Errorf("%w: credential to sign already has a proof", ErrMalformed)
		}
		return &c, nil
	}
	if !present || p == nil {
		return nil, ErrNoProof
	}
	if arr, ok := p.([]any); ok {
		if len(arr) != 1 {
			return nil, fmt.Errorf("%w: want exactly one proof, got %d", ErrMalformed, len(arr))
		}
		p = arr[0]
	}
	proof, ok := p.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: proof must be an object", ErrMalformed)
	}
	if t, _ := proof["type"].(string); t != ProofType {
		return nil, fmt.Errorf("%w: proof type %q is not %s", ErrNoProof, t, ProofType)
	}
	for k := range proof {
		if !proofMembers[k] {
			return nil, fmt.Errorf("%w: proof member %q is not supported", ErrMalformed, k)
		}
	}
	if pp, _ := proof["proofPurpose"].(string); pp != ProofPurpose {
		return nil, fmt.Errorf("%w: proofPurpose %q is not %s", ErrSignature, pp, ProofPurpose)
	}
	if pv, _ := proof["proofValue"].(string); !strings.HasPrefix(pv, "z") {
		return nil, fmt.Errorf("%w: proofValue must be base58btc multibase", ErrMalformed)
	}
	if _, err := dateTime(proof, "created", true); err != nil {
		return nil, err
	}
	vm, _ := proof["verificationMethod"].(string)
	did, err := didOf(vm)
	if err != nil {
		return nil, err
	}
	if did != c.issuer {
		return nil, fmt.Errorf("%w: %s is not a key of %s", ErrIssuerMismatch, vm, c.issuer)
	}
	c.verificationMethod = vm
	return &c, nil
}

// checkContexts requires an array of context URLs, credentials v1 first,
// each served by the offline loader, including the Ed25519Signature2020
// suite context (without it the proof's own terms would be undefined and
// left out of the signed proof options).
func checkContexts(v any) error {
	var list []any
	switch t := v.(type) {
	case string:
		list = []any{t}
	case []any:
		list = t
	default:
		return fmt.Errorf("%w: @context must be a list of URLs", ErrMalformed)
	}
	var urls []string
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return fmt.Errorf("%w: inline @context objects are not accepted", ErrMalformed)
		}
		if s == contextCredentialsV2 {
			return ErrVCDM2
		}
		urls = append(urls, s)
	}
	if len(urls) == 0 || urls[0] != ContextCredentialsV1 {
		return fmt.Errorf("%w: the first @context must be %s", ErrMalformed, ContextCredentialsV1)
	}
	for _, s := range urls {
		if !isEmbedded(s) {
			return fmt.Errorf("%w: %q", ErrUnknownContext, s)
		}
	}
	if !slices.Contains(urls, ContextEd25519Signature2020) {
		return fmt.Errorf("%w: @context must include %s", ErrMalformed, ContextEd25519Signature2020)
	}
	return nil
}

// checkTypes requires VerifiableCredential and otherwise only ourTypes.
// A type that no context defines would be a relative IRI, dropped from the
// signed dataset, so it is an undefined term.
func checkTypes(v any) ([]string, error) {
	var list []any
	switch t := v.(type) {
	case string:
		list = []any{t}
	case []any:
		list = t
	default:
		return nil, fmt.Errorf("%w: type must be a string or a list of strings", ErrMalformed)
	}
	var types []string
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%w: type must be a string or a list of strings", ErrMalformed)
		}
		if s != "VerifiableCredential" && !slices.Contains(ourTypes, s) {
			return nil, fmt.Errorf("%w: type %q", ErrUndefinedTerm, s)
		}
		types = append(types, s)
	}
	if !slices.Contains(types, "VerifiableCredential") {
		return nil, fmt.Errorf("%w: type must include VerifiableCredential", ErrMalformed)
	}
	return types, nil
}

// dateTime reads an XML Schema dateTime with a time zone (RFC 3339).
func dateTime(m map[string]any, name string, required bool) (time.Time, error) {
	v, ok := m[name]
	if !ok {
		if required {
			return time.Time{}, fmt.Errorf("%w: %s is missing", ErrMalformed, name)
		}
		return time.Time{}, nil
	}
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s is not an RFC 3339 date-time with a time zone", ErrMalformed, name)
	}
	return t, nil
}

// didOf returns the DID of a DID URL "did:method:id#fragment".
func didOf(vm string) (string, error) {
	did, frag, ok := strings.Cut(vm, "#")
	if !ok || frag == "" || strings.Contains(frag, "#") ||
		!strings.HasPrefix(did, "did:") || strings.ContainsAny(did, "?/") || strings.Count(did, ":") < 2 {
		return "", fmt.Errorf("%w: verificationMethod %q is not a DID URL with a fragment", ErrMalformed, vm)
	}
	return did, nil
}

// isAbsoluteIRI reports whether s has a scheme; relative IRIs are dropped
// from the RDF dataset and so would escape the signature.
func isAbsoluteIRI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && !strings.ContainsAny(s, " <>\"{}|\\^`")
}
