package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/secret"
)

// Errors of anchoring.
var (
	// ErrNotAnchored is returned for a receipt asked before the credential's batch is anchored.
	ErrNotAnchored = errors.New("credential not anchored yet")
	// ErrLedgerRejected is returned when the ledger refused an operation the issuer signed.
	ErrLedgerRejected = errors.New("the ledger rejected the operation")
)

// Batch is a set of credential digests anchored by one ledger operation.
type Batch struct {
	ID            string
	AgencyID      string
	Op            string // the signed anchor operation
	CredentialIDs []string
	Digests       [][]byte // SHA-256 of each credential as issued, in batch order
}

// AnchorStore is the storage the anchoring batcher needs. Implementation: issuerstore.
type AnchorStore interface {
	// AgenciesWithPending lists agencies with digests not yet in a batch.
	AgenciesWithPending(ctx context.Context) ([]string, error)
	// CreateBatch takes up to max pending digests of the agency, in issuance order, calls sign
	// for the anchor operation and stores the batch, in one transaction. ErrNotFound if none
	// are pending.
	CreateBatch(ctx context.Context, agencyID string, max int, at time.Time, sign func(batchID string, digests [][]byte) (string, error)) (Batch, error)
	// OpenBatches returns the batches created but not completed (after a crash, say).
	OpenBatches(ctx context.Context) ([]Batch, error)
	// ResignBatch replaces the signed anchor operation of an open batch (after a key rotation).
	ResignBatch(ctx context.Context, batchID, op string) error
	// CompleteBatch stores the receipts and marks the batch anchored at leafIndex.
	CompleteBatch(ctx context.Context, batchID string, leafIndex uint64, receipts map[string][]byte) error
	// Receipt returns the stored receipt, ErrNotAnchored while it is queued, or ErrNotFound.
	Receipt(ctx context.Context, agencyID, credentialID string) ([]byte, error)
}

// Ledger is what the issuer needs from the DID ledger.
type Ledger interface {
	// Submit submits a signed operation and waits until the block holding it is committed.
	Submit(ctx context.Context, op string) (ledger.Result, error)
	// Anchor returns the ledger's record of an issuer's anchored batch, or an error wrapping
	// ledger.ErrNotFound.
	Anchor(ctx context.Context, issuer, batch string) (ledger.AnchorRecord, error)
	// Checkpoint returns the newest signed checkpoint.
	Checkpoint(ctx context.Context) ([]byte, error)
	// InclusionProof proves leafIndex in the tree of size treeSize.
	InclusionProof(ctx context.Context, leafIndex, treeSize uint64) ([][]byte, error)
	// Accreditation returns issuer's accreditation for credential type vct in force at at, or
	// an error wrapping ledger.ErrNotAccredited (never, expired or withdrawn).
	Accreditation(ctx context.Context, issuer, vct string, at time.Time) (ledger.Accreditation, error)
}

// NewBatchID returns a fresh batch id (unique per issuer on the ledger).
func NewBatchID() string { return "b-" + secret.String(12) }

// AnchorPending anchors every pending credential digest: for each agency with pending digests
// it makes batches of at most max, signs an anchor operation with the agency's key, submits it,
// and stores each credential's receipt after verifying it. It first finishes batches left open
// by an earlier run (a crash between submit and store), so nothing is anchored twice and
// nothing acknowledged is lost. It returns the number of credentials anchored.
func (s *Service) AnchorPending(ctx context.Context, max int) (int, error) {
	if s.ledger == nil {
		return 0, errors.New("issuer: no ledger configured")
	}
	open, err := s.anchors.OpenBatches(ctx)
	if err != nil {
		return 0, err
	}
	// One agency's trouble (a ledger refusal, a key being rotated) must not hold up the
	// others: failures are collected and the rest carries on.
	n := 0
	var errs []error
	stuck := map[string]bool{} // agencies with an open batch that failed: no new batches now
	for _, b := range open {
		if err := s.completeBatch(ctx, b); err != nil {
			errs = append(errs, err)
			stuck[b.AgencyID] = true
			continue
		}
		n += len(b.Digests)
	}
	agencies, err := s.anchors.AgenciesWithPending(ctx)
	if err != nil {
		return n, errors.Join(append(errs, err)...)
	}
	for _, agencyID := range agencies {
		if stuck[agencyID] {
			continue
		}
		a, key, err := s.agencyKey(ctx, agencyID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for {
			b, err := s.anchors.CreateBatch(ctx, agencyID, max, s.now(), func(batchID string, digests [][]byte) (string, error) {
				op := ledger.NewAnchor(a.DID, merklelog.BatchRoot(digests), uint64(len(digests)), batchID)
				return ledger.SignOp(op, key.Signer(), a.KID)
			})
			if errors.Is(err, ErrNotFound) {
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("batch for %s: %w", agencyID, err))
				break
			}
			if err := s.completeBatch(ctx, b); err != nil {
				errs = append(errs, err)
				break
			}
			n += len(b.Digests)
			if len(b.Digests) < max {
				break
			}
		}
	}
	return n, errors.Join(errs...)
}

