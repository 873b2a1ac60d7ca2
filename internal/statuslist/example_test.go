package statuslist_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/statuslist"
)

// An issuer revokes entry 3 and suspends entry 5 of a 2-bit Token Status List, signs it, and a
// verifier reads the statuses back.
func Example() {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	const uri = "https://issuer.example/statuslists/1"

	l, _ := statuslist.New(1024, 2)
	l.Set(3, statuslist.Invalid)
	l.Set(5, statuslist.Suspended)
	signer, _ := statuslist.NewTokenSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, "key-1")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := statuslist.SignToken(l, uri, now, time.Hour, signer)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("anchor %x...\n", statuslist.Digest([]byte(tok))[:4])

	// The referenced token carries statuslist.StatusClaim(uri, 5).
	claimURI, idx, _ := statuslist.ParseStatusClaim(statuslist.StatusClaim(uri, 5))
	got, info, err := statuslist.VerifyToken(tok, priv.Public(), claimURI, now.Add(time.Minute), 1<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	status, _ := got.Get(idx)
	fmt.Println("status", status, "ttl", info.TTL)
	// Output:
	// anchor 4382172a...
	// status 2 ttl 1h0m0s
}

// A W3C Bitstring Status List: entry 0 is the left-most bit.
func ExampleBitstring() {
	b, _ := statuslist.NewBitstring(statuslist.MinBitstringEntries)
	b.Set(0, true)
	b.Set(9, true)
	fmt.Printf("%08b %08b\n", b.Bytes()[0], b.Bytes()[1])
	entry := statuslist.BitstringEntry("https://issuer.example/status/1", 9, statuslist.PurposeRevocation)
	fmt.Println(entry["statusListIndex"], entry["id"])
	// Output:
	// 10000000 01000000
	// 9 https://issuer.example/status/1#9
}
