package compactqr

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/ezheng/ezheng/internal/sdjwt"
)

// The envelope (see docs/compact-qr.md):
//
//	envelope = rawLen:uvarint raw[rawLen] deflate(record)
//	record   = flags:u8 n:uvarint part(issuer header) part(issuer payload) part(issuer signature)
//	           part(disclosure)*n [part(KB header) part(KB payload) part(KB signature)]
//	part     = 0x00 len:uvarint text[len]   the base64url of text with its escapes expanded
//	         | 0x01 len:uvarint             the base64url of the next len raw bytes
//	         | 0x02 index:u8                the base64url of a known JOSE header
//
// Raw bytes are taken from the raw section in record order; each take is a raw value with an
// index, counted from 0, that an escape can repeat.

// Record flags.
const flagKB = 0x01 // a KB-JWT follows the disclosures

// Part codes.
const (
	partText  = 0x00
	partRaw   = 0x01
	partTable = 0x02
)

// Escape codes in a text part. UTF-8 text never holds bytes 0xF8-0xFF, so in JSON they are
// free; a part that holds them anyway (it is not UTF-8) carries them escaped.
const (
	escByte   = 0xF8 // b:u8, b >= 0xF8: the byte b itself
	escDigest = 0xF9 // i:uvarint: the digest of disclosure i (issuer payload only)
	escSDHash = 0xFA // the sd_hash of the presentation (KB-JWT payload only)
	escRaw    = 0xFB // n:uvarint: the base64url of the next n raw bytes, a new raw value
	escAgain  = 0xFC // k:uvarint: the base64url of raw value k again
	escNumber = 0xFD // v:uvarint: v in decimal (a JSON number such as iat, exp or idx)
)

// minNumberRun is the fewest digits the encoder writes as an escNumber: below it the varint
// saves nothing.
const minNumberRun = 4

// knownHeaders are the JOSE headers a part can name by index (part code 0x02): the
// protected headers of ezheng's key-binding JWTs as go-jose writes them. Frozen in version 1.
var knownHeaders = []string{
	`{"alg":"ES256","typ":"kb+jwt"}`,
	`{"alg":"EdDSA","typ":"kb+jwt"}`,
}

// minRawRun is the shortest run of base64url characters the encoder carries as raw bytes.
const minRawRun = 16

// Where a text part stands, which decides the references it may hold.
type place int

const (
	placeOther         place = iota
	placeIssuerPayload       // may refer to disclosure digests
	placeKBPayload           // may refer to the sd_hash
)

// encoder builds a record and its raw section.
type encoder struct {
	rec, raw []byte
	rawIndex map[string]int // base64url text of each raw value → its index
	nraw     int
	digests  map[string]int // disclosure digest → the first disclosure with it
	sdHash   string
	extract  bool // carry random-looking base64url runs as raw values
}

// encodeEnvelope builds the version-1 envelope of p.
func encodeEnvelope(p *presentation, extract bool) ([]byte, error) {
	e := &encoder{rawIndex: map[string]int{}, digests: map[string]int{}, extract: extract}
	for i := len(p.discText) - 1; i >= 0; i-- {
		e.digests[sdjwt.SDHash(p.discText[i])] = i
	}
	var flags byte
	if p.kb != nil {
		flags |= flagKB
		e.sdHash = sdjwt.SDHash(p.sdPart)
	}
	e.rec = append(e.rec, flags)
	e.rec = binary.AppendUvarint(e.rec, uint64(len(p.discs)))
	e.header(p.issuer[0])
	e.text(p.issuer[1], placeIssuerPayload)
	e.binary(p.issuer[2])
	for _, d := range p.discs {
		e.text(d, placeOther)
	}
	if p.kb != nil {
		e.header(p.kb[0])
		e.text(p.kb[1], placeKBPayload)
		e.binary(p.kb[2])
	}
	if len(e.rec) > MaxRecord {
		return nil, fmt.Errorf("%w: record of %d bytes, the limit is %d", ErrTooLarge, len(e.rec), MaxRecord)
	}
	z, err := deflate(e.rec)
	if err != nil {
		return nil, fmt.Errorf("compactqr: deflate: %w", err)
	}
	env := binary.AppendUvarint(make([]byte, 0, 3+len(e.raw)+len(z)), uint64(len(e.raw)))
	env = append(env, e.raw...)
	return append(env, z...), nil
}

