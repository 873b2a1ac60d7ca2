// Package ldvc signs and verifies W3C VCDM 1.1 JSON-LD credentials with an
// Ed25519Signature2020 Data Integrity proof, through aries-framework-go.
//
// It is the one wrapper around aries' verifiable.ParseCredential that the
// rest of ezheng may use (see DEPENDENCIES.md, "aries verifiable.ParseCredential
// traps", and the trap tests in this package).
// Verify requires exactly one proof, checks issuanceDate and expirationDate
// itself, always runs strict JSON-LD validation so that a claim whose term is
// not defined by a context (and would therefore not be covered by the
// signature) is rejected, always uses the offline [Loader], never fetches a
// credentialSchema, rejects VCDM 2.0 and turns panics from aries/json-gold
// into errors. Keep every aries-framework-go import in this package, so that
// moving to github.com/trustbloc/vc-go stays a local change.
//
// All functions are safe for concurrent use.
package ldvc

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/aries-framework-go/component/models/signature/suite"
	"github.com/hyperledger/aries-framework-go/component/models/signature/suite/ed25519signature2020"
	"github.com/hyperledger/aries-framework-go/component/models/signature/verifier"
	"github.com/hyperledger/aries-framework-go/component/models/verifiable"
)

// Sentinel errors. Every error returned by Verify and Sign wraps exactly one
// of these (ErrUnknownContext, ErrVCDM2 and ErrCredentialSchema also wrap
// ErrMalformed), so callers can tell which check failed with errors.Is.
var (
	// ErrMalformed reports input that is not a well-formed VCDM 1.1 JSON-LD
	// credential of ours: not JSON, too large or deep, duplicate members,
	// missing or badly typed fields, inline or unknown contexts, a JWT.
	ErrMalformed = errors.New("ldvc: malformed credential")
	// ErrUndefinedTerm reports that strict JSON-LD validation failed: a
	// member or type is not defined by the credential's contexts, so it would
	// not be covered by the Data Integrity proof.
	ErrUndefinedTerm = errors.New("ldvc: term not defined by the JSON-LD context")
	// ErrNoProof reports a credential without an Ed25519Signature2020 proof.
	ErrNoProof = errors.New("ldvc: credential has no Ed25519Signature2020 proof")
	// ErrSignature reports a proof that does not verify: wrong key, changed
	// content, wrong proof purpose, or a key the caller could not provide.
	ErrSignature = errors.New("ldvc: proof does not verify")
	// ErrExpired reports now >= expirationDate.
	ErrExpired = errors.New("ldvc: credential expired")
	// ErrNotYetValid reports now < issuanceDate.
	ErrNotYetValid = errors.New("ldvc: credential not yet valid")
	// ErrIssuerMismatch reports a proof whose verificationMethod does not
	// belong to the issuer's DID.
	ErrIssuerMismatch = errors.New("ldvc: verification method is not the issuer's")

	// ErrVCDM2 reports a VCDM 2.0 credential. aries cannot process it; VCDM
	// 2.0 is handled as vc+jwt elsewhere. It wraps ErrMalformed.
	ErrVCDM2 = fmt.Errorf("%w: VCDM 2.0 (%s) is not accepted here; use the vc+jwt verifier",
		ErrMalformed, contextCredentialsV2)
	// ErrCredentialSchema reports a credential carrying credentialSchema.
	// We reject the member rather than ignore it: aries would fetch the
	// schema over HTTP, and silently ignoring a signed constraint would let
	// a verifier believe it was checked. It wraps ErrMalformed.
	ErrCredentialSchema = fmt.Errorf("%w: credentialSchema is not supported (it would be fetched over the network)",
		ErrMalformed)
)

// Proof constants.
const (
	// ProofType is the only Data Integrity proof type this package signs and accepts.
	ProofType = ed25519signature2020.SignatureType
	// ProofPurpose is the only proof purpose this package signs and accepts.
	ProofPurpose = "assertionMethod"
)

// ourTypes lists the credential types (besides VerifiableCredential) that
// ContextLicenceV1 defines.
var ourTypes = []string{
	"DrivingLicence", "HealthCode", "BusinessLicence",
	"ResidencePermit", "VaccinationCertificate", "DegreeCertificate",
}

// KnownTypes returns the credential types, besides VerifiableCredential,
// that ContextLicenceV1 defines; Sign and Verify reject any other type with
// ErrUndefinedTerm. The caller owns the returned slice.
func KnownTypes() []string { return slices.Clone(ourTypes) }

// Verified is the result of a successful Verify.
type Verified struct {
	// Credential is the whole credential as decoded JSON, proof included.
	Credential map[string]any
	// Issuer is the issuer's DID.
	Issuer string
	// Types is the credential's type list in the order issued.
	Types []string
	// Subject is the credentialSubject object.
	Subject map[string]any
	// IssuanceDate is the credential's issuanceDate.
	IssuanceDate time.Time
	// ExpirationDate is the credential's expirationDate, or the zero time if
	// the credential has none (then it does not expire).
	ExpirationDate time.Time
	// VerificationMethod is the DID URL of the key that signed the proof.
	VerificationMethod string
}

// KeyFunc returns the Ed25519 public key for a verification method DID URL
// (for example by resolving the DID). Verify wraps its error with
// ErrSignature and keeps it in the chain, so errors.Is finds both.
type KeyFunc = func(verificationMethod string) (ed25519.PublicKey, error)

