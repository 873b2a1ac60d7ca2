package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/statuslist"
)

// Notifications (issue #5): events for the citizen's app — a new credential offer, an
// incoming presentation request, a held credential revoked, suspended or reinstated, a held
// credential about to expire. Each is sealed and appended to the citizen's bounded event log
// (so an app that reconnects resumes after its Last-Event-ID) and wakes the citizen's open
// streams. A background check (WatchCredentials) reads the status lists of every held
// credential at an interval and notices status changes and coming expiries.

// Event types.
const (
	EventOffer    = "offer"               // a credential offer waits for the citizen
	EventRequest  = "request"             // a verifier asks for a presentation
	EventStatus   = "credential-status"   // a held credential's status changed
	EventExpiring = "credential-expiring" // a held credential expires soon
)

// Statuses of a held credential as the background check sees them.
const (
	StatusValid     = "valid"
	StatusRevoked   = "revoked"
	StatusSuspended = "suspended"
	StatusUnknown   = "unknown" // a status value the wallet does not know
)

// Defaults of ControlConfig.
const (
	DefaultEventLog      = 200
	DefaultExpiryWarning = 30 * 24 * time.Hour
	// maxStatusListEntries bounds the status lists the check accepts (as the verifier does).
	maxStatusListEntries = 1 << 20
)

// ControlConfig configures presentation history, backups and notifications.
type ControlConfig struct {
	// BackupKDF is the Argon2id cost of new backups; DefaultBackupKDF when zero. Tests lower
	// it; production keeps the default.
	BackupKDF KDFParams
	// MaxRestoreKDF bounds the cost a backup file may ask for at restore (memory, passes,
	// lanes), so a crafted file cannot exhaust the server; DefaultMaxRestoreKDF when zero.
	MaxRestoreKDF KDFParams
	// EventLog is how many events per citizen are kept for resuming; DefaultEventLog when 0.
	EventLog int
	// ExpiryWarning is how long before a credential expires the citizen is told;
	// DefaultExpiryWarning when zero.
	ExpiryWarning time.Duration
}

// control is the Service's state for history, backups and notifications.
type control struct {
	cfg ControlConfig
	hub *hub
}

func newControl(cfg ControlConfig) *control {
	if cfg.BackupKDF == (KDFParams{}) {
		cfg.BackupKDF = DefaultBackupKDF
	}
	if cfg.MaxRestoreKDF == (KDFParams{}) {
		cfg.MaxRestoreKDF = DefaultMaxRestoreKDF
	}
	if cfg.EventLog <= 0 {
		cfg.EventLog = DefaultEventLog
	}
	if cfg.ExpiryWarning <= 0 {
		cfg.ExpiryWarning = DefaultExpiryWarning
	}
	return &control{cfg: cfg, hub: newHub()}
}

// Event is one notification for a citizen's app.
type Event struct {
	// ID orders a citizen's events; it is the SSE event id the app resumes after.
	ID   int64     `json:"id"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Data EventData `json:"data"`
}

// EventData is what an event is about; which fields are set depends on its type.
type EventData struct {
	// A held credential (EventStatus, EventExpiring).
	CredentialID   string     `json:"credential_id,omitempty"`
	CredentialType string     `json:"credential_type,omitempty"`
	Issuer         string     `json:"issuer,omitempty"`
	Status         string     `json:"status,omitempty"`          // EventStatus: the new status
	PreviousStatus string     `json:"previous_status,omitempty"` // EventStatus
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`      // EventExpiring
	// An offer (EventOffer): its URI for POST /bridge/v1/offers.
	OfferURI string `json:"offer_uri,omitempty"`
	// A request (EventRequest): its URI, who asks (verified name) and why.
	RequestURI string `json:"request_uri,omitempty"`
	Verifier   string `json:"verifier,omitempty"`
	Purpose    string `json:"purpose,omitempty"`
}

