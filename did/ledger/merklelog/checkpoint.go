package merklelog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// MaxCheckpointSize bounds a signed checkpoint note accepted by OpenCheckpoint: room for the
// body and about a hundred cosignatures.
const MaxCheckpointSize = 16 << 10

// Checkpoint is the signed head of the log after a block, in the C2SP tlog-checkpoint format
// with two extension lines:
//
//	<origin>
//	<tree size>
//	<base64 root hash>
//	height <block height>
//	block <base64 block hash>
//
// The extension lines are written together, and only when Block is set; a checkpoint without
// a Block is a plain three-line checkpoint and must have Height 0.
type Checkpoint struct {
	Origin string // log identity, e.g. "ezheng.example/ledger/city"; also the signing key's name
	Size   uint64 // number of leaves
	Root   []byte // RFC 6962 root hash at Size, HashSize bytes
	Height uint64 // height of the block after which the checkpoint was signed
	Block  []byte // SHA-256 block hash, HashSize bytes, or empty
}

// Text returns the note text of c, each line ending in a newline. It does not validate c;
// SignCheckpoint does.
func (c Checkpoint) Text() []byte {
	b := make([]byte, 0, len(c.Origin)+160)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root)
	b = append(b, '\n')
	if len(c.Block) > 0 {
		b = append(b, "height "...)
		b = strconv.AppendUint(b, c.Height, 10)
		b = append(b, "\nblock "...)
		b = base64.StdEncoding.AppendEncode(b, c.Block)
		b = append(b, '\n')
	}
	return b
}

// validate checks what Text cannot express faithfully.
func (c Checkpoint) validate() error {
	switch {
	case !validKeyName(c.Origin):
		return fmt.Errorf("origin %q is not a key name: empty, or holds a space, '+' or a control character", c.Origin)
	case len(c.Root) != HashSize:
		return fmt.Errorf("root is %d bytes, want %d", len(c.Root), HashSize)
	case len(c.Block) != 0 && len(c.Block) != HashSize:
		return fmt.Errorf("block hash is %d bytes, want %d", len(c.Block), HashSize)
	case len(c.Block) == 0 && c.Height != 0:
		return errors.New("height without a block hash")
	}
	return nil
}

// SignCheckpoint returns the signed note of c signed by s, as served and stored verbatim.
// Ed25519 is deterministic, so the same key signs identical bytes on every node. It returns an
// error wrapping ErrCheckpoint if c is invalid (origin empty or not a valid key name, root not
// HashSize bytes, block neither empty nor HashSize bytes, height without block), or if the
// signer's name is not the origin (C2SP tlog-checkpoint: the key name matches the origin, and
// OpenCheckpoint enforces it).
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: sign: %w", ErrCheckpoint, err)
	}
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("%w: sign: signer %q is not the origin %q", ErrCheckpoint, s.Name(), c.Origin)
	}
	signed, err := note.Sign(&note.Note{Text: string(c.Text())}, s)
	if err != nil {
		return nil, fmt.Errorf("%w: sign: %w", ErrCheckpoint, err)
	}
	return signed, nil
}

// OpenCheckpoint verifies the signed note with verifiers and parses its text strictly. It
// requires at least one valid signature by a known key whose name equals the origin line;
// signatures by unknown keys (witnesses, rotated keys) are ignored, a known key's bad signature
// is an error. The text must be exactly what Text writes: non-empty origin, size in decimal
// without leading zeros, a 32-byte root in canonical standard base64, then either no extension
// line or exactly "height <decimal>" and "block <32 bytes base64>" in that order. Every error
// wraps ErrCheckpoint.
func OpenCheckpoint(signed []byte, verifiers note.Verifiers) (Checkpoint, error) {
	if len(signed) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes, at most %d", ErrCheckpoint, len(signed), MaxCheckpointSize)
	}
	n, err := note.Open(signed, verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, fmt.Errorf("%w: not signed by a known key", ErrCheckpoint)
		}
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	c, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	for _, s := range n.Sigs {
		if s.Name == c.Origin {
			return c, nil
		}
	}
	return Checkpoint{}, fmt.Errorf("%w: origin %q is not the name of a key that signed it", ErrCheckpoint, c.Origin)
}

