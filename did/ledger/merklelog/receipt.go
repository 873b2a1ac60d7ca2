package merklelog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"
)

// Limits of ParseReceipt.
const (
	MaxReceiptSize  = 64 << 10 // bytes of receipt JSON
	MaxAnchorOpSize = 16 << 10 // bytes of the anchor operation JWS, the ledger's operation limit
)

// Receipt is an anchor receipt: the proof, checkable offline, that a credential's digest is in
// an issuer's batch whose root was anchored by an operation included in the ledger's log under
// a signed checkpoint. Its JSON form (MarshalJSON, ParseReceipt) uses the field names below,
// byte strings in base64url without padding, and the anchor operation and checkpoint verbatim.
type Receipt struct {
	Digest         []byte   `json:"digest"`          // SHA-256 of the credential as issued
	BatchIndex     uint64   `json:"batch_index"`     // position of Digest in the batch
	BatchSize      uint64   `json:"batch_size"`      // digests in the batch
	BatchProof     [][]byte `json:"batch_proof"`     // inclusion of Digest in the batch tree
	AnchorOp       string   `json:"anchor_op"`       // the anchor operation, a compact JWS
	LeafIndex      uint64   `json:"leaf_index"`      // position of AnchorOp in the log
	TreeSize       uint64   `json:"tree_size"`       // log size of Checkpoint
	InclusionProof [][]byte `json:"inclusion_proof"` // inclusion of AnchorOp in the log
	Checkpoint     string   `json:"checkpoint"`      // the signed checkpoint note
}

// ReceiptCheck names one check of VerifyReceipt or ParseReceipt.
type ReceiptCheck string

// The checks of a receipt, in the order VerifyReceipt makes them.
const (
	CheckShape          ReceiptCheck = "shape"           // JSON, sizes and ranges (ParseReceipt's checks)
	CheckDigest         ReceiptCheck = "digest"          // digest is SHA-256 of the credential
	CheckAnchorOp       ReceiptCheck = "anchor_op"       // a compact JWS whose payload is an anchor with a root
	CheckAnchorCount    ReceiptCheck = "anchor_count"    // the anchor's count is batch_size
	CheckBatchProof     ReceiptCheck = "batch_proof"     // the digest is in the batch with the anchor's root
	CheckCheckpoint     ReceiptCheck = "checkpoint"      // the checkpoint opens with the ledger's key
	CheckTreeSize       ReceiptCheck = "tree_size"       // the checkpoint's size is tree_size
	CheckInclusionProof ReceiptCheck = "inclusion_proof" // the anchor op is in the log at the checkpoint's root
)

// ReceiptError reports which check of a receipt failed. errors.Is finds ErrReceipt in it, and
// also ErrProof or ErrCheckpoint when the failed check was a proof or the checkpoint.
type ReceiptError struct {
	Check ReceiptCheck
	Err   error
}

// Error says which check failed and why.
func (e *ReceiptError) Error() string {
	return fmt.Sprintf("%v: %s: %v", ErrReceipt, e.Check, e.Err)
}

// Unwrap returns ErrReceipt and the underlying error.
func (e *ReceiptError) Unwrap() []error { return []error{ErrReceipt, e.Err} }

func receiptErr(check ReceiptCheck, format string, args ...any) error {
	return &ReceiptError{Check: check, Err: fmt.Errorf(format, args...)}
}

// jwsChars are the characters of a compact JWS.
const jwsChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

// anchorAlgs are the operation signature algorithms of the design note.
var anchorAlgs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// VerifyReceipt checks r offline for the credential bytes and returns the verified checkpoint.
// The checks, in order: r's shape (as ParseReceipt); digest is SHA-256(credential); the anchor
// op is a compact JWS (EdDSA or ES256) whose payload has "type":"anchor", a 32-byte base64url
// "root" and "count" equal to batch_size; the batch proof proves the digest at batch_index in
// a batch of batch_size with that root; the checkpoint opens with verifiers (OpenCheckpoint);
// its size is tree_size; the inclusion proof proves LeafHash(anchor_op) at leaf_index under
// its root. The anchor op's signature is not verified: the ledger verified it before including
// the operation, and the inclusion proof shows it did. Every error is a *ReceiptError naming
// the failed check. VerifyReceipt is safe for concurrent use.
func VerifyReceipt(r Receipt, credential []byte, verifiers note.Verifiers) (Checkpoint, error) {
	if err := r.validate(); err != nil {
		return Checkpoint{}, err
	}
	if sum := sha256.Sum256(credential); !bytes.Equal(sum[:], r.Digest) {
		return Checkpoint{}, receiptErr(CheckDigest, "digest is not SHA-256 of the credential")
	}
	return verifyAnchored(r, verifiers)
}