// header adds a JOSE header part: by index when it is a known one, else as text.
func (e *encoder) header(b []byte) {
	for i, h := range knownHeaders {
		if string(b) == h {
			e.rec = append(e.rec, partTable, byte(i))
			return
		}
	}
	e.text(b, placeOther)
}

// binary adds a part carried whole as a raw value (a signature).
func (e *encoder) binary(b []byte) {
	e.rec = append(e.rec, partRaw)
	e.rec = binary.AppendUvarint(e.rec, uint64(len(b)))
	e.addRaw(b)
}

func (e *encoder) addRaw(b []byte) {
	e.raw = append(e.raw, b...)
	if _, ok := e.rawIndex[b64.EncodeToString(b)]; !ok {
		e.rawIndex[b64.EncodeToString(b)] = e.nraw
	}
	e.nraw++
}

// text adds a text part: src with its bytes 0xF8-0xFF escaped and its base64url runs replaced
// by references where one applies.
func (e *encoder) text(src []byte, at place) {
	t := make([]byte, 0, len(src))
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c >= escByte:
			t = append(t, escByte, c)
			i++
		case !isB64(c):
			t = append(t, c)
			i++
		default:
			j := i
			for j < len(src) && isB64(src[j]) {
				j++
			}
			t = e.run(t, string(src[i:j]), at)
			i = j
		}
	}
	e.rec = append(e.rec, partText)
	e.rec = binary.AppendUvarint(e.rec, uint64(len(t)))
	e.rec = append(e.rec, t...)
}

// run appends the maximal base64url run r of a text part to t: as a digest or sd_hash
// reference when it is one, as a raw value when it looks random, else as it is.
func (e *encoder) run(t []byte, r string, at place) []byte {
	if i, ok := e.digests[r]; ok && at == placeIssuerPayload {
		return binary.AppendUvarint(append(t, escDigest), uint64(i))
	}
	if at == placeKBPayload && r == e.sdHash {
		return append(t, escSDHash)
	}
	if v, ok := number(r); ok {
		return binary.AppendUvarint(append(t, escNumber), v)
	}
	if !e.extract {
		return append(t, r...)
	}
	off, raw, ok := rawSplit(r)
	if !ok {
		return append(t, r...)
	}
	t = append(t, r[:off]...)
	if k, ok := e.rawIndex[r[off:]]; ok {
		return binary.AppendUvarint(append(t, escAgain), uint64(k))
	}
	t = binary.AppendUvarint(append(t, escRaw), uint64(len(raw)))
	e.addRaw(raw)
	return t
}

// number returns the value of r when r is a decimal number the escNumber code gives back
// exactly: minNumberRun to 19 digits, no leading zero.
func number(r string) (uint64, bool) {
	if len(r) < minNumberRun || len(r) > 19 || r[0] == '0' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(r); i++ {
		if r[i] < '0' || r[i] > '9' {
			return 0, false
		}
		v = v*10 + uint64(r[i]-'0')
	}
	return v, true
}

// rawSplit finds the tail of the base64url run r worth carrying as raw bytes: at least
// minRawRun characters with upper case, lower case and digits (a salt, digest, key, nonce or
// id rather than a word), canonical base64url, starting at most 3 characters in: the whole
// run if it can, else preferably right after a '_' or '-' ("sl_kV4K…"). It returns the tail's
// offset and bytes.
func rawSplit(r string) (int, []byte, bool) {
	try := func(off int) ([]byte, bool) {
		tail := r[off:]
		if len(tail) < minRawRun || !looksRandom(tail) {
			return nil, false
		}
		b, err := b64Strict.DecodeString(tail) // r is all base64url: only length and unused bits can fail
		return b, err == nil
	}
	if b, ok := try(0); ok {
		return 0, b, true
	}
	for off := 1; off <= 3 && off < len(r); off++ {
		if r[off-1] == '_' || r[off-1] == '-' {
			if b, ok := try(off); ok {
				return off, b, true
			}
		}
	}
	for off := 1; off <= 3 && off < len(r); off++ {
		if b, ok := try(off); ok {
			return off, b, true
		}
	}
	return 0, nil, false
}

