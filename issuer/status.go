package issuer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/internal/statuslist"
)

// Status lists: every SD-JWT VC points at an entry of its agency's IETF Token Status List.
const (
	// StatusListSize is the number of entries of a status list (the W3C herd-privacy minimum);
	// an agency starts a new list when its open one is full.
	StatusListSize = 131072
	// StatusListBits is the number of bits per entry: 0 valid, 1 revoked, 2 suspended.
	StatusListBits = 2
	// DefaultStatusTTL is how long a signed status list is valid and may be cached.
	DefaultStatusTTL = 5 * time.Minute
	// maxStatusNote bounds the operator's note kept in the audit trail.
	maxStatusNote = 256
)

// Status actions an agency may take on a credential.
const (
	ActionRevoke    = "revoke"
	ActionSuspend   = "suspend"
	ActionReinstate = "reinstate"
)

// Status names, as the API reports them.
const (
	StatusValid     = "valid"
	StatusRevoked   = "revoked"
	StatusSuspended = "suspended"
)

// Reasons are the accepted reason codes of a status change: the RFC 5280 CRLReason names in
// camelCase (the CA-only ones left out). certificateHold only suspends; removeFromCRL only
// reinstates.
var Reasons = []string{"unspecified", "keyCompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", "privilegeWithdrawn", "removeFromCRL"}

// Errors of status changes.
var (
	// ErrInvalidTransition is returned for a change the credential's state forbids: anything
	// after revoke (final), suspending a suspended credential, reinstating one not suspended.
	ErrInvalidTransition = errors.New("invalid status transition")
	// ErrStatusConflict is returned when a status list changed under a concurrent writer; the
	// caller may retry.
	ErrStatusConflict = errors.New("status list changed concurrently")
)

// StatusEntry is a credential's place in its agency's status list.
type StatusEntry struct {
	List  string // status list id
	Index int
}

// StatusList is a status list as the issuer keeps it: its size and, once published, the
// newest signed token and the ledger seq that anchored it.
type StatusList struct {
	ID           string
	AgencyID     string
	Size, Bits   int
	Seq          uint64
	Token        string    // "" until first published
	TokenURI     string    // the URI (sub) Token was signed for
	TokenExpires time.Time // exp of Token
	// W3C holds the list's two W3C Bitstring Status Lists, by purpose
	// (statuslist.PurposeRevocation, statuslist.PurposeSuspension).
	W3C map[string]W3CList
}

// CredentialStatus is the status of one credential.
type CredentialStatus struct {
	CredentialID string
	StatusEntry
	Status    uint8     // statuslist.Valid, Invalid or Suspended
	ChangedAt time.Time // zero if never changed
}

// StatusChange is one committed status change with the re-signed list that publishes it.
type StatusChange struct {
	AgencyID     string
	Actor        string // who asked, for the audit entry (AuditEntry.Actor)
	CredentialID string
	StatusEntry
	Action   string
	From, To uint8
	Reason   string
	Note     string
	At       time.Time
	// Seq, Token, TokenURI and TokenExpires are the list's new publication.
	Seq          uint64
	Token        string
	TokenURI     string
	TokenExpires time.Time
	// W3C are the new publications of the W3C lists whose bits the change flips.
	W3C []W3CPublication
}

// StatusStore is the storage status changes need. Implementation: issuerstore. Index
// allocation happens in Store.SaveCredential.
type StatusStore interface {
	// CredentialStatus returns the status of credential id of the agency, or ErrNotFound (also
	// for another agency's credential).
	CredentialStatus(ctx context.Context, agencyID, credentialID string) (CredentialStatus, error)
	// StatusList returns list id, or ErrNotFound.
	StatusList(ctx context.Context, id string) (StatusList, error)
	// SetStatuses returns the entries of list id whose status is not Valid, by index.
	SetStatuses(ctx context.Context, id string) (map[int]uint8, error)
	// SaveStatusChange stores the credential's new status, the list's new publication and the
	// audit record in one transaction, if the list is still at seq prevSeq and the credential
	// still at ch.From; otherwise it changes nothing and returns ErrStatusConflict.
	SaveStatusChange(ctx context.Context, ch StatusChange, prevSeq uint64) error
	// SaveStatusToken stores a re-signed publication (token, signed for uri) of an unchanged
	// list if it is still at prevSeq, or returns ErrStatusConflict.
	SaveStatusToken(ctx context.Context, listID string, prevSeq, seq uint64, token, uri string, expires time.Time) error
	// SaveW3CStatusList stores a publication of a W3C list of list listID if that W3C list is
	// still at p.PrevSeq, or returns ErrStatusConflict.
	SaveW3CStatusList(ctx context.Context, listID string, p W3CPublication) error
}

