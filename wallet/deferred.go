package wallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ezheng/ezheng/internal/oid4vci"
	"github.com/ezheng/ezheng/internal/secret"
)

// Errors of deferred issuance.
var (
	// ErrIssuancePending is matched (errors.Is) by a *PendingError: the issuer accepted the
	// request but issues later, after an officer's approval.
	ErrIssuancePending = errors.New("the issuer will issue the credential later")
	// ErrCredentialDenied is returned when the issuer refused a deferred request
	// (credential_request_denied); the pending issuance is forgotten.
	ErrCredentialDenied = errors.New("the issuer refused to issue the credential")
)

// PendingIssuance is a deferred credential the wallet waits for: the app shows it and polls
// with CollectPending no more often than every Interval seconds.
type PendingIssuance struct {
	ID        string    `json:"id"`
	Issuer    string    `json:"issuer"`   // credential issuer identifier (URL)
	Type      string    `json:"type"`     // vct, or the credential configuration id
	Interval  int       `json:"interval"` // seconds to wait between polls
	CreatedAt time.Time `json:"created_at"`
}

// PendingError reports that issuance was deferred; Pending lists what the wallet now waits
// for. It matches ErrIssuancePending.
type PendingError struct {
	Pending []PendingIssuance
}

// Error implements error.
func (e *PendingError) Error() string {
	return fmt.Sprintf("%v (%d pending)", ErrIssuancePending, len(e.Pending))
}

// Is reports whether target is ErrIssuancePending.
func (e *PendingError) Is(target error) bool { return target == ErrIssuancePending }

// PendingStore keeps deferred issuances with their sealed secrets. It is an optional ability
// of the Store (found by type assertion); implementation: walletstore. Without it, a deferred
// offer fails with ErrOffer.
type PendingStore interface {
	// SavePending stores a pending issuance of the citizen with its sealed secrets.
	SavePending(ctx context.Context, citizenID string, p PendingIssuance, sealed []byte) error
	// PendingIssuances lists the citizen's pending issuances, oldest first.
	PendingIssuances(ctx context.Context, citizenID string) ([]PendingIssuance, error)
	// PendingIssuance returns one with its sealed secrets, or ErrNotFound.
	PendingIssuance(ctx context.Context, citizenID, id string) (PendingIssuance, []byte, error)
	// DeletePending forgets one; deleting an unknown one is not an error.
	DeletePending(ctx context.Context, citizenID, id string) error
}

// pendingSecrets are what the wallet needs to collect a deferred credential; they are sealed
// at rest (the access token and transaction id are bearer secrets).
type pendingSecrets struct {
	AccessToken          string `json:"access_token"`
	TransactionID        string `json:"transaction_id"`
	DeferredEndpoint     string `json:"deferred_endpoint"`
	NotificationEndpoint string `json:"notification_endpoint,omitempty"`
}

func pendingAAD(citizenID, id string) []byte { return []byte(citizenID + "/pending/" + id) }

// keepPending stores a deferred Credential Response so that CollectPending can poll for it.
func (s *Service) keepPending(ctx context.Context, c Citizen, meta *oid4vci.IssuerMetadata, configID, accessToken string, cresp *oid4vci.CredentialResponse) (PendingIssuance, error) {
	ps, ok := s.store.(PendingStore)
	if !ok {
		return PendingIssuance{}, fmt.Errorf("%w: the issuer deferred issuance and this wallet cannot wait for it", ErrOffer)
	}
	if meta.DeferredCredentialEndpoint == "" {
		return PendingIssuance{}, fmt.Errorf("%w: the issuer deferred issuance but has no deferred credential endpoint", ErrOffer)
	}
	typ := configID
	if cc, ok := meta.CredentialConfigurationsSupported[configID]; ok && cc.VCT != "" {
		typ = cc.VCT
	}
	p := PendingIssuance{ID: secret.ID("pend"), Issuer: meta.CredentialIssuer, Type: typ, Interval: cresp.Interval, CreatedAt: s.now().UTC().Truncate(time.Second)}
	b, err := json.Marshal(pendingSecrets{AccessToken: accessToken, TransactionID: cresp.TransactionID,
		DeferredEndpoint: meta.DeferredCredentialEndpoint, NotificationEndpoint: meta.NotificationEndpoint})
	if err != nil {
		return PendingIssuance{}, err
	}
	if err := ps.SavePending(ctx, c.ID, p, s.sealer.Seal(b, pendingAAD(c.ID, p.ID))); err != nil {
		return PendingIssuance{}, fmt.Errorf("save pending issuance: %w", err)
	}
	s.log.InfoContext(ctx, "credential issuance deferred by the issuer", "citizen", c.ID, "pending", p.ID, "issuer", p.Issuer)
	return p, nil
}

