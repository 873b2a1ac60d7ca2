package issuerstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"

	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.DigestReceipts = (*Store)(nil)

// ReceiptByDigest implements issuer.DigestReceipts.
func (s *Store) ReceiptByDigest(ctx context.Context, digest string) ([]byte, error) {
	raw, err := hex.DecodeString(digest)
	if err != nil {
		return nil, issuer.ErrNotFound
	}
	var r []byte
	err = s.db.QueryRowContext(ctx, `SELECT receipt FROM receipts WHERE digest = ? ORDER BY credential_id LIMIT 1`, raw).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		// Waiting to be anchored? anchor_queue holds only the credentials not anchored yet.
		var queued int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM anchor_queue WHERE digest = ?`, raw).Scan(&queued); err != nil {
			return nil, err
		}
		if queued > 0 {
			return nil, issuer.ErrNotAnchored
		}
		return nil, issuer.ErrNotFound
	}
	return r, err
}
