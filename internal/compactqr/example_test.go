package compactqr_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/ezheng/ezheng/internal/compactqr"
)

// The wallet turns a counter presentation into its compact QR text; the verifier turns it
// back, byte for byte, and verifies that.
func Example() {
	b, err := os.ReadFile("testdata/drivinglicence-3claims.txt")
	if err != nil {
		panic(err)
	}
	presentation := string(b)

	text, err := compactqr.Encode(presentation)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(text, compactqr.Prefix), compactqr.IsCompact(text), len(text) <= 1000)

	back, err := compactqr.Decode(text)
	if err != nil {
		panic(err)
	}
	fmt.Println(back == presentation)
	// Output:
	// true true true
	// true
}
