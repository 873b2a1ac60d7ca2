package ledger

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
)

// Limits on DID documents.
const (
	MaxKeys     = 16 // verification methods per document
	MaxServices = 16 // services per document
	MaxPatches  = 16 // patches per update
)

// KeyType is the verification method type of every key on the ledger.
const KeyType = "JsonWebKey2020"

// updateFragment is the fragment of the update key's kid, "<did>#update"; no verification
// method may use it.
const updateFragment = "update"

// Document is the DID document an operation carries (create, recover) or a DID's state holds:
// verification methods and services with relative ids ("#key-1"), and the relationships
// naming them. Resolution turns it into a did.Document with absolute ids.
type Document struct {
	Keys            []Key     // "verificationMethod"; at most MaxKeys
	Authentication  []string  // relative ids of Keys
	AssertionMethod []string  // relative ids of Keys
	Services        []Service // "service"; at most MaxServices
}

// Key is a verification method: a public Ed25519 or P-256 JWK under a relative id.
type Key struct {
	ID  string // "#key-1"
	JWK *jose.JSONWebKey
}

// Service is a service endpoint under a relative id.
type Service struct {
	ID       string // "#svc-1"
	Type     string
	Endpoint string // absolute URI
}

// NewDocument returns a document with one key, "#key-1", for both authentication and
// assertionMethod: what an issuer needs.
func NewDocument(pub crypto.PublicKey) Document {
	return Document{
		Keys:            []Key{{ID: "#key-1", JWK: &jose.JSONWebKey{Key: pub}}},
		Authentication:  []string{"#key-1"},
		AssertionMethod: []string{"#key-1"},
	}
}

// DIDDocument returns the W3C DID document of id holding d: absolute ids, JsonWebKey2020
// verification methods controlled by id.
func (d Document) DIDDocument(id string) *did.Document {
	doc := &did.Document{
		Context: []string{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"},
		ID:      id,
	}
	for _, k := range d.Keys {
		doc.VerificationMethod = append(doc.VerificationMethod, did.VerificationMethod{
			ID: id + k.ID, Type: KeyType, Controller: id, PublicKeyJwk: &jose.JSONWebKey{Key: k.JWK.Key},
		})
	}
	for _, r := range d.Authentication {
		doc.Authentication = append(doc.Authentication, id+r)
	}
	for _, r := range d.AssertionMethod {
		doc.AssertionMethod = append(doc.AssertionMethod, id+r)
	}
	for _, s := range d.Services {
		doc.Service = append(doc.Service, did.Service{ID: id + s.ID, Type: s.Type, ServiceEndpoint: s.Endpoint})
	}
	return doc
}

// key returns the key with relative id ref, if it is listed under rel.
func (d Document) key(ref string, rel did.Relationship) *jose.JSONWebKey {
	refs := d.AssertionMethod
	if rel == did.Authentication {
		refs = d.Authentication
	}
	if !slices.Contains(refs, ref) {
		return nil
	}
	for _, k := range d.Keys {
		if k.ID == ref {
			return k.JWK
		}
	}
	return nil
}

// --- encoding ---

func (d Document) encode() map[string]any {
	m := map[string]any{}
	if len(d.Keys) > 0 {
		m["verificationMethod"] = encodeKeys(d.Keys)
	}
	if len(d.Authentication) > 0 {
		m["authentication"] = d.Authentication
	}
	if len(d.AssertionMethod) > 0 {
		m["assertionMethod"] = d.AssertionMethod
	}
	if len(d.Services) > 0 {
		m["service"] = encodeServices(d.Services)
	}
	return m
}

func encodeKeys(keys []Key) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = map[string]any{"id": k.ID, "type": KeyType, "publicKeyJwk": jwkMap(k.JWK)}
	}
	return out
}

func encodeServices(ss []Service) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = map[string]any{"id": s.ID, "type": s.Type, "serviceEndpoint": s.Endpoint}
	}
	return out
}

// canonical returns the canonical JSON of d, as stored in the ledger state.
func (d Document) canonical() []byte { return canonicalJSON(d.encode()) }

// parseStoredDocument decodes a document the ledger stored itself.
func parseStoredDocument(b []byte) (Document, error) {
	v, err := decodeStrict(b, "stored document")
	if err != nil {
		return Document{}, err
	}
	return decodeDocument(v)
}

