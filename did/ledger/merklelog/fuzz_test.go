package merklelog

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func readTestdata(f *testing.F, name string) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzOpenCheckpoint checks that OpenCheckpoint never panics, that everything it accepts is
// exactly the text SignCheckpoint writes for the parsed value, and that re-signing and
// re-opening gives the same value. It also fuzzes the text parser directly, since mutated
// notes rarely keep a valid signature.
func FuzzOpenCheckpoint(f *testing.F) {
	golden := readTestdata(f, "checkpoint.golden")
	f.Add(golden)
	signer, verifiers := ledgerKey(f)
	plain := goldenCheckpoint()
	plain.Height, plain.Block = 0, nil
	if signed, err := SignCheckpoint(plain, signer); err == nil {
		f.Add(signed)
	}
	f.Add(goldenCheckpoint().Text())
	f.Add([]byte("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nheight 0\nblock AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := parseCheckpointText(string(data)); err == nil {
			if got := c.Text(); !bytes.Equal(got, data) {
				t.Fatalf("accepted text %q re-encodes as %q", data, got)
			}
		}
		c, err := OpenCheckpoint(data, verifiers)
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCheckpoint", err)
			}
			return
		}
		n, err := note.Open(data, verifiers)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Text(), []byte(n.Text)) {
			t.Fatalf("accepted note text %q, Text() %q", n.Text, c.Text())
		}
		resigned, err := SignCheckpoint(c, signer)
		if err != nil {
			t.Fatalf("accepted checkpoint %+v does not sign: %v", c, err)
		}
		again, err := OpenCheckpoint(resigned, verifiers)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-signed checkpoint opens as %+v, %v; want %+v", again, err, c)
		}
	})
}

// FuzzParseReceipt checks that ParseReceipt never panics, that what it accepts re-marshals to
// JSON it parses back to the same value (and the same bytes again), and that VerifyReceipt
// never panics on it. Seeds are ~2 KB and the fuzzer minimises new inputs in quadratic time,
// so a short run makes more progress with -fuzzminimizetime=2s.
func FuzzParseReceipt(f *testing.F) {
	golden := readTestdata(f, "receipt.golden.json")
	f.Add(golden)
	var compact bytes.Buffer
	if err := json.Compact(&compact, golden); err != nil {
		f.Fatal(err)
	}
	f.Add(compact.Bytes())
	f.Add([]byte(`{"digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","batch_size":1,"anchor_op":"a.b.c","tree_size":1,"checkpoint":"x"}`))
	_, verifiers := ledgerKey(f)
	r0, err := ParseReceipt(golden)
	if err != nil {
		f.Fatal(err)
	}
	credential := []byte(`{"vc":"test credential 2"}`)
	if _, err := VerifyReceipt(r0, credential, verifiers); err != nil {
		f.Fatalf("golden receipt: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReceipt(data)
		if err != nil {
			var re *ReceiptError
			if !errors.As(err, &re) || re.Check != CheckShape || !errors.Is(err, ErrReceipt) {
				t.Fatalf("error %v is not a shape ReceiptError", err)
			}
			return
		}
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseReceipt(b)
		if err != nil {
			t.Fatalf("re-marshalled receipt %s does not parse: %v", b, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the receipt:\n%+v\n%+v", r, r2)
		}
		if b2, _ := r2.MarshalJSON(); !bytes.Equal(b, b2) {
			t.Fatalf("marshalling is not idempotent:\n%s\n%s", b, b2)
		}
		if _, err := VerifyReceipt(r, credential, verifiers); err != nil {
			var re *ReceiptError
			if !errors.As(err, &re) {
				t.Fatalf("VerifyReceipt error %v is not a ReceiptError", err)
			}
		}
	})
}
