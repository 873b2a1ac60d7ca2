package ledger

import (
	"errors"
	"fmt"
)

// Code is the result of an operation: CodeOK or the reason it was rejected.
type Code string

// The result codes (docs/design/0002-ledger.md).
const (
	CodeOK              Code = "ok"
	CodeMalformed       Code = "malformed"        // not a well-formed operation (syntax, members, values, malformed DID)
	CodeNonCanonical    Code = "non-canonical"    // payload is not its own canonical JSON
	CodeTooLarge        Code = "too-large"        // operation over 16 KiB, JSON too deep, document over its limits
	CodeBadSignature    Code = "bad-signature"    // signature does not verify, or alg not EdDSA/ES256
	CodeWrongKey        Code = "wrong-key"        // signed or revealed with a key that has no authority for it
	CodeUnknownDID      Code = "unknown-did"      // the DID (or issuer) is not on the ledger
	CodeDeactivated     Code = "deactivated"      // the DID (or issuer) is deactivated
	CodeStalePrev       Code = "stale-prev"       // prev is not the DID's current versionId, or a status seq went back: replay or out of order
	CodeDuplicate       Code = "duplicate"        // the DID, anchor batch, status seq or authority seq already exists
	CodeNotAccredited   Code = "not-accredited"   // an anchor or status by an issuer with no accreditation in effect
	CodeNotRoot         Code = "not-root"         // an accredit or withdraw not signed by the root authority
	CodeInvalidDocument Code = "invalid-document" // the DID document (or the result of the patches) is not valid
)

// Result is what the ledger decided about an operation.
type Result struct {
	Code   Code
	Reason string // human-readable detail for a rejection; not hashed, may change between versions
	// LeafIndex is the operation's index in the Merkle log when Code is CodeOK.
	LeafIndex uint64
	// Height is the block the operation was decided in; 0 (with Code not ok) for operations
	// rejected by ParseOp before they reached a block.
	Height uint64
}

// OK reports whether the operation was accepted.
func (r Result) OK() bool { return r.Code == CodeOK }

// OpError is a rejected operation: the error ParseOp returns, carrying the result code.
type OpError struct {
	Code   Code
	Reason string
}

func (e *OpError) Error() string { return string(e.Code) + ": " + e.Reason }

func opErr(code Code, format string, args ...any) *OpError {
	return &OpError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of an *OpError in err's chain, or "" if there is none (a fault).
func CodeOf(err error) Code {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return ""
}

func reject(err *OpError) Result {
	return Result{Code: err.Code, Reason: err.Reason}
}