// decodeDocument decodes and validates a document. Errors carry CodeInvalidDocument, or
// CodeTooLarge for documents over the limits.
func decodeDocument(v any) (Document, error) {
	o := newObject(v, "document")
	var d Document
	for i, e := range o.array("verificationMethod", false, MaxKeys, CodeTooLarge) {
		k, err := decodeKey(e, fmt.Sprintf("document verificationMethod[%d]", i))
		if err != nil {
			o.err = err
			break
		}
		d.Keys = append(d.Keys, k)
	}
	d.Authentication = o.strings("authentication", false, MaxKeys, 80)
	d.AssertionMethod = o.strings("assertionMethod", false, MaxKeys, 80)
	for i, e := range o.array("service", false, MaxServices, CodeTooLarge) {
		s, err := decodeService(e, fmt.Sprintf("document service[%d]", i))
		if err != nil {
			o.err = err
			break
		}
		d.Services = append(d.Services, s)
	}
	if err := o.done(); err != nil {
		return Document{}, asInvalidDocument(err)
	}
	if err := d.validate(); err != nil {
		return Document{}, err
	}
	return d, nil
}

// asInvalidDocument turns a malformed-member error inside a document into invalid-document.
func asInvalidDocument(err error) error {
	if oe, ok := err.(*OpError); ok && oe.Code == CodeMalformed {
		return &OpError{Code: CodeInvalidDocument, Reason: oe.Reason}
	}
	return err
}

func decodeKey(v any, what string) (Key, error) {
	o := newObject(v, what)
	k := Key{ID: o.str("id", true, 80)}
	if t := o.str("type", true, 64); o.err == nil && t != KeyType {
		o.fail("type %q, want %s", t, KeyType)
	}
	if jv, ok := o.get("publicKeyJwk", true); ok {
		jwk, err := decodeJWK(jv, what+" publicKeyJwk")
		if err != nil {
			o.err = err
		}
		k.JWK = jwk
	}
	return k, asInvalidDocument(o.done())
}

func decodeService(v any, what string) (Service, error) {
	o := newObject(v, what)
	s := Service{ID: o.str("id", true, 80), Type: o.str("type", true, 64), Endpoint: o.str("serviceEndpoint", true, 512)}
	return s, asInvalidDocument(o.done())
}

// validate checks what decoding cannot: id syntax and uniqueness, references, limits, URIs.
func (d Document) validate() *OpError {
	if len(d.Keys) > MaxKeys {
		return opErr(CodeTooLarge, "document has %d keys, at most %d", len(d.Keys), MaxKeys)
	}
	if len(d.Services) > MaxServices {
		return opErr(CodeTooLarge, "document has %d services, at most %d", len(d.Services), MaxServices)
	}
	var ids []string
	for _, k := range d.Keys {
		if !validFragment(k.ID) {
			return opErr(CodeInvalidDocument, "key id %q: want #<1-64 of A-Z a-z 0-9 . _ ->, not #update", k.ID)
		}
		if slices.Contains(ids, k.ID) {
			return opErr(CodeInvalidDocument, "id %q used twice", k.ID)
		}
		if _, err := canonicalJWK(k.JWK); err != nil {
			return opErr(CodeInvalidDocument, "key %s: %v", k.ID, err)
		}
		ids = append(ids, k.ID)
	}
	for _, s := range d.Services {
		if !validFragment(s.ID) {
			return opErr(CodeInvalidDocument, "service id %q: want #<1-64 of A-Z a-z 0-9 . _ ->", s.ID)
		}
		if slices.Contains(ids, s.ID) {
			return opErr(CodeInvalidDocument, "id %q used twice", s.ID)
		}
		if err := checkString(s.Type, 64); err != nil {
			return opErr(CodeInvalidDocument, "service %s type: %v", s.ID, err)
		}
		if err := checkString(s.Endpoint, 512); err != nil {
			return opErr(CodeInvalidDocument, "service %s endpoint: %v", s.ID, err)
		}
		if u, err := url.Parse(s.Endpoint); err != nil || u.Scheme == "" || !u.IsAbs() {
			return opErr(CodeInvalidDocument, "service %s endpoint is not an absolute URI", s.ID)
		}
		ids = append(ids, s.ID)
	}
	for _, rel := range []struct {
		name string
		refs []string
	}{{"authentication", d.Authentication}, {"assertionMethod", d.AssertionMethod}} {
		for i, r := range rel.refs {
			if !slices.ContainsFunc(d.Keys, func(k Key) bool { return k.ID == r }) {
				return opErr(CodeInvalidDocument, "%s names %q, which is not a key of the document", rel.name, r)
			}
			if slices.Contains(rel.refs[:i], r) {
				return opErr(CodeInvalidDocument, "%s names %q twice", rel.name, r)
			}
		}
	}
	return nil
}

