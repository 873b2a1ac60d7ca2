package ldvc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// licenceTerms is every term ContextLicenceV1 defines (types and claims).
var licenceTerms = mustLicenceTerms()

func mustLicenceTerms() map[string]bool {
	raw, _ := ContextDocument(ContextLicenceV1)
	var doc struct {
		Context map[string]any `json:"@context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic(fmt.Sprintf("ldvc: embedded licence context: %v", err))
	}
	terms := map[string]bool{}
	for k := range doc.Context {
		if !strings.HasPrefix(k, "@") && k != "id" && k != "type" {
			terms[k] = true
		}
	}
	return terms
}

// checkClaimValues requires the value of each of our claims to be a single
// JSON string, number or boolean. JSON-LD treats "x" and ["x"] (and a
// string or number for dose_number) as the same signed statement, so a
// holder could reshape a value without breaking the proof; accepting only
// scalars keeps what callers read identical to what the issuer wrote.
func checkClaimValues(v any) error {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if licenceTerms[k] {
				switch e.(type) {
				case string, float64, bool:
				default:
					return fmt.Errorf("%w: claim %q must be a single string, number or boolean", ErrMalformed, k)
				}
				continue
			}
			if err := checkClaimValues(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := checkClaimValues(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// definedTerms is every term our embedded contexts define, at the top level
// of each context and inside the VerifiableCredential type-scoped context of
// credentials v1. Keywords ("@...") are not terms.
var definedTerms = mustDefinedTerms()

func mustDefinedTerms() map[string]bool {
	terms := map[string]bool{}
	add := func(ctx map[string]any) {
		for k := range ctx {
			if !strings.HasPrefix(k, "@") {
				terms[k] = true
			}
		}
	}
	for url := range embedded {
		raw, _ := ContextDocument(url)
		var doc struct {
			Context map[string]any `json:"@context"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			panic(fmt.Sprintf("ldvc: embedded context %s: %v", url, err))
		}
		add(doc.Context)
		if vc, ok := doc.Context["VerifiableCredential"].(map[string]any); ok {
			if scoped, ok := vc["@context"].(map[string]any); ok {
				add(scoped)
			}
		}
	}
	return terms
}

// checkTerms walks the credential (except @context and proof, which
// precheck handles) and requires every member name to be a term defined by
// our contexts and every nested "type" value to be one of our types.
//
// This duplicates aries' strict JSON-LD validation on purpose: aries
// compares the document with its compacted form, but skips arrays, so an
// undefined term inside an array of objects passes it and is left out of
// the signed RDF dataset (TestVerifyRejects "undefined term inside array").
// Rejecting keywords and compact/absolute IRIs as member names keeps the
// accepted language to exactly what the contexts define.
func checkTerms(v any, top bool) error {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if top && (k == "@context" || k == "proof") {
				continue
			}
			if !definedTerms[k] {
				return fmt.Errorf("%w: %q", ErrUndefinedTerm, k)
			}
			if k == "type" && !top {
				if err := checkNestedTypes(e); err != nil {
					return err
				}
			}
			if err := checkTerms(e, false); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := checkTerms(e, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkNestedTypes(v any) error {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	for _, e := range list {
		s, _ := e.(string)
		if !slices.Contains(ourTypes, s) {
			return fmt.Errorf("%w: type %q", ErrUndefinedTerm, s)
		}
	}
	return nil
}