// statusLedger is the optional ability to read a list's newest publication from the ledger,
// used to recover a seq consumed by a publication that was anchored but never committed
// (a crash between the two).
type statusLedger interface {
	StatusList(ctx context.Context, list string) (ledger.StatusRecord, error)
}

// StatusRequest asks for a status change.
type StatusRequest struct {
	Action string // ActionRevoke, ActionSuspend or ActionReinstate
	Reason string // one of Reasons; "" means "unspecified"
	Note   string // operator's note for the audit trail: no personal data, at most 256 bytes
}

// StatusResult is a credential's status after a change.
type StatusResult struct {
	Status    string    `json:"status"` // StatusValid, StatusRevoked or StatusSuspended
	List      string    `json:"list"`   // the status list URI
	Index     int       `json:"idx"`
	ChangedAt time.Time `json:"changed_at"`
}

// NewStatusListID returns a fresh status list id.
func NewStatusListID() string { return secret.ID("sl") }

// StatusListURI returns the URL status list id is served at, as credentials carry it.
func (s *Service) StatusListURI(id string) string { return s.publicURL + "/issuer/v1/status/" + id }

// StatusName returns the API name of a status value.
func StatusName(v uint8) string {
	switch v {
	case statuslist.Valid:
		return StatusValid
	case statuslist.Invalid:
		return StatusRevoked
	case statuslist.Suspended:
		return StatusSuspended
	}
	return fmt.Sprintf("0x%02x", v)
}

// validate checks r and returns the status it leads to.
func (r *StatusRequest) validate() (uint8, error) {
	if r.Reason == "" {
		r.Reason = "unspecified"
	}
	var to uint8
	switch r.Action {
	case ActionRevoke:
		to = statuslist.Invalid
	case ActionSuspend:
		to = statuslist.Suspended
	case ActionReinstate:
		to = statuslist.Valid
	default:
		return 0, fmt.Errorf("%w: action %q is not revoke, suspend or reinstate", ErrInvalidRequest, r.Action)
	}
	if !contains(Reasons, r.Reason) {
		return 0, fmt.Errorf("%w: reason %q is not one of %s", ErrInvalidRequest, r.Reason, strings.Join(Reasons, ", "))
	}
	if (r.Reason == "certificateHold" && r.Action != ActionSuspend) || (r.Reason == "removeFromCRL" && r.Action != ActionReinstate) {
		return 0, fmt.Errorf("%w: reason %s does not fit action %s", ErrInvalidRequest, r.Reason, r.Action)
	}
	if len(r.Note) > maxStatusNote || !utf8.ValidString(r.Note) || strings.IndexFunc(r.Note, unicode.IsControl) >= 0 {
		return 0, fmt.Errorf("%w: note must be at most %d bytes of printable UTF-8", ErrInvalidRequest, maxStatusNote)
	}
	return to, nil
}

// transition checks that a credential at from may take action.
func transition(from uint8, action string) error {
	ok := false
	switch action {
	case ActionRevoke:
		ok = from == statuslist.Valid || from == statuslist.Suspended
	case ActionSuspend:
		ok = from == statuslist.Valid
	case ActionReinstate:
		ok = from == statuslist.Suspended
	}
	if !ok {
		return fmt.Errorf("%w: cannot %s a %s credential", ErrInvalidTransition, action, StatusName(from))
	}
	return nil
}

