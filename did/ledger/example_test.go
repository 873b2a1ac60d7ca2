package ledger_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// A create operation: its DID is the hash of its canonical payload.
func ExampleSignOp() {
	assertion, update, recovery := key("key-1"), key("update"), key("recovery")
	op, err := ledger.NewCreate(ledger.NewDocument(assertion.Public()), update.Public(), recovery.Public())
	if err != nil {
		panic(err)
	}
	op.Nonce = "AAAAAAAAAAAAAAAAAAAAAA" // normally random; fixed here for a stable output
	jws, err := ledger.SignOp(op, update, "")
	if err != nil {
		panic(err)
	}
	parsed, err := ledger.ParseOp(jws)
	if err != nil {
		panic(err)
	}
	fmt.Println(ledger.DIDOf(op))
	fmt.Println(parsed.Op.Type, parsed.Verify(parsed.JWK) == nil)
	// Output:
	// did:ez:EiA0_tDoGPmVO18jAA59kb3y1fs_AI7QJpD-cpCdwklbqQ
	// create true
}

// An embedded ledger: open, submit, resolve.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ledger-example")
	defer os.RemoveAll(dir)

	origin := "ezheng.example/ledger/demo"
	skey, vkey, _ := merklelog.KeyFromSeed(origin, make([]byte, 32))
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	genesis, err := ledger.NewGenesis(origin, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		ledger.NewDocument(key("root key-1").Public()), key("root update"), key("root recovery").Public())
	if err != nil {
		panic(err)
	}
	l, err := ledger.Open(ctx, ledger.Config{Path: filepath.Join(dir, "ledger.sqlite"), Genesis: genesis, Signer: signer, Verifier: verifier})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	op, _ := ledger.NewCreate(ledger.NewDocument(key("agency key-1").Public()), key("agency update").Public(), key("agency recovery").Public())
	jws, _ := ledger.SignOp(op, key("agency update"), "")
	res, err := l.Submit(ctx, jws)
	if err != nil {
		panic(err)
	}
	doc, err := l.ResolveDID(ctx, ledger.DIDOf(op))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Code, res.LeafIndex, len(doc.AssertionMethod))
	// Output: ok 1 1
}
