package oid4vci

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
)

// DefaultTxCodeLength is the Transaction Code length NewTxCode uses when asked for 0 digits.
const DefaultTxCodeLength = 6

// maxNewTxCodeLength bounds the codes NewTxCode makes; people type them.
const maxNewTxCodeLength = 12

// secretBytes is the entropy of NewSecret: 256 bits.
const secretBytes = 32

// NewTxCode returns a numeric Transaction Code of length digits (DefaultTxCodeLength when
// length is 0), drawn uniformly from rnd (crypto/rand when rnd is nil), and the tx_code object
// to put in the offer (input_mode numeric and the length; the caller may add a description
// saying how the code is delivered). length must be 0 or between 4 and 12. Errors come from
// rnd or name a bad length. The code is a secret: deliver it out of band, store only what
// CheckTxCode needs, and never log it.
func NewTxCode(length int, rnd io.Reader) (code string, spec TxCode, err error) {
	if length == 0 {
		length = DefaultTxCodeLength
	}
	if length < 4 || length > maxNewTxCodeLength {
		return "", TxCode{}, fmt.Errorf("oid4vci: tx_code length %d not between 4 and %d", length, maxNewTxCodeLength)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	digits := make([]byte, 0, length)
	buf := make([]byte, length)
	for len(digits) < length {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", TxCode{}, fmt.Errorf("oid4vci: tx_code: reading randomness: %w", err)
		}
		for _, b := range buf {
			// 250 = 25*10: rejecting 250..255 keeps every digit equally likely.
			if b < 250 && len(digits) < length {
				digits = append(digits, '0'+b%10)
			}
		}
	}
	return string(digits), TxCode{InputMode: TxCodeNumeric, Length: length}, nil
}

// CheckTxCode reports whether got, the tx_code of a Token Request, equals want, the code the
// issuer generated, in time that depends only on the lengths. An empty want never matches.
// Limiting guesses (the code is short) is the caller's job.
func CheckTxCode(want, got string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// NewSecret returns 256 random bits from rnd (crypto/rand when rnd is nil) as 43 characters of
// base64url without padding, for opaque pre-authorized codes, access tokens, c_nonces,
// transaction ids and notification ids. Errors come from rnd.
func NewSecret(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("oid4vci: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
