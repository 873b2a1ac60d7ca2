// Package compactqr packs an SD-JWT presentation (an SD-JWT VC with its disclosures and,
// usually, a key-binding JWT) into the compact form of a counter QR code, and back, byte for
// byte: "EZ1:" followed by base45 (RFC 9285) of a binary envelope. The envelope holds the
// decoded bytes of every base64url part of the presentation, with what a decoder can recompute
// left out (the "_sd" digests of the disclosures it carries, the KB-JWT's sd_hash), random
// base64url values carried as raw bytes, numbers as varints, known JOSE headers as an index,
// the rest deflated with a preset dictionary of the JSON ezheng's credentials use. Base45 text is all in the QR alphanumeric set, so a QR code
// carries it in alphanumeric mode at 5.5 bits a character, as the EU Digital COVID
// Certificate does.
//
// The compact form is transport only. Decode rebuilds the exact text Encode was given, so
// every signature in it verifies as before; nothing in the envelope is trusted or checked
// beyond its syntax, which is the verifier's job after Decode. The format is specified in
// docs/compact-qr.md.
//
// All functions are pure and safe for concurrent use.
package compactqr

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ezheng/ezheng/internal/sdjwt"
)

// Prefix starts the text of every version-1 compact QR. IsCompact recognises the prefix of
// any version ("EZ", decimal digits, ":").
const Prefix = "EZ1:"

// Limits Decode enforces, and Encode too, so that whatever Encode returns Decode accepts.
const (
	// MaxText is the longest compact text, prefix included, that Decode reads: more than the
	// 4,296 alphanumeric characters of the largest QR code.
	MaxText = 8 << 10
	// MaxRecord is the largest inflated record: the bound on decompression.
	MaxRecord = 16 << 10
	// MaxPresentation is the largest presentation Encode takes and Decode rebuilds: the
	// largest SD-JWT the sdjwt package parses.
	MaxPresentation = sdjwt.MaxSize
)

// Errors. Every error from Decode and Encode wraps exactly one of them, with the details.
var (
	// ErrPrefix means the text does not start with "EZ<version>:": it is not a compact QR.
	ErrPrefix = errors.New("compactqr: not a compact QR")
	// ErrVersion means the prefix names a version this decoder does not read.
	ErrVersion = errors.New("compactqr: unsupported version")
	// ErrBase45 means the text after the prefix is not valid base45.
	ErrBase45 = errors.New("compactqr: invalid base45")
	// ErrMalformed means the envelope is broken: truncated, a bad length, an unknown part or
	// escape code, a deflate stream that does not inflate, or data left over anywhere.
	ErrMalformed = errors.New("compactqr: malformed envelope")
	// ErrTooLarge means the text, the inflated record or the rebuilt presentation exceeds
	// MaxText, MaxRecord or MaxPresentation, or there are more than sdjwt.MaxDisclosures
	// disclosures.
	ErrTooLarge = errors.New("compactqr: too large")
	// ErrReference means the envelope refers to something it does not hold: the digest of a
	// disclosure that is not there, an earlier raw value that does not exist, or a digest or
	// sd_hash reference outside the part where one may stand.
	ErrReference = errors.New("compactqr: bad reference")
	// ErrUnsupported means Encode was given something it cannot carry: not an SD-JWT
	// ("<jws>~<disclosure>~...~<kb-jwt or nothing>") whose parts are canonical base64url.
	ErrUnsupported = errors.New("compactqr: not an SD-JWT presentation the compact form can carry")
)

// IsCompact reports whether text starts like a compact QR of any version: "EZ", one to four
// decimal digits, ":". It looks at those few bytes only; Decode checks the rest. An SD-JWT
// never matches (its first character is that of base64url "{", an "e").
func IsCompact(text string) bool {
	_, _, ok := splitPrefix(text)
	return ok
}

