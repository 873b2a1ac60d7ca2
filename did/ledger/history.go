package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
)

// This file answers the questions an offline copy of the ledger's trust needs (verifier
// trust bundles): who was ever accredited and how, every version of a DID document, and the
// newest publication of each status list.

// TrustRecord is an accredit or withdraw operation the ledger accepted.
type TrustRecord = ledgerstore.Trust

// AccreditedIssuers returns every DID the root authority has accredited at some time,
// including those whose accreditations have ended or been withdrawn, sorted.
func (l *Ledger) AccreditedIssuers(ctx context.Context) ([]string, error) {
	return l.store.TrustIssuers(ctx)
}

// TrustRecords returns the accredit and withdraw records of issuer in log order.
func (l *Ledger) TrustRecords(ctx context.Context, issuer string) ([]TrustRecord, error) {
	return l.store.Trust(ctx, issuer)
}

// AccreditationIn answers what Accreditation answers, from records (the TrustRecords of
// issuer, in log order) instead of the ledger: an offline copy of the records gives the same
// answers. It returns ErrNotAccredited if no accreditation is in effect.
func AccreditationIn(records []TrustRecord, issuer, vct string, at time.Time) (Accreditation, error) {
	a, ok := accreditationAt(records, vct, at.Unix())
	if !ok {
		return Accreditation{}, fmt.Errorf("%w: %s for %q at %s", ErrNotAccredited, issuer, vct, at.UTC().Format(time.RFC3339))
	}
	return Accreditation{Issuer: issuer, Type: vct, Types: a.Types, From: time.Unix(a.From, 0).UTC(), Until: time.Unix(a.Until, 0).UTC(),
		Seq: a.Seq, LeafIndex: a.Leaf}, nil
}

// DIDVersion is one version of a DID document.
type DIDVersion struct {
	Seq         uint64 // 1 for the create
	VersionID   string
	Time        time.Time // the block time, to the millisecond
	LeafIndex   uint64    // of the operation that made it
	Deactivated bool
	Document    *did.Document
}

// History returns every version of the did:ez DID id, oldest first. Errors wrap
// did.ErrInvalidDID or did.ErrNotFound; others are faults.
func (l *Ledger) History(ctx context.Context, id string) ([]DIDVersion, error) {
	if _, err := ParseDID(id); err != nil {
		return nil, err
	}
	vs, err := l.store.Versions(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: %s", did.ErrNotFound, id)
	}
	out := make([]DIDVersion, 0, len(vs))
	for _, v := range vs {
		doc, err := parseStoredDocument(v.Doc)
		if err != nil {
			return nil, fmt.Errorf("stored document of %s: %w", id, err)
		}
		out = append(out, DIDVersion{Seq: v.Seq, VersionID: v.VersionID, Time: time.UnixMilli(v.Time).UTC(), LeafIndex: v.Leaf,
			Deactivated: v.Deactivated, Document: doc.DIDDocument(id)})
	}
	return out, nil
}

// IssuerStatusLists returns the newest publication of every status list issuer published,
// by list URI.
func (l *Ledger) IssuerStatusLists(ctx context.Context, issuer string) (map[string]StatusRecord, error) {
	rows, err := l.store.IssuerStatuses(ctx, issuer)
	if err != nil {
		return nil, err
	}
	out := make(map[string]StatusRecord, len(rows))
	for _, s := range rows {
		out[s.List] = StatusRecord{Issuer: s.Issuer, Seq: s.Seq, Digest: s.Digest, LeafIndex: s.Leaf, Height: s.Height}
	}
	return out, nil
}
