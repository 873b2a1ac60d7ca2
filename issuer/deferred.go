package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ezheng/ezheng/internal/oid4vci"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// Errors of deferred issuance (OpenID4VCI 1.0 §9). The HTTP layer answers the wallet-facing
// ones as OAuth error codes (invalid_transaction_id, credential_request_denied).
var (
	// ErrInvalidTransactionID: the transaction id is unknown, collected, expired, or not the
	// access token's.
	ErrInvalidTransactionID = errors.New("unknown, collected or expired transaction id")
	// ErrCredentialDenied: an officer rejected the request; the wallet must not retry.
	ErrCredentialDenied = errors.New("the credential request was rejected by an officer")
	// ErrAlreadyDecided: the pending issuance was approved or rejected already, the other way.
	ErrAlreadyDecided = errors.New("the pending issuance was already decided")
)

// Deferred issuance settings.
const (
	// DeferredInterval is the interval the wallet is told to wait between polls.
	DeferredInterval = 60 * time.Second
	// DeferredLifetime is how long a deferred transaction can be approved and collected; the
	// access token that made the request stays usable at the deferred endpoint (only) for as
	// long.
	DeferredLifetime = 30 * 24 * time.Hour
	// MaxRejectReason bounds an officer's rejection reason.
	MaxRejectReason = 500
)

// States of a deferred transaction.
const (
	DeferredPending   = "pending"
	DeferredApproved  = "approved"
	DeferredRejected  = "rejected"
	DeferredCollected = "collected"
)

// PendingHolder is one proof of a deferred credential request: the holder the credential will
// be bound to, and (once approved) the credential issued to it.
type PendingHolder struct {
	DID          string // did:jwk of the proven key
	Thumbprint   string // base64url JWK SHA-256 thumbprint, part of the idempotency key
	CredentialID string // "" until approved
}

// DeferredRecord is a stored deferred issuance: one transaction per offer, one holder per
// proof. Only the SHA-256 hash of the transaction id is stored.
type DeferredRecord struct {
	TransactionHash []byte
	OfferID         string
	AgencyID        string // the offer's agency (read, not stored)
	Type            string // the offer's type (read, not stored)
	State           string // pending, approved, rejected, collected
	Reason          string // the officer's reason for a rejection
	Interval        time.Duration
	Holders         []PendingHolder
	CreatedAt       time.Time
	DecidedAt       time.Time // zero while pending
	ExpiresAt       time.Time
}

// DeferredStore keeps deferred issuances. It is an optional ability of the OfferStore
// (found by type assertion); implementation: issuerstore. Without it, every type issues at once.
type DeferredStore interface {
	// SaveDeferred stores a new pending transaction with its holders.
	SaveDeferred(ctx context.Context, d DeferredRecord) error
	// Deferred returns the transaction with this id hash, or ErrNotFound.
	Deferred(ctx context.Context, txHash []byte) (DeferredRecord, error)
	// DeferredByOffer returns the transaction of an offer, or ErrNotFound.
	DeferredByOffer(ctx context.Context, offerID string) (DeferredRecord, error)
	// PendingDeferred lists the agency's pending, unexpired transactions, oldest first.
	PendingDeferred(ctx context.Context, agencyID string, now time.Time) ([]DeferredRecord, error)
	// DecideDeferred moves a pending transaction to state (approved or rejected) with the
	// holders' credential ids or the reason, in one transaction. It returns ErrAlreadyDecided
	// if the transaction is no longer pending.
	DecideDeferred(ctx context.Context, offerID, state, reason string, holders []PendingHolder, at time.Time) error
	// CollectDeferred moves an approved transaction to collected, records the notification id
	// and marks the offer issued, in one transaction; ErrInvalidTransactionID if it was not
	// approved (collected concurrently, for one).
	CollectDeferred(ctx context.Context, txHash []byte, notificationID string, at time.Time) error
}

