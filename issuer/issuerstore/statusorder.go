package issuerstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

// Each status list hands out its entries in the order of a random permutation of its indexes,
// drawn once from the list's 32-byte order_seed (Fisher–Yates driven by ChaCha8): the k-th
// entry handed out is perm[k]. Indexes so reveal nothing of the order of issuance (the reason
// they are random at all), and allocating n entries is one UPDATE of the list's used counter:
// no probing for free indexes, no collisions to retry.

// orders caches the permutations of the lists entries are being handed out from.
type orders struct {
	mu sync.Mutex
	m  map[string][]int32 // list id → permutation
}

// perm returns the permutation of list id, computing it from seed on first use.
func (o *orders) perm(id string, seed []byte, size int) ([]int32, error) {
	if len(seed) != 32 {
		return nil, fmt.Errorf("status list %s: order seed of %d bytes", id, len(seed))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if p, ok := o.m[id]; ok && len(p) == size {
		return p, nil
	}
	p := permutation([32]byte(seed), size)
	if o.m == nil || len(o.m) > 64 { // only open lists are asked for: a few per agency
		o.m = map[string][]int32{}
	}
	o.m[id] = p
	return p, nil
}

// permutation returns a uniformly random permutation of [0, size) determined by seed.
func permutation(seed [32]byte, size int) []int32 {
	p := make([]int32, size)
	for i := range p {
		p[i] = int32(i)
	}
	r := mrand.New(mrand.NewChaCha8(seed))
	for i := size - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// reserveStatuses hands out n entries of the agency's status lists, starting new lists as
// they fill, in tx. The caller stores a credential_status row for each entry it uses; an
// entry reserved and not used stays unused for good.
func (s *Store) reserveStatuses(ctx context.Context, tx *sql.Tx, agencyID string, n int, now time.Time) ([]issuer.StatusEntry, error) {
	out := make([]issuer.StatusEntry, 0, n)
	for len(out) < n {
		var id string
		var size, used int
		var seed []byte
		err := tx.QueryRowContext(ctx, `SELECT id, size, used, order_seed FROM status_lists
			WHERE agency_id = ? AND used < size AND order_seed IS NOT NULL ORDER BY rowid LIMIT 1`, agencyID).Scan(&id, &size, &used, &seed)
		if errors.Is(err, sql.ErrNoRows) {
			id, size, used, seed = issuer.NewStatusListID(), issuer.StatusListSize, 0, make([]byte, 32)
			rand.Read(seed)
			_, err = tx.ExecContext(ctx, `INSERT INTO status_lists(id, agency_id, size, bits, order_seed, created_at) VALUES (?,?,?,?,?,?)`,
				id, agencyID, size, issuer.StatusListBits, seed, now.Unix())
		}
		if err != nil {
			return nil, err
		}
		perm, err := s.orders.perm(id, seed, size)
		if err != nil {
			return nil, err
		}
		k := min(n-len(out), size-used)
		for _, idx := range perm[used : used+k] {
			out = append(out, issuer.StatusEntry{List: id, Index: int(idx)})
		}
		if _, err := tx.ExecContext(ctx, `UPDATE status_lists SET used = used + ? WHERE id = ?`, k, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReserveStatusEntries implements issuer.BatchStore.
func (s *Store) ReserveStatusEntries(ctx context.Context, agencyID string, n int) ([]issuer.StatusEntry, error) {
	var out []issuer.StatusEntry
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		out, err = s.reserveStatuses(ctx, tx, agencyID, n, time.Now())
		return err
	})
	return out, err
}