func looksRandom(s string) bool {
	var upper, lower, digit bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		upper = upper || 'A' <= c && c <= 'Z'
		lower = lower || 'a' <= c && c <= 'z'
		digit = digit || '0' <= c && c <= '9'
	}
	return upper && lower && digit
}

// token is a piece of a decoded part: literal bytes, or a reference resolved once the parts
// it depends on are rebuilt.
type token struct {
	lit []byte
	ref int // refLiteral, refSDHash, or the index of a disclosure whose digest stands here
}

const (
	refLiteral = -1
	refSDHash  = -2
)

// digestLen is the length of a base64url SHA-256 digest.
const digestLen = 43

// decoder reads a record and its raw section.
type decoder struct {
	rec  []byte
	pos  int
	raw  []byte
	rpos int
	raws [][]byte // raw values taken so far
	n    int      // disclosures
	size int      // decoded bytes of the presentation so far
}

// decodeEnvelope rebuilds the presentation from a version-1 envelope.
func decodeEnvelope(env []byte) (string, error) {
	rawLen, k, err := readUvarint(env, "raw section length")
	if err != nil {
		return "", err
	}
	if rawLen > len(env)-k {
		return "", fmt.Errorf("%w: raw section of %d bytes, only %d left", ErrMalformed, rawLen, len(env)-k)
	}
	rec, err := inflate(env[k+rawLen:])
	if err != nil {
		return "", err
	}
	d := &decoder{rec: rec, raw: env[k : k+rawLen]}

	flags, err := d.byte("flags")
	if err != nil {
		return "", err
	}
	if flags&^flagKB != 0 {
		return "", fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
	}
	n, err := d.uvarint("disclosure count")
	if err != nil {
		return "", err
	}
	if n > sdjwt.MaxDisclosures {
		return "", fmt.Errorf("%w: %d disclosures, the limit is %d", ErrTooLarge, n, sdjwt.MaxDisclosures)
	}
	d.n = n

	var issuer, kb [3][]token
	if issuer, err = d.jws("issuer JWT", placeIssuerPayload); err != nil {
		return "", err
	}
	discs := make([][]token, n)
	for i := range discs {
		if discs[i], err = d.part(fmt.Sprintf("disclosure %d", i+1), placeOther); err != nil {
			return "", err
		}
	}
	if flags&flagKB != 0 {
		if kb, err = d.jws("KB-JWT", placeKBPayload); err != nil {
			return "", err
		}
	}
	if d.pos != len(d.rec) {
		return "", fmt.Errorf("%w: %d bytes after the last part of the record", ErrMalformed, len(d.rec)-d.pos)
	}
	if d.rpos != len(d.raw) {
		return "", fmt.Errorf("%w: %d raw bytes not used by any part", ErrMalformed, len(d.raw)-d.rpos)
	}

	// Rebuild: disclosures first (the issuer payload may refer to their digests), then the
	// issuer JWT, then the KB-JWT (its sd_hash covers everything before it).
	var b strings.Builder
	digests := make([]string, n)
	discText := make([]string, n)
	for i, p := range discs {
		discText[i] = b64.EncodeToString(render(p, nil, ""))
		digests[i] = sdjwt.SDHash(discText[i])
	}
	writeJWS(&b, issuer, digests, "")
	b.WriteByte('~')
	for _, s := range discText {
		b.WriteString(s)
		b.WriteByte('~')
	}
	if flags&flagKB != 0 {
		writeJWS(&b, kb, nil, sdjwt.SDHash(b.String()))
	}
	if b.Len() > MaxPresentation {
		return "", fmt.Errorf("%w: the presentation would be %d bytes, the limit is %d", ErrTooLarge, b.Len(), MaxPresentation)
	}
	return b.String(), nil
}

