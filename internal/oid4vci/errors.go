package oid4vci

import "errors"

// Sentinel errors. Every error returned by the Parse..., Validate, Check... and VerifyProof
// functions wraps exactly one of ErrMalformed, ErrTooLarge, ErrInsecureURL,
// ErrUnsupportedGrantType, ErrInvalidGrant, ErrInvalidProof or ErrInvalidNonce (proof errors
// additionally wrap one of the ErrProof... sentinels that names the failed check), so that
// callers can map them to a protocol error code with errors.Is. The exceptions are
// programming errors: VerifyProof called without Audience, Nonce or Now, and failures of
// BuildProof, NewProofSigner, NewTxCode and NewSecret (bad keys or signers, failing randomness).
var (
	// ErrMalformed reports input that is not the message it claims to be: bad JSON or form
	// syntax, a repeated member or parameter, a wrong type, or a missing or conflicting
	// parameter. The usual codes are invalid_request at the Token Endpoint,
	// invalid_credential_request at the Credential Endpoint and invalid_notification_request
	// at the Notification Endpoint.
	ErrMalformed = errors.New("oid4vci: malformed message")

	// ErrTooLarge reports input over a size or nesting limit.
	ErrTooLarge = errors.New("oid4vci: message too large")

	// ErrInsecureURL reports a URL that must use https but does not, or that has parts it must
	// not have (user info, a fragment, or a query in a Credential Issuer Identifier).
	ErrInsecureURL = errors.New("oid4vci: URL is not an acceptable https URL")

	// ErrUnsupportedGrantType reports a Token Request whose grant_type is not the
	// Pre-Authorized Code grant (OAuth error code unsupported_grant_type).
	ErrUnsupportedGrantType = errors.New("oid4vci: unsupported grant_type")

	// ErrInvalidGrant reports a wrong Transaction Code (OAuth error code invalid_grant).
	ErrInvalidGrant = errors.New("oid4vci: invalid grant")

	// ErrInvalidProof reports a key proof that failed a check (error code invalid_proof). It is
	// always wrapped together with one of the ErrProof... sentinels below.
	ErrInvalidProof = errors.New("oid4vci: invalid proof")

	// ErrInvalidNonce reports a key proof whose nonce is not the expected c_nonce (error code
	// invalid_nonce): the wallet should fetch a fresh c_nonce and retry. A proof with no nonce
	// at all is ErrInvalidProof with ErrProofNonceMissing, as the specification says.
	ErrInvalidNonce = errors.New("oid4vci: invalid nonce")
)

// Proof check sentinels, each wrapped together with ErrInvalidProof.
var (
	// ErrProofSyntax: the proof is not a compact JWS with a JSON header and a JSON object
	// payload, repeats a member, or is too large.
	ErrProofSyntax = errors.New("proof: malformed JWT")
	// ErrProofType: the typ header is not openid4vci-proof+jwt.
	ErrProofType = errors.New("proof: typ is not openid4vci-proof+jwt")
	// ErrProofAlg: alg is not on the allow-list (this always covers none and MAC algorithms).
	ErrProofAlg = errors.New("proof: alg not allowed")
	// ErrProofHeader: a critical header, an x5c header, or not exactly one of jwk and kid.
	ErrProofHeader = errors.New("proof: unacceptable header")
	// ErrProofKey: the jwk is private, symmetric, invalid or does not fit alg, or kid did not
	// resolve to such a key.
	ErrProofKey = errors.New("proof: unacceptable key")
	// ErrProofSignature: the signature does not verify with the header's key.
	ErrProofSignature = errors.New("proof: bad signature")
	// ErrProofAudience: aud is missing or is not the Credential Issuer Identifier.
	ErrProofAudience = errors.New("proof: wrong audience")
	// ErrProofIssuedAt: iat is missing, too old or in the future, or exp has passed.
	ErrProofIssuedAt = errors.New("proof: iat out of range")
	// ErrProofNonceMissing: the proof carries no nonce although the issuer requires one.
	ErrProofNonceMissing = errors.New("proof: nonce missing")
	// ErrProofClientID: iss is not a string or is not the expected client_id.
	ErrProofClientID = errors.New("proof: wrong iss")
)
