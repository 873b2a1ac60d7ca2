package server

import (
	"bytes"
	"context"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/verifier"
)

// anchoredStatusLists serves the verifier cached status lists only while the ledger holds no
// newer publication: a cached list whose digest is not the ledger's newest for its URI is
// fetched again, so a revocation anchored a moment ago is seen at once. Lists the ledger does
// not know are served from the cache as they are.
type anchoredStatusLists struct {
	fetch  *verifier.StatusFetcher
	ledger *ledger.Ledger
}

// StatusList implements verifier.StatusLists.
func (a anchoredStatusLists) StatusList(ctx context.Context, uri string) ([]byte, error) {
	b, err := a.fetch.StatusList(ctx, uri)
	if err != nil {
		return nil, err
	}
	rec, err := a.ledger.StatusList(ctx, uri)
	if err != nil || bytes.Equal(rec.Digest, statuslist.Digest(b)) {
		return b, nil
	}
	return a.fetch.Refetch(ctx, uri)
}

// StatusEvents returns how many status changes of credential id the issuer audited, for tests
// that assert a rejected change left no trace.
func (s *Server) StatusEvents(ctx context.Context, id string) (int, error) {
	return s.issuerDB.StatusEvents(ctx, id)
}