func writeJWS(b *strings.Builder, parts [3][]token, digests []string, sdHash string) {
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(b64.EncodeToString(render(p, digests, sdHash)))
	}
}

// render joins the tokens of a part, resolving references.
func render(p []token, digests []string, sdHash string) []byte {
	var out []byte
	for _, t := range p {
		switch t.ref {
		case refLiteral:
			out = append(out, t.lit...)
		case refSDHash:
			out = append(out, sdHash...)
		default:
			out = append(out, digests[t.ref]...)
		}
	}
	return out
}

// jws reads the three parts of a JWS; the payload stands at payload.
func (d *decoder) jws(what string, payload place) ([3][]token, error) {
	var out [3][]token
	var err error
	for i, name := range []string{"header", "payload", "signature"} {
		at := placeOther
		if i == 1 {
			at = payload
		}
		if out[i], err = d.part(what+" "+name, at); err != nil {
			return out, err
		}
	}
	return out, nil
}

// part reads one part.
func (d *decoder) part(what string, at place) ([]token, error) {
	code, err := d.byte(what)
	if err != nil {
		return nil, err
	}
	switch code {
	case partText:
		l, err := d.uvarint(what + " length")
		if err != nil {
			return nil, err
		}
		if l > len(d.rec)-d.pos {
			return nil, fmt.Errorf("%w: %s: %d bytes of text, only %d left in the record", ErrMalformed, what, l, len(d.rec)-d.pos)
		}
		text := d.rec[d.pos : d.pos+l]
		d.pos += l
		return d.unescape(text, what, at)
	case partRaw:
		l, err := d.uvarint(what + " length")
		if err != nil {
			return nil, err
		}
		b, err := d.takeRaw(l, what)
		if err != nil {
			return nil, err
		}
		if err := d.grow(len(b)); err != nil {
			return nil, err
		}
		return []token{{lit: b, ref: refLiteral}}, nil
	case partTable:
		i, err := d.byte(what + " header index")
		if err != nil {
			return nil, err
		}
		if int(i) >= len(knownHeaders) {
			return nil, fmt.Errorf("%w: %s: no known header %d", ErrMalformed, what, i)
		}
		h := knownHeaders[i]
		if err := d.grow(len(h)); err != nil {
			return nil, err
		}
		return []token{{lit: []byte(h), ref: refLiteral}}, nil
	default:
		return nil, fmt.Errorf("%w: %s: unknown part code %#x", ErrMalformed, what, code)
	}
}

