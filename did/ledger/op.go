package ledger

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
)

// The operation types.
const (
	TypeCreate     = "create"
	TypeUpdate     = "update"
	TypeRecover    = "recover"
	TypeDeactivate = "deactivate"
	TypeAnchor     = "anchor"
	TypeStatus     = "status"
	TypeAccredit   = "accredit"
	TypeWithdraw   = "withdraw"
)

// Limits on operation members.
const (
	MaxTypes    = 32  // credential types per accredit or withdraw
	maxTypeLen  = 256 // bytes of one credential type (vct)
	maxBatchLen = 128
	maxListLen  = 512
	maxNonceLen = 64
)

// Op is the payload of an operation. Type says which fields are members (see the table in
// docs/design/0002-ledger.md); the others must be zero. Build one with the New* functions, sign
// it with SignOp, and parse a signed one with ParseOp.
type Op struct {
	Type string

	DID                string           // update, recover, deactivate
	Prev               string           // update, recover, deactivate: the DID's current versionId
	Document           *Document        // create, recover
	UpdateKey          *jose.JSONWebKey // create, recover: public key that signs the next update
	RecoveryCommitment string           // create, recover: RecoveryCommitment of the next recovery key
	RecoveryKey        *jose.JSONWebKey // recover, deactivate: the revealed recovery key
	Nonce              string           // create: random, so that two creates never collide
	Patches            []Patch          // update; may be empty when NextUpdateKey is set
	NextUpdateKey      *jose.JSONWebKey // update: optional rotation of the update key

	Issuer string   // anchor, status, accredit, withdraw (the accredited issuer for the last two)
	Root   []byte   // anchor: RFC 6962 root of the batch of credential digests
	Count  uint64   // anchor: digests in the batch
	Batch  string   // anchor: the issuer's batch id, unique per issuer
	List   string   // status: status list id or URL
	Digest []byte   // status: SHA-256 of the status list as served
	Seq    uint64   // status (per list, increasing), accredit and withdraw (per authority, unique)
	Types  []string // accredit, withdraw: credential types (vct)
	From   int64    // accredit: Unix seconds
	Until  int64    // accredit: Unix seconds
	At     int64    // withdraw: Unix seconds
}

// NewCreate returns a create operation for doc, with a random nonce. Sign it with the private
// key of updateKey.
func NewCreate(doc Document, updateKey, recoveryKey crypto.PublicKey) (Op, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return Op{}, err
	}
	rc, err := RecoveryCommitment(&jose.JSONWebKey{Key: recoveryKey})
	if err != nil {
		return Op{}, fmt.Errorf("recovery key: %w", err)
	}
	return Op{Type: TypeCreate, Document: &doc, UpdateKey: &jose.JSONWebKey{Key: updateKey},
		RecoveryCommitment: rc, Nonce: b64.EncodeToString(nonce)}, nil
}

// NewUpdate returns an update of id whose current versionId is prev. Sign it with the current
// update key (kid "<id>#update"). To rotate the update key, set NextUpdateKey.
func NewUpdate(id, prev string, patches ...Patch) Op {
	return Op{Type: TypeUpdate, DID: id, Prev: prev, Patches: patches}
}

// NewRecover returns a recover operation replacing id's document, update key and recovery
// commitment. Sign it with the private key of recoveryKey, whose commitment is current.
func NewRecover(id, prev string, doc Document, updateKey, recoveryKey, nextRecoveryKey crypto.PublicKey) (Op, error) {
	rc, err := RecoveryCommitment(&jose.JSONWebKey{Key: nextRecoveryKey})
	if err != nil {
		return Op{}, fmt.Errorf("next recovery key: %w", err)
	}
	return Op{Type: TypeRecover, DID: id, Prev: prev, Document: &doc, UpdateKey: &jose.JSONWebKey{Key: updateKey},
		RecoveryCommitment: rc, RecoveryKey: &jose.JSONWebKey{Key: recoveryKey}}, nil
}

// NewDeactivate returns a deactivate operation of id. Sign it with the private key of
// recoveryKey.
func NewDeactivate(id, prev string, recoveryKey crypto.PublicKey) Op {
	return Op{Type: TypeDeactivate, DID: id, Prev: prev, RecoveryKey: &jose.JSONWebKey{Key: recoveryKey}}
}

