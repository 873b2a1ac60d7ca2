package issuer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/statuslist"
)

// W3C Bitstring Status Lists: every Token Status List has two W3C lists mirroring it at the
// same indexes, one bit per entry, for the W3C JWT formats (jwt_vc_json, vc+jwt). A
// credential's revocation bit is 1 once it is revoked; its suspension bit is 1 while it is
// suspended. Each is a BitstringStatusListCredential secured as a vc+jwt with the agency's
// key, served at W3CStatusListURI and anchored on the ledger under that URL whenever it
// changes.

// W3CPurposes are the purposes of the one-bit W3C lists every status list has, which the JWT
// formats' credentialStatus points at.
var W3CPurposes = []string{statuslist.PurposeRevocation, statuslist.PurposeSuspension}

// PurposeMessage is the purpose of the third W3C list of every status list: two bits per
// entry holding the Token Status List value itself (statusSize 2; 0 valid, 1 revoked, 2
// suspended), for the ldp_vc format, whose VCDM 1.1 JSON-LD credentialStatus (as
// aries-framework-go models it) holds a single entry that must carry every status.
const PurposeMessage = "message"

// W3CLists are the purposes of all the W3C lists of a status list, served at
// W3CStatusListURI.
var W3CLists = []string{statuslist.PurposeRevocation, statuslist.PurposeSuspension, PurposeMessage}

// messageBits is the statusSize of the message list.
const messageBits = 2

// ldpStatus returns the credentialStatus of the ldp_vc format for entry e (LDPStatusEntry in
// its message list); nil if e is empty.
func (s *Service) ldpStatus(e StatusEntry) map[string]any {
	if e.List == "" {
		return nil
	}
	return LDPStatusEntry(s.W3CStatusListURI(e.List, PurposeMessage), e.Index)
}

// LDPStatusEntry returns the credentialStatus an ldp_vc carries for entry idx of the message
// list at listURI: a BitstringStatusListEntry with statusPurpose "message", statusSize 2 and a
// statusMessage for each value of the two bits (W3C Bitstring Status List v1.0 puts both on
// the entry): 0x0 valid, 0x1 revoked, 0x2 suspended, 0x3 unassigned. Its terms are defined by
// ldvc.ContextStatusV1, which the credential must name.
func LDPStatusEntry(listURI string, idx int) map[string]any {
	entry := statuslist.BitstringEntry(listURI, idx, PurposeMessage)
	entry["statusSize"] = messageBits
	entry["statusMessage"] = []any{
		map[string]any{"status": "0x0", "message": StatusValid},
		map[string]any{"status": "0x1", "message": StatusRevoked},
		map[string]any{"status": "0x2", "message": StatusSuspended},
		map[string]any{"status": "0x3", "message": "unassigned"},
	}
	return entry
}

// W3CList is one W3C Bitstring Status List as the issuer keeps it: the ledger seq of its
// newest publication and the signed credential served ("" until first published).
type W3CList struct {
	Seq        uint64
	Credential string
}

// W3CPublication is a new publication of the W3C list of purpose Purpose: the signed
// credential, the seq that anchored it and the seq the list was at before.
type W3CPublication struct {
	Purpose    string
	PrevSeq    uint64
	Seq        uint64
	Credential string
}

// W3CStatusListURI returns the URL the W3C list of purpose of status list id is served at,
// the id of its BitstringStatusListCredential.
func (s *Service) W3CStatusListURI(id, purpose string) string {
	return s.StatusListURI(id) + "/w3c/" + purpose
}

// w3cStatuses returns the credentialStatus of the W3C JWT formats for entry e: its
// BitstringStatusListEntry in the revocation list and in the suspension list; nil if e is
// empty.
func (s *Service) w3cStatuses(e StatusEntry) []map[string]any {
	if e.List == "" {
		return nil
	}
	out := make([]map[string]any, 0, len(W3CPurposes))
	for _, p := range W3CPurposes {
		out = append(out, statuslist.BitstringEntry(s.W3CStatusListURI(e.List, p), e.Index, p))
	}
	return out
}

// w3cBit reports whether a credential at Token Status List value v has its bit set in the W3C
// list of purpose (one of W3CPurposes).
func w3cBit(purpose string, v uint8) bool {
	if purpose == statuslist.PurposeRevocation {
		return v == statuslist.Invalid
	}
	return v == statuslist.Suspended
}

// w3cValue is what entry of value v holds in the W3C list of purpose: its bit, or for the
// message list the value itself.
func w3cValue(purpose string, v uint8) uint8 {
	if purpose == PurposeMessage {
		return v
	}
	if w3cBit(purpose, v) {
		return 1
	}
	return 0
}

// setW3C writes value v of entry i into b, a W3C list of purpose: bits [i*size, (i+1)*size),
// most significant first, as W3C Bitstring Status List reads a multi-bit entry.
func setW3C(b *statuslist.Bitstring, purpose string, i int, v uint8) error {
	size := 1
	if purpose == PurposeMessage {
		size = messageBits
	}
	x := w3cValue(purpose, v)
	for k := 0; k < size; k++ {
		if err := b.Set(i*size+k, x>>(size-1-k)&1 == 1); err != nil {
			return err
		}
	}
	return nil
}

