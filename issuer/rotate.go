package issuer

// Key rotation (issue #4): an agency replaces its signing key #key-N with #key-(N+1) and its
// update key with a new one, in one ledger update of its did:ez. The ledger keeps every version
// of the DID document, so credentials signed before stay verifiable: verifiers resolve the
// document in force at a credential's iat.
//
// Crash safety: the new keys are sealed and saved as pending before the update is submitted,
// and promoted (the agency's kid, signing and update keys switched, the old signing key moved
// to the key history) only once the ledger has accepted it. A crash, timeout or lost answer in
// between leaves the pending keys; the next rotation or signing call reconciles them with the
// ledger: if the DID document already lists the pending key it is promoted, otherwise the next
// rotation resubmits with the same pending keys, so whichever update the ledger applies, the
// agency holds its keys. Only a definite rejection by the ledger discards pending keys.

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/keys"
)

// PendingKeys are the sealed keys of a rotation the ledger has not been seen to accept yet.
type PendingKeys struct {
	KID       string    // DID URL of the new signing key ("<did>#key-N")
	Signing   []byte    // the new signing key, sealed as AgencySecrets.Signing is
	Update    []byte    // the new update key, sealed as AgencySecrets.Update is
	CreatedAt time.Time // when the rotation was first attempted
}

// RetiredKey is a signing key an agency used before a rotation. It is kept for the record
// and never used to sign again.
type RetiredKey struct {
	KID       string    `json:"kid"`
	RetiredAt time.Time `json:"retired_at"`
}

// KeyStore is the optional ability of a Store to keep key rotations, found by type assertion
// (issuerstore.Store has it). Without it RotateKey fails.
type KeyStore interface {
	// SavePendingKeys stores p as the agency's pending rotation, replacing an earlier one.
	SavePendingKeys(ctx context.Context, agencyID string, p PendingKeys) error
	// PendingKeys returns the agency's pending rotation, or ErrNotFound.
	PendingKeys(ctx context.Context, agencyID string) (PendingKeys, error)
	// DeletePendingKeys deletes the pending rotation whose kid is kid, if there is one.
	DeletePendingKeys(ctx context.Context, agencyID, kid string) error
	// PromoteKeys makes the pending rotation whose kid is kid current, in one transaction: the
	// agency's signing key moves to the key history (retired at at), the pending signing and
	// update keys and kid replace it, the agency's signed status list tokens are marked
	// expired (so they are re-signed with the new key), and the pending row is deleted. It
	// returns the updated agency, or ErrNotFound if there is no such pending rotation.
	PromoteKeys(ctx context.Context, agencyID, kid string, at time.Time) (Agency, error)
	// StatusListIDs returns the ids of the agency's published status lists.
	StatusListIDs(ctx context.Context, agencyID string) ([]string, error)
}

// Sealing additional data of an agency's keys: its id and the key's role.
const (
	roleSigning = '0'
	roleUpdate  = '1'
)

func keyAAD(agencyID string, role byte) []byte { return append([]byte(agencyID), role) }

// RotateKey replaces agency a's signing key #key-N with a new Ed25519 key #key-(N+1) and its
// update key with a new one, through a ledger update of its DID signed with the current update
// key. Credentials and status lists signed afterwards use the new key and kid; the old signing
// key is kept in the key history and never signs again. It returns the agency with its new
// kid. Errors: ErrLedgerRejected if the ledger refuses the update (the agency keeps its keys),
// ErrNotFound for an unknown agency; after other errors (the ledger's answer lost) the new keys
// stay pending, and the next call promotes them if the ledger has them (returning the agency
// without rotating again) or resubmits them. Rotations are serialised within the Service;
// signing for the agency waits while one is under way.
func (s *Service) RotateKey(ctx context.Context, a Agency) (Agency, error) {
	ks, ok := s.store.(KeyStore)
	if !ok || s.ledger == nil {
		return Agency{}, errors.New("issuer: key rotation needs a ledger and a store that keeps keys")
	}
	na, err := s.rotateLocked(ctx, ks, a.ID)
	if err != nil {
		return Agency{}, err
	}
	s.audit(ctx, s.auditEntry(a, AuditAgencyRotate, a.ID, "", map[string]string{"kid": na.KID}))
	// Outside rotateMu: republishing takes status list locks, whose holders may be waiting
	// for rotateMu in agencyKey.
	s.republishStatusLists(ctx, ks, na.ID)
	return na, nil
}

