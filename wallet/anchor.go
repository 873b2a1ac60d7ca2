package wallet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/sdjwt"
)

// Anchor receipts of held credentials. An issuer anchors the SHA-256 of each credential as
// issued in a batch whose Merkle root goes on the DID ledger; the receipt proves that, offline,
// up to a checkpoint signed by the ledger. Anchoring is batched, so a credential is usually
// received before it is anchored: the wallet keeps it as "pending" and a background pass
// (RunAnchorReceipts, FetchAnchorReceipts) asks for its receipt by digest, with backoff, until
// it has one that verifies or gives up.

// The states of a held credential's anchor receipt (AnchorStatus.State).
const (
	// AnchorPending: no verified receipt yet; the wallet will ask again at NextAttemptAt.
	AnchorPending = "pending"
	// AnchorAnchored: the receipt was fetched and verified to a signed ledger checkpoint.
	AnchorAnchored = "anchored"
	// AnchorNotAnchored: no receipt that verifies came within AnchorConfig.GiveUpAfter (an
	// issuer that does not anchor on this ledger, say); the wallet no longer asks.
	AnchorNotAnchored = "not_anchored"
)

// ReceiptSource finds anchor receipts by credential digest: the issuer's receipt archive
// (issuer.Service.ReceiptByDigest in one process, GET /issuer/v1/receipts/{digest} over HTTP).
type ReceiptSource interface {
	// Receipt returns the anchor receipt (the JSON of merklelog.Receipt) of the credential
	// whose SHA-256 is digest, or an error wrapping ErrNotFound while there is none (not yet
	// anchored, or never: an issuer that does not anchor here). Other errors are faults; the
	// wallet tries again later. The wallet verifies the receipt itself.
	Receipt(ctx context.Context, digest []byte) ([]byte, error)
}

// AnchorConfig configures fetching anchor receipts. Without Receipts and LedgerKeys the
// wallet fetches none and every credential stays pending.
type AnchorConfig struct {
	Receipts ReceiptSource
	// LedgerKeys verify the ledger's signed checkpoints in receipts.
	LedgerKeys note.Verifiers
	// Interval is how often RunAnchorReceipts looks for due credentials; 1 s when zero.
	Interval time.Duration
	// Backoff is the wait after the first attempt that found no receipt; it doubles with each
	// further attempt up to MaxBackoff. 2 s and 1 h when zero.
	Backoff, MaxBackoff time.Duration
	// GiveUpAfter: a credential without a verified receipt this long after it was stored is
	// marked AnchorNotAnchored; 7 days when zero.
	GiveUpAfter time.Duration
	// Batch is how many credentials one pass handles at most; 100 when zero.
	Batch int
}

func (c AnchorConfig) withDefaults() AnchorConfig {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = 2 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = 7 * 24 * time.Hour
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	return c
}

// anchorRunner is the wallet's receipt fetching: its configuration and a lock so that one
// pass runs at a time.
type anchorRunner struct {
	cfg AnchorConfig
	mu  sync.Mutex
}

func newAnchorRunner(cfg AnchorConfig) *anchorRunner {
	return &anchorRunner{cfg: cfg.withDefaults()}
}

// AnchorStatus is where a held credential's anchor receipt stands, as the app sees it.
type AnchorStatus struct {
	State string `json:"state"`
	// Attempts is how many times the wallet asked for the receipt.
	Attempts int `json:"attempts"`
	// NextAttemptAt is when the wallet asks again (pending only).
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// VerifiedAt is when the receipt was verified (anchored only).
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	// Log, LeafIndex and TreeSize say where the anchor operation is: the ledger log's origin,
	// the operation's leaf, and the size of the signed checkpoint it was proven under.
	Log       string  `json:"log,omitempty"`
	LeafIndex *uint64 `json:"leaf_index,omitempty"`
	TreeSize  uint64  `json:"tree_size,omitempty"`
	// Reason says why the last attempt did not succeed.
	Reason string `json:"reason,omitempty"`
	// Receipt is the verified receipt itself (merklelog JSON), for a verifier that checks
	// anchors offline; only in a single credential's detail.
	Receipt json.RawMessage `json:"receipt,omitempty"`
}

// AnchorRecord is a credential's anchor state as stored: AnchorStatus with the sealed
// receipt.
type AnchorRecord struct {
	State         string
	Attempts      int
	NextAttemptAt time.Time // zero unless pending
	VerifiedAt    time.Time // zero unless anchored
	Log           string
	LeafIndex     uint64
	TreeSize      uint64
	Reason        string
	SealedReceipt []byte // sealed with the citizen's data key; nil unless anchored
}

// AnchorDue is a held credential whose receipt is due to be asked for.
type AnchorDue struct {
	CitizenID    string
	CredentialID string
	Digest       string // hex SHA-256 of the credential as issued
	Issuer       string
	StoredAt     time.Time
	Attempts     int
}