// PendingOffer is what an officer sees of a pending issuance: no claims, no holder.
type PendingOffer struct {
	OfferID     string    `json:"offer_id"`
	Type        string    `json:"type"`
	Credentials int       `json:"credentials"` // how many credentials approval issues
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Decision is the outcome of an officer's approval or rejection.
type Decision struct {
	OfferID       string    `json:"offer_id"`
	State         string    `json:"state"`
	CredentialIDs []string  `json:"credential_ids,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	DecidedAt     time.Time `json:"decided_at"`
}

func (s *Service) deferredStore() (DeferredStore, bool) {
	ds, ok := s.offers.(DeferredStore)
	return ds, ok
}

// needsApproval reports whether offers of typeName are deferred until an officer approves.
func (s *Service) needsApproval(ctx context.Context, typeName string) bool {
	if _, ok := s.deferredStore(); !ok {
		return false
	}
	t, err := s.anyType(ctx, typeName)
	return err == nil && t.Approval == credtype.ApprovalOfficer
}

// deferIssuance stores a pending transaction for offer o and its checked holders and answers
// the wallet with the transaction id and interval (§8.3, HTTP 202).
func (s *Service) deferIssuance(ctx context.Context, o OfferRecord, holders []PendingHolder, now time.Time) (oid4vci.CredentialResponse, error) {
	ds, _ := s.deferredStore()
	tx, err := oid4vci.NewSecret(nil)
	if err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	now = now.Truncate(time.Second)
	d := DeferredRecord{TransactionHash: hashSecret(tx), OfferID: o.ID, State: DeferredPending, Interval: DeferredInterval,
		Holders: holders, CreatedAt: now, ExpiresAt: now.Add(DeferredLifetime)}
	if err := ds.SaveDeferred(ctx, d); err != nil {
		return oid4vci.CredentialResponse{}, fmt.Errorf("save deferred issuance: %w", err)
	}
	s.log.InfoContext(ctx, "credential issuance deferred for an officer's approval", "offer", o.ID, "type", o.Type, "count", len(holders))
	return oid4vci.CredentialResponse{TransactionID: tx, Interval: int(DeferredInterval / time.Second)}, nil
}

// PendingOffers lists agency a's deferred issuances waiting for an officer, oldest first,
// without claims or holders.
func (s *Service) PendingOffers(ctx context.Context, a Agency) ([]PendingOffer, error) {
	ds, ok := s.deferredStore()
	if !ok {
		return []PendingOffer{}, nil
	}
	list, err := ds.PendingDeferred(ctx, a.ID, s.now().UTC())
	if err != nil {
		return nil, err
	}
	out := make([]PendingOffer, 0, len(list))
	for _, d := range list {
		out = append(out, PendingOffer{OfferID: d.OfferID, Type: d.Type, Credentials: len(d.Holders), CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt})
	}
	return out, nil
}

// agencyDeferred returns the deferred issuance of offerID if agency a made the offer;
// another agency's offer is ErrNotFound, as is an expired one.
func (s *Service) agencyDeferred(ctx context.Context, a Agency, offerID string) (DeferredStore, DeferredRecord, error) {
	ds, ok := s.deferredStore()
	if !ok {
		return nil, DeferredRecord{}, ErrNotFound
	}
	d, err := ds.DeferredByOffer(ctx, offerID)
	if err != nil {
		return nil, DeferredRecord{}, err
	}
	if d.AgencyID != a.ID {
		return nil, DeferredRecord{}, ErrNotFound
	}
	return ds, d, nil
}

// ApproveOffer issues the credentials of agency a's pending issuance for offer offerID, one
// per proven holder key, with the offer's claims; the wallet collects them at the deferred
// endpoint. It is idempotent: approving again returns the same decision. Errors: ErrNotFound
// (unknown offer, another agency's, nothing pending, expired), ErrAlreadyDecided (rejected),
// and Issue's errors.
func (s *Service) ApproveOffer(ctx context.Context, a Agency, offerID string) (Decision, error) {
	ds, d, err := s.agencyDeferred(ctx, a, offerID)
	if err != nil {
		return Decision{}, err
	}
	switch d.State {
	case DeferredApproved, DeferredCollected:
		return decision(d), nil
	case DeferredRejected:
		return Decision{}, fmt.Errorf("%w: it was rejected", ErrAlreadyDecided)
	}
	now := s.now().UTC()
	if !now.Before(d.ExpiresAt) {
		return Decision{}, ErrNotFound
	}
	o, err := s.offers.Offer(ctx, offerID)
	if err != nil {
		return Decision{}, err
	}
	raw, err := s.sealer.Open(o.SealedClaims, []byte(o.ID))
	if err != nil {
		return Decision{}, fmt.Errorf("open offer %s: %w", o.ID, err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return Decision{}, err
	}
	// The same idempotency keys as immediate issuance: an approval retried after a crash
	// between issuing and recording it returns the credentials issued the first time.
	holders := append([]PendingHolder(nil), d.Holders...)
	for i, h := range holders {
		c, _, err := s.Issue(ctx, a, IssueRequest{Type: o.Type, Holder: h.DID, Claims: claims, IdempotencyKey: "oid4vci/" + o.ID + "/" + h.Thumbprint})
		if err != nil {
			return Decision{}, fmt.Errorf("approve offer %s: %w", o.ID, err)
		}
		holders[i].CredentialID = c.ID
	}
	if err := ds.DecideDeferred(ctx, offerID, DeferredApproved, "", holders, now); err != nil {
		if errors.Is(err, ErrAlreadyDecided) {
			// A concurrent decision won; report what it was.
			if d, err2 := ds.DeferredByOffer(ctx, offerID); err2 == nil && d.State != DeferredRejected {
				return decision(d), nil
			}
		}
		return Decision{}, err
	}
	s.log.InfoContext(ctx, "deferred issuance approved", "agency", a.ID, "offer", offerID, "count", len(holders))
	d.State, d.Holders, d.DecidedAt = DeferredApproved, holders, now.Truncate(time.Second)
	return decision(d), nil
}

// RejectOffer refuses agency a's pending issuance for offer offerID with a reason the wallet is
// not told (it learns only credential_request_denied). Rejecting again is idempotent. Errors:
// ErrNotFound (as ApproveOffer), ErrAlreadyDecided (approved), ErrInvalidRequest (reason
// missing or longer than MaxRejectReason).
func (s *Service) RejectOffer(ctx context.Context, a Agency, offerID, reason string) (Decision, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > MaxRejectReason {
		return Decision{}, fmt.Errorf("%w: a reason of 1 to %d bytes is required", ErrInvalidRequest, MaxRejectReason)
	}
	ds, d, err := s.agencyDeferred(ctx, a, offerID)
	if err != nil {
		return Decision{}, err
	}
	switch d.State {
	case DeferredRejected:
		return decision(d), nil
	case DeferredApproved, DeferredCollected:
		return Decision{}, fmt.Errorf("%w: it was approved", ErrAlreadyDecided)
	}
	now := s.now().UTC()
	if !now.Before(d.ExpiresAt) {
		return Decision{}, ErrNotFound
	}
	if err := ds.DecideDeferred(ctx, offerID, DeferredRejected, reason, nil, now); err != nil {
		return Decision{}, err
	}
	s.log.InfoContext(ctx, "deferred issuance rejected", "agency", a.ID, "offer", offerID)
	d.State, d.Reason, d.DecidedAt = DeferredRejected, reason, now.Truncate(time.Second)
	return decision(d), nil
}

func decision(d DeferredRecord) Decision {
	out := Decision{OfferID: d.OfferID, State: d.State, Reason: d.Reason, DecidedAt: d.DecidedAt}
	if d.State == DeferredApproved || d.State == DeferredCollected {
		for _, h := range d.Holders {
			out.CredentialIDs = append(out.CredentialIDs, h.CredentialID)
		}
	}
	return out
}

// DeferredCredential answers a Deferred Credential Request (OpenID4VCI 1.0 §9) made with the
// access token that made the deferred Credential Request: the credentials and a notification
// id once an officer approved (the transaction is then used up), or the same transaction id
// and interval while it is pending (check Deferred() on the response: HTTP 202). Errors:
// ErrInvalidToken (unknown token), ErrInvalidTransactionID (unknown, another token's,
// collected or expired), ErrCredentialDenied (rejected).
func (s *Service) DeferredCredential(ctx context.Context, accessToken string, req *oid4vci.DeferredCredentialRequest) (oid4vci.CredentialResponse, error) {
	ds, ok := s.deferredStore()
	if !ok {
		return oid4vci.CredentialResponse{}, ErrInvalidTransactionID
	}
	// The token stays valid here after its use at the credential endpoint, for the life of
	// its offer's transaction: approval takes longer than TokenLifetime.
	o, err := s.offers.TokenOffer(ctx, hashSecret(accessToken))
	if err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	txHash := hashSecret(req.TransactionID)
	d, err := ds.Deferred(ctx, txHash)
	if errors.Is(err, ErrNotFound) || (err == nil && d.OfferID != o.ID) {
		return oid4vci.CredentialResponse{}, ErrInvalidTransactionID
	}
	if err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	now := s.now().UTC()
	if !now.Before(d.ExpiresAt) {
		return oid4vci.CredentialResponse{}, ErrInvalidTransactionID
	}
	switch d.State {
	case DeferredPending:
		return oid4vci.CredentialResponse{TransactionID: req.TransactionID, Interval: int(d.Interval / time.Second)}, nil
	case DeferredRejected:
		return oid4vci.CredentialResponse{}, ErrCredentialDenied
	case DeferredApproved:
	default:
		return oid4vci.CredentialResponse{}, ErrInvalidTransactionID
	}
	var resp oid4vci.CredentialResponse
	for _, h := range d.Holders {
		c, sealed, err := s.store.Credential(ctx, d.AgencyID, h.CredentialID)
		if err != nil {
			return oid4vci.CredentialResponse{}, fmt.Errorf("deferred credential %s: %w", h.CredentialID, err)
		}
		raw, err := s.openRaw(c.ID, sealed)
		if err != nil {
			return oid4vci.CredentialResponse{}, err
		}
		resp.Credentials = append(resp.Credentials, oid4vci.StringCredential(raw))
	}
	resp.NotificationID = secret.ID("ntf")
	if err := ds.CollectDeferred(ctx, txHash, resp.NotificationID, now); err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	s.log.InfoContext(ctx, "deferred credentials collected", "offer", d.OfferID, "count", len(resp.Credentials))
	return resp, nil
}