func (s *Service) rotateLocked(ctx context.Context, ks KeyStore, agencyID string) (Agency, error) {
	s.rotateMu.Lock()
	defer s.rotateMu.Unlock()
	a, promoted, err := s.reconcileKeys(ctx, ks, agencyID)
	if err != nil || promoted {
		// A rotation whose answer was lost had been applied: it is the one asked for again.
		return a, err
	}
	_, prev, err := s.currentDocument(ctx, a.DID)
	if err != nil {
		return Agency{}, err
	}
	p, signing, update, err := s.pendingRotation(ctx, ks, a)
	if err != nil {
		return Agency{}, err
	}
	sec, err := s.store.Secrets(ctx, a.ID)
	if err != nil {
		return Agency{}, err
	}
	current, err := s.sealer.OpenKey(sec.Update, keyAAD(a.ID, roleUpdate))
	if err != nil {
		return Agency{}, fmt.Errorf("open update key: %w", err)
	}
	op, err := rotationOp(a, prev, p.KID, signing.Public(), update.Public())
	if err != nil {
		return Agency{}, err
	}
	jws, err := ledger.SignOp(op, current.Signer(), a.DID+"#update")
	if err != nil {
		return Agency{}, err
	}
	if err := s.submit(ctx, jws); err != nil {
		// A rejected update is final (prev and the update key only move on), so its keys can
		// go; after any other failure the update may have been applied, and they stay pending.
		if errors.Is(err, ErrLedgerRejected) {
			if derr := ks.DeletePendingKeys(ctx, a.ID, p.KID); derr != nil {
				s.log.WarnContext(ctx, "rejected key rotation left pending", "agency", a.ID, "err", derr)
			}
		}
		return Agency{}, fmt.Errorf("rotate key of %s: %w", a.DID, err)
	}
	na, err := ks.PromoteKeys(ctx, a.ID, p.KID, s.now().UTC())
	if errors.Is(err, ErrNotFound) { // promoted meanwhile by a reconciliation
		na, err = s.store.Agency(ctx, a.ID)
	}
	if err != nil {
		return Agency{}, fmt.Errorf("the ledger accepted the rotation of %s but promoting its keys failed (retried on next use): %w", a.DID, err)
	}
	s.log.InfoContext(ctx, "agency key rotated", "agency", a.ID, "old_kid", a.KID, "kid", na.KID)
	return na, nil
}

