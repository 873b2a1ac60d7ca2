// Package statuslist encodes, signs and verifies credential status lists: the IETF Token Status
// List (draft-ietf-oauth-status-list, for SD-JWT VCs) and the W3C Bitstring Status List v1.0 (for
// W3C VCs). It is a pure codec and crypto library: serving the lists over HTTP, storing them and
// anchoring their digests on the ledger belong to the issuer, and so do the reason codes for a
// revocation or suspension.
//
// The two formats order bits differently. In a Token Status List, entry 0 occupies the least
// significant bits of byte 0 (bits 1, 2, 4 or 8 per entry). In a Bitstring Status List, entry 0 is
// the most significant (left-most) bit of byte 0, one bit per entry.
//
// A List or Bitstring may be read (Get, Encode, EncodeList, Bytes) from several goroutines at
// once, but Set needs exclusive access. The package-level functions are safe for concurrent use.
//
// Verification follows the repository's rules for signed input: an algorithm allow-list (Algs),
// parse then verify, strict JSON (no repeated member names, bounded depth), canonical base64url,
// caller-given size limits enforced while inflating, an injected clock, and one sentinel error per
// kind of failed check.
package statuslist

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Errors returned by this package. Each failed check wraps exactly one of them, with details.
var (
	// ErrMalformed reports input that does not follow the format: bad JSON, base64, compression,
	// bit width, claim shape or status purpose.
	ErrMalformed = errors.New("statuslist: malformed")
	// ErrTooLarge reports input above a caller's limit: a list that decompresses to more entries
	// than allowed, or a token or credential longer than such a list can be.
	ErrTooLarge = errors.New("statuslist: too large")
	// ErrSignature reports a token or credential whose signature, algorithm, key or typ is not
	// acceptable.
	ErrSignature = errors.New("statuslist: bad signature")
	// ErrExpired reports a token or credential whose exp or validUntil has passed.
	ErrExpired = errors.New("statuslist: expired")
	// ErrNotYetValid reports a token or credential whose nbf or validFrom is in the future.
	ErrNotYetValid = errors.New("statuslist: not yet valid")
	// ErrSubject reports a Status List Token whose sub is not the URI the caller fetched.
	ErrSubject = errors.New("statuslist: token is for another list")
	// ErrIndex reports an index outside a list.
	ErrIndex = errors.New("statuslist: index out of range")
	// ErrValue reports a status value that does not fit in the list's bits per entry.
	ErrValue = errors.New("statuslist: status value too large")
)

// Status values registered by draft-ietf-oauth-status-list. Values 0x03 and up are
// application-specific and need bits of 2 or more.
const (
	// Valid (0x00) means the referenced token is valid.
	Valid uint8 = 0x00
	// Invalid (0x01) means the referenced token is revoked; the state is irreversible.
	Invalid uint8 = 0x01
	// Suspended (0x02) means the referenced token is temporarily invalid; the state is reversible.
	Suspended uint8 = 0x02
)

// b64 is base64url without padding, the encoding of lst, of encodedList and of JWS parts.
var b64 = base64.RawURLEncoding

// b64Strict refuses non-zero unused trailing bits; made once (Strict allocates a new Encoding).
var b64Strict = b64.Strict()

// decodeB64 decodes s as canonical base64url: only the 64 alphabet characters (no padding, white
// space or line breaks, which encoding/base64 would skip) and zero unused trailing bits, so that
// every byte string has exactly one spelling.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %#x at offset %d is not base64url", c, i)
		}
	}
	b, err := b64Strict.DecodeString(s)
	if err != nil {
		return nil, errors.New("not canonical base64url")
	}
	return b, nil
}

// List is a Token Status List held uncompressed in memory: Size entries of Bits bits each.
// The zero value is not usable; build one with New or Decode.
type List struct {
	bits           int
	size           int
	data           []byte
	aggregationURI string
}

// validBits reports whether bits is an allowed Token Status List width.
func validBits(bits int) bool {
	return bits == 1 || bits == 2 || bits == 4 || bits == 8
}

// New returns a Token Status List of size entries of bits bits each, all Valid. size must be
// positive and bits one of 1, 2, 4, 8; otherwise the error wraps ErrMalformed. The byte array is
// rounded up to whole bytes; the entries past size in the last byte exist on the wire but Get and
// Set refuse them.
func New(size, bits int) (*List, error) {
	if !validBits(bits) {
		return nil, fmt.Errorf("%w: bits is %d, want 1, 2, 4 or 8", ErrMalformed, bits)
	}
	if size <= 0 || size > math.MaxInt/8 {
		return nil, fmt.Errorf("%w: size %d is not positive", ErrMalformed, size)
	}
	return &List{bits: bits, size: size, data: make([]byte, (size*bits+7)/8)}, nil
}

// Size returns the number of entries in l.
func (l *List) Size() int { return l.size }

// Bits returns the number of bits per entry of l: 1, 2, 4 or 8.
func (l *List) Bits() int { return l.bits }

// AggregationURI returns the optional aggregation_uri of l, or "" if it has none.
func (l *List) AggregationURI() string { return l.aggregationURI }

// SetAggregationURI sets the aggregation_uri that Encode emits; "" removes it.
func (l *List) SetAggregationURI(uri string) { l.aggregationURI = uri }

// Bytes returns a copy of the uncompressed byte array of l.
func (l *List) Bytes() []byte { return bytes.Clone(l.data) }

// locate returns the byte, shift and mask of entry i: entry 0 is in the least significant bits
// of byte 0.
func (l *List) locate(i int) (int, uint, byte, error) {
	if i < 0 || i >= l.size {
		return 0, 0, 0, fmt.Errorf("%w: %d not in [0, %d)", ErrIndex, i, l.size)
	}
	bit := i * l.bits
	return bit / 8, uint(bit % 8), byte(1<<l.bits - 1), nil
}

