package merklelog

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// indentJSON is the golden file form of a receipt: its JSON, indented, with a final newline.
func indentJSON(t testing.TB, r Receipt) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func TestReceiptGolden(t *testing.T) {
	t.Parallel()
	r, f := testReceipt(t)
	got := indentJSON(t, r)
	golden(t, "receipt.golden.json", got)
	parsed, err := ParseReceipt(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, r) {
		t.Errorf("ParseReceipt(golden) = %+v, want %+v", parsed, r)
	}
	var viaJSON Receipt
	if err := json.Unmarshal(got, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, r) {
		t.Errorf("json.Unmarshal = %+v, %v; want the receipt", viaJSON, err)
	}
	cp, err := VerifyReceipt(parsed, f.credentials[fixtureCred], f.verifiers)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != r.TreeSize || cp.Origin != testOrigin || cp.Height != 3 || !bytes.Equal(cp.Root, f.tree.Root()) {
		t.Errorf("VerifyReceipt returned checkpoint %+v", cp)
	}
}

func TestReceiptJSONFieldNames(t *testing.T) {
	t.Parallel()
	r, _ := testReceipt(t)
	b, _ := json.Marshal(r)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"anchor_op", "batch_index", "batch_proof", "batch_size", "checkpoint", "digest", "inclusion_proof", "leaf_index", "tree_size"}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(want) {
		t.Errorf("members %v, want %v", sorted(got), want)
	}
	if d, _ := m["digest"].(string); strings.ContainsAny(d, "+/=") || len(d) != 43 {
		t.Errorf("digest %q is not unpadded base64url of 32 bytes", d)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestVerifyReceiptES256(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := signAnchor(t, jose.SigningKey{Algorithm: jose.ES256, Key: key}, anchorPayload(f.batchRoot, fixtureBatch, "batch-es256"))
	r := f.receipt(t, op)
	for i, c := range f.credentials {
		r.Digest, r.BatchIndex, r.BatchProof = f.digests[i], uint64(i), f.batchProofs[i]
		if _, err := VerifyReceipt(r, c, f.verifiers); err != nil {
			t.Errorf("credential %d: %v", i, err)
		}
	}
}

func TestVerifyReceiptRejects(t *testing.T) {
	t.Parallel()
	good, f := testReceipt(t)
	cred := f.credentials[fixtureCred]
	other := newFixture(t)
	otherSigner, _ := testKey(t, testOrigin, "another ledger key")
	otherBatch := testDigests(fixtureBatch)

	anchor := func(root []byte, count int, batch string) string {
		return signAnchor(t, issuerKey(), anchorPayload(root, count, batch))
	}
	withPayload := func(payload map[string]any) string { return signAnchor(t, issuerKey(), payload) }
	notAnchor := anchorPayload(f.batchRoot, fixtureBatch, "b")
	notAnchor["type"] = "status"
	noCount := anchorPayload(f.batchRoot, fixtureBatch, "b")
	delete(noCount, "count")
	hmacOp := signAnchor(t, jose.SigningKey{Algorithm: jose.HS256, Key: bytes.Repeat([]byte{1}, 32)}, anchorPayload(f.batchRoot, fixtureBatch, "b"))
	// The same payload with another signature: the signature is not checked, but the
	// operation's bytes are no longer the logged leaf.
	parts := strings.Split(good.AnchorOp, ".")
	resigned := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	jsonSerialized := func() string {
		obj, err := jose.ParseSignedCompact(good.AnchorOp, anchorAlgs)
		if err != nil {
			t.Fatal(err)
		}
		return obj.FullSerialize()
	}()
	otherCheckpoint, err := SignCheckpoint(func() Checkpoint {
		c, err := OpenCheckpoint([]byte(good.Checkpoint), f.verifiers)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}(), otherSigner)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		change     func(r *Receipt)
		credential []byte
		check      ReceiptCheck
		also       error
	}{
		{name: "other credential", credential: f.credentials[3], check: CheckDigest},
		{name: "empty credential", credential: []byte{}, check: CheckDigest},
		{name: "short digest", change: func(r *Receipt) { r.Digest = r.Digest[:31] }, check: CheckShape},
		{name: "batch index out of range", change: func(r *Receipt) { r.BatchIndex = fixtureBatch }, check: CheckShape},
		{name: "leaf index out of range", change: func(r *Receipt) { r.LeafIndex = r.TreeSize }, check: CheckShape},
		{name: "empty anchor op", change: func(r *Receipt) { r.AnchorOp = "" }, check: CheckShape},
		{name: "anchor op not a JWS", change: func(r *Receipt) { r.AnchorOp = "not.a.jws" }, check: CheckAnchorOp},
		{name: "anchor op in JSON serialization", change: func(r *Receipt) { r.AnchorOp = jsonSerialized }, check: CheckShape},
		{name: "anchor op signed with HS256", change: func(r *Receipt) { r.AnchorOp = hmacOp }, check: CheckAnchorOp},
		{name: "anchor op of another type", change: func(r *Receipt) { r.AnchorOp = withPayload(notAnchor) }, check: CheckAnchorOp},
		{name: "anchor op without count", change: func(r *Receipt) { r.AnchorOp = withPayload(noCount) }, check: CheckAnchorOp},
		{name: "anchor op with a bad root", change: func(r *Receipt) {
			p := anchorPayload(f.batchRoot, fixtureBatch, "b")
			p["root"] = "AAAA"
			r.AnchorOp = withPayload(p)
		}, check: CheckAnchorOp},
		{name: "count mismatch", change: func(r *Receipt) { r.AnchorOp = anchor(f.batchRoot, fixtureBatch+1, "batch-0001") }, check: CheckAnchorCount},
		{name: "batch size mismatch", change: func(r *Receipt) { r.BatchSize = fixtureBatch + 1 }, check: CheckAnchorCount},
		{name: "changed batch proof", change: func(r *Receipt) {
			r.BatchProof = cloneProof(r.BatchProof)
			r.BatchProof[1][7] ^= 1
		}, check: CheckBatchProof, also: ErrProof},
		{name: "batch proof of another digest", change: func(r *Receipt) { r.BatchProof = f.batchProofs[3] }, check: CheckBatchProof, also: ErrProof},
		{name: "wrong batch index", change: func(r *Receipt) { r.BatchIndex = 3 }, check: CheckBatchProof, also: ErrProof},
		{name: "anchor of another batch", change: func(r *Receipt) { r.AnchorOp = anchor(BatchRoot(otherBatch), fixtureBatch, "batch-0001") }, check: CheckBatchProof, also: ErrProof},
		{name: "changed anchor op", change: func(r *Receipt) { r.AnchorOp = anchor(f.batchRoot, fixtureBatch, "batch-0002") }, check: CheckInclusionProof, also: ErrProof},
		{name: "anchor op with another signature", change: func(r *Receipt) { r.AnchorOp = resigned }, check: CheckInclusionProof, also: ErrProof},
		{name: "wrong leaf index", change: func(r *Receipt) { r.LeafIndex-- }, check: CheckInclusionProof, also: ErrProof},
		{name: "changed inclusion proof", change: func(r *Receipt) {
			r.InclusionProof = cloneProof(r.InclusionProof)
			r.InclusionProof[0][0] ^= 1
		}, check: CheckInclusionProof, also: ErrProof},
		{name: "wrong tree size", change: func(r *Receipt) { r.TreeSize-- }, check: CheckTreeSize},
		{name: "checkpoint from another key", change: func(r *Receipt) { r.Checkpoint = string(otherCheckpoint) }, check: CheckCheckpoint, also: ErrCheckpoint},
		{name: "checkpoint of another log state", change: func(r *Receipt) {
			other.appendOps(t, "x", "y")
			signed, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: r.TreeSize, Root: other.tree.Root()}, f.signer)
			if err != nil {
				t.Fatal(err)
			}
			r.Checkpoint = string(signed)
		}, check: CheckInclusionProof, also: ErrProof},
		{name: "tampered checkpoint", change: func(r *Receipt) {
			r.Checkpoint = strings.Replace(r.Checkpoint, "height 3", "height 4", 1)
		}, check: CheckCheckpoint, also: ErrCheckpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			if tc.change != nil {
				tc.change(&r)
			}
			c := cred
			if tc.credential != nil {
				c = tc.credential
			}
			_, err := VerifyReceipt(r, c, f.verifiers)
			var re *ReceiptError
			if !errors.As(err, &re) || re.Check != tc.check || !errors.Is(err, ErrReceipt) {
				t.Fatalf("VerifyReceipt err = %v, want a %q check failure", err, tc.check)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("err = %v, want it to wrap %v too", err, tc.also)
			}
			// VerifyDigestReceipt fails the same way, but for the credential's digest.
			err = VerifyDigestReceipt(r, f.verifiers)
			if tc.check == CheckDigest {
				if err != nil {
					t.Errorf("VerifyDigestReceipt: %v", err)
				}
			} else if !errors.As(err, &re) || re.Check != tc.check {
				t.Errorf("VerifyDigestReceipt err = %v, want a %q check failure", err, tc.check)
			}
		})
	}
	if _, err := VerifyReceipt(good, cred, f.verifiers); err != nil {
		t.Errorf("the good receipt no longer verifies: %v", err)
	}
}