// Pending lists c's deferred issuances that have not been collected yet.
func (s *Service) Pending(ctx context.Context, c Citizen) ([]PendingIssuance, error) {
	ps, ok := s.store.(PendingStore)
	if !ok {
		return []PendingIssuance{}, nil
	}
	list, err := ps.PendingIssuances(ctx, c.ID)
	if list == nil && err == nil {
		list = []PendingIssuance{}
	}
	return list, err
}

// CollectPending asks the issuer's Deferred Credential Endpoint for pending issuance id. Once
// the issuer has issued, it checks and stores every credential (Receive), notifies the issuer
// and forgets the pending issuance. Errors: *PendingError (ErrIssuancePending: not yet; try
// again after its Interval), ErrCredentialDenied (refused; forgotten), ErrNotFound, ErrOffer
// (an issuer that no longer knows the transaction makes it forgotten; other failures leave
// it pending), ErrInvalidCredential, ErrNotBound.
func (s *Service) CollectPending(ctx context.Context, c Citizen, id string) ([]Credential, error) {
	ps, ok := s.store.(PendingStore)
	if !ok {
		return nil, ErrNotFound
	}
	p, sealed, err := ps.PendingIssuance(ctx, c.ID, id)
	if err != nil {
		return nil, err
	}
	b, err := s.sealer.Open(sealed, pendingAAD(c.ID, p.ID))
	if err != nil {
		return nil, fmt.Errorf("open pending issuance %s: %w", p.ID, err)
	}
	var sec pendingSecrets
	if err := json.Unmarshal(b, &sec); err != nil {
		return nil, fmt.Errorf("pending issuance %s: %w", p.ID, err)
	}
	body, _ := json.Marshal(oid4vci.DeferredCredentialRequest{TransactionID: sec.TransactionID})
	b, err = s.post(ctx, sec.DeferredEndpoint, sec.AccessToken, "application/json", body)
	var oe *oid4vci.ErrorResponse
	if errors.As(err, &oe) {
		switch oe.Code {
		case oid4vci.ErrorCredentialRequestDenied:
			if derr := ps.DeletePending(ctx, c.ID, p.ID); derr != nil {
				return nil, derr
			}
			s.log.InfoContext(ctx, "deferred credential refused by the issuer", "citizen", c.ID, "pending", p.ID)
			return nil, fmt.Errorf("%w: %s", ErrCredentialDenied, p.Type)
		case oid4vci.ErrorInvalidTransactionID:
			if derr := ps.DeletePending(ctx, c.ID, p.ID); derr != nil {
				return nil, derr
			}
		}
	}
	if err != nil {
		return nil, err
	}
	cresp, err := oid4vci.ParseCredentialResponse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: deferred credential response: %v", ErrOffer, err)
	}
	if cresp.Deferred() {
		p.Interval = cresp.Interval
		return nil, &PendingError{Pending: []PendingIssuance{p}}
	}
	// The issuer has handed the credentials out once; whatever the checks say, the
	// transaction is over.
	if err := ps.DeletePending(ctx, c.ID, p.ID); err != nil {
		return nil, err
	}
	got, err := s.acceptCredentials(ctx, c, cresp, sec.NotificationEndpoint, sec.AccessToken)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "deferred credential collected", "citizen", c.ID, "pending", p.ID, "credentials", len(got))
	return got, nil
}

// acceptCredentials checks and keeps every credential of a Credential Response and tells the
// issuer (credential_accepted, or credential_failure if one was rejected).
func (s *Service) acceptCredentials(ctx context.Context, c Citizen, cresp *oid4vci.CredentialResponse, notificationEndpoint, accessToken string) ([]Credential, error) {
	var got []Credential
	var err error
	event := oid4vci.EventCredentialAccepted
	for _, ic := range cresp.Credentials {
		raw, ok := ic.String()
		if !ok {
			err = fmt.Errorf("%w: a credential is not a string (unsupported format)", ErrInvalidCredential)
			break
		}
		var cr Credential
		if cr, _, err = s.Receive(ctx, c, strings.TrimSpace(raw)); err != nil {
			break
		}
		got = append(got, cr)
	}
	if err != nil {
		event = oid4vci.EventCredentialFailure
	}
	if cresp.NotificationID != "" && notificationEndpoint != "" {
		nb, _ := json.Marshal(oid4vci.NotificationRequest{NotificationID: cresp.NotificationID, Event: event})
		if _, nerr := s.post(ctx, notificationEndpoint, accessToken, "application/json", nb); nerr != nil {
			s.log.WarnContext(ctx, "issuer notification failed", "err", nerr)
		}
	}
	if err != nil {
		return nil, err
	}
	return got, nil
}
