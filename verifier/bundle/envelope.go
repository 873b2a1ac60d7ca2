package bundle

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The envelope: magic "EZTB", a version byte, a kind byte ('F' full, 'D' delta), the signer's
// 32-byte Ed25519 public key, the 64-byte signature, then the payload compressed with raw
// DEFLATE (RFC 1951). The signature is over signingContext || kind || payload (uncompressed),
// so compression never needs to be reproduced to check it.
const (
	magic      = "EZTB"
	kindFull   = 'F'
	kindDelta  = 'D'
	headerSize = len(magic) + 2 + ed25519.PublicKeySize + ed25519.SignatureSize
)

var signingContext = []byte("ezheng trust bundle v1\x00")

func message(kind byte, payload []byte) []byte {
	m := make([]byte, 0, len(signingContext)+1+len(payload))
	m = append(append(append(m, signingContext...), kind), payload...)
	return m
}

// sign returns the signature of payload as a bundle of kind.
func sign(key ed25519.PrivateKey, kind byte, payload []byte) []byte {
	return ed25519.Sign(key, message(kind, payload))
}

// seal writes the envelope of a payload already signed with sig.
func seal(kind byte, pub PublicKey, sig, payload []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(headerSize + len(payload)/4)
	b.WriteString(magic)
	b.WriteByte(Version)
	b.WriteByte(kind)
	b.Write(pub)
	b.Write(sig)
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(payload); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// envelope is an opened envelope whose signature verified.
type envelope struct {
	kind    byte
	key     PublicKey
	payload []byte
}

// open checks the envelope of file: size, magic, version, kind, that it is signed by the
// pinned key, and the signature over the inflated payload.
func open(file []byte, pin Pin, kind byte, lim Limits) (envelope, error) {
	if int64(len(file)) > lim.File {
		return envelope{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(file), lim.File)
	}
	if len(file) < headerSize || string(file[:len(magic)]) != magic {
		return envelope{}, fmt.Errorf("%w: not a trust bundle (no %q header)", ErrMalformed, magic)
	}
	if v := file[len(magic)]; v != Version {
		return envelope{}, fmt.Errorf("%w: version %d, this verifier reads %d", ErrVersion, v, Version)
	}
	e := envelope{kind: file[len(magic)+1]}
	if e.kind != kind {
		return envelope{}, fmt.Errorf("%w: kind %q, want %q (a delta is applied with Apply, a full bundle opened with Open)", ErrMalformed, e.kind, kind)
	}
	off := len(magic) + 2
	e.key = PublicKey(bytes.Clone(file[off : off+ed25519.PublicKeySize]))
	sig := file[off+ed25519.PublicKeySize : headerSize]
	if !pin.matches(e.key) {
		return envelope{}, fmt.Errorf("%w: the bundle is signed by %s, the pinned key is %s", ErrWrongKey, e.key.Fingerprint(), pin)
	}
	payload, err := inflate(file[headerSize:], lim.Payload)
	if err != nil {
		return envelope{}, err
	}
	if !ed25519.Verify(ed25519.PublicKey(e.key), message(e.kind, payload), sig) {
		return envelope{}, fmt.Errorf("%w: the content was altered or not signed by %s", ErrSignature, e.key.Fingerprint())
	}
	e.payload = payload
	return e, nil
}

// inflate decompresses raw DEFLATE data of at most max bytes, which must end the input.
func inflate(data []byte, max int64) ([]byte, error) {
	src := bytes.NewReader(data)
	r := flate.NewReader(src)
	defer r.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed payload: %v", ErrMalformed, err)
	}
	if n > max {
		return nil, fmt.Errorf("%w: payload over %d bytes", ErrTooLarge, max)
	}
	if src.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the compressed payload", ErrMalformed, src.Len())
	}
	return out.Bytes(), nil
}

// encode returns the canonical JSON of v.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decode decodes payload strictly into v: no unknown members, nothing after the value, and
// the payload must be v's canonical encoding (which also rules out repeated members).
func decode(payload []byte, v any, normalize func()) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the payload", ErrMalformed)
	}
	normalize()
	again, err := encode(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, payload) {
		return fmt.Errorf("%w: the payload is not in canonical form", ErrMalformed)
	}
	return nil
}