// VerifyDigestReceipt makes every check of VerifyReceipt but the credential's digest: it
// proves r.Digest anchored under the checkpoint. It is for holders of digests without the
// credential bytes, such as the issuer checking each receipt before storing it. Errors are as
// VerifyReceipt's. It is safe for concurrent use.
func VerifyDigestReceipt(r Receipt, verifiers note.Verifiers) error {
	if err := r.validate(); err != nil {
		return err
	}
	_, err := verifyAnchored(r, verifiers)
	return err
}

// verifyAnchored makes the checks after the digest's on a receipt of valid shape.
func verifyAnchored(r Receipt, verifiers note.Verifiers) (Checkpoint, error) {
	root, count, err := parseAnchorOp(r.AnchorOp)
	if err != nil {
		return Checkpoint{}, &ReceiptError{Check: CheckAnchorOp, Err: err}
	}
	if count != r.BatchSize {
		return Checkpoint{}, receiptErr(CheckAnchorCount, "anchor count %d, batch_size %d", count, r.BatchSize)
	}
	if err := VerifyInclusion(LeafHash(r.Digest), r.BatchIndex, r.BatchSize, r.BatchProof, root); err != nil {
		return Checkpoint{}, &ReceiptError{Check: CheckBatchProof, Err: err}
	}
	cp, err := OpenCheckpoint([]byte(r.Checkpoint), verifiers)
	if err != nil {
		return Checkpoint{}, &ReceiptError{Check: CheckCheckpoint, Err: err}
	}
	if cp.Size != r.TreeSize {
		return Checkpoint{}, receiptErr(CheckTreeSize, "checkpoint size %d, tree_size %d", cp.Size, r.TreeSize)
	}
	if err := VerifyInclusion(LeafHash([]byte(r.AnchorOp)), r.LeafIndex, r.TreeSize, r.InclusionProof, cp.Root); err != nil {
		return Checkpoint{}, &ReceiptError{Check: CheckInclusionProof, Err: err}
	}
	return cp, nil
}