// splitPrefix splits "EZ<digits>:<rest>".
func splitPrefix(text string) (version, rest string, ok bool) {
	if !strings.HasPrefix(text, "EZ") {
		return "", "", false
	}
	i := 2
	for i < len(text) && i < 6 && '0' <= text[i] && text[i] <= '9' {
		i++
	}
	if i == 2 || i >= len(text) || text[i] != ':' {
		return "", "", false
	}
	return text[2:i], text[i+1:], true
}

// Decode turns a compact QR text back into the SD-JWT presentation it carries, exactly the
// string given to Encode.
//
// Errors: ErrPrefix (not "EZ<version>:"), ErrVersion (a version other than 1), ErrBase45,
// ErrMalformed, ErrTooLarge and ErrReference, each with the reason. Decode checks the
// envelope only; the caller parses and verifies the presentation (sdjwt.Parse and so on).
func Decode(text string) (string, error) {
	if len(text) > MaxText {
		return "", fmt.Errorf("%w: %d characters, the limit is %d", ErrTooLarge, len(text), MaxText)
	}
	version, body, ok := splitPrefix(text)
	if !ok {
		return "", fmt.Errorf("%w: want the prefix %q", ErrPrefix, Prefix)
	}
	if version != "1" {
		return "", fmt.Errorf("%w: EZ%s, this decoder reads %s", ErrVersion, version, Prefix)
	}
	env, err := base45Decode(body)
	if err != nil {
		return "", err
	}
	return decodeEnvelope(env)
}

// Encode returns the compact form of presentation: Prefix followed by base45 of the version-1
// envelope. presentation is "<issuer-jws>~<disclosure>~...~" optionally followed by a KB-JWT,
// every part canonical base64url (no padding); nothing else about it is checked, so
// whatever the verifier would make of the plain text it makes of Decode's output.
//
// Where a shortcut does not apply (a digest that matches no disclosure carried, an sd_hash
// that is not the hash of the parts, bytes that collide with escape codes) the bytes are
// carried as they are. Encode decodes its own output before returning it and fails rather
// than return a text that would decode to anything but presentation.
//
// Errors: ErrUnsupported for input that is not an SD-JWT of canonical base64url parts,
// ErrTooLarge when the input exceeds MaxPresentation or its compact form MaxText or
// MaxRecord.
func Encode(presentation string) (string, error) {
	if len(presentation) > MaxPresentation {
		return "", fmt.Errorf("%w: presentation of %d bytes, the limit is %d", ErrTooLarge, len(presentation), MaxPresentation)
	}
	p, err := split(presentation)
	if err != nil {
		return "", err
	}
	// Carrying random-looking base64url values as raw bytes outside the deflate stream is
	// almost always shorter; the encoder tries both and keeps the shorter.
	var best string
	for _, extract := range []bool{true, false} {
		env, err := encodeEnvelope(p, extract)
		if err != nil {
			return "", err
		}
		if text := Prefix + base45Encode(env); best == "" || len(text) < len(best) {
			best = text
		}
	}
	if len(best) > MaxText {
		return "", fmt.Errorf("%w: compact form of %d characters, the limit is %d", ErrTooLarge, len(best), MaxText)
	}
	got, err := Decode(best)
	if err != nil || got != presentation {
		return "", fmt.Errorf("compactqr: encode: the envelope does not decode to the input (%v)", err)
	}
	return best, nil
}

// presentation is an SD-JWT split into its parts, each base64url-decoded.
type presentation struct {
	issuer   [3][]byte // header, payload, signature
	discs    [][]byte  // decoded disclosures
	discText []string  // disclosures as they appear in the text
	kb       *[3][]byte
	sdPart   string // the text up to and including the last '~'
}