// NewAnchor returns an anchor of issuer's batch with the given root and digest count. Sign it
// with an assertionMethod key of issuer.
func NewAnchor(issuer string, root []byte, count uint64, batch string) Op {
	return Op{Type: TypeAnchor, Issuer: issuer, Root: root, Count: count, Batch: batch}
}

// NewStatus returns a status-list publication. Sign it with an assertionMethod key of issuer.
func NewStatus(issuer, list string, digest []byte, seq uint64) Op {
	return Op{Type: TypeStatus, Issuer: issuer, List: list, Digest: digest, Seq: seq}
}

// NewAccredit returns an accreditation of issuer for types from from until until (seconds
// precision). Sign it with an assertionMethod key of the root authority.
func NewAccredit(issuer string, types []string, from, until time.Time, seq uint64) Op {
	return Op{Type: TypeAccredit, Issuer: issuer, Types: types, From: from.Unix(), Until: until.Unix(), Seq: seq}
}

// NewWithdraw returns a withdrawal of issuer's accreditation for types from at on. Sign it
// with an assertionMethod key of the root authority.
func NewWithdraw(issuer string, types []string, at time.Time, seq uint64) Op {
	return Op{Type: TypeWithdraw, Issuer: issuer, Types: types, At: at.Unix(), Seq: seq}
}

// Canonical returns the canonical JSON payload of op: the bytes SignOp signs. It returns an
// error (an *OpError) if op is not a valid operation.
func (op Op) Canonical() ([]byte, error) {
	m, err := op.members()
	if err != nil {
		return nil, err
	}
	b := canonicalJSON(m)
	// Decoding what we encoded applies every check ParseOp applies to the payload.
	if _, err := decodeOp(b); err != nil {
		return nil, err
	}
	return b, nil
}

