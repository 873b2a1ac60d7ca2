package ledgerstore

import (
	"context"
	"fmt"
)

// TrustIssuers returns every issuer that has an accredit or withdraw record, sorted.
func (s *Store) TrustIssuers(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT issuer FROM trust WHERE kind = 'accredit' ORDER BY issuer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Versions returns every version of id in order (seq 1 first); none for an unknown DID.
func (s *Store) Versions(ctx context.Context, id string) ([]Version, error) {
	rows, err := s.query(ctx, `SELECT `+versionColumns+` FROM did_versions WHERE did = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows, "version of "+id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// IssuerStatuses returns the newest status record of every list issuer published, by list.
func (s *Store) IssuerStatuses(ctx context.Context, issuer string) ([]Status, error) {
	rows, err := s.query(ctx, `SELECT list, MAX(seq), digest, leaf_index, height FROM statuses WHERE issuer = ? GROUP BY list ORDER BY list`, issuer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		st := Status{Issuer: issuer}
		var seq, leaf, h int64
		if err := rows.Scan(&st.List, &seq, &st.Digest, &leaf, &h); err != nil {
			return nil, fmt.Errorf("status lists of %s: %w", issuer, err)
		}
		st.Seq, st.Leaf, st.Height = uint64(seq), uint64(leaf), uint64(h)
		out = append(out, st)
	}
	return out, rows.Err()
}