// AnchorStore keeps the anchor state of held credentials. It is an optional ability of the
// Store (found by type assertion); implementation: walletstore. Without it, credentials have
// no anchor status and no receipts are fetched.
type AnchorStore interface {
	// DueAnchors lists at most max held credentials whose receipt is due at now: never asked
	// for, or pending with a next attempt no later than now; the longest waiting first.
	DueAnchors(ctx context.Context, now time.Time, max int) ([]AnchorDue, error)
	// SaveAnchor records a credential's anchor state. It never replaces an anchored state
	// (a late, failed attempt cannot undo a verified receipt) and stores nothing for a
	// credential that is no longer held.
	SaveAnchor(ctx context.Context, citizenID, credentialID string, r AnchorRecord) error
	// Anchor returns a credential's anchor state, or ErrNotFound when the wallet has not
	// asked for its receipt yet.
	Anchor(ctx context.Context, citizenID, credentialID string) (AnchorRecord, error)
}

func receiptAAD(citizenID, credID string) []byte {
	return []byte(citizenID + "/" + credID + "/anchor-receipt")
}

// RunAnchorReceipts runs FetchAnchorReceipts every AnchorConfig.Interval until ctx ends.
// Faults are logged and retried at the next tick.
func (s *Service) RunAnchorReceipts(ctx context.Context) {
	if !s.anchoring() {
		return
	}
	t := time.NewTicker(s.anchors.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.FetchAnchorReceipts(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "fetching anchor receipts failed; will retry", "err", err)
			}
		}
	}
}

// anchoring reports whether the wallet can fetch and verify receipts.
func (s *Service) anchoring() bool {
	_, ok := s.store.(AnchorStore)
	return ok && s.anchors.cfg.Receipts != nil && s.anchors.cfg.LedgerKeys != nil
}

