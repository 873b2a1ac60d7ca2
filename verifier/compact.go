package verifier

import (
	"fmt"

	"github.com/ezheng/ezheng/internal/compactqr"
)

// ExpandCompact returns the SD-JWT presentation a compact counter QR ("EZ1:…", see
// docs/compact-qr.md) carries, byte for byte as the wallet made it, so that every signature
// verifies as before; any other text is returned unchanged. A text that starts like a compact
// QR but does not decode (bad base45, a broken or oversized envelope, an unknown version) is
// an error wrapping ErrNotPresentation with the reason: no check can run on it. It
// authenticates nothing; Verify does that on the result.
func ExpandCompact(text string) (string, error) {
	if !compactqr.IsCompact(text) {
		return text, nil
	}
	plain, err := compactqr.Decode(text)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotPresentation, err)
	}
	return plain, nil
}

// detectFormat is DetectFormat after ExpandCompact: it returns the text to verify (the
// expanded presentation of a compact QR, else text itself) and its format.
func detectFormat(text string) (string, string, error) {
	text, err := ExpandCompact(text)
	if err != nil {
		return "", "", err
	}
	format, err := DetectFormat(text)
	return text, format, err
}