// pendingRotation returns the agency's pending rotation with its opened keys, making and
// saving a new one if there is none.
func (s *Service) pendingRotation(ctx context.Context, ks KeyStore, a Agency) (PendingKeys, *keys.Key, *keys.Key, error) {
	p, err := ks.PendingKeys(ctx, a.ID)
	switch {
	case err == nil:
		signing, err := s.sealer.OpenKey(p.Signing, keyAAD(a.ID, roleSigning))
		if err != nil {
			return p, nil, nil, fmt.Errorf("open pending signing key: %w", err)
		}
		update, err := s.sealer.OpenKey(p.Update, keyAAD(a.ID, roleUpdate))
		if err != nil {
			return p, nil, nil, fmt.Errorf("open pending update key: %w", err)
		}
		return p, signing, update, nil
	case !errors.Is(err, ErrNotFound):
		return p, nil, nil, err
	}
	n, err := keyNumber(a.KID)
	if err != nil {
		return p, nil, nil, err
	}
	signing, err := keys.Generate(keys.EdDSA, nil)
	if err != nil {
		return p, nil, nil, err
	}
	update, err := keys.Generate(keys.EdDSA, nil)
	if err != nil {
		return p, nil, nil, err
	}
	p = PendingKeys{KID: fmt.Sprintf("%s#key-%d", a.DID, n+1), CreatedAt: s.now().UTC().Truncate(time.Second)}
	if p.Signing, err = s.sealer.SealKey(signing, keyAAD(a.ID, roleSigning)); err != nil {
		return p, nil, nil, err
	}
	if p.Update, err = s.sealer.SealKey(update, keyAAD(a.ID, roleUpdate)); err != nil {
		return p, nil, nil, err
	}
	if err := ks.SavePendingKeys(ctx, a.ID, p); err != nil {
		return p, nil, nil, fmt.Errorf("save pending keys: %w", err)
	}
	return p, signing, update, nil
}

// rotationOp is the update that makes newKID the DID's only authentication and assertion
// key, removes a's current key and rotates the update key.
func rotationOp(a Agency, prev, newKID string, signing, update crypto.PublicKey) (ledger.Op, error) {
	oldFrag, newFrag := fragment(a.KID), fragment(newKID)
	if oldFrag == "" || newFrag == "" {
		return ledger.Op{}, fmt.Errorf("agency %s: kid %q is not a key of %s", a.ID, a.KID, a.DID)
	}
	op := ledger.NewUpdate(a.DID, prev,
		ledger.Patch{Action: ledger.ActionAddKeys, Keys: []ledger.Key{{ID: newFrag, JWK: &jose.JSONWebKey{Key: signing}}}},
		ledger.Patch{Action: ledger.ActionSetRelationships, Authentication: []string{newFrag}, AssertionMethod: []string{newFrag}},
		ledger.Patch{Action: ledger.ActionRemoveKeys, IDs: []string{oldFrag}},
	)
	op.NextUpdateKey = &jose.JSONWebKey{Key: update}
	return op, nil
}

// reconcileKeys settles the agency's pending rotation, if any, with the ledger: when the DID
// document already lists the pending key as an assertion key, the ledger applied the update
// and the keys are promoted (promoted true). Otherwise they stay pending. It returns the
// agency as stored. Callers hold s.rotateMu.
func (s *Service) reconcileKeys(ctx context.Context, ks KeyStore, agencyID string) (a Agency, promoted bool, err error) {
	if a, err = s.store.Agency(ctx, agencyID); err != nil {
		return Agency{}, false, err
	}
	p, err := ks.PendingKeys(ctx, agencyID)
	if errors.Is(err, ErrNotFound) {
		return a, false, nil
	}
	if err != nil {
		return Agency{}, false, err
	}
	doc, _, err := s.currentDocument(ctx, a.DID)
	if err != nil {
		return Agency{}, false, err
	}
	listed, err := doc.Key(p.KID, did.AssertionMethod)
	if errors.Is(err, did.ErrKeyNotFound) {
		return a, false, nil // the update was not applied; the next rotation resubmits these keys
	}
	if err != nil {
		return Agency{}, false, err
	}
	signing, err := s.sealer.OpenKey(p.Signing, keyAAD(a.ID, roleSigning))
	if err != nil {
		return Agency{}, false, fmt.Errorf("open pending signing key: %w", err)
	}
	if !sameKey(listed, signing) {
		return Agency{}, false, fmt.Errorf("issuer: %s on the ledger is not the agency's pending key", p.KID)
	}
	na, err := ks.PromoteKeys(ctx, a.ID, p.KID, s.now().UTC())
	if err != nil {
		return Agency{}, false, fmt.Errorf("promote keys: %w", err)
	}
	s.log.InfoContext(ctx, "pending key rotation promoted: the ledger had applied it", "agency", a.ID, "old_kid", a.KID, "kid", na.KID)
	return na, true, nil
}