// validFragment reports whether id is "#" and 1 to 64 of A-Z a-z 0-9 . _ -, and not the
// reserved "#update".
func validFragment(id string) bool {
	if len(id) < 2 || len(id) > 65 || id[0] != '#' || id[1:] == updateFragment {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (d Document) clone() Document {
	return Document{
		Keys:            slices.Clone(d.Keys),
		Authentication:  slices.Clone(d.Authentication),
		AssertionMethod: slices.Clone(d.AssertionMethod),
		Services:        slices.Clone(d.Services),
	}
}

// --- patches ---

// The patch actions of an update.
const (
	ActionAddKeys          = "add-keys"          // Keys: add these verification methods
	ActionRemoveKeys       = "remove-keys"       // IDs: remove these keys (and their relationships)
	ActionAddServices      = "add-services"      // Services: add these services
	ActionRemoveServices   = "remove-services"   // IDs: remove these services
	ActionSetRelationships = "set-relationships" // Authentication, AssertionMethod: replace both lists
)

// Patch is one change of an update operation. Which fields it uses depends on Action.
type Patch struct {
	Action          string
	Keys            []Key     // add-keys
	Services        []Service // add-services
	IDs             []string  // remove-keys, remove-services
	Authentication  []string  // set-relationships
	AssertionMethod []string  // set-relationships
}

func (p Patch) encode() map[string]any {
	m := map[string]any{"action": p.Action}
	switch p.Action {
	case ActionAddKeys:
		m["keys"] = encodeKeys(p.Keys)
	case ActionAddServices:
		m["services"] = encodeServices(p.Services)
	case ActionRemoveKeys, ActionRemoveServices:
		m["ids"] = p.IDs
	case ActionSetRelationships:
		if len(p.Authentication) > 0 {
			m["authentication"] = p.Authentication
		}
		if len(p.AssertionMethod) > 0 {
			m["assertionMethod"] = p.AssertionMethod
		}
	}
	return m
}

func decodePatch(v any, what string) (Patch, error) {
	o := newObject(v, what)
	p := Patch{Action: o.str("action", true, 32)}
	switch p.Action {
	case ActionAddKeys:
		for i, e := range o.array("keys", true, MaxKeys, CodeTooLarge) {
			k, err := decodeKey(e, fmt.Sprintf("%s keys[%d]", what, i))
			if err != nil {
				o.err = err
				break
			}
			p.Keys = append(p.Keys, k)
		}
	case ActionAddServices:
		for i, e := range o.array("services", true, MaxServices, CodeTooLarge) {
			s, err := decodeService(e, fmt.Sprintf("%s services[%d]", what, i))
			if err != nil {
				o.err = err
				break
			}
			p.Services = append(p.Services, s)
		}
	case ActionRemoveKeys, ActionRemoveServices:
		p.IDs = o.strings("ids", true, MaxKeys+MaxServices, 80)
	case ActionSetRelationships:
		p.Authentication = o.strings("authentication", false, MaxKeys, 80)
		p.AssertionMethod = o.strings("assertionMethod", false, MaxKeys, 80)
	default:
		if o.err == nil {
			o.fail("unknown action %q", p.Action)
		}
	}
	return p, o.done()
}

// applyPatches returns d with the patches applied in order, validated.
func (d Document) applyPatches(patches []Patch) (Document, *OpError) {
	d = d.clone()
	has := func(id string) bool {
		return slices.ContainsFunc(d.Keys, func(k Key) bool { return k.ID == id }) ||
			slices.ContainsFunc(d.Services, func(s Service) bool { return s.ID == id })
	}
	for i, p := range patches {
		switch p.Action {
		case ActionAddKeys:
			for _, k := range p.Keys {
				if has(k.ID) {
					return d, opErr(CodeInvalidDocument, "patch %d: id %s already in the document", i, k.ID)
				}
				d.Keys = append(d.Keys, k)
			}
		case ActionAddServices:
			for _, s := range p.Services {
				if has(s.ID) {
					return d, opErr(CodeInvalidDocument, "patch %d: id %s already in the document", i, s.ID)
				}
				d.Services = append(d.Services, s)
			}
		case ActionRemoveKeys:
			for _, id := range p.IDs {
				n := len(d.Keys)
				d.Keys = slices.DeleteFunc(d.Keys, func(k Key) bool { return k.ID == id })
				if len(d.Keys) == n {
					return d, opErr(CodeInvalidDocument, "patch %d: no key %s to remove", i, id)
				}
				d.Authentication = slices.DeleteFunc(d.Authentication, func(r string) bool { return r == id })
				d.AssertionMethod = slices.DeleteFunc(d.AssertionMethod, func(r string) bool { return r == id })
			}
		case ActionRemoveServices:
			for _, id := range p.IDs {
				n := len(d.Services)
				d.Services = slices.DeleteFunc(d.Services, func(s Service) bool { return s.ID == id })
				if len(d.Services) == n {
					return d, opErr(CodeInvalidDocument, "patch %d: no service %s to remove", i, id)
				}
			}
		case ActionSetRelationships:
			d.Authentication = slices.Clone(p.Authentication)
			d.AssertionMethod = slices.Clone(p.AssertionMethod)
		}
	}
	if err := d.validate(); err != nil {
		return d, err
	}
	return d, nil
}

// --- keys ---

// jwkMap returns the public JWK members of k: {crv, kty, x} for Ed25519, {crv, kty, x, y} for
// P-256 — the RFC 7638 thumbprint members. For anything else it returns nil, which encodes as
// null and which decoding rejects.
func jwkMap(k *jose.JSONWebKey) map[string]any {
	m, err := jwkMembers(k)
	if err != nil {
		return nil
	}
	return m
}

func jwkMembers(k *jose.JSONWebKey) (map[string]any, error) {
	if k == nil {
		return nil, fmt.Errorf("no key")
	}
	switch pub := k.Key.(type) {
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes", len(pub))
		}
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)}, nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("only the P-256 curve")
		}
		raw, err := pub.Bytes() // 0x04 || X || Y, checks the point
		if err != nil {
			return nil, fmt.Errorf("invalid P-256 key: %v", err)
		}
		return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])}, nil
	}
	return nil, fmt.Errorf("unsupported key type %T: want a public Ed25519 or P-256 key", k.Key)
}

