// Package bundle makes, updates and opens offline trust bundles: signed snapshots of what a
// verifier needs from the DID ledger and the issuers — the accredited issuers with their
// accreditation records and the full history of their DID documents, their current status
// lists as the issuers signed them, the newest ledger checkpoint and the verification
// policies — so that a counter can verify with no network at all.
//
// A bundle file is a small binary envelope (magic, version, kind, the signer's Ed25519 public
// key, the signature) around a DEFLATE-compressed canonical JSON payload; docs/trust-bundle.md
// describes it. The sequence number of a bundle is the tree size of the ledger checkpoint it
// carries, so it only ever grows, and a delta from sequence N holds exactly the ledger items
// with leaf index N or more: applied to the bundle at N it gives, byte for byte, the bundle the
// server signed at the delta's sequence.
package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Format names and the version this package reads and writes.
const (
	FormatFull  = "ezheng-trust-bundle"
	FormatDelta = "ezheng-trust-bundle-delta"
	Version     = 1
)

// Media types of the HTTP representations.
const (
	MediaType      = "application/vnd.ezheng.trust-bundle"
	DeltaMediaType = "application/vnd.ezheng.trust-bundle-delta"
)

// Errors. Every failure to open or update a bundle wraps one of them, so callers (and the CLI)
// can say which check refused it.
var (
	ErrMalformed  = errors.New("trust bundle: malformed")
	ErrVersion    = errors.New("trust bundle: unsupported version")
	ErrTooLarge   = errors.New("trust bundle: too large")
	ErrWrongKey   = errors.New("trust bundle: signed by a key other than the pinned one")
	ErrSignature  = errors.New("trust bundle: bad signature")
	ErrCheckpoint = errors.New("trust bundle: ledger checkpoint does not verify")
	ErrStale      = errors.New("trust bundle: stale")
	ErrSequence   = errors.New("trust bundle: delta does not apply")
)

// Limits of what Open and Apply accept; the zero Limits means DefaultLimits.
type Limits struct {
	File        int64 // compressed file size
	Payload     int64 // uncompressed payload size
	Issuers     int
	PerIssuer   int // trust records, versions and status lists, each
	TokenBytes  int // one status list token
	Policies    int
	PolicyBytes int // one policy file
}

// DefaultLimits fit 10,000 issuers with 1 Mi-entry status lists comfortably.
var DefaultLimits = Limits{File: 256 << 20, Payload: 1 << 30, Issuers: 10000, PerIssuer: 10000, TokenBytes: 16 << 20,
	Policies: 1000, PolicyBytes: 1 << 20}

func (l Limits) orDefault() Limits {
	if l == (Limits{}) {
		return DefaultLimits
	}
	return l
}

// PublicKey is a bundle signing key's public half: what a counter pins.
type PublicKey ed25519.PublicKey

const keyPrefix = "ed25519:"

// String returns the key as "ed25519:<base64url>".
func (k PublicKey) String() string { return keyPrefix + base64.RawURLEncoding.EncodeToString(k) }

// Fingerprint returns "sha256:<hex>" of the key, a shorter thing to pin.
func (k PublicKey) Fingerprint() string {
	h := sha256.Sum256(k)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Pin is what a counter trusts: a bundle key, or its fingerprint.
type Pin struct{ fingerprint string }

// ParsePin parses "ed25519:<base64url key>" or "sha256:<64 hex digits>" (surrounding space
// ignored). It returns an error wrapping ErrMalformed otherwise.
func ParsePin(s string) (Pin, error) {
	s = strings.TrimSpace(s)
	if k, ok := strings.CutPrefix(s, keyPrefix); ok {
		b, err := base64.RawURLEncoding.DecodeString(k)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return Pin{}, fmt.Errorf("%w: bundle key %q is not a base64url Ed25519 public key", ErrMalformed, s)
		}
		return Pin{PublicKey(b).Fingerprint()}, nil
	}
	if h, ok := strings.CutPrefix(s, "sha256:"); ok {
		if b, err := hex.DecodeString(h); err == nil && len(b) == sha256.Size {
			return Pin{"sha256:" + strings.ToLower(h)}, nil
		}
	}
	return Pin{}, fmt.Errorf("%w: bundle key must be \"ed25519:<base64url>\" or \"sha256:<hex>\"", ErrMalformed)
}

