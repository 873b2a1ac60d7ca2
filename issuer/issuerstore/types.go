package issuerstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.TypeStore = (*Store)(nil)

// SaveType implements issuer.TypeStore.
func (s *Store) SaveType(ctx context.Context, t issuer.RuntimeType, e issuer.AuditEntry) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO agency_types(name, vct, agency_id, file_name, file, created_at) VALUES (?,?,?,?,?,?)`,
			t.Name, t.VCT, t.AgencyID, t.FileName, t.File, t.CreatedAt.Unix())
		if sqlitedb.IsUniqueViolation(err) {
			return fmt.Errorf("%w: %s", issuer.ErrTypeExists, t.Name)
		}
		if err != nil {
			return err
		}
		var raw string
		if err := tx.QueryRowContext(ctx, `SELECT types FROM agencies WHERE id = ?`, t.AgencyID).Scan(&raw); err != nil {
			return fmt.Errorf("agency %s: %w", t.AgencyID, err)
		}
		var types []string
		if err := json.Unmarshal([]byte(raw), &types); err != nil {
			return fmt.Errorf("agency %s: types: %w", t.AgencyID, err)
		}
		if !slices.Contains(types, t.Name) {
			types = append(types, t.Name)
		}
		b, err := json.Marshal(types)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agencies SET types = ? WHERE id = ?`, string(b), t.AgencyID); err != nil {
			return err
		}
		return insertAudit(ctx, tx, e)
	})
}

// RuntimeTypes implements issuer.TypeStore.
func (s *Store) RuntimeTypes(ctx context.Context) ([]issuer.RuntimeType, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT agency_id, name, vct, file_name, file, created_at FROM agency_types ORDER BY created_at, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []issuer.RuntimeType
	for rows.Next() {
		var t issuer.RuntimeType
		var created int64
		if err := rows.Scan(&t.AgencyID, &t.Name, &t.VCT, &t.FileName, &t.File, &created); err != nil {
			return nil, err
		}
		t.CreatedAt = time.Unix(created, 0).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}