// settleRotation runs before the agency's key signs anything. If a rotation of the agency is
// pending it waits for a rotation under way in this process to finish (so that nothing signed
// with the old key reaches the ledger after the update, which would reject it), then
// reconciles what is left with the ledger (see reconcileKeys), so that a crash after the
// ledger accepted a rotation never leaves the agency signing with a key its DID no longer
// lists. It does not republish status lists (its callers may hold their locks): their tokens
// were marked expired by the promotion and are re-signed when next served.
func (s *Service) settleRotation(ctx context.Context, agencyID string) error {
	ks, ok := s.store.(KeyStore)
	if !ok || s.ledger == nil {
		return nil
	}
	if _, err := ks.PendingKeys(ctx, agencyID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	s.rotateMu.Lock()
	defer s.rotateMu.Unlock()
	_, _, err := s.reconcileKeys(ctx, ks, agencyID)
	return err
}

// republishStatusLists re-signs the agency's published status lists (and their published W3C
// lists) with its new key and anchors them, so verifiers see lists signed with a key the DID lists now. Failures are
// logged: the lists' tokens are marked expired and re-signed when next served anyway.
func (s *Service) republishStatusLists(ctx context.Context, ks KeyStore, agencyID string) {
	if s.statuses == nil {
		return
	}
	ids, err := ks.StatusListIDs(ctx, agencyID)
	if err != nil {
		s.log.WarnContext(ctx, "status lists not re-signed after key rotation", "agency", agencyID, "err", err)
		return
	}
	for _, id := range ids {
		if _, _, err := s.StatusListToken(ctx, id); err != nil {
			s.log.WarnContext(ctx, "status list not re-signed after key rotation", "agency", agencyID, "list", id, "err", err)
		}
		l, err := s.statuses.StatusList(ctx, id)
		if err != nil {
			continue
		}
		for _, p := range W3CLists {
			if l.W3C[p].Seq == 0 { // never published: signed when first served
				continue
			}
			if _, _, err := s.W3CStatusList(ctx, id, p); err != nil {
				s.log.WarnContext(ctx, "W3C status list not re-signed after key rotation", "agency", agencyID, "list", id, "purpose", p, "err", err)
			}
		}
	}
}

// currentDocument resolves the DID's current document and its versionId.
func (s *Service) currentDocument(ctx context.Context, d string) (*did.Document, string, error) {
	vr, ok := s.resolver.(did.VersionResolver)
	if !ok {
		return nil, "", errors.New("issuer: the resolver has no DID versions")
	}
	doc, md, err := vr.ResolveVersion(ctx, d, did.Query{})
	if err != nil {
		return nil, "", fmt.Errorf("resolve %s: %w", d, err)
	}
	if md.VersionID == "" {
		return nil, "", fmt.Errorf("resolve %s: no versionId", d)
	}
	return doc, md.VersionID, nil
}

// keyNumber returns N of a kid "<did>#key-N".
func keyNumber(kid string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(fragment(kid), "#key-"))
	if err != nil || n < 1 || !strings.HasPrefix(fragment(kid), "#key-") {
		return 0, fmt.Errorf("issuer: kid %q: want <did>#key-N", kid)
	}
	return n, nil
}

// fragment returns "#frag" of a DID URL, or "".
func fragment(kid string) string {
	if i := strings.IndexByte(kid, '#'); i >= 0 && i < len(kid)-1 {
		return kid[i:]
	}
	return ""
}

func sameKey(listed *jose.JSONWebKey, k *keys.Key) bool {
	a, err1 := listed.Thumbprint(crypto.SHA256)
	pub := k.PublicJWK()
	b, err2 := pub.Thumbprint(crypto.SHA256)
	return err1 == nil && err2 == nil && string(a) == string(b)
}