// PinKey pins k.
func PinKey(k PublicKey) Pin { return Pin{k.Fingerprint()} }

// String returns the pinned fingerprint.
func (p Pin) String() string { return p.fingerprint }

// matches reports whether k is the pinned key.
func (p Pin) matches(k PublicKey) bool {
	return p.fingerprint != "" && p.fingerprint == k.Fingerprint()
}

// Content is a full bundle's payload. Its JSON encoding (encoding/json of these types, members
// in declaration order, slices sorted as documented) is canonical: Open refuses a payload that
// does not re-encode to its own bytes.
type Content struct {
	Format   string            `json:"format"`  // FormatFull
	Version  int               `json:"version"` // Version
	Seq      uint64            `json:"seq"`     // the checkpoint's tree size
	Created  int64             `json:"created"` // Unix seconds; status lists are as of this time
	Ledger   Ledger            `json:"ledger"`
	Issuers  []Issuer          `json:"issuers"`  // sorted by DID
	Policies map[string][]byte `json:"policies"` // name → policy file
}

// Ledger identifies the ledger and carries its newest checkpoint.
type Ledger struct {
	Origin     string `json:"origin"`
	Key        string `json:"key"`        // note verifier key of the checkpoint signer
	Checkpoint string `json:"checkpoint"` // C2SP signed note, verbatim
}

// Issuer is one issuer that the root authority has accredited at some time.
type Issuer struct {
	DID         string       `json:"did"`
	Trust       []Trust      `json:"trust"`        // in log order
	Versions    []DIDVersion `json:"versions"`     // seq 1, 2, …
	StatusLists []StatusList `json:"status_lists"` // sorted by URI
}

// Trust is an accredit or withdraw operation as the ledger accepted it.
type Trust struct {
	Leaf      uint64   `json:"leaf"`
	Kind      string   `json:"kind"` // "accredit" or "withdraw"
	Authority string   `json:"authority"`
	Seq       uint64   `json:"seq"`
	Types     []string `json:"types"`
	From      int64    `json:"from,omitempty"`  // accredit, Unix seconds
	Until     int64    `json:"until,omitempty"` // accredit, Unix seconds
	At        int64    `json:"at,omitempty"`    // withdraw, Unix seconds
}

// DIDVersion is one version of the issuer's DID document.
type DIDVersion struct {
	Seq         uint64 `json:"seq"`
	VersionID   string `json:"version_id"`
	Time        int64  `json:"time"` // block time, Unix milliseconds
	Leaf        uint64 `json:"leaf"`
	Deactivated bool   `json:"deactivated,omitempty"`
	// Document is the W3C DID document of the version, as the ledger resolves it.
	Document json.RawMessage `json:"document"`
}

// StatusList is a status list as its issuer served and signed it (a Status List Token or a
// W3C Bitstring Status List credential), with the ledger publication that anchors its digest.
type StatusList struct {
	URI   string `json:"uri"`
	Seq   uint64 `json:"seq"`  // of the ledger status operation
	Leaf  uint64 `json:"leaf"` // of the ledger status operation
	Token string `json:"token"`
}

// Delta is the payload of a delta: what changed from sequence From to Seq.
type Delta struct {
	Format  string `json:"format"` // FormatDelta
	Version int    `json:"version"`
	From    uint64 `json:"from"`
	Seq     uint64 `json:"seq"`
	Created int64  `json:"created"`
	Ledger  Ledger `json:"ledger"`
	// Consistency is the RFC 9162 consistency proof from the checkpoint at From to the one
	// at Seq (empty when From is 0 or equals Seq).
	Consistency [][]byte `json:"consistency"`
	// Issuers holds, per issuer, the items with leaf index From or more (all of them for an
	// issuer first accredited since From). Status lists replace those with the same URI.
	Issuers  []Issuer          `json:"issuers"`
	Policies map[string][]byte `json:"policies"` // replace all policies
	// Signature is the signature of the full bundle at Seq: applying the delta must give a
	// payload it verifies.
	Signature []byte `json:"signature"`
}
