package ldvc

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hyperledger/aries-framework-go/component/models/ld/processor"
	"github.com/hyperledger/aries-framework-go/component/models/signature/suite"
	"github.com/hyperledger/aries-framework-go/component/models/signature/suite/ed25519signature2020"
	"github.com/hyperledger/aries-framework-go/component/models/verifiable"
)

// ed25519Signer adapts an ed25519.PrivateKey to aries' suite signer.
type ed25519Signer ed25519.PrivateKey

func (s ed25519Signer) Sign(data []byte) ([]byte, error) {
	return ed25519.Sign(ed25519.PrivateKey(s), data), nil
}

func (s ed25519Signer) Alg() string { return "EdDSA" }

// Sign adds an Ed25519Signature2020 proof (proofPurpose assertionMethod,
// proofValue) to cred, a VCDM 1.1 JSON-LD credential without a proof, and
// returns the signed credential as JSON.
//
// verificationMethod must be a DID URL of the issuer's DID
// ("did:...#key-1"); created is truncated to the second and written in UTC.
// If cred's @context lacks ContextEd25519Signature2020 it is appended (on a
// copy; cred is not modified). Sign applies the same structural checks and
// strict JSON-LD validation as Verify before signing, so it refuses to sign
// a claim that the signature would not cover: errors wrap ErrMalformed,
// ErrUndefinedTerm, ErrCredentialSchema, ErrVCDM2 or ErrIssuerMismatch.
// The result is deterministic for fixed inputs (Ed25519 and URDNA2015 are).
func Sign(cred map[string]any, key ed25519.PrivateKey, verificationMethod string,
	created time.Time) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: internal panic while signing: %v", ErrMalformed, r)
		}
	}()
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("ldvc: Sign needs an Ed25519 private key")
	}
	if created.IsZero() {
		return nil, errors.New("ldvc: Sign needs a created time")
	}
	did, err := didOf(verificationMethod)
	if err != nil {
		return nil, err
	}

	// Work on a JSON copy so cred is left alone and the types are plain JSON.
	raw, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if s, ok := doc["@context"].(string); ok {
		doc["@context"] = []any{s}
	}
	if ctx, ok := doc["@context"].([]any); ok && !slices.Contains(ctx, any(ContextEd25519Signature2020)) {
		doc["@context"] = append(ctx, ContextEd25519Signature2020)
	}
	pre, err := precheck(doc, false)
	if err != nil {
		return nil, err
	}
	if pre.issuer != did {
		return nil, fmt.Errorf("%w: %s is not a key of %s", ErrIssuerMismatch, verificationMethod, pre.issuer)
	}
	if raw, err = json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkJSON(raw); err != nil {
		return nil, err
	}
	if err := validateLD(raw); err != nil {
		return nil, err
	}

	vc, err := verifiable.ParseCredential(raw,
		verifiable.WithJSONLDDocumentLoader(loader),
		verifiable.WithDisabledProofCheck(),
		verifiable.WithCredDisableValidation(), // validated just above
		verifiable.WithNoCustomSchemaCheck(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ts := created.UTC().Truncate(time.Second)
	err = vc.AddLinkedDataProof(&verifiable.LinkedDataProofContext{
		SignatureType:           ProofType,
		Suite:                   ed25519signature2020.New(suite.WithSigner(ed25519Signer(key))),
		SignatureRepresentation: verifiable.SignatureProofValue,
		Created:                 &ts,
		VerificationMethod:      verificationMethod,
		Purpose:                 ProofPurpose,
	}, processor.WithDocumentLoader(loader))
	if err != nil {
		return nil, fmt.Errorf("ldvc: add Ed25519Signature2020 proof: %w", err)
	}
	out, err = vc.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("ldvc: encode signed credential: %w", err)
	}
	return out, nil
}