// w3cListCredential returns the unsigned BitstringStatusListCredential of the W3C list of
// purpose at uri. statuslist builds one-bit lists only, so the message list is built as one
// and given its purpose; its entries' size and meaning are on the entries (ldpStatus).
func w3cListCredential(uri, issuer, purpose string, now time.Time, b *statuslist.Bitstring) (map[string]any, error) {
	if purpose != PurposeMessage {
		return statuslist.BitstringCredential(uri, issuer, purpose, now, b)
	}
	cred, err := statuslist.BitstringCredential(uri, issuer, statuslist.PurposeSuspension, now, b)
	if err != nil {
		return nil, err
	}
	cred["credentialSubject"].(map[string]any)["statusPurpose"] = PurposeMessage
	return cred, nil
}

// publishW3C builds the W3C list of purpose of l from its stored statuses plus changes, signs
// it with the agency's key and anchors it. It stores nothing.
func (s *Service) publishW3C(ctx context.Context, a Agency, key *keys.Key, l StatusList, purpose string, now time.Time, changes map[int]uint8) (W3CPublication, error) {
	set, err := s.statuses.SetStatuses(ctx, l.ID)
	if err != nil {
		return W3CPublication{}, err
	}
	bits := l.Size
	if purpose == PurposeMessage {
		bits *= messageBits
	}
	b, err := statuslist.NewBitstring(bits)
	if err != nil {
		return W3CPublication{}, err
	}
	for _, m := range []map[int]uint8{set, changes} {
		for i, v := range m {
			if err := setW3C(b, purpose, i, v); err != nil {
				return W3CPublication{}, fmt.Errorf("status list %s/%s: %w", l.ID, purpose, err)
			}
		}
	}
	uri := s.W3CStatusListURI(l.ID, purpose)
	cred, err := w3cListCredential(uri, a.DID, purpose, now, b)
	if err != nil {
		return W3CPublication{}, err
	}
	signer, err := statuslist.NewCredentialSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.Signer()}, a.KID)
	if err != nil {
		return W3CPublication{}, err
	}
	jws, err := statuslist.SignBitstringCredential(cred, signer)
	if err != nil {
		return W3CPublication{}, fmt.Errorf("sign status list: %w", err)
	}
	prev := l.W3C[purpose].Seq
	seq, err := s.anchorStatus(ctx, a, key, l.ID+"/"+purpose, uri, []byte(jws), prev)
	if err != nil {
		return W3CPublication{}, err
	}
	return W3CPublication{Purpose: purpose, PrevSeq: prev, Seq: seq, Credential: jws}, nil
}

// publishW3CChange publishes the W3C lists of l whose bit at idx a change from from to to
// flips.
func (s *Service) publishW3CChange(ctx context.Context, a Agency, key *keys.Key, l StatusList, now time.Time, idx int, from, to uint8) ([]W3CPublication, error) {
	var out []W3CPublication
	for _, p := range W3CLists {
		if w3cValue(p, from) == w3cValue(p, to) {
			continue
		}
		pub, err := s.publishW3C(ctx, a, key, l, p, now, map[int]uint8{idx: to})
		if err != nil {
			return nil, err
		}
		out = append(out, pub)
	}
	return out, nil
}

// W3CStatusList returns the signed W3C list of purpose of status list id (a vc+jwt
// BitstringStatusListCredential) to serve and how long it may be cached (the status TTL). A
// list never published, or whose signing key was rotated out, is signed and anchored first.
// Errors: ErrNotFound (also for an unknown purpose), ErrLedgerRejected.
func (s *Service) W3CStatusList(ctx context.Context, id, purpose string) (string, time.Duration, error) {
	if s.statuses == nil || !contains(W3CLists, purpose) {
		return "", 0, ErrNotFound
	}
	l, err := s.statuses.StatusList(ctx, id)
	if err != nil {
		return "", 0, err
	}
	if c := l.W3C[purpose].Credential; c != "" {
		return c, s.statusTTL, nil
	}
	if s.ledger == nil {
		return "", 0, errors.New("issuer: status lists need a ledger")
	}
	unlock := s.statusMu.lock(id)
	defer unlock()
	if l, err = s.statuses.StatusList(ctx, id); err != nil {
		return "", 0, err
	}
	if c := l.W3C[purpose].Credential; c != "" {
		return c, s.statusTTL, nil
	}
	a, key, err := s.agencyKey(ctx, l.AgencyID)
	if err != nil {
		return "", 0, err
	}
	pub, err := s.publishW3C(ctx, a, key, l, purpose, s.now().UTC().Truncate(time.Second), nil)
	if err != nil {
		return "", 0, err
	}
	if err := s.statuses.SaveW3CStatusList(ctx, id, pub); err != nil {
		return "", 0, fmt.Errorf("save status list: %w", err)
	}
	s.log.InfoContext(ctx, "W3C status list published", "list", id, "purpose", purpose, "seq", pub.Seq)
	return pub.Credential, s.statusTTL, nil
}
