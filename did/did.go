// Package did parses decentralised identifiers, builds and resolves DID documents, and finds
// the keys a DID controls. It resolves did:key and did:jwk locally, with no network; the ledger
// method did:ez and did:web plug in through the Resolver interface.
package did

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Errors returned by parsing and resolution. Resolution errors follow the DID Resolution error
// vocabulary (invalidDid, methodNotSupported, notFound).
var (
	ErrInvalidDID         = errors.New("invalid DID")
	ErrMethodNotSupported = errors.New("DID method not supported")
	ErrNotFound           = errors.New("DID not found")
	ErrKeyNotFound        = errors.New("verification method not found")
)

// MaxLength bounds the length of a DID or DID URL we accept.
const MaxLength = 4096

// DID is a parsed decentralised identifier.
type DID struct {
	Method string // e.g. "key", "jwk"
	ID     string // method-specific identifier
}

// String returns "did:<method>:<id>".
func (d DID) String() string { return "did:" + d.Method + ":" + d.ID }

// Parse parses a DID (not a DID URL: no path, query or fragment) per the DID Core ABNF.
// It returns an error wrapping ErrInvalidDID.
func Parse(s string) (DID, error) {
	if len(s) > MaxLength {
		return DID{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidDID, MaxLength)
	}
	rest, ok := strings.CutPrefix(s, "did:")
	if !ok {
		return DID{}, fmt.Errorf("%w: must start with \"did:\"", ErrInvalidDID)
	}
	method, id, ok := strings.Cut(rest, ":")
	if !ok || method == "" || id == "" {
		return DID{}, fmt.Errorf("%w: want did:<method>:<id>", ErrInvalidDID)
	}
	for _, r := range method {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return DID{}, fmt.Errorf("%w: method name must be lowercase letters and digits", ErrInvalidDID)
		}
	}
	if strings.HasSuffix(id, ":") {
		return DID{}, fmt.Errorf("%w: method-specific id ends with ':'", ErrInvalidDID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_', c == ':':
		case c == '%':
			if i+2 >= len(id) || !isHex(id[i+1]) || !isHex(id[i+2]) {
				return DID{}, fmt.Errorf("%w: bad percent-encoding", ErrInvalidDID)
			}
			i += 2
		default:
			return DID{}, fmt.Errorf("%w: character %q not allowed in method-specific id", ErrInvalidDID, c)
		}
	}
	return DID{Method: method, ID: id}, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// SplitURL splits a DID URL "did:m:id#frag" into its DID and fragment. Paths and queries are
// not supported and give ErrInvalidDID.
func SplitURL(u string) (DID, string, error) {
	base, frag, _ := strings.Cut(u, "#")
	if strings.ContainsAny(base, "/?") {
		return DID{}, "", fmt.Errorf("%w: DID URL paths and queries are not supported", ErrInvalidDID)
	}
	d, err := Parse(base)
	return d, frag, err
}

// Document is a DID document (DID Core), restricted to what ezheng uses.
type Document struct {
	Context              []string             `json:"@context"`
	ID                   string               `json:"id"`
	Controller           []string             `json:"controller,omitempty"`
	VerificationMethod   []VerificationMethod `json:"verificationMethod,omitempty"`
	Authentication       []string             `json:"authentication,omitempty"`
	AssertionMethod      []string             `json:"assertionMethod,omitempty"`
	CapabilityInvocation []string             `json:"capabilityInvocation,omitempty"`
	CapabilityDelegation []string             `json:"capabilityDelegation,omitempty"`
	Service              []Service            `json:"service,omitempty"`
}

// VerificationMethod is a public key in a DID document, as a JWK.
type VerificationMethod struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Controller   string           `json:"controller"`
	PublicKeyJwk *jose.JSONWebKey `json:"publicKeyJwk"`
}

// Service is a service endpoint in a DID document.
type Service struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	ServiceEndpoint string `json:"serviceEndpoint"`
}

// Relationship names a verification relationship.
type Relationship string

// The relationships ezheng checks.
const (
	AssertionMethod Relationship = "assertionMethod" // issuing credentials
	Authentication  Relationship = "authentication"  // holder key binding, logins
)

// Key returns the public key of the verification method kid (an absolute DID URL, or a
// relative "#frag" reference), which must belong to this document and be listed under rel.
// It returns an error wrapping ErrKeyNotFound otherwise.
func (d *Document) Key(kid string, rel Relationship) (*jose.JSONWebKey, error) {
	if strings.HasPrefix(kid, "#") {
		kid = d.ID + kid
	}
	var refs []string
	switch rel {
	case AssertionMethod:
		refs = d.AssertionMethod
	case Authentication:
		refs = d.Authentication
	}
	listed := false
	for _, r := range refs {
		if r == kid || (strings.HasPrefix(r, "#") && d.ID+r == kid) {
			listed = true
			break
		}
	}
	if !listed {
		return nil, fmt.Errorf("%w: %s is not an %s key of %s", ErrKeyNotFound, kid, rel, d.ID)
	}
	for _, vm := range d.VerificationMethod {
		id := vm.ID
		if strings.HasPrefix(id, "#") {
			id = d.ID + id
		}
		if id == kid && vm.PublicKeyJwk != nil {
			return vm.PublicKeyJwk, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrKeyNotFound, kid)
}

// Resolver resolves a DID to its current DID document.
type Resolver interface {
	// Resolve returns the document for did, or an error wrapping ErrInvalidDID,
	// ErrMethodNotSupported or ErrNotFound. Other errors are faults (network, storage).
	Resolve(ctx context.Context, did string) (*Document, error)
}

// ResolveKey resolves the DID of the DID URL kid with r and returns its key for rel.
func ResolveKey(ctx context.Context, r Resolver, kid string, rel Relationship) (*jose.JSONWebKey, error) {
	d, _, err := SplitURL(kid)
	if err != nil {
		return nil, err
	}
	doc, err := r.Resolve(ctx, d.String())
	if err != nil {
		return nil, err
	}
	return doc.Key(kid, rel)
}

// IsUnresolvable reports whether err says the DID or its key cannot be had (invalid DID,
// unsupported method, not found, no such key, a did:web fetch that failed) — a verdict about
// the input — rather than a fault of ours.
func IsUnresolvable(err error) bool {
	for _, e := range []error{ErrInvalidDID, ErrMethodNotSupported, ErrNotFound, ErrKeyNotFound, ErrWebFetch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
