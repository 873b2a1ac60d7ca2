package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// DigestReceipts finds anchor receipts by credential digest. It is an optional ability of the
// AnchorStore (found by type assertion); implementation: issuerstore.
type DigestReceipts interface {
	// ReceiptByDigest returns the stored receipt of the credential whose hex SHA-256 (as
	// issued) is digest, ErrNotAnchored while it is queued, or ErrNotFound.
	ReceiptByDigest(ctx context.Context, digest string) ([]byte, error)
}

// ReceiptByDigest returns the anchor receipt (JSON) of the credential whose SHA-256 as issued
// is digest, for anyone holding the credential: wallets fetch receipts this way after
// receiving a credential, and verifiers may. A receipt carries digests and the ledger's
// anchor operation, no personal data. Errors: ErrInvalidRequest (not a SHA-256 digest),
// ErrNotAnchored while its batch waits, ErrNotFound.
func (s *Service) ReceiptByDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: a digest is %d bytes of SHA-256", ErrInvalidRequest, sha256.Size)
	}
	ds, ok := s.anchors.(DigestReceipts)
	if !ok {
		return nil, ErrNotFound
	}
	return ds.ReceiptByDigest(ctx, hex.EncodeToString(digest))
}