// EventStore is what notifications and the status check need from storage. The walletstore
// implements it; Service finds it by type assertion on its Store.
type EventStore interface {
	// AppendEvent stores a sealed event of the citizen, then deletes all but the newest keep
	// of theirs, and returns the event's seq (its id).
	AppendEvent(ctx context.Context, citizenID, typ string, at time.Time, sealed []byte, keep int) (int64, error)
	// Events lists the citizen's events with seq > after, oldest first, at most limit.
	Events(ctx context.Context, citizenID string, after int64, limit int) ([]SealedRecord, error)
	// WatchList lists every held credential of every citizen with what the status check
	// last recorded for it.
	WatchList(ctx context.Context) ([]Watched, error)
	// SetWatch records what the status check saw of a held credential.
	SetWatch(ctx context.Context, citizenID, credentialID, status string, expiryWarned bool, at time.Time) error
}

// Watched is a held credential as the status check sees it.
type Watched struct {
	CitizenID    string
	Credential   Credential
	Sealed       []byte
	Seen         bool   // checked before
	Status       string // the status seen last
	ExpiryWarned bool
}

func (s *Service) eventStore() (EventStore, error) {
	es, ok := s.store.(EventStore)
	if !ok {
		return nil, fmt.Errorf("wallet: the store keeps no events (EventStore)")
	}
	return es, nil
}

func eventAAD(citizenID, typ string) []byte { return []byte(citizenID + "/event/" + typ) }

// Notify appends an event of type typ (one of the Event* types) to citizenID's log and wakes
// their open streams. Errors: ErrInvalidRequest for an unknown type.
func (s *Service) Notify(ctx context.Context, citizenID, typ string, data EventData) (Event, error) {
	switch typ {
	case EventOffer, EventRequest, EventStatus, EventExpiring:
	default:
		return Event{}, fmt.Errorf("%w: unknown event type %q", ErrInvalidRequest, typ)
	}
	es, err := s.eventStore()
	if err != nil {
		return Event{}, err
	}
	ev := Event{Type: typ, At: s.now().UTC().Truncate(time.Second), Data: data}
	sealed, err := s.sealRecord(ctx, citizenID, eventAAD(citizenID, typ), data)
	if err != nil {
		return Event{}, err
	}
	if ev.ID, err = es.AppendEvent(ctx, citizenID, typ, ev.At, sealed, s.ctl.cfg.EventLog); err != nil {
		return Event{}, fmt.Errorf("append event: %w", err)
	}
	s.ctl.hub.wake(citizenID)
	return ev, nil
}

// NotifyOffer tells c's app that a credential offer (an openid-credential-offer:// URI or an
// https credential_offer_uri) waits for them: whatever learns of an offer meant for a known
// citizen calls it.
func (s *Service) NotifyOffer(ctx context.Context, c Citizen, offerURI, issuer string) (Event, error) {
	if offerURI == "" || len(offerURI) > 8192 {
		return Event{}, fmt.Errorf("%w: offer URI empty or longer than 8192 bytes", ErrInvalidRequest)
	}
	return s.Notify(ctx, c.ID, EventOffer, EventData{OfferURI: offerURI, Issuer: issuer})
}

// NotifyRequest tells c's app that a verifier asks for a presentation (OpenID4VP): the request
// URI the app opens, the verifier's verified name and its stated purpose.
func (s *Service) NotifyRequest(ctx context.Context, c Citizen, requestURI, verifier, purpose string) (Event, error) {
	if requestURI == "" || len(requestURI) > 8192 {
		return Event{}, fmt.Errorf("%w: request URI empty or longer than 8192 bytes", ErrInvalidRequest)
	}
	return s.Notify(ctx, c.ID, EventRequest, EventData{RequestURI: requestURI, Verifier: verifier, Purpose: purpose})
}