func TestParseReceiptRejects(t *testing.T) {
	t.Parallel()
	good, _ := testReceipt(t)
	b, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		t.Fatal(err)
	}
	// with returns the receipt JSON with member k set to raw JSON v ("" deletes it).
	with := func(k, v string) []byte {
		m := map[string]json.RawMessage{}
		for mk, mv := range members {
			m[mk] = mv
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(v)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hash := `"` + strings.Repeat("A", 43) + `"`
	proofOf := func(n int, h string) string { return "[" + strings.TrimSuffix(strings.Repeat(h+",", n), ",") + "]" }
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not an object", []byte(`[]`)},
		{"null", []byte(`null`)},
		{"unknown member", with("extra", `1`)},
		{"capitalised member", bytes.Replace(b, []byte(`"digest"`), []byte(`"Digest"`), 1)},
		{"duplicate member", append(b[:len(b)-1], []byte(`,"leaf_index":0}`)...)},
		{"trailing data", append(bytes.Clone(b), []byte(` {}`)...)},
		{"trailing garbage", append(bytes.Clone(b), 'x')},
		{"missing digest", with("digest", "")},
		{"null digest", with("digest", "null")},
		{"padded digest", with("digest", `"`+strings.Repeat("A", 43)+`="`)},
		{"std base64 digest", with("digest", `"`+strings.Repeat("/", 43)+`"`)},
		{"short digest", with("digest", `"`+strings.Repeat("A", 42)+`"`)},
		{"null proof", with("batch_proof", "null")},
		{"null proof element", with("batch_proof", `[null]`)},
		{"short proof hash", with("inclusion_proof", `["AAAA"]`)},
		{"proof of 65 hashes", with("inclusion_proof", proofOf(65, hash))},
		{"negative index", with("leaf_index", `-1`)},
		{"float index", with("leaf_index", `1.0`)},
		{"exponent index", with("leaf_index", `1e1`)},
		{"string index", with("leaf_index", `"1"`)},
		{"index too big", with("tree_size", `18446744073709551616`)},
		{"batch index = size", with("batch_index", string(members["batch_size"]))},
		{"missing tree size", with("tree_size", "")},
		{"missing checkpoint", with("checkpoint", "")},
		{"anchor op with a space", with("anchor_op", `"a.b .c"`)},
		{"checkpoint with a tab", with("checkpoint", `"a\tb\n"`)},
		{"anchor op too large", with("anchor_op", `"`+strings.Repeat("a", MaxAnchorOpSize+1)+`"`)},
		{"too large", append(bytes.Clone(b[:len(b)-1]), []byte(`,"x":"`+strings.Repeat("a", MaxReceiptSize)+`"}`)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseReceipt(tc.in)
			var re *ReceiptError
			if !errors.As(err, &re) || re.Check != CheckShape || !errors.Is(err, ErrReceipt) {
				t.Errorf("ParseReceipt = %+v, %v; want a shape error", r, err)
			}
		})
	}
	// Missing proofs decode as empty (a batch of one has an empty batch proof).
	r, err := ParseReceipt(with("batch_proof", ""))
	if err != nil || r.BatchProof == nil || len(r.BatchProof) != 0 {
		t.Errorf("missing batch_proof: %+v, %v", r.BatchProof, err)
	}
}
