package bundle

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// Apply applies the delta file delta to the opened bundle b and returns the new bundle (b is
// unchanged). The delta must be signed by the pinned key, start at b's sequence
// (ErrSequence otherwise), carry a checkpoint consistent with b's (an RFC 9162 consistency
// proof), and give a bundle whose payload the delta's full-bundle signature verifies
// (ErrSignature): the result is then the very bundle the server signed at the new sequence,
// and its File is what a full export at that sequence returns.
func Apply(b *Bundle, delta []byte, pin Pin, opts Options) (*Bundle, error) {
	lim := opts.Limits.orDefault()
	env, err := open(delta, pin, kindDelta, lim)
	if err != nil {
		return nil, err
	}
	var d Delta
	if err := decode(env.payload, &d, d.normalize); err != nil {
		return nil, err
	}
	if d.Format != FormatDelta {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, d.Format, FormatDelta)
	}
	if d.Version != Version {
		return nil, fmt.Errorf("%w: payload version %d", ErrVersion, d.Version)
	}
	old := b.content
	if d.From != old.Seq {
		return nil, fmt.Errorf("%w: the delta starts at sequence %d, the bundle is at %d (fetch a delta since %d, or a full bundle)", ErrSequence, d.From, old.Seq, old.Seq)
	}
	if d.Seq < d.From || d.Created < old.Created {
		return nil, fmt.Errorf("%w: the delta goes back (sequence %d→%d, created %d→%d)", ErrSequence, d.From, d.Seq, old.Created, d.Created)
	}
	if d.Ledger.Origin != old.Ledger.Origin || d.Ledger.Key != old.Ledger.Key {
		return nil, fmt.Errorf("%w: the delta is for ledger %q, the bundle for %q", ErrSequence, d.Ledger.Origin, old.Ledger.Origin)
	}
	cp, err := openCheckpoint(d.Ledger, opts.LedgerKey)
	if err != nil {
		return nil, err
	}
	if cp.Size != d.Seq {
		return nil, fmt.Errorf("%w: checkpoint tree size %d is not the delta's sequence %d", ErrCheckpoint, cp.Size, d.Seq)
	}
	if d.From > 0 && d.From < d.Seq {
		if err := merklelog.VerifyConsistency(d.From, d.Seq, d.Consistency, b.checkpoint.Root, cp.Root); err != nil {
			return nil, fmt.Errorf("%w: the new checkpoint is not an extension of the bundle's: %v", ErrCheckpoint, err)
		}
	} else if d.From == d.Seq && string(cp.Root) != string(b.checkpoint.Root) {
		return nil, fmt.Errorf("%w: same tree size, different root", ErrCheckpoint)
	}

	c := Content{Format: FormatFull, Version: Version, Seq: d.Seq, Created: d.Created, Ledger: d.Ledger,
		Issuers: merge(old.Issuers, d.Issuers), Policies: d.Policies}
	c.normalize()
	payload, err := encode(c)
	if err != nil {
		return nil, err
	}
	if len(d.Signature) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(env.key), message(kindFull, payload), d.Signature) {
		return nil, fmt.Errorf("%w: the delta applied to bundle %d does not give the bundle the server signed at %d", ErrSignature, old.Seq, d.Seq)
	}
	if int64(len(payload)) > lim.Payload {
		return nil, fmt.Errorf("%w: payload over %d bytes", ErrTooLarge, lim.Payload)
	}
	nb, err := index(c, lim, opts.LedgerKey)
	if err != nil {
		return nil, err
	}
	if nb.file, err = seal(kindFull, env.key, d.Signature, payload); err != nil {
		return nil, err
	}
	nb.key = env.key
	return nb, nil
}

func (d *Delta) normalize() {
	if d.Consistency == nil {
		d.Consistency = [][]byte{}
	}
	if d.Issuers == nil {
		d.Issuers = []Issuer{}
	}
	if d.Policies == nil {
		d.Policies = map[string][]byte{}
	}
	for i := range d.Issuers {
		d.Issuers[i].normalize()
	}
}

// merge returns old with the delta's items added: new issuers inserted in DID order, trust
// records and versions appended, status lists replaced by URI. It does not modify old.
func merge(old, changes []Issuer) []Issuer {
	out := make([]Issuer, len(old))
	for i, is := range old {
		out[i] = Issuer{DID: is.DID, Trust: slices.Clone(is.Trust), Versions: slices.Clone(is.Versions), StatusLists: slices.Clone(is.StatusLists)}
	}
	for _, ch := range changes {
		i, found := slices.BinarySearchFunc(out, ch.DID, func(is Issuer, id string) int { return strings.Compare(is.DID, id) })
		if !found {
			out = slices.Insert(out, i, Issuer{DID: ch.DID, Trust: []Trust{}, Versions: []DIDVersion{}, StatusLists: []StatusList{}})
		}
		is := &out[i]
		is.Trust = append(is.Trust, ch.Trust...)
		is.Versions = append(is.Versions, ch.Versions...)
		for _, l := range ch.StatusLists {
			j, found := slices.BinarySearchFunc(is.StatusLists, l.URI, func(x StatusList, uri string) int { return strings.Compare(x.URI, uri) })
			if found {
				is.StatusLists[j] = l
			} else {
				is.StatusLists = slices.Insert(is.StatusLists, j, l)
			}
		}
	}
	return out
}