// parseAnchorOp returns the batch root and count of an anchor operation without verifying its
// signature.
func parseAnchorOp(op string) (root []byte, count uint64, err error) {
	jws, err := jose.ParseSignedCompact(op, anchorAlgs)
	if err != nil {
		return nil, 0, fmt.Errorf("not a compact JWS: %w", err)
	}
	var p struct {
		Type  string  `json:"type"`
		Root  string  `json:"root"`
		Count *uint64 `json:"count"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &p); err != nil {
		return nil, 0, fmt.Errorf("payload: %w", err)
	}
	if p.Type != "anchor" {
		return nil, 0, fmt.Errorf("operation type %q, want anchor", p.Type)
	}
	if p.Count == nil {
		return nil, 0, errors.New("payload has no count")
	}
	root, err = base64.RawURLEncoding.Strict().DecodeString(p.Root)
	if err != nil || len(root) != HashSize {
		return nil, 0, fmt.Errorf("payload root %q is not %d bytes in base64url", p.Root, HashSize)
	}
	return root, *p.Count, nil
}

// validate checks the receipt's shape, the checks of ParseReceipt after decoding.
func (r Receipt) validate() error {
	switch {
	case len(r.Digest) != HashSize:
		return receiptErr(CheckShape, "digest is %d bytes, want %d", len(r.Digest), HashSize)
	case r.BatchIndex >= r.BatchSize:
		return receiptErr(CheckShape, "batch_index %d not below batch_size %d", r.BatchIndex, r.BatchSize)
	case r.LeafIndex >= r.TreeSize:
		return receiptErr(CheckShape, "leaf_index %d not below tree_size %d", r.LeafIndex, r.TreeSize)
	case r.AnchorOp == "" || len(r.AnchorOp) > MaxAnchorOpSize:
		return receiptErr(CheckShape, "anchor_op is %d bytes, want 1 to %d", len(r.AnchorOp), MaxAnchorOpSize)
	case r.Checkpoint == "" || len(r.Checkpoint) > MaxCheckpointSize:
		return receiptErr(CheckShape, "checkpoint is %d bytes, want 1 to %d", len(r.Checkpoint), MaxCheckpointSize)
	case strings.Trim(r.AnchorOp, jwsChars) != "":
		return receiptErr(CheckShape, "anchor_op has a character outside base64url and '.'")
	case !utf8.ValidString(r.Checkpoint) ||
		strings.IndexFunc(r.Checkpoint, func(c rune) bool { return c != '\n' && unicode.IsControl(c) }) >= 0:
		return receiptErr(CheckShape, "checkpoint is not UTF-8 text without control characters")
	}
	if err := checkHashes(r.BatchProof); err != nil {
		return receiptErr(CheckShape, "batch_proof: %w", err)
	}
	if err := checkHashes(r.InclusionProof); err != nil {
		return receiptErr(CheckShape, "inclusion_proof: %w", err)
	}
	return nil
}

// receiptJSON is the wire form of Receipt.
type receiptJSON struct {
	Digest         b64     `json:"digest"`
	BatchIndex     uint64  `json:"batch_index"`
	BatchSize      uint64  `json:"batch_size"`
	BatchProof     b64List `json:"batch_proof"`
	AnchorOp       string  `json:"anchor_op"`
	LeafIndex      uint64  `json:"leaf_index"`
	TreeSize       uint64  `json:"tree_size"`
	InclusionProof b64List `json:"inclusion_proof"`
	Checkpoint     string  `json:"checkpoint"`
}

// MarshalJSON encodes r in its wire form, without escaping HTML characters (json.Marshal
// escapes them again around it). It does not validate r; empty proofs are written as []. The
// output of a receipt ParseReceipt accepted is at most MaxReceiptSize bytes and parses back to
// an equal receipt.
func (r Receipt) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(receiptJSON{
		Digest:         r.Digest,
		BatchIndex:     r.BatchIndex,
		BatchSize:      r.BatchSize,
		BatchProof:     r.BatchProof,
		AnchorOp:       r.AnchorOp,
		LeafIndex:      r.LeafIndex,
		TreeSize:       r.TreeSize,
		InclusionProof: r.InclusionProof,
		Checkpoint:     r.Checkpoint,
	})
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON decodes b with ParseReceipt.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	v, err := ParseReceipt(b)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseReceipt decodes a receipt strictly: at most MaxReceiptSize bytes; one JSON object with
// no unknown (matched case-sensitively) or duplicate members and nothing after it; byte strings
// in unpadded base64url; a 32-byte digest; proofs of at most MaxProofLen hashes of 32 bytes;
// indices below their sizes; a non-empty anchor op of at most MaxAnchorOpSize bytes of
// base64url characters and '.'; and a non-empty checkpoint of at most MaxCheckpointSize bytes
// of text with no control character but newline. Missing proofs decode as empty. It checks no
// proof or signature: use VerifyReceipt. Errors are *ReceiptError with Check CheckShape.
func ParseReceipt(b []byte) (Receipt, error) {
	if len(b) > MaxReceiptSize {
		return Receipt{}, receiptErr(CheckShape, "%d bytes, at most %d", len(b), MaxReceiptSize)
	}
	if err := checkMembers(b); err != nil {
		return Receipt{}, receiptErr(CheckShape, "%w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w receiptJSON
	if err := dec.Decode(&w); err != nil {
		return Receipt{}, receiptErr(CheckShape, "%w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Receipt{}, receiptErr(CheckShape, "data after the receipt object")
	}
	r := Receipt{
		Digest:         w.Digest,
		BatchIndex:     w.BatchIndex,
		BatchSize:      w.BatchSize,
		BatchProof:     w.BatchProof,
		AnchorOp:       w.AnchorOp,
		LeafIndex:      w.LeafIndex,
		TreeSize:       w.TreeSize,
		InclusionProof: w.InclusionProof,
		Checkpoint:     w.Checkpoint,
	}
	if r.BatchProof == nil {
		r.BatchProof = [][]byte{}
	}
	if r.InclusionProof == nil {
		r.InclusionProof = [][]byte{}
	}
	if err := r.validate(); err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// receiptMembers are the member names of a receipt, matched exactly (encoding/json alone
// would also accept other capitalisations).
var receiptMembers = map[string]bool{
	"digest": true, "batch_index": true, "batch_size": true, "batch_proof": true, "anchor_op": true,
	"leaf_index": true, "tree_size": true, "inclusion_proof": true, "checkpoint": true,
}

// checkMembers rejects a document that is not a JSON object, or whose top-level member names
// are not exactly receipt members or repeat one (encoding/json would silently keep the last).
// Values are skipped whole; a receipt has no nested objects.
func checkMembers(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := make(map[string]bool, 9)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		if !receiptMembers[key] {
			return fmt.Errorf("unknown member %q", key)
		}
		if seen[key] {
			return fmt.Errorf("duplicate member %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// b64 is a byte string in JSON as an unpadded base64url string; null is rejected.
type b64 []byte

func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if string(data) == "null" {
		return errors.New("byte string is null")
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return fmt.Errorf("byte string is not unpadded base64url: %w", err)
	}
	*b = v
	return nil
}

// b64List is a list of byte strings; null is rejected and an empty list is written as [].
type b64List [][]byte

func (l b64List) MarshalJSON() ([]byte, error) {
	out := make([]b64, len(l))
	for i, v := range l {
		out[i] = v
	}
	return json.Marshal(out)
}

func (l *b64List) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return errors.New("list is null")
	}
	var items []b64
	if err := json.Unmarshal(data, &items); err != nil {
		return err
	}
	if len(items) > MaxProofLen {
		return fmt.Errorf("list of %d hashes, at most %d", len(items), MaxProofLen)
	}
	out := make([][]byte, len(items))
	for i, v := range items {
		out[i] = v
	}
	*l = out
	return nil
}