// split splits s into the parts of an SD-JWT: errors wrap ErrUnsupported.
func split(s string) (*presentation, error) {
	n := strings.Count(s, "~")
	if n == 0 {
		return nil, fmt.Errorf("%w: no '~' separator", ErrUnsupported)
	}
	if n-1 > sdjwt.MaxDisclosures {
		return nil, fmt.Errorf("%w: %d disclosures, the limit is %d", ErrTooLarge, n-1, sdjwt.MaxDisclosures)
	}
	fields := strings.Split(s, "~")
	p := &presentation{sdPart: s[:strings.LastIndexByte(s, '~')+1]}
	var err error
	if p.issuer, err = splitJWS(fields[0], "issuer JWT"); err != nil {
		return nil, err
	}
	for i, d := range fields[1 : len(fields)-1] {
		b, err := decodeB64(d)
		if err != nil {
			return nil, fmt.Errorf("%w: disclosure %d: %v", ErrUnsupported, i+1, err)
		}
		p.discs = append(p.discs, b)
		p.discText = append(p.discText, d)
	}
	if kb := fields[len(fields)-1]; kb != "" {
		parts, err := splitJWS(kb, "KB-JWT")
		if err != nil {
			return nil, err
		}
		p.kb = &parts
	}
	return p, nil
}

// splitJWS splits a compact JWS into its three decoded parts.
func splitJWS(tok, what string) ([3][]byte, error) {
	var out [3][]byte
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return out, fmt.Errorf("%w: %s has %d '.'-separated parts, want 3", ErrUnsupported, what, len(parts))
	}
	for i, part := range parts {
		b, err := decodeB64(part)
		if err != nil {
			return out, fmt.Errorf("%w: %s part %d: %v", ErrUnsupported, what, i+1, err)
		}
		out[i] = b
	}
	return out, nil
}

// b64 is base64url without padding, the encoding of every part of an SD-JWT.
var b64 = base64.RawURLEncoding

// b64Strict refuses non-zero unused trailing bits; made once (Strict allocates a new Encoding).
var b64Strict = b64.Strict()

// isB64 reports whether c is in the base64url alphabet.
func isB64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// decodeB64 decodes canonical base64url: the alphabet only, no padding, zero unused bits, so
// that encoding the result gives s back.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if !isB64(s[i]) {
			return nil, fmt.Errorf("byte %#x at offset %d is not base64url", s[i], i)
		}
	}
	b, err := b64Strict.DecodeString(s)
	if err != nil {
		return nil, errors.New("not canonical base64url")
	}
	return b, nil
}

// inflate inflates the raw deflate stream z with the preset dictionary, reading at most
// MaxRecord bytes and requiring the stream to end exactly at the end of z.
func inflate(z []byte) ([]byte, error) {
	br := bytes.NewReader(z) // an io.ByteReader: flate reads no further than the stream's end
	zr, ok := readers.Get().(io.ReadCloser)
	if ok {
		if err := zr.(flate.Resetter).Reset(br, dictionary); err != nil {
			return nil, err
		}
	} else {
		zr = flate.NewReaderDict(br, dictionary)
	}
	defer readers.Put(zr)
	rec, err := io.ReadAll(io.LimitReader(zr, MaxRecord+1))
	if err != nil {
		return nil, fmt.Errorf("%w: deflate stream: %v", ErrMalformed, err)
	}
	if len(rec) > MaxRecord {
		return nil, fmt.Errorf("%w: the record inflates to more than %d bytes", ErrTooLarge, MaxRecord)
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the deflate stream", ErrMalformed, br.Len())
	}
	return rec, nil
}

// readers keeps inflate readers for reuse: a new one allocates some 40 KiB, more than the
// rest of verifying a QR.
var readers sync.Pool

// writers keeps deflate writers for reuse: a new one allocates over a megabyte, and Reset
// keeps the level and the dictionary.
var writers sync.Pool

// deflate compresses rec with the preset dictionary at the best compression level.
func deflate(rec []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, ok := writers.Get().(*flate.Writer)
	if ok {
		zw.Reset(&buf)
	} else {
		var err error
		if zw, err = flate.NewWriterDict(&buf, flate.BestCompression, dictionary); err != nil {
			return nil, err
		}
	}
	defer writers.Put(zw)
	if _, err := zw.Write(rec); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
