package oid4vp

import "errors"

// Sentinel errors. Every error returned by the Parse..., Validate and Check... functions wraps
// exactly one of them, so callers can map errors to an OAuth error code or a problem type with
// errors.Is. Failures of the Sign and Encode functions on bad keys are programming errors and
// wrap none.
var (
	// ErrMalformed reports input that is not the message it claims to be: bad JSON or form
	// syntax, a repeated member or parameter, a wrong type, a missing or conflicting
	// parameter, or a DCQL query that breaks the rules of section 6 (OAuth error code
	// invalid_request).
	ErrMalformed = errors.New("oid4vp: malformed message")
	// ErrTooLarge reports input over a size, count or nesting limit.
	ErrTooLarge = errors.New("oid4vp: message too large")
	// ErrInsecureURL reports a URL that must use https but does not, or has user info or a
	// fragment.
	ErrInsecureURL = errors.New("oid4vp: URL is not an acceptable https URL")
	// ErrUnsupported reports a request this package does not support: another response_type
	// or response_mode, an unsigned request, or a Client Identifier Prefix other than
	// decentralized_identifier (OAuth error codes invalid_request, invalid_client).
	ErrUnsupported = errors.New("oid4vp: unsupported request")
	// ErrClient reports a request object whose signature or client identity does not check
	// out: a bad signature, a disallowed algorithm, a kid that is not a key of the client's
	// DID, a client_id that differs from the one in the link, or an expired request (OAuth
	// error code invalid_request_object or invalid_client).
	ErrClient = errors.New("oid4vp: request object not authentic")
	// ErrNotSatisfied reports presentations that do not satisfy the DCQL query: a credential
	// query without an answer, an answer to a query that was not asked, a presentation of the
	// wrong type or without a required claim.
	ErrNotSatisfied = errors.New("oid4vp: DCQL query not satisfied")
)