// SetStatus revokes, suspends or reinstates credential id of agency a. Before it returns, the
// agency's status list, and each of its W3C Bitstring Status Lists whose bit the change flips,
// is re-signed and its digest anchored on the ledger; only then are the new status, the lists
// and the audit record committed, in one transaction. Nothing changes if any step fails.
//
// Crash safety: the ledger is written first. A crash between the ledger and the commit
// leaves the old status in force (the caller got no answer and retries) and a ledger seq
// that no served list matches; the retry detects the used seq and publishes above it, so the
// ledger's newest digest matches the served list again.
//
// Errors: ErrInvalidRequest (action, reason or note), ErrNotFound (no such credential of a),
// ErrInvalidTransition, ErrLedgerRejected, ErrStatusConflict.
func (s *Service) SetStatus(ctx context.Context, a Agency, id string, req StatusRequest) (StatusResult, error) {
	to, err := req.validate()
	if err != nil {
		return StatusResult{}, err
	}
	if s.statuses == nil || s.ledger == nil {
		return StatusResult{}, errors.New("issuer: status lists need a status store and a ledger")
	}
	cs, err := s.statuses.CredentialStatus(ctx, a.ID, id)
	if err != nil {
		return StatusResult{}, err
	}
	unlock := s.statusMu.lock(cs.List)
	defer unlock()
	if cs, err = s.statuses.CredentialStatus(ctx, a.ID, id); err != nil { // as of holding the lock
		return StatusResult{}, err
	}
	if err := transition(cs.Status, req.Action); err != nil {
		return StatusResult{}, err
	}
	l, err := s.statuses.StatusList(ctx, cs.List)
	if err != nil {
		return StatusResult{}, err
	}
	ag, key, err := s.agencyKey(ctx, a.ID)
	if err != nil {
		return StatusResult{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	pub, err := s.publish(ctx, ag, key, l, now, map[int]uint8{cs.Index: to})
	if err != nil {
		return StatusResult{}, err
	}
	w3c, err := s.publishW3CChange(ctx, ag, key, l, now, cs.Index, cs.Status, to)
	if err != nil {
		return StatusResult{}, err
	}
	ch := StatusChange{AgencyID: a.ID, Actor: actor(a), CredentialID: id, StatusEntry: cs.StatusEntry, Action: req.Action, From: cs.Status, To: to,
		Reason: req.Reason, Note: req.Note, At: now, Seq: pub.seq, Token: pub.token, TokenURI: pub.uri, TokenExpires: pub.expires, W3C: w3c}
	if err := s.statuses.SaveStatusChange(ctx, ch, l.Seq); err != nil {
		return StatusResult{}, fmt.Errorf("save status change: %w", err)
	}
	s.log.InfoContext(ctx, "credential status changed", "agency", a.ID, "credential", id, "action", req.Action,
		"reason", req.Reason, "list", cs.List, "seq", pub.seq)
	return StatusResult{Status: StatusName(to), List: s.StatusListURI(cs.List), Index: cs.Index, ChangedAt: now}, nil
}

// StatusListToken returns the signed status list id (a statuslist+jwt) to serve and how long
// it may be cached (its remaining validity, at most the TTL). A list never published, or
// whose token has less than half its TTL left, is re-signed and anchored first. Errors:
// ErrNotFound, ErrLedgerRejected.
func (s *Service) StatusListToken(ctx context.Context, id string) (string, time.Duration, error) {
	if s.statuses == nil {
		return "", 0, ErrNotFound
	}
	fresh := func(l StatusList) bool {
		return l.Token != "" && l.TokenURI == s.StatusListURI(id) && s.now().Add(s.statusTTL/2).Before(l.TokenExpires)
	}
	serve := func(token string, exp time.Time) (string, time.Duration, error) {
		return token, min(s.statusTTL, max(0, exp.Sub(s.now()).Truncate(time.Second))), nil
	}
	l, err := s.statuses.StatusList(ctx, id)
	if err != nil {
		return "", 0, err
	}
	if fresh(l) {
		return serve(l.Token, l.TokenExpires)
	}
	if s.ledger == nil {
		return "", 0, errors.New("issuer: status lists need a ledger")
	}
	unlock := s.statusMu.lock(id)
	defer unlock()
	if l, err = s.statuses.StatusList(ctx, id); err != nil { // another caller may have refreshed it
		return "", 0, err
	}
	if fresh(l) {
		return serve(l.Token, l.TokenExpires)
	}
	a, key, err := s.agencyKey(ctx, l.AgencyID)
	if err != nil {
		return "", 0, err
	}
	pub, err := s.publish(ctx, a, key, l, s.now().UTC().Truncate(time.Second), nil)
	if err != nil {
		return "", 0, err
	}
	if err := s.statuses.SaveStatusToken(ctx, id, l.Seq, pub.seq, pub.token, pub.uri, pub.expires); err != nil {
		return "", 0, fmt.Errorf("save status list: %w", err)
	}
	s.log.InfoContext(ctx, "status list published", "list", id, "seq", pub.seq)
	return serve(pub.token, pub.expires)
}

// listLocks holds one mutex per status list, so that publications of one list (each waiting
// for a ledger block) are serialised without holding up other lists. The zero value is ready.
type listLocks struct {
	mu    sync.Mutex
	locks map[string]*listLock
}

type listLock struct {
	sync.Mutex
	users int
}

// lock locks list id and returns its unlock function.
func (l *listLocks) lock(id string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*listLock{}
	}
	k := l.locks[id]
	if k == nil {
		k = &listLock{}
		l.locks[id] = k
	}
	k.users++
	l.mu.Unlock()
	k.Lock()
	return func() {
		k.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.locks, id)
		}
		l.mu.Unlock()
	}
}

