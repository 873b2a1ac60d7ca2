package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/verifier"
)

// auditor lets the root authority (the ledger operator) read the verifier's records: the
// bearer must be its token.
func (s *Server) auditor(ctx context.Context, token string) error {
	return s.rootAuthority(ctx, token, "reads verification records")
}

// serviceAdmin lets the root authority register online services and manage their tokens.
func (s *Server) serviceAdmin(ctx context.Context, token string) error {
	return s.rootAuthority(ctx, token, "administers verifier services")
}

// rootAuthority accepts only the root authority's token; what names the refused action.
func (s *Server) rootAuthority(ctx context.Context, token, what string) error {
	a, err := s.Issuer.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	if a.DID != s.Ledger.RootAuthority() {
		return fmt.Errorf("%w: only the root authority %s", problem.ErrForbidden, what)
	}
	return nil
}

// issuerAnchors is the verifier's online source of anchor receipts: the issuer in this
// process, which keeps every receipt by the digest of the credential as issued. Another
// deployment would use the same lookup over HTTP (GET /issuer/v1/receipts/{digest}).
type issuerAnchors struct{ issuer *issuer.Service }

// Receipt implements verifier.Anchors.
func (a issuerAnchors) Receipt(ctx context.Context, digest []byte) ([]byte, error) {
	b, err := a.issuer.ReceiptByDigest(ctx, digest)
	if errors.Is(err, issuer.ErrNotFound) || errors.Is(err, issuer.ErrNotAnchored) || errors.Is(err, issuer.ErrInvalidRequest) {
		return nil, fmt.Errorf("%w: %v", verifier.ErrNotFound, err)
	}
	return b, err
}