// Get returns the status of entry i. The error wraps ErrIndex if i is not in [0, Size()).
func (l *List) Get(i int) (uint8, error) {
	n, shift, mask, err := l.locate(i)
	if err != nil {
		return 0, err
	}
	return (l.data[n] >> shift) & mask, nil
}

// Set sets the status of entry i to v. The error wraps ErrIndex if i is not in [0, Size()), or
// ErrValue if v needs more than Bits() bits; l is unchanged on error.
func (l *List) Set(i int, v uint8) error {
	n, shift, mask, err := l.locate(i)
	if err != nil {
		return err
	}
	if v > mask {
		return fmt.Errorf("%w: %d does not fit in %d bits", ErrValue, v, l.bits)
	}
	l.data[n] = l.data[n]&^(mask<<shift) | v<<shift
	return nil
}

// Encode returns the JSON form of l, the value of the status_list claim: {"bits": n, "lst":
// base64url(zlib(bytes))}, plus "aggregation_uri" if set. The byte array is compressed with DEFLATE
// in the zlib format at the best compression level, as the draft recommends.
func (l *List) Encode() (map[string]any, error) {
	lst, err := l.encodeLst()
	if err != nil {
		return nil, err
	}
	m := map[string]any{"bits": l.bits, "lst": lst}
	if l.aggregationURI != "" {
		m["aggregation_uri"] = l.aggregationURI
	}
	return m, nil
}

func (l *List) encodeLst() (string, error) {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(l.data); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return b64.EncodeToString(buf.Bytes()), nil
}

// Decode parses the JSON form of a Token Status List (the value of a status_list claim, as a
// map from encoding/json, with numbers as float64 or json.Number). bits must be 1, 2, 4 or 8; lst
// canonical base64url of exactly one zlib stream, with nothing after it, that inflates to at least
// one byte; aggregation_uri, if present, a string; no other member is allowed. The list's size is
// the number of entries the byte array holds (8/bits per byte): the draft does not carry the
// issuer's size.
//
// maxSize bounds the number of entries: inflation stops, through an io.LimitReader, as soon as the
// byte array would exceed it, so a zip bomb costs at most maxSize*bits/8 bytes. Errors wrap
// ErrTooLarge for that, or ErrMalformed.
func Decode(m map[string]any, maxSize int) (*List, error) {
	for k := range m {
		if k != "bits" && k != "lst" && k != "aggregation_uri" {
			return nil, fmt.Errorf("%w: status_list has unknown member %q", ErrMalformed, k)
		}
	}
	bits, err := intValue(m["bits"])
	if err != nil || !validBits(bits) {
		return nil, fmt.Errorf("%w: bits is %#v, want 1, 2, 4 or 8", ErrMalformed, m["bits"])
	}
	lst, ok := m["lst"].(string)
	if !ok {
		return nil, fmt.Errorf("%w: lst is not a string", ErrMalformed)
	}
	l := &List{bits: bits}
	if v, ok := m["aggregation_uri"]; ok {
		if l.aggregationURI, ok = v.(string); !ok || l.aggregationURI == "" {
			return nil, fmt.Errorf("%w: aggregation_uri is not a non-empty string", ErrMalformed)
		}
	}
	if maxSize <= 0 || maxSize > math.MaxInt/8 {
		return nil, fmt.Errorf("%w: limit of %d entries", ErrTooLarge, maxSize)
	}
	compressed, err := decodeB64(lst)
	if err != nil {
		return nil, fmt.Errorf("%w: lst: %v", ErrMalformed, err)
	}
	maxBytes := (maxSize*bits + 7) / 8
	r := bytes.NewReader(compressed)
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: lst: %v", ErrMalformed, err)
	}
	data, err := inflate(zr, r, maxBytes, "lst")
	if err != nil {
		return nil, err
	}
	l.data = data
	// The last byte may hold up to 8/bits-1 entries past maxSize; they stay addressable.
	l.size = len(data) * 8 / bits
	return l, nil
}

// inflate reads the whole of dec, the decompressor over src, allowing at most max bytes, and
// checks that src has nothing after the compressed stream. Errors wrap ErrTooLarge or
// ErrMalformed and name what was inflated.
func inflate(dec io.ReadCloser, src *bytes.Reader, max int, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(dec, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("%w: %s: decompresses to more than %d bytes", ErrTooLarge, what, max)
	}
	if err := dec.Close(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if src.Len() != 0 {
		return nil, fmt.Errorf("%w: %s: %d bytes after the compressed stream", ErrMalformed, what, src.Len())
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: %s: empty list", ErrMalformed, what)
	}
	return data, nil
}

// intValue returns v as an int if it is an integral JSON number (float64, json.Number or int).
func intValue(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		if n < math.MinInt || n > math.MaxInt {
			return 0, errors.New("out of range")
		}
		return int(n), nil
	case float64:
		if n != math.Trunc(n) || n < -(1<<53) || n > 1<<53 {
			return 0, errors.New("not an integer")
		}
		return int(n), nil
	case json.Number:
		i, err := n.Int64()
		if err != nil || i < math.MinInt || i > math.MaxInt {
			return 0, errors.New("not an integer")
		}
		return int(i), nil
	}
	return 0, errors.New("not a number")
}

// Digest returns the SHA-256 digest of served, the exact bytes served at the list's URL (a Status
// List Token or a signed Bitstring Status List credential), for anchoring on the ledger. Hash the
// bytes as served, not a re-encoding: compression and JSON output are not canonical across
// implementations.
func Digest(served []byte) []byte {
	sum := sha256.Sum256(served)
	return sum[:]
}