// unescape turns the text of a part into tokens.
func (d *decoder) unescape(text []byte, what string, at place) ([]token, error) {
	var toks []token
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			toks = append(toks, token{lit: lit, ref: refLiteral})
			lit = nil
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		i++
		if c < escByte {
			lit = append(lit, c)
			if err := d.grow(1); err != nil {
				return nil, err
			}
			continue
		}
		switch c {
		case escByte:
			if i >= len(text) {
				return nil, fmt.Errorf("%w: %s: escape at the end of the text", ErrMalformed, what)
			}
			if text[i] < escByte {
				return nil, fmt.Errorf("%w: %s: byte %#x escaped needlessly", ErrMalformed, what, text[i])
			}
			lit = append(lit, text[i])
			i++
			if err := d.grow(1); err != nil {
				return nil, err
			}
		case escDigest:
			idx, k, err := readUvarint(text[i:], what+" digest reference")
			if err != nil {
				return nil, err
			}
			i += k
			if at != placeIssuerPayload {
				return nil, fmt.Errorf("%w: %s: a disclosure digest may stand only in the issuer payload", ErrReference, what)
			}
			if idx >= d.n {
				return nil, fmt.Errorf("%w: %s: digest of disclosure %d, the envelope carries %d", ErrReference, what, idx+1, d.n)
			}
			if err := d.grow(digestLen); err != nil {
				return nil, err
			}
			flush()
			toks = append(toks, token{ref: idx})
		case escSDHash:
			if at != placeKBPayload {
				return nil, fmt.Errorf("%w: %s: the sd_hash may stand only in the KB-JWT payload", ErrReference, what)
			}
			if err := d.grow(digestLen); err != nil {
				return nil, err
			}
			flush()
			toks = append(toks, token{ref: refSDHash})
		case escNumber:
			v, k := binary.Uvarint(text[i:])
			if k <= 0 || k != len(binary.AppendUvarint(nil, v)) {
				return nil, fmt.Errorf("%w: %s: bad number", ErrMalformed, what)
			}
			i += k
			num := strconv.FormatUint(v, 10)
			if err := d.grow(len(num)); err != nil {
				return nil, err
			}
			lit = append(lit, num...)
		case escRaw, escAgain:
			v, k, err := readUvarint(text[i:], what+" raw value")
			if err != nil {
				return nil, err
			}
			i += k
			var b []byte
			if c == escRaw {
				if b, err = d.takeRaw(v, what); err != nil {
					return nil, err
				}
			} else {
				if v >= len(d.raws) {
					return nil, fmt.Errorf("%w: %s: raw value %d repeated, only %d so far", ErrReference, what, v, len(d.raws))
				}
				b = d.raws[v]
			}
			if err := d.grow(b64.EncodedLen(len(b))); err != nil {
				return nil, err
			}
			lit = b64.AppendEncode(lit, b)
		default:
			return nil, fmt.Errorf("%w: %s: unknown escape code %#x", ErrMalformed, what, c)
		}
	}
	flush()
	return toks, nil
}

// takeRaw takes the next n bytes of the raw section as a new raw value. The caller counts
// them (as bytes or as base64url text) with grow.
func (d *decoder) takeRaw(n int, what string) ([]byte, error) {
	if n > len(d.raw)-d.rpos {
		return nil, fmt.Errorf("%w: %s: %d raw bytes wanted, %d left", ErrMalformed, what, n, len(d.raw)-d.rpos)
	}
	b := d.raw[d.rpos : d.rpos+n]
	d.rpos += n
	d.raws = append(d.raws, b)
	return b, nil
}

// grow counts n more decoded bytes against MaxPresentation, so that references repeated many
// times cannot make Decode build a huge string.
func (d *decoder) grow(n int) error {
	d.size += n
	if d.size > MaxPresentation {
		return fmt.Errorf("%w: the presentation would exceed %d bytes", ErrTooLarge, MaxPresentation)
	}
	return nil
}

func (d *decoder) byte(what string) (byte, error) {
	if d.pos >= len(d.rec) {
		return 0, fmt.Errorf("%w: record truncated before the %s", ErrMalformed, what)
	}
	c := d.rec[d.pos]
	d.pos++
	return c, nil
}

func (d *decoder) uvarint(what string) (int, error) {
	v, k, err := readUvarint(d.rec[d.pos:], what)
	if err != nil {
		return 0, err
	}
	d.pos += k
	return v, nil
}

// readUvarint reads a minimal unsigned LEB128 varint (encoding/binary's Uvarint) of at most
// 1<<24 from the start of b and returns it with its length.
func readUvarint(b []byte, what string) (int, int, error) {
	v, k := binary.Uvarint(b)
	switch {
	case k == 0:
		return 0, 0, fmt.Errorf("%w: truncated in the %s", ErrMalformed, what)
	case k < 0 || v > 1<<24:
		return 0, 0, fmt.Errorf("%w: %s out of range", ErrMalformed, what)
	case k != len(binary.AppendUvarint(nil, v)):
		return 0, 0, fmt.Errorf("%w: %s is not minimally encoded", ErrMalformed, what)
	}
	return int(v), k, nil
}
