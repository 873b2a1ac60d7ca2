package ldvc

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hyperledger/aries-framework-go/component/models/ld/processor"
	"github.com/hyperledger/aries-framework-go/component/models/signature/suite"
	"github.com/hyperledger/aries-framework-go/component/models/signature/suite/ed25519signature2020"
	"github.com/hyperledger/aries-framework-go/component/models/verifiable"
)

// signUnchecked adds a valid Ed25519Signature2020 proof to cred with aries
// and none of our checks, as a careless or hostile issuer would: the proof
// covers whatever aries puts in the signed dataset, nothing more.
func signUnchecked(t testing.TB, cred map[string]any) []byte {
	t.Helper()
	raw, err := json.Marshal(cred)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := verifiable.ParseCredential(raw,
		verifiable.WithJSONLDDocumentLoader(Loader()),
		verifiable.WithDisabledProofCheck(),
		verifiable.WithCredDisableValidation())
	if err != nil {
		t.Fatalf("ParseCredential: %v", err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err = vc.AddLinkedDataProof(&verifiable.LinkedDataProofContext{
		SignatureType:           ProofType,
		Suite:                   ed25519signature2020.New(suite.WithSigner(ed25519Signer(testKey))),
		SignatureRepresentation: verifiable.SignatureProofValue,
		Created:                 &ts,
		VerificationMethod:      issuerVM,
		Purpose:                 ProofPurpose,
	}, processor.WithDocumentLoader(Loader()))
	if err != nil {
		t.Fatalf("AddLinkedDataProof: %v", err)
	}
	out, err := vc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
