// Package vcjwt issues and verifies W3C Verifiable Credentials secured as JSON Web Tokens, in the
// two JOSE encodings a wallet meets besides SD-JWT VC (see internal/sdjwt):
//
//   - VCDM 2.0 secured with JOSE ("Securing Verifiable Credentials using JOSE and COSE",
//     media type application/vc+jwt): the JWT payload is the credential itself, the protected
//     header has typ "vc+jwt" (and cty "vc"), and kid is a DID URL of the issuer;
//   - VCDM 1.1 JWT-VC (Verifiable Credentials Data Model 1.1, section 6.3.1): the registered
//     claims iss, sub, nbf, exp and jti carry the issuer, credentialSubject.id, issuanceDate,
//     expirationDate and id, and the "vc" claim holds the rest of the credential, without a
//     proof; the header has typ "JWT".
//
// Both are signed with EdDSA (Ed25519) or ES256 (P-256) through go-jose v4; nothing else is
// accepted. Verify is strict: it limits the size and nesting of the input, requires canonical
// base64url, rejects repeated JSON member names, unknown critical headers and algorithms outside
// Algs, checks the signature before it trusts any claim, checks the validity period against an
// injected clock, and requires the issuer to be the DID that the signing key's kid belongs to.
// Each failed check returns an error wrapping exactly one of the sentinel errors, so a verifier
// can say which check failed with errors.Is.
//
// The JSON-LD @context is carried, never processed: this package checks the structure of the
// data model, not the meaning of its terms.
package vcjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Header typ values, credential contexts and format names.
const (
	// TypeVCDM2 is the typ of a VCDM 2.0 credential secured with JOSE (application/vc+jwt).
	TypeVCDM2 = "vc+jwt"
	// TypeJWT is the typ of a VCDM 1.1 JWT-VC, as RFC 7519 recommends for plain JWTs.
	TypeJWT = "JWT"
	// ContentTypeVC is the cty that SignVCDM2 tokens made with NewSigner carry.
	ContentTypeVC = "vc"

	// ContextV2 is the base @context of every VCDM 2.0 credential; it comes first.
	ContextV2 = "https://www.w3.org/ns/credentials/v2"
	// ContextV1 is the base @context of every VCDM 1.1 credential; it comes first.
	ContextV1 = "https://www.w3.org/2018/credentials/v1"
	// TypeCredential is the type every verifiable credential has; it comes first.
	TypeCredential = "VerifiableCredential"

	// FormatVCDM2 is Verified.Format for a VCDM 2.0 credential secured with JOSE.
	FormatVCDM2 = "vc+jwt"
	// FormatJWTVC11 is Verified.Format for a VCDM 1.1 JWT-VC (the OpenID4VCI format
	// identifier "jwt_vc_json").
	FormatJWTVC11 = "jwt_vc_json"
)

// Limits on the input of Verify.
const (
	// MaxSize is the largest token, in bytes, that Verify accepts and that the Sign functions
	// produce.
	MaxSize = 64 << 10
	// MaxDepth is the deepest nesting of JSON objects and arrays accepted in a header or
	// payload; the outermost object counts as depth 1.
	MaxDepth = 32
)

// Algs is the allow-list of JWS algorithms: EdDSA (Ed25519) and ES256 (P-256). Callers must not
// modify it.
var Algs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// Sentinel errors, one per failed check. Errors returned by Verify wrap exactly one of them with
// %w and a specific reason.
var (
	// ErrMalformed means the token is not a credential JWT this package accepts: too large or
	// too deep, not three canonical base64url parts, invalid or duplicate-keyed JSON, a missing
	// or non-DID-URL kid, a typ or cty that names neither format, or a payload that does not
	// follow the data model (missing @context, type, issuer or credentialSubject, a bad date,
	// an unsupported array of subjects, status entries or schemas, JWT claims that contradict
	// the credential).
	ErrMalformed = errors.New("vcjwt: malformed credential")
	// ErrSignature means the JWS is not acceptable: an algorithm outside Algs (none, HS256 and
	// the like), a "crit" or "b64" header, no key for the kid, a key of the wrong type for the
	// algorithm, or a signature that does not verify.
	ErrSignature = errors.New("vcjwt: signature invalid")
	// ErrExpired means the credential's validUntil (VCDM 2.0) or exp (JWT-VC) has passed, even
	// allowing for the clock skew.
	ErrExpired = errors.New("vcjwt: credential expired")
	// ErrNotYetValid means the credential's validFrom (VCDM 2.0) or nbf (JWT-VC) lies in the
	// future, even allowing for the clock skew.
	ErrNotYetValid = errors.New("vcjwt: credential not yet valid")
	// ErrIssuerMismatch means the credential's issuer is not the DID that the kid of the
	// signing key belongs to.
	ErrIssuerMismatch = errors.New("vcjwt: issuer does not match the signing key")
)