// canonicalJWK returns the canonical JSON of the public key k (RFC 7638 thumbprint input).
func canonicalJWK(k *jose.JSONWebKey) ([]byte, error) {
	m, err := jwkMembers(k)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(m), nil
}

// decodeJWK decodes a public JWK with exactly the thumbprint members.
func decodeJWK(v any, what string) (*jose.JSONWebKey, error) {
	o := newObject(v, what)
	kty := o.str("kty", true, 8)
	o.str("crv", true, 16)
	o.str("x", true, 64)
	if kty == "EC" {
		o.str("y", true, 64)
	}
	if err := o.done(); err != nil {
		return nil, err
	}
	raw := canonicalJSON(o.m)
	var k jose.JSONWebKey
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, opErr(CodeMalformed, "%s: %v", what, err)
	}
	if !k.Valid() || !k.IsPublic() {
		return nil, opErr(CodeMalformed, "%s: not a valid public key", what)
	}
	again, err := canonicalJWK(&k)
	if err != nil {
		return nil, opErr(CodeMalformed, "%s: %v", what, err)
	}
	if string(again) != string(raw) {
		return nil, opErr(CodeNonCanonical, "%s: key members are not in canonical form", what)
	}
	return &jose.JSONWebKey{Key: k.Key}, nil
}

// RecoveryCommitment returns the commitment to a recovery key: base64url(SHA-256(canonical
// JSON of the public JWK)), which is the key's RFC 7638 SHA-256 thumbprint. It returns an
// error if jwk is not a public Ed25519 or P-256 key.
func RecoveryCommitment(jwk *jose.JSONWebKey) (string, error) {
	c, err := canonicalJWK(jwk)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return b64.EncodeToString(sum[:]), nil
}

func sameKey(a, b *jose.JSONWebKey) bool {
	ca, err1 := canonicalJWK(a)
	cb, err2 := canonicalJWK(b)
	return err1 == nil && err2 == nil && string(ca) == string(cb)
}