// completeBatch submits b's anchor operation (or finds it on the ledger, if an earlier run
// submitted it), builds and verifies every credential's receipt and stores them.
func (s *Service) completeBatch(ctx context.Context, b Batch) error {
	parsed, err := ledger.ParseOp(b.Op)
	if err != nil {
		return fmt.Errorf("batch %s: stored anchor operation: %w", b.ID, err)
	}
	res, err := s.ledger.Submit(ctx, b.Op)
	if err != nil {
		return fmt.Errorf("submit anchor %s: %w", b.ID, err)
	}
	leaf := res.LeafIndex
	switch res.Code {
	case ledger.CodeOK:
	case ledger.CodeDuplicate: // submitted before a crash: find where it landed
		rec, err := s.ledger.Anchor(ctx, parsed.Op.Issuer, b.ID)
		if err != nil {
			return fmt.Errorf("batch %s: %w", b.ID, err)
		}
		leaf = rec.LeafIndex
	case ledger.CodeWrongKey, ledger.CodeBadSignature:
		// Signed with a key the agency no longer has (rotated between signing and
		// submitting): sign the same batch again with the current key and retry once.
		a, key, kerr := s.agencyKey(ctx, b.AgencyID)
		if kerr != nil {
			return kerr
		}
		if parsed.KeyID == a.KID {
			return fmt.Errorf("%w: anchor %s: %s: %s", ErrLedgerRejected, b.ID, res.Code, res.Reason)
		}
		op, serr := ledger.SignOp(parsed.Op, key.Signer(), a.KID)
		if serr != nil {
			return serr
		}
		if err := s.anchors.ResignBatch(ctx, b.ID, op); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "anchor batch re-signed with the agency's new key", "batch", b.ID, "kid", a.KID)
		b.Op = op
		return s.completeBatch(ctx, b)
	default:
		return fmt.Errorf("%w: anchor %s: %s: %s", ErrLedgerRejected, b.ID, res.Code, res.Reason)
	}
	cp, err := s.ledger.Checkpoint(ctx)
	if err != nil {
		return err
	}
	head, err := merklelog.OpenCheckpoint(cp, note.VerifierList(s.ledgerKey))
	if err != nil {
		return fmt.Errorf("ledger checkpoint: %w", err)
	}
	proof, err := s.ledger.InclusionProof(ctx, leaf, head.Size)
	if err != nil {
		return err
	}
	root, batchProofs := merklelog.BatchProofs(b.Digests)
	receipts := make(map[string][]byte, len(b.Digests))
	for i, id := range b.CredentialIDs {
		r := merklelog.Receipt{
			Digest: b.Digests[i], BatchIndex: uint64(i), BatchSize: uint64(len(b.Digests)), BatchProof: batchProofs[i],
			AnchorOp: b.Op, LeafIndex: leaf, TreeSize: head.Size, InclusionProof: proof, Checkpoint: string(cp),
		}
		// Every receipt is checked before it is kept: the first one whole (checkpoint
		// signature, log inclusion, anchor op, batch proof); the others share all of that
		// but their batch proof, which is checked on its own.
		if i == 0 {
			err = merklelog.VerifyDigestReceipt(r, note.VerifierList(s.ledgerKey))
		} else {
			err = merklelog.VerifyInclusion(merklelog.LeafHash(r.Digest), r.BatchIndex, r.BatchSize, r.BatchProof, root)
		}
		if err != nil {
			return fmt.Errorf("receipt for %s does not verify: %w", id, err)
		}
		enc, err := json.Marshal(r)
		if err != nil {
			return err
		}
		receipts[id] = enc
	}
	if err := s.anchors.CompleteBatch(ctx, b.ID, leaf, receipts); err != nil {
		return fmt.Errorf("store receipts of %s: %w", b.ID, err)
	}
	s.log.InfoContext(ctx, "batch anchored", "batch", b.ID, "agency", b.AgencyID, "credentials", len(b.Digests), "leaf", leaf)
	return nil
}

// RunAnchoring anchors pending digests every interval (and batches of at most max) until ctx
// ends. Failures are logged and retried at the next tick.
func (s *Service) RunAnchoring(ctx context.Context, interval time.Duration, max int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.AnchorPending(ctx, max); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "anchoring failed; will retry", "err", err)
			}
		}
	}
}

// Receipt returns the anchor receipt (JSON) of credential id issued by a, ErrNotAnchored while
// its batch waits, or ErrNotFound.
func (s *Service) Receipt(ctx context.Context, a Agency, id string) ([]byte, error) {
	return s.anchors.Receipt(ctx, a.ID, id)
}