// Credential is the part of a verifiable credential this package issues and verifies, the same
// for both encodings. Times are whole seconds in UTC on the wire; finer parts are truncated.
type Credential struct {
	// ID is the credential's id (a URL such as "urn:uuid:..."); "" for none. In a JWT-VC it is
	// the jti claim.
	ID string
	// Issuer is the issuer's DID. It must be the DID of the kid of the signing key. In a JWT-VC
	// it is the iss claim.
	Issuer string
	// Subject is credentialSubject.id, normally the holder's DID; "" for a bearer credential.
	// In a JWT-VC it is the sub claim.
	Subject string
	// Types are the credential's types after "VerifiableCredential", which is always first and
	// must not be listed here.
	Types []string
	// Context lists the @context entries after the base context (ContextV2 or ContextV1), which
	// is always first and must not be listed here.
	Context []string
	// ValidFrom is validFrom (VCDM 2.0, optional: zero omits it) or nbf and issuanceDate
	// (JWT-VC, required).
	ValidFrom time.Time
	// ValidUntil is validUntil (VCDM 2.0) or exp and expirationDate (JWT-VC); zero omits it.
	ValidUntil time.Time
	// Claims are the members of credentialSubject other than id. Verify returns numbers as
	// json.Number so that large integers survive unchanged.
	Claims map[string]any
	// Status is credentialStatus, a single status entry (for example a BitstringStatusListEntry);
	// nil omits it.
	Status map[string]any
	// Statuses is credentialStatus as an array of status entries (for example one
	// BitstringStatusListEntry per statusPurpose); empty omits it. At most one of Status and
	// Statuses may be set. Verify fills Status for a single object, Statuses for an array.
	Statuses []map[string]any
	// Schema is credentialSchema, a single schema reference ({"id": ..., "type": ...}); nil
	// omits it. This package never fetches it.
	Schema map[string]any
}

// Verified is a credential whose signature, issuer binding and validity period Verify checked.
type Verified struct {
	// Credential is the credential decoded from the token.
	Credential Credential
	// Raw is the whole verified JWT payload: the credential for FormatVCDM2, the JWT claims set
	// (with "vc") for FormatJWTVC11. Numbers are json.Number.
	Raw map[string]any
	// Format is FormatVCDM2 or FormatJWTVC11.
	Format string
	// KID is the kid of the signing key, a DID URL of Credential.Issuer.
	KID string
}

// NewSigner returns a go-jose signer for key whose protected header carries typ and kid, ready for
// SignVCDM2 (typ TypeVCDM2; cty ContentTypeVC is added) or SignJWTVC11 (typ TypeJWT). kid must
// be a DID URL of the issuer, for example the second result of did.NewKey or did.NewJWK. The
// algorithm follows from the key: EdDSA for an ed25519.PrivateKey, ES256 for a P-256
// *ecdsa.PrivateKey; any other key, curve or typ is an error. The signer is safe for concurrent
// use.
func NewSigner(key crypto.Signer, typ, kid string) (jose.Signer, error) {
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("vcjwt: unsupported ECDSA curve %s", k.Curve.Params().Name)
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("vcjwt: unsupported key type %T", key)
	}
	if kid == "" {
		return nil, errors.New("vcjwt: kid is required")
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), kid)
	switch typ {
	case TypeVCDM2:
		opts = opts.WithContentType(ContentTypeVC)
	case TypeJWT:
	default:
		return nil, fmt.Errorf("vcjwt: typ %q is neither %q nor %q", typ, TypeVCDM2, TypeJWT)
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
}