// Verify parses and verifies a VCDM 1.1 JSON-LD credential with one
// Ed25519Signature2020 proof, at time now. Checks, in order:
//
//   - input: at most MaxCredentialSize bytes, one JSON object, at most
//     MaxDepth deep, no duplicate member names, no "jwt" member (aries would
//     verify that JWT instead) → ErrMalformed;
//   - @context: a list of URLs, credentials v1 first, VCDM 2.0 → ErrVCDM2,
//     only the embedded contexts → ErrUnknownContext, the
//     Ed25519Signature2020 context present → ErrMalformed;
//   - credentialSchema present → ErrCredentialSchema (rejected, never fetched);
//     validFrom/validUntil, relative ids → ErrMalformed;
//   - every member name is a term our contexts define, every type is
//     VerifiableCredential or one of KnownTypes → ErrUndefinedTerm; each
//     licence claim is a single string, number or boolean → ErrMalformed;
//   - issuer is a DID, credentialSubject one object, issuanceDate (required)
//     and expirationDate (optional) RFC 3339 → ErrMalformed;
//   - exactly one proof, of type ProofType → ErrNoProof; only the members
//     type, created, verificationMethod, proofPurpose, proofValue →
//     ErrMalformed; proofPurpose ProofPurpose → ErrSignature; the
//     verificationMethod's DID is the issuer → ErrIssuerMismatch;
//   - a credentialStatus needs ContextStatusV1, and its members count as defined
//     only inside an entry of one of StatusTypes (and statusMessage's only inside
//     statusMessage) → ErrUndefinedTerm;
//   - aries strict JSON-LD validation with the offline loader → ErrUndefinedTerm;
//   - aries proof verification with the key from keys → ErrSignature;
//   - issuanceDate <= now → ErrNotYetValid; now < expirationDate → ErrExpired
//     (checked last, so ErrExpired means an authentic but expired credential).
//
// A panic inside aries or json-gold is returned as ErrMalformed. Verify does
// no I/O other than calling keys; keys must not be nil.
func Verify(raw []byte, keys KeyFunc, now time.Time) (v *Verified, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: internal panic while processing credential: %v", ErrMalformed, r)
		}
	}()
	if keys == nil {
		return nil, errors.New("ldvc: Verify needs a key function")
	}
	if len(raw) > MaxCredentialSize {
		return nil, fmt.Errorf("%w: credential larger than %d bytes", ErrMalformed, MaxCredentialSize)
	}
	if err := checkJSON(raw); err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	pre, err := precheck(doc, true)
	if err != nil {
		return nil, err
	}

	// 1. Strict JSON-LD validation, proof check off: every term must be
	// defined, otherwise it would be dropped from the signed RDF dataset.
	if err := validateLD(raw); err != nil {
		return nil, err
	}

	// 2. The proof, validation off (already done).
	fetch := func(issuerID, keyID string) (*verifier.PublicKey, error) {
		vm := issuerID + keyID
		if vm != pre.verificationMethod {
			return nil, fmt.Errorf("unexpected verification method %q", vm)
		}
		pub, err := keys(vm)
		if err != nil {
			return nil, fmt.Errorf("key for %s: %w", vm, err)
		}
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key for %s is not an Ed25519 public key", vm)
		}
		return &verifier.PublicKey{Type: "Ed25519VerificationKey2020", Value: pub}, nil
	}
	_, err = verifiable.ParseCredential(raw,
		verifiable.WithJSONLDDocumentLoader(loader),
		verifiable.WithPublicKeyFetcher(fetch),
		verifiable.WithEmbeddedSignatureSuites(ed25519signature2020.New(
			suite.WithVerifier(ed25519signature2020.NewPublicKeyVerifier()))),
		verifiable.WithNoCustomSchemaCheck(),
		verifiable.WithCredDisableValidation(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}

	// 3. Validity period, our own check (aries does not do it).
	if now.Before(pre.issued) {
		return nil, fmt.Errorf("%w: issuanceDate %s is after %s", ErrNotYetValid,
			pre.issued.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !pre.expires.IsZero() && !now.Before(pre.expires) {
		return nil, fmt.Errorf("%w: expirationDate %s is not after %s", ErrExpired,
			pre.expires.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}

	return &Verified{
		Credential:         doc,
		Issuer:             pre.issuer,
		Types:              pre.types,
		Subject:            pre.subject,
		IssuanceDate:       pre.issued,
		ExpirationDate:     pre.expires,
		VerificationMethod: pre.verificationMethod,
	}, nil
}

// validateLD runs aries' JSON-LD validation in strict mode with the offline
// loader and without proof check or schema fetch.
func validateLD(raw []byte) error {
	_, err := verifiable.ParseCredential(raw,
		verifiable.WithJSONLDDocumentLoader(loader),
		verifiable.WithJSONLDValidation(),
		verifiable.WithStrictValidation(),
		verifiable.WithNoCustomSchemaCheck(),
		verifiable.WithDisabledProofCheck(),
	)
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnknownContext) {
		return fmt.Errorf("ldvc: JSON-LD validation: %w", err)
	}
	if strings.Contains(err.Error(), "different structure after compaction") {
		return fmt.Errorf("%w: %v", ErrUndefinedTerm, err)
	}
	return fmt.Errorf("%w: JSON-LD validation: %v", ErrMalformed, err)
}
