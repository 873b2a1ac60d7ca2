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

// StatusTypes are the credentialStatus entry types a credential may carry: the
// types of ContextStatusV1 whose scoped context defines the entry's terms.
var StatusTypes = []string{"BitstringStatusListEntry"}

// scope is the terms a type-scoped context defines, and for each term with a
// property-scoped context of its own, the scope of its values.
type scope struct {
	terms  map[string]bool
	nested map[string]*scope
}

// statusScopes maps each of StatusTypes to the scope its type-scoped context in
// ContextStatusV1 defines.
var statusScopes = mustStatusScopes()

func mustStatusScopes() map[string]*scope {
	raw, _ := ContextDocument(ContextStatusV1)
	var doc struct {
		Context map[string]any `json:"@context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic(fmt.Sprintf("ldvc: embedded status context: %v", err))
	}
	var scopeOf func(ctx map[string]any) *scope
	scopeOf = func(ctx map[string]any) *scope {
		sc := &scope{terms: map[string]bool{}, nested: map[string]*scope{}}
		for k, def := range ctx {
			if strings.HasPrefix(k, "@") {
				continue
			}
			sc.terms[k] = true
			if d, ok := def.(map[string]any); ok {
				if inner, ok := d["@context"].(map[string]any); ok {
					sc.nested[k] = scopeOf(inner)
				}
			}
		}
		return sc
	}
	out := map[string]*scope{}
	for _, typ := range StatusTypes {
		def, _ := doc.Context[typ].(map[string]any)
		ctx, ok := def["@context"].(map[string]any)
		if !ok {
			panic(fmt.Sprintf("ldvc: embedded status context does not scope %s", typ))
		}
		out[typ] = scopeOf(ctx)
	}
	return out
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
//
// The terms a type-scoped context of the status context defines (statusPurpose, ...) are
// accepted only in an object of that type (a credentialStatus entry), and the terms of a
// property-scoped context inside it (statusMessage's status and message) only in that
// property's values: in is the scope the enclosing property opened, nil for none.
func checkTerms(v any, top bool) error { return checkScoped(v, top, nil) }

func checkScoped(v any, top bool, in *scope) error {
	switch t := v.(type) {
	case map[string]any:
		sc := in
		if typ, ok := t["type"].(string); ok && !top && statusScopes[typ] != nil {
			sc = statusScopes[typ]
		}
		for k, e := range t {
			if top && (k == "@context" || k == "proof") {
				continue
			}
			inScope := sc != nil && sc.terms[k]
			if !definedTerms[k] && !inScope {
				return fmt.Errorf("%w: %q", ErrUndefinedTerm, k)
			}
			if k == "type" && !top {
				if err := checkNestedTypes(e); err != nil {
					return err
				}
			}
			// A type-scoped context does not reach nested objects (JSON-LD 1.1: it is
			// not propagated); a property-scoped one does, for that property's values.
			var next *scope
			if inScope {
				next = sc.nested[k]
			}
			if err := checkScoped(e, false, next); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := checkScoped(e, false, in); err != nil {
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
		if !slices.Contains(ourTypes, s) && statusScopes[s] == nil {
			return fmt.Errorf("%w: type %q", ErrUndefinedTerm, s)
		}
	}
	return nil
}