// parseCheckpointText parses note text strictly; Text(parse(text)) == text for accepted text.
func parseCheckpointText(text string) (Checkpoint, error) {
	body, ok := strings.CutSuffix(text, "\n")
	if !ok {
		return Checkpoint{}, errors.New("text does not end in a newline")
	}
	lines := strings.Split(body, "\n")
	if len(lines) != 3 && len(lines) != 5 {
		return Checkpoint{}, fmt.Errorf("%d lines, want 3, or 5 with height and block", len(lines))
	}
	var c Checkpoint
	var err error
	if c.Origin = lines[0]; c.Origin == "" {
		return Checkpoint{}, errors.New("empty origin")
	}
	if c.Size, err = parseDecimal(lines[1]); err != nil {
		return Checkpoint{}, fmt.Errorf("tree size: %w", err)
	}
	if c.Root, err = parseHash(lines[2]); err != nil {
		return Checkpoint{}, fmt.Errorf("root hash: %w", err)
	}
	if len(lines) == 5 {
		h, ok := strings.CutPrefix(lines[3], "height ")
		if !ok {
			return Checkpoint{}, fmt.Errorf("unknown extension line %q, want height", lines[3])
		}
		if c.Height, err = parseDecimal(h); err != nil {
			return Checkpoint{}, fmt.Errorf("height: %w", err)
		}
		b, ok := strings.CutPrefix(lines[4], "block ")
		if !ok {
			return Checkpoint{}, fmt.Errorf("unknown extension line %q, want block", lines[4])
		}
		if c.Block, err = parseHash(b); err != nil {
			return Checkpoint{}, fmt.Errorf("block hash: %w", err)
		}
	}
	return c, nil
}

// parseDecimal parses a canonical unsigned decimal: digits only, no leading zero but for "0".
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("%q is not a canonical decimal", s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: out of range", s)
	}
	return v, nil
}

// parseHash decodes a HashSize-byte hash in canonical padded standard base64.
func parseHash(s string) ([]byte, error) {
	h, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(h) != HashSize || base64.StdEncoding.EncodeToString(h) != s {
		return nil, fmt.Errorf("%q is not %d bytes in canonical base64", s, HashSize)
	}
	return h, nil
}

// validKeyName reports whether name can name a note key: non-empty UTF-8 without spaces or '+'
// (the rule of golang.org/x/mod/sumdb/note, which does not export it), nor control characters.
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.Contains(name, "+") &&
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// NewKey generates an Ed25519 note key pair for name, in the encodings of note.GenerateKey:
// skey "PRIVATE+KEY+<name>+<hash>+<base64>" (secret) and vkey "<name>+<hash>+<base64>". Name
// the key after the log's origin. It returns an error if name is not a valid key name.
func NewKey(name string) (skey, vkey string, err error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", "", err
	}
	return KeyFromSeed(name, seed)
}

// KeyFromSeed is NewKey with the Ed25519 private key derived from a 32-byte seed, so a ledger
// key can be derived from sealed key material and re-derived identically on every start. It
// returns an error if the seed is not 32 bytes or name is not a valid key name.
func KeyFromSeed(name string, seed []byte) (skey, vkey string, err error) {
	if len(seed) != ed25519.SeedSize {
		return "", "", fmt.Errorf("merklelog: key seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	if !validKeyName(name) {
		return "", "", fmt.Errorf("merklelog: %q is not a note key name", name)
	}
	// ed25519.GenerateKey reads exactly the seed from its reader, so this is deterministic.
	skey, vkey, err = note.GenerateKey(bytes.NewReader(seed), name)
	if err != nil {
		return "", "", fmt.Errorf("merklelog: key from seed: %w", err)
	}
	if _, err := note.NewSigner(skey); err != nil {
		return "", "", fmt.Errorf("merklelog: key from seed: %w", err)
	}
	return skey, vkey, nil
}