// FetchAnchorReceipts makes one pass over the held credentials whose receipt is due (by the
// injected clock): it asks the ReceiptSource for each by digest, verifies a receipt it gets
// against the credential's bytes and the ledger's checkpoint keys (and that the batch was
// anchored by the credential's issuer), and stores it sealed with the credential; one it does
// not get, or that does not verify, is asked for again after a backoff that doubles up to
// MaxBackoff, until GiveUpAfter. It returns how many receipts it stored. One pass runs at a
// time. Errors are storage faults; a ReceiptSource fault only delays that credential.
func (s *Service) FetchAnchorReceipts(ctx context.Context) (int, error) {
	if !s.anchoring() {
		return 0, nil
	}
	as := s.store.(AnchorStore)
	s.anchors.mu.Lock()
	defer s.anchors.mu.Unlock()
	now := s.now().UTC()
	due, err := as.DueAnchors(ctx, now, s.anchors.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("due anchors: %w", err)
	}
	n := 0
	var errs []error
	for _, d := range due {
		rec, err := s.fetchReceipt(ctx, d, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := as.SaveAnchor(ctx, d.CitizenID, d.CredentialID, rec); err != nil {
			errs = append(errs, fmt.Errorf("save anchor of %s: %w", d.CredentialID, err))
			continue
		}
		if rec.State == AnchorAnchored {
			n++
			s.log.InfoContext(ctx, "anchor receipt verified", "citizen", d.CitizenID, "credential", d.CredentialID, "leaf", rec.LeafIndex)
		}
	}
	return n, errors.Join(errs...)
}

// fetchReceipt makes one attempt for d and returns the state to store. Errors are faults of
// the wallet's own storage or keys.
func (s *Service) fetchReceipt(ctx context.Context, d AnchorDue, now time.Time) (AnchorRecord, error) {
	cfg := s.anchors.cfg
	attempts := d.Attempts + 1
	retry := func(reason string) (AnchorRecord, error) {
		if now.Sub(d.StoredAt) >= cfg.GiveUpAfter {
			return AnchorRecord{State: AnchorNotAnchored, Attempts: attempts, Reason: reason}, nil
		}
		wait := cfg.Backoff
		for i := 1; i < attempts && wait < cfg.MaxBackoff; i++ {
			wait *= 2
		}
		wait = min(wait, cfg.MaxBackoff)
		return AnchorRecord{State: AnchorPending, Attempts: attempts, NextAttemptAt: now.Add(wait), Reason: reason}, nil
	}
	digest, err := hex.DecodeString(d.Digest)
	if err != nil {
		return retry("stored digest is not hex")
	}
	raw, err := cfg.Receipts.Receipt(ctx, digest)
	switch {
	case errors.Is(err, ErrNotFound):
		return retry("the issuer has not anchored it yet")
	case err != nil:
		s.log.WarnContext(ctx, "anchor receipt source failed", "credential", d.CredentialID, "err", err)
		return retry("the receipt could not be fetched")
	}
	cr, sealed, err := s.store.Credential(ctx, d.CitizenID, d.CredentialID)
	if err != nil {
		return AnchorRecord{}, fmt.Errorf("credential %s: %w", d.CredentialID, err)
	}
	cred, err := s.openCredential(ctx, d.CitizenID, cr, sealed)
	if err != nil {
		return AnchorRecord{}, fmt.Errorf("open credential %s: %w", d.CredentialID, err)
	}
	cp, rc, err := verifyReceipt(raw, cred, cr.Issuer, cfg.LedgerKeys)
	if err != nil {
		s.log.WarnContext(ctx, "anchor receipt does not verify", "credential", d.CredentialID, "err", err)
		return retry("the receipt does not verify: " + err.Error())
	}
	sealer, err := s.citizenSealer(ctx, d.CitizenID)
	if err != nil {
		return AnchorRecord{}, err
	}
	return AnchorRecord{State: AnchorAnchored, Attempts: attempts, VerifiedAt: now.Truncate(time.Second), Log: cp.Origin,
		LeafIndex: rc.LeafIndex, TreeSize: cp.Size, SealedReceipt: sealer.Seal(raw, receiptAAD(d.CitizenID, d.CredentialID))}, nil
}

// verifyReceipt checks raw, a receipt, for the credential bytes cred issued by issuer: every
// check of merklelog.VerifyReceipt against the ledger's keys, and that the anchor operation
// (which the ledger accepted only when signed by its issuer) names issuer.
func verifyReceipt(raw, cred []byte, issuer string, keys note.Verifiers) (merklelog.Checkpoint, merklelog.Receipt, error) {
	rc, err := merklelog.ParseReceipt(raw)
	if err != nil {
		return merklelog.Checkpoint{}, rc, err
	}
	cp, err := merklelog.VerifyReceipt(rc, sdjwt.AnchoredForm(string(cred)), keys)
	if err != nil {
		return merklelog.Checkpoint{}, rc, err
	}
	op, err := ledger.ParseOp(rc.AnchorOp)
	if err != nil {
		return merklelog.Checkpoint{}, rc, fmt.Errorf("anchor operation: %w", err)
	}
	if op.Op.Type != ledger.TypeAnchor || op.Op.Issuer != issuer {
		return merklelog.Checkpoint{}, rc, fmt.Errorf("the batch was anchored by %q, not by the issuer %s", op.Op.Issuer, issuer)
	}
	return cp, rc, nil
}

// anchorStatus returns the anchor status of credential id of citizenID (with the receipt
// when withReceipt), or nil when the store keeps none.
func (s *Service) anchorStatus(ctx context.Context, citizenID, id string, withReceipt bool) (*AnchorStatus, error) {
	as, ok := s.store.(AnchorStore)
	if !ok {
		return nil, nil
	}
	r, err := as.Anchor(ctx, citizenID, id)
	if errors.Is(err, ErrNotFound) {
		return &AnchorStatus{State: AnchorPending}, nil
	}
	if err != nil {
		return nil, err
	}
	st := &AnchorStatus{State: r.State, Attempts: r.Attempts, Reason: r.Reason, Log: r.Log, TreeSize: r.TreeSize}
	switch r.State {
	case AnchorPending:
		t := r.NextAttemptAt
		st.NextAttemptAt = &t
	case AnchorAnchored:
		t, leaf := r.VerifiedAt, r.LeafIndex
		st.VerifiedAt, st.LeafIndex = &t, &leaf
		if withReceipt && r.SealedReceipt != nil {
			sealer, err := s.citizenSealer(ctx, citizenID)
			if err != nil {
				return nil, err
			}
			b, err := sealer.Open(r.SealedReceipt, receiptAAD(citizenID, id))
			if err != nil {
				return nil, fmt.Errorf("open anchor receipt of %s: %w", id, err)
			}
			st.Receipt = b
		}
	}
	return st, nil
}

// CredentialDetail returns one of c's credentials (metadata) with the state of its anchor
// receipt, and the receipt once it is verified. A credential bound to one of c's holder keys
// on the phone comes with that key's id and its text (Text), which the app caches to show it
// offline; a wallet-held one without its text (the app could not sign for it anyway).
// Errors: ErrNotFound.
func (s *Service) CredentialDetail(ctx context.Context, c Citizen, id string) (Credential, error) {
	cr, err := s.Credential(ctx, c, id)
	if err != nil {
		return Credential{}, err
	}
	raw := cr.Raw
	cr.Raw = ""
	switch hk, onDevice, err := s.credentialKey(ctx, c, raw); {
	case errors.Is(err, ErrNotBound): // its holder key was removed: nothing to show it with
	case err != nil:
		return Credential{}, err
	case onDevice:
		cr.HolderKey, cr.Text = hk.ID, raw
	}
	if cr.Anchor, err = s.anchorStatus(ctx, c.ID, id, true); err != nil {
		return Credential{}, err
	}
	return cr, nil
}
