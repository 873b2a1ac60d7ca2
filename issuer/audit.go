package issuer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// The agency audit log: one append-only list of entries per agency, recording who (which
// token or OAuth client) did what administrative or status action to what, when and why. An
// agency reads only its own log (Audit). Entries hold identifiers, never personal data or
// secrets: a token is named by a prefix of its hash, a credential by its id.

// Audit actions.
const (
	AuditAgencyAdd      = "agency.add" // the root authority added an agency (in both logs)
	AuditAgencyRotate   = "agency.rotate-key"
	AuditAgencyAccredit = "agency.accredit" // the root authority accredited an agency (in both logs)
	AuditClientCreate   = "client.create"
	AuditClientDelete   = "client.delete"
	AuditTypeAdd        = "type.add"
	AuditStatusPrefix   = "credential." // + ActionRevoke, ActionSuspend or ActionReinstate
)

// Bounds of the audit log's pages and names.
const (
	DefaultAuditLimit   = 100  // entries per page when the request names none
	MaxAuditLimit       = 1000 // entries per page at most
	actorTokenHashBytes = 6    // bytes of a token's hash that name it in the log
)

// AuditEntry is one record of an agency's audit log.
type AuditEntry struct {
	// Seq orders the entries of all agencies; it only grows. Pages continue after a seq.
	Seq int64 `json:"seq"`
	// AgencyID is the agency whose log holds the entry.
	AgencyID string `json:"agency_id"`
	// At is when the action was committed (to the second).
	At time.Time `json:"at"`
	// Actor says who acted: "token:<12 hex digits of the API token's SHA-256>",
	// "client:<OAuth client id>", or "system" for the service itself.
	Actor string `json:"actor"`
	// Action is one of the Audit* actions (credential.revoke, type.add, …).
	Action string `json:"action"`
	// Target names what was acted on: an agency, client or credential id, a type name.
	Target string `json:"target"`
	// Reason is the reason code given (status changes), or empty.
	Reason string `json:"reason,omitempty"`
	// Detail holds non-personal facts of the action (the new kid, the list and index, the
	// operator's note), as a string map.
	Detail map[string]string `json:"detail,omitempty"`
}

// AuditPage is one page of an agency's audit log, oldest first.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// Next is the seq to continue after (the "after" of the next request), or 0 on the last
	// page.
	Next int64 `json:"next,omitempty"`
}

// AuditStore is the optional ability of a Store to keep the audit log. Service finds it on
// Config.Store by type assertion; without it nothing is audited and Audit is refused.
// issuerstore.Store implements it.
type AuditStore interface {
	// AppendAudit appends e (its Seq is assigned).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// AuditLog returns up to limit entries of the agency with a seq above after, oldest
	// first, and whether more follow.
	AuditLog(ctx context.Context, agencyID string, after int64, limit int) ([]AuditEntry, bool, error)
}

// errAuditDisabled means the store keeps no audit log.
var errAuditDisabled = errors.New("issuer: the store keeps no audit log")

// actor names who authenticated as agency a (Agency.Actor), "system" when nobody did.
func actor(a Agency) string {
	if a.Actor == "" {
		return "system"
	}
	return a.Actor
}

// tokenActor names an API token by a prefix of its hash.
func tokenActor(hash []byte) string {
	return "token:" + hex.EncodeToString(hash[:min(len(hash), actorTokenHashBytes)])
}

// auditEntry is the entry of a's action on target, timed now.
func (s *Service) auditEntry(a Agency, action, target, reason string, detail map[string]string) AuditEntry {
	return AuditEntry{AgencyID: a.ID, At: s.now().UTC().Truncate(time.Second), Actor: actor(a), Action: action,
		Target: target, Reason: reason, Detail: detail}
}

// audit appends an entry for an action already committed. A failure is logged, not
// returned: the action happened and must not be reported as failed (and retried).
func (s *Service) audit(ctx context.Context, e AuditEntry) {
	as, ok := s.store.(AuditStore)
	if !ok {
		return
	}
	if err := as.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit entry not stored", "agency", e.AgencyID, "action", e.Action, "target", e.Target, "err", err)
	}
}

// auditBoth records the root authority's action on agency agencyID in both their logs.
func (s *Service) auditBoth(ctx context.Context, root Agency, agencyID, action string, detail map[string]string) {
	e := s.auditEntry(root, action, agencyID, "", detail)
	s.audit(ctx, e)
	e.AgencyID = agencyID
	s.audit(ctx, e)
}

// Audit returns a page of agency a's own audit log: up to limit entries (DefaultAuditLimit
// when zero) with a seq above after, oldest first. Errors: ErrInvalidRequest (a negative
// after, limit out of 0..MaxAuditLimit).
func (s *Service) Audit(ctx context.Context, a Agency, after int64, limit int) (AuditPage, error) {
	as, ok := s.store.(AuditStore)
	if !ok {
		return AuditPage{}, errAuditDisabled
	}
	switch {
	case after < 0:
		return AuditPage{}, fmt.Errorf("%w: after must not be negative", ErrInvalidRequest)
	case limit < 0 || limit > MaxAuditLimit:
		return AuditPage{}, fmt.Errorf("%w: limit must be between 1 and %d", ErrInvalidRequest, MaxAuditLimit)
	case limit == 0:
		limit = DefaultAuditLimit
	}
	entries, more, err := as.AuditLog(ctx, a.ID, after, limit)
	if err != nil {
		return AuditPage{}, err
	}
	p := AuditPage{Entries: entries}
	if p.Entries == nil {
		p.Entries = []AuditEntry{}
	}
	if more && len(entries) > 0 {
		p.Next = entries[len(entries)-1].Seq
	}
	return p, nil
}