// members returns the member map of op. It checks only what it needs to build the map; see
// Canonical.
func (op Op) members() (map[string]any, error) {
	m := map[string]any{"type": op.Type}
	jwk := func(name string, k *jose.JSONWebKey) error {
		mm, err := jwkMembers(k)
		if err != nil {
			return opErr(CodeMalformed, "%s: %v", name, err)
		}
		m[name] = mm
		return nil
	}
	doc := func() error {
		if op.Document == nil {
			return opErr(CodeMalformed, "document missing")
		}
		if err := op.Document.validate(); err != nil {
			return err
		}
		m["document"] = op.Document.encode()
		return nil
	}
	var err error
	switch op.Type {
	case TypeCreate:
		if err = doc(); err == nil {
			err = jwk("update_key", op.UpdateKey)
		}
		m["recovery_commitment"] = op.RecoveryCommitment
		m["nonce"] = op.Nonce
	case TypeUpdate:
		m["did"], m["prev"] = op.DID, op.Prev
		if len(op.Patches) > 0 {
			ps := make([]any, len(op.Patches))
			for i, p := range op.Patches {
				ps[i] = p.encode()
			}
			m["patches"] = ps
		}
		if op.NextUpdateKey != nil {
			err = jwk("next_update_key", op.NextUpdateKey)
		}
	case TypeRecover:
		m["did"], m["prev"] = op.DID, op.Prev
		if err = doc(); err == nil {
			if err = jwk("update_key", op.UpdateKey); err == nil {
				err = jwk("recovery_key", op.RecoveryKey)
			}
		}
		m["recovery_commitment"] = op.RecoveryCommitment
	case TypeDeactivate:
		m["did"], m["prev"] = op.DID, op.Prev
		err = jwk("recovery_key", op.RecoveryKey)
	case TypeAnchor:
		m["issuer"], m["root"], m["count"], m["batch"] = op.Issuer, b64.EncodeToString(op.Root), op.Count, op.Batch
	case TypeStatus:
		m["issuer"], m["list"], m["digest"], m["seq"] = op.Issuer, op.List, b64.EncodeToString(op.Digest), op.Seq
	case TypeAccredit:
		m["issuer"], m["types"], m["from"], m["until"], m["seq"] = op.Issuer, op.Types, op.From, op.Until, op.Seq
	case TypeWithdraw:
		m["issuer"], m["types"], m["at"], m["seq"] = op.Issuer, op.Types, op.At, op.Seq
	default:
		return nil, opErr(CodeMalformed, "unknown operation type %q", op.Type)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// decodeOp decodes and checks a payload. It does not check that the payload is canonical.
func decodeOp(payload []byte) (Op, error) {
	v, err := decodeStrict(payload, "payload")
	if err != nil {
		return Op{}, err
	}
	o := newObject(v, "payload")
	op := Op{Type: o.str("type", true, 16)}
	if o.err != nil {
		return Op{}, o.err
	}
	o.what = op.Type + " payload"
	didMember := func(name string) string {
		s := o.str(name, true, 64)
		if o.err == nil {
			if _, err := ParseDID(s); err != nil {
				o.fail("%q: %v", name, err)
			}
		}
		return s
	}
	// trustedDID is the issuer of an accredit or withdraw: a did:ez, or a DID of a method
	// that needs no registry (did:key, did:jwk) or is the issuer's own (did:web), so that the
	// root authority can accredit issuers that are not on this ledger (ExternalIssuer).
	trustedDID := func(name string) string {
		s := o.str(name, true, MaxExternalDIDLen)
		if o.err == nil {
			if _, err := ParseDID(s); err != nil && !ExternalIssuer(s) {
				o.fail("%q: %v, nor a did:key, did:jwk or did:web", name, err)
			}
		}
		return s
	}
	hashText := func(name string) string {
		s := o.str(name, true, 64)
		if o.err == nil {
			if h, err := decodeB64(s); err != nil || len(h) != sha256.Size {
				o.fail("%q is not a base64url SHA-256 hash", name)
			}
		}
		return s
	}
	hash := func(name string) []byte {
		h, _ := decodeB64(hashText(name))
		return h
	}
	jwk := func(name string, required bool) *jose.JSONWebKey {
		jv, ok := o.get(name, required)
		if !ok {
			return nil
		}
		k, err := decodeJWK(jv, o.what+" "+name)
		if err != nil && o.err == nil {
			o.err = err
		}
		return k
	}
	doc := func() *Document {
		dv, ok := o.get("document", true)
		if !ok {
			return nil
		}
		d, err := decodeDocument(dv)
		if err != nil && o.err == nil {
			o.err = err
		}
		return &d
	}
	types := func() []string {
		ts := o.strings("types", true, MaxTypes, maxTypeLen)
		for i, t := range ts {
			for _, u := range ts[:i] {
				if t == u {
					o.fail("type %q listed twice", t)
				}
			}
		}
		return ts
	}
	seconds := func(name string) int64 { return int64(o.uint(name)) }

	switch op.Type {
	case TypeCreate:
		op.Document = doc()
		op.UpdateKey = jwk("update_key", true)
		op.RecoveryCommitment = hashText("recovery_commitment")
		op.Nonce = o.str("nonce", true, maxNonceLen)
		if o.err == nil {
			if _, err := decodeB64(op.Nonce); err != nil || len(op.Nonce) < 16 {
				o.fail("nonce must be at least 16 base64url characters")
			}
		}
	case TypeUpdate:
		op.DID = didMember("did")
		op.Prev = hashText("prev")
		for i, pv := range o.array("patches", false, MaxPatches, CodeTooLarge) {
			p, err := decodePatch(pv, fmt.Sprintf("patch %d", i))
			if err != nil {
				if o.err == nil {
					o.err = err
				}
				break
			}
			op.Patches = append(op.Patches, p)
		}
		op.NextUpdateKey = jwk("next_update_key", false)
		if o.err == nil && len(op.Patches) == 0 && op.NextUpdateKey == nil {
			o.fail("neither patches nor next_update_key: nothing to update")
		}
	case TypeRecover:
		op.DID = didMember("did")
		op.Prev = hashText("prev")
		op.Document = doc()
		op.UpdateKey = jwk("update_key", true)
		op.RecoveryCommitment = hashText("recovery_commitment")
		op.RecoveryKey = jwk("recovery_key", true)
	case TypeDeactivate:
		op.DID = didMember("did")
		op.Prev = hashText("prev")
		op.RecoveryKey = jwk("recovery_key", true)
	case TypeAnchor:
		op.Issuer = didMember("issuer")
		op.Root = hash("root")
		op.Count = o.uint("count")
		op.Batch = o.str("batch", true, maxBatchLen)
		if o.err == nil && op.Count == 0 {
			o.fail("count is 0")
		}
	case TypeStatus:
		op.Issuer = didMember("issuer")
		op.List = o.str("list", true, maxListLen)
		op.Digest = hash("digest")
		op.Seq = o.uint("seq")
	case TypeAccredit:
		op.Issuer = trustedDID("issuer")
		op.Types = types()
		op.From = seconds("from")
		op.Until = seconds("until")
		op.Seq = o.uint("seq")
		if o.err == nil && op.From >= op.Until {
			o.fail("from is not before until")
		}
	case TypeWithdraw:
		op.Issuer = trustedDID("issuer")
		op.Types = types()
		op.At = seconds("at")
		op.Seq = o.uint("seq")
	default:
		o.fail("unknown type %q", op.Type)
	}
	if err := o.done(); err != nil {
		return Op{}, err
	}
	if op.UpdateKey != nil {
		if rc, _ := RecoveryCommitment(op.UpdateKey); rc == op.RecoveryCommitment {
			return Op{}, opErr(CodeWrongKey, "the recovery key must not be the update key")
		}
	}
	return op, nil
}

// DIDOf returns the did:ez DID that the create operation creates: "did:ez:" +
// base64url(multihash(sha2-256, canonical payload)), i.e. base64url(0x12 0x20 || SHA-256).
// It returns "" if create is not a valid create operation.
func DIDOf(create Op) string {
	if create.Type != TypeCreate {
		return ""
	}
	payload, err := create.Canonical()
	if err != nil {
		return ""
	}
	return didOfPayload(payload)
}

func didOfPayload(payload []byte) string {
	sum := sha256.Sum256(payload)
	return "did:ez:" + b64.EncodeToString(append([]byte{0x12, 0x20}, sum[:]...))
}

// VersionID returns the versionId an accepted operation gives its DID: base64url(SHA-256 of
// the operation's JWS).
func VersionID(jws string) string {
	sum := sha256.Sum256([]byte(jws))
	return b64.EncodeToString(sum[:])
}

// suffixLen is the length of a did:ez method-specific id: 34 bytes in base64url.
const suffixLen = 46

// MaxExternalDIDLen bounds the DID of an issuer that is not on the ledger (ExternalIssuer),
// in bytes: room for a did:jwk of a P-521 key.
const MaxExternalDIDLen = 512

// ExternalIssuer reports whether s is a DID the root authority may accredit although it is
// not on the ledger: a well-formed did:key, did:jwk or did:web of at most MaxExternalDIDLen
// bytes. Whether it resolves is not the ledger's concern (deciding must not do I/O); a
// verifier resolves it when it checks a credential's signature.
func ExternalIssuer(s string) bool {
	if len(s) > MaxExternalDIDLen {
		return false
	}
	d, err := did.Parse(s)
	if err != nil || d.String() != s {
		return false
	}
	switch d.Method {
	case "key", "jwk", "web":
		return true
	}
	return false
}

// ParseDID parses a did:ez DID: "did:ez:" followed by the base64url (no padding, canonical)
// encoding of a sha2-256 multihash (0x12 0x20 and 32 bytes), 46 characters starting "Ei". It
// returns an error wrapping did.ErrInvalidDID otherwise.
func ParseDID(s string) (did.DID, error) {
	suffix, ok := strings.CutPrefix(s, "did:ez:")
	if !ok {
		return did.DID{}, fmt.Errorf("%w: not a did:ez DID", did.ErrInvalidDID)
	}
	if len(suffix) != suffixLen {
		return did.DID{}, fmt.Errorf("%w: did:ez id is %d characters, want %d", did.ErrInvalidDID, len(suffix), suffixLen)
	}
	b, err := decodeB64(suffix)
	if err != nil || len(b) != 34 || b[0] != 0x12 || b[1] != 0x20 {
		return did.DID{}, fmt.Errorf("%w: did:ez id is not a base64url sha2-256 multihash", did.ErrInvalidDID)
	}
	return did.DID{Method: "ez", ID: suffix}, nil
}