type publication struct {
	token   string
	uri     string
	expires time.Time
	seq     uint64
}

// publish builds list l with its stored statuses plus changes, signs it as a Status List
// Token with the agency's key and anchors its digest with a status operation at the next seq.
// It stores nothing.
func (s *Service) publish(ctx context.Context, a Agency, key *keys.Key, l StatusList, now time.Time, changes map[int]uint8) (publication, error) {
	set, err := s.statuses.SetStatuses(ctx, l.ID)
	if err != nil {
		return publication{}, err
	}
	lst, err := statuslist.New(l.Size, l.Bits)
	if err != nil {
		return publication{}, err
	}
	for _, m := range []map[int]uint8{set, changes} {
		for i, v := range m {
			if err := lst.Set(i, v); err != nil {
				return publication{}, fmt.Errorf("status list %s: %w", l.ID, err)
			}
		}
	}
	signer, err := statuslist.NewTokenSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.Signer()}, a.KID)
	if err != nil {
		return publication{}, err
	}
	uri := s.StatusListURI(l.ID)
	token, err := statuslist.SignToken(lst, uri, now, s.statusTTL, signer)
	if err != nil {
		return publication{}, fmt.Errorf("sign status list: %w", err)
	}
	seq, err := s.anchorStatus(ctx, a, key, l.ID, uri, []byte(token), l.Seq)
	if err != nil {
		return publication{}, err
	}
	return publication{token: token, uri: uri, expires: now.Add(s.statusTTL), seq: seq}, nil
}

// anchorStatus anchors the digest of served, the list published at uri, with a status
// operation at the seq after prevSeq, and returns the seq used. listID names the list in
// errors and logs.
func (s *Service) anchorStatus(ctx context.Context, a Agency, key *keys.Key, listID, uri string, served []byte, prevSeq uint64) (uint64, error) {
	digest := statuslist.Digest(served)
	seq := prevSeq + 1
	for attempt := 0; ; attempt++ {
		op, err := ledger.SignOp(ledger.NewStatus(a.DID, uri, digest, seq), key.Signer(), a.KID)
		if err != nil {
			return 0, err
		}
		res, err := s.ledger.Submit(ctx, op)
		if err != nil {
			return 0, fmt.Errorf("anchor status list: %w", err)
		}
		if res.OK() {
			return seq, nil
		}
		// A seq used by a publication anchored but never committed (a crash in between):
		// publish above the ledger's newest.
		sl, ok := s.ledger.(statusLedger)
		if attempt == 0 && ok && (res.Code == ledger.CodeDuplicate || res.Code == ledger.CodeStalePrev) {
			if rec, err := sl.StatusList(ctx, uri); err == nil && rec.Seq >= seq {
				s.log.WarnContext(ctx, "status list seq already used on the ledger; publishing above it", "list", listID, "seq", seq, "ledger_seq", rec.Seq)
				seq = rec.Seq + 1
				continue
			}
		}
		return 0, fmt.Errorf("%w: status %s: %s: %s", ErrLedgerRejected, listID, res.Code, res.Reason)
	}
}