// Events returns c's events after the event id after, oldest first, at most limit (1-1000).
// Only the newest ControlConfig.EventLog events are kept.
func (s *Service) Events(ctx context.Context, c Citizen, after int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	es, err := s.eventStore()
	if err != nil {
		return nil, err
	}
	srs, err := es.Events(ctx, c.ID, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(srs))
	if len(srs) == 0 {
		return out, nil
	}
	cs, err := s.citizenSealer(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, sr := range srs {
		b, err := cs.Open(sr.Sealed, eventAAD(c.ID, sr.Type))
		if err != nil {
			return nil, fmt.Errorf("open event %d: %w", sr.Seq, err)
		}
		ev := Event{ID: sr.Seq, Type: sr.Type, At: sr.At}
		if err := json.Unmarshal(b, &ev.Data); err != nil {
			return nil, fmt.Errorf("event %d: %w", sr.Seq, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// Subscribe returns a subscription to c's events: its Wake channel receives (coalesced) when
// an event was appended; its Done channel is closed when the wallet stops notifying
// (CloseEvents). The caller reads the events with Events and must Close the subscription.
func (s *Service) Subscribe(c Citizen) *Subscription { return s.ctl.hub.subscribe(c.ID) }

// CloseEvents ends every subscription, now and later: call it at shutdown so open event
// streams end cleanly. It is idempotent.
func (s *Service) CloseEvents() { s.ctl.hub.close() }

// Subscription is one open event stream of a citizen.
type Subscription struct {
	wake chan struct{}
	done <-chan struct{}
	stop func()
}

// Wake receives when the citizen has new events.
func (sub *Subscription) Wake() <-chan struct{} { return sub.wake }

// Done is closed when the wallet stops notifying.
func (sub *Subscription) Done() <-chan struct{} { return sub.done }

// Close ends the subscription. It is idempotent.
func (sub *Subscription) Close() { sub.stop() }

// hub tracks the open subscriptions by citizen.
type hub struct {
	mu     sync.Mutex
	subs   map[string]map[*Subscription]struct{}
	done   chan struct{}
	closed bool
}

func newHub() *hub {
	return &hub{subs: map[string]map[*Subscription]struct{}{}, done: make(chan struct{})}
}

func (h *hub) subscribe(citizenID string) *Subscription {
	sub := &Subscription{wake: make(chan struct{}, 1), done: h.done}
	var once sync.Once
	sub.stop = func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(h.subs[citizenID], sub)
			if len(h.subs[citizenID]) == 0 {
				delete(h.subs, citizenID)
			}
		})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		if h.subs[citizenID] == nil {
			h.subs[citizenID] = map[*Subscription]struct{}{}
		}
		h.subs[citizenID][sub] = struct{}{}
	}
	return sub
}

func (h *hub) wake(citizenID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[citizenID] {
		select {
		case sub.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
		clear(h.subs)
	}
}

// StatusLists fetches status lists by URI, exactly as served (an IETF Status List Token).
// The verifier's fetcher implements it.
type StatusLists interface {
	StatusList(ctx context.Context, uri string) ([]byte, error)
}

// CheckReport says what one status check did.
type CheckReport struct {
	Checked  int // credentials looked at
	Changed  int // status changes notified
	Expiring int // expiry warnings notified
	Failed   int // credentials whose status could not be read this time
}

// CheckCredentials looks once at every held credential: it reads its status from its status
// list (when lists is not nil and the credential has a status claim), verified with the
// issuer's key, and notifies its citizen when the status differs from what was seen last
// (a credential never seen is taken to have been valid); and it notifies once when the
// credential expires within ControlConfig.ExpiryWarning of now. A list that cannot be had
// leaves that credential's status as it was, for the next check.
func (s *Service) CheckCredentials(ctx context.Context, lists StatusLists) (CheckReport, error) {
	var rep CheckReport
	es, err := s.eventStore()
	if err != nil {
		return rep, err
	}
	watched, err := es.WatchList(ctx)
	if err != nil {
		return rep, err
	}
	now := s.now().UTC()
	cache := map[string]*statuslist.List{}
	for _, w := range watched {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Checked++
		prev := w.Status
		if !w.Seen || prev == "" {
			prev = StatusValid
		}
		status, err := s.credentialStatus(ctx, w, lists, cache, now)
		if err != nil {
			rep.Failed++
			s.log.DebugContext(ctx, "credential status not read", "credential", w.Credential.ID, "err", err)
			status = prev
		}
		cr := w.Credential
		if status != prev {
			if _, err := s.Notify(ctx, w.CitizenID, EventStatus, EventData{CredentialID: cr.ID, CredentialType: cr.Type, Issuer: cr.Issuer,
				Status: status, PreviousStatus: prev}); err != nil {
				return rep, err
			}
			rep.Changed++
		}
		warned := w.ExpiryWarned
		if !warned && !cr.ExpiresAt.IsZero() && !now.Before(cr.ExpiresAt.Add(-s.ctl.cfg.ExpiryWarning)) {
			exp := cr.ExpiresAt
			if _, err := s.Notify(ctx, w.CitizenID, EventExpiring, EventData{CredentialID: cr.ID, CredentialType: cr.Type, Issuer: cr.Issuer,
				ExpiresAt: &exp}); err != nil {
				return rep, err
			}
			warned = true
			rep.Expiring++
		}
		if err := es.SetWatch(ctx, w.CitizenID, cr.ID, status, warned, now); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// WatchCredentials runs CheckCredentials every interval until ctx is done.
func (s *Service) WatchCredentials(ctx context.Context, lists StatusLists, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := s.CheckCredentials(ctx, lists)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "credential status check failed", "err", err)
		case rep.Changed+rep.Expiring > 0:
			s.log.InfoContext(ctx, "credential status check", "checked", rep.Checked, "changed", rep.Changed, "expiring", rep.Expiring)
		}
	}
}

// credentialStatus reads w's status from its status list; a credential without a status
// claim, or with no lists to read from, is valid.
func (s *Service) credentialStatus(ctx context.Context, w Watched, lists StatusLists, cache map[string]*statuslist.List, now time.Time) (string, error) {
	if lists == nil {
		return StatusValid, nil
	}
	raw, err := s.openCredential(ctx, w.CitizenID, w.Credential, w.Sealed)
	if err != nil {
		return "", err
	}
	sd, err := sdjwt.Parse(string(raw))
	if err != nil {
		return "", err
	}
	claim, ok := sd.Payload["status"]
	if !ok {
		return StatusValid, nil
	}
	uri, idx, err := statuslist.ParseStatusClaim(claim)
	if err != nil {
		return "", err
	}
	iss := w.Credential.Issuer
	key := iss + " " + uri
	l, ok := cache[key]
	if !ok {
		if l, err = s.fetchStatusList(ctx, lists, uri, iss, now); err != nil {
			return "", err
		}
		cache[key] = l
	}
	v, err := l.Get(idx)
	if err != nil {
		return "", err
	}
	switch v {
	case statuslist.Valid:
		return StatusValid, nil
	case statuslist.Invalid:
		return StatusRevoked, nil
	case statuslist.Suspended:
		return StatusSuspended, nil
	}
	return StatusUnknown, nil
}

// fetchStatusList fetches the Status List Token at uri and verifies it with the key its kid
// names, which must be an assertion key of the credential's issuer iss.
func (s *Service) fetchStatusList(ctx context.Context, lists StatusLists, uri, iss string, now time.Time) (*statuslist.List, error) {
	tok, err := lists.StatusList(ctx, uri)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSigned(string(tok), statuslist.Algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("status list %s is not a signed token: %v", uri, err)
	}
	kid := jws.Signatures[0].Header.KeyID
	if kidDID, _, err := did.SplitURL(kid); err != nil || kidDID.String() != iss {
		return nil, fmt.Errorf("status list %s: kid %q is not a key of the issuer %s", uri, kid, iss)
	}
	pub, err := did.ResolveKey(ctx, s.resolver, kid, did.AssertionMethod)
	if err != nil {
		return nil, err
	}
	l, info, err := statuslist.VerifyToken(string(tok), pub, uri, now, maxStatusListEntries)
	if err != nil {
		return nil, err
	}
	if info.Issuer != "" && info.Issuer != iss {
		return nil, fmt.Errorf("status list %s: iss %s is not the issuer %s", uri, info.Issuer, iss)
	}
	return l, nil
}
