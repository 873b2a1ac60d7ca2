package ledger

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/did"
)

// FuzzParseOp checks that ParseOp never panics and that whatever it accepts is exactly its own
// canonical payload (decode → encode gives the same bytes) and parses the same way twice. Each
// input is tried as a whole JWS and, to reach the payload decoder more often, as the payload of
// a JWS signed with a fixed key. Seeds: the operations of the golden files (testdata/ops).
func FuzzParseOp(f *testing.F) {
	for _, g := range goldenOps(f) {
		f.Add(mustSign(f, g.op, g.key, g.kid))
		p, _ := g.op.Canonical()
		f.Add(string(p))
	}
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	key := seedKey("fuzz")
	f.Fuzz(func(t *testing.T, in string) {
		checkParseOp(t, in)
		checkParseOp(t, signRaw(kidHeader("did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw#key-1"), []byte(in), key))
	})
}

func checkParseOp(t *testing.T, jws string) {
	{
		op, err := ParseOp(jws)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a result code: %v", err)
			}
			return
		}
		again, err := op.Op.Canonical()
		if err != nil {
			t.Fatalf("accepted op does not re-encode: %v", err)
		}
		if !bytes.Equal(again, op.Payload) {
			t.Fatalf("re-encoding differs:\n%s\n%s", again, op.Payload)
		}
		op2, err := ParseOp(jws)
		if err != nil || !bytes.Equal(op2.Payload, op.Payload) {
			t.Fatal("ParseOp is not deterministic")
		}
		if op.Op.Type == TypeCreate && DIDOf(op.Op) != didOfPayload(op.Payload) {
			t.Fatal("DIDOf differs from the payload hash")
		}
		if _, err := ParseDID(didOfPayload(op.Payload)); err != nil {
			t.Fatalf("derived DID does not parse: %v", err)
		}
	}
}

// FuzzParseDID checks the did:ez syntax: accepted DIDs are valid DID Core DIDs, 53 bytes,
// and their multihash re-encodes to the same string.
func FuzzParseDID(f *testing.F) {
	for _, g := range goldenOps(f) {
		if g.op.DID != "" {
			f.Add(g.op.DID)
		}
		f.Add(g.op.Issuer)
	}
	f.Add("did:ez:")
	f.Add("did:ez:EiAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYx")
	f.Add("did:ez:EiAsuEsa+TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw")
	f.Add("did:key:z6Mk")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDID(s)
		if err != nil {
			return
		}
		if len(s) != 53 || !strings.HasPrefix(s, "did:ez:Ei") {
			t.Fatalf("accepted %q", s)
		}
		if d.String() != s {
			t.Fatalf("String() = %q", d.String())
		}
		core, err := did.Parse(s)
		if err != nil || core != d {
			t.Fatalf("did.Parse disagrees: %v", err)
		}
		b, err := decodeB64(d.ID)
		if err != nil || "did:ez:"+b64.EncodeToString(b) != s {
			t.Fatal("suffix does not round-trip")
		}
	})
}
