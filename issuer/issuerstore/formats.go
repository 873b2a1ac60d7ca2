package issuerstore

import (
	"context"
	"database/sql"
	"sort"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.FormatStore = (*Store)(nil)

// SaveCredentialFormats implements issuer.FormatStore: every format is inserted in one
// transaction, and a format already stored for the credential is kept unchanged.
func (s *Store) SaveCredentialFormats(ctx context.Context, id string, sealed map[string][]byte) error {
	formats := make([]string, 0, len(sealed))
	for f := range sealed {
		formats = append(formats, f)
	}
	sort.Strings(formats) // a stable statement order
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		for _, f := range formats {
			if _, err := tx.ExecContext(ctx, `INSERT INTO credential_formats(credential_id, format, sealed) VALUES (?,?,?)
				ON CONFLICT (credential_id, format) DO NOTHING`, id, f, sealed[f]); err != nil {
				return err
			}
		}
		return nil
	})
}

// CredentialFormats implements issuer.FormatStore.
func (s *Store) CredentialFormats(ctx context.Context, id string) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT format, sealed FROM credential_formats WHERE credential_id = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var f string
		var b []byte
		if err := rows.Scan(&f, &b); err != nil {
			return nil, err
		}
		out[f] = b
	}
	return out, rows.Err()
}
