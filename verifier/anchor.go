package verifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// Anchors finds the anchor receipt of a credential: online the issuer or an archive of
// receipts, offline whatever the bundle holds.
type Anchors interface {
	// Receipt returns the anchor receipt (the JSON of merklelog.Receipt) of the credential
	// whose SHA-256 digest is digest, or an error wrapping ErrNotFound when none is known
	// (never anchored, or not yet). Other errors are faults. The verifier checks the receipt
	// itself; Receipt need not.
	Receipt(ctx context.Context, digest []byte) ([]byte, error)
}

// anchor reports the anchor check: a receipt proves one of the credential's anchorable forms
// (the SD-JWT as issued, its issuer JWT, a W3C credential's bytes) is in a batch whose root
// the credential's issuer anchored by an operation in the ledger's log under a checkpoint
// signed by a ledger key. The receipt comes with the request or from Anchors; a credential
// without one is skipped or failed as the policy says.
func (r *run) anchor(ctx context.Context, p *presented) error {
	if r.s.ledgerKeys == nil {
		r.unavailable(CheckAnchor, "no ledger key to verify checkpoints with")
		return nil
	}
	raw := r.receipt
	if raw == nil && r.s.anchors != nil {
		for _, form := range p.anchored {
			sum := sha256.Sum256(form)
			if b, ok := r.s.receipts.get(sum); ok {
				raw = b
				break
			}
			b, err := r.s.anchors.Receipt(ctx, sum[:])
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("anchor receipt: %w", err)
			}
			r.s.receipts.put(sum, b)
			raw = b
			break
		}
	}
	if raw == nil {
		reason := "no anchor receipt for this credential"
		if p.partial {
			reason += " (the holder withheld claims, and the issuer anchored the whole credential, as before the issuer-signed JWT was anchored)"
		}
		r.unavailable(CheckAnchor, reason)
		return nil
	}
	// A receipt that verified for a form and an issuer verifies again: remember the answer.
	key := anchorKey(raw, p)
	if note, ok := r.s.anchorsOK.get(key); ok {
		r.note(CheckAnchor, note)
		return nil
	}
	rc, err := merklelog.ParseReceipt(raw)
	if err != nil {
		r.fail(CheckAnchor, err.Error())
		return nil
	}
	var form []byte
	for _, f := range p.anchored {
		if sum := sha256.Sum256(f); bytes.Equal(sum[:], rc.Digest) {
			form = f
			break
		}
	}
	if form == nil {
		r.fail(CheckAnchor, "the receipt is for another credential")
		return nil
	}
	cp, err := merklelog.VerifyReceipt(rc, form, r.s.ledgerKeys)
	if err != nil {
		r.fail(CheckAnchor, err.Error())
		return nil
	}
	if iss := anchorIssuer(rc.AnchorOp); iss != p.issuer {
		r.fail(CheckAnchor, fmt.Sprintf("the batch was anchored by %q, not by the issuer %s", iss, p.issuer))
		return nil
	}
	note := fmt.Sprintf("anchored in the log of %s at leaf %d, checkpoint size %d", cp.Origin, rc.LeafIndex, cp.Size)
	r.s.anchorsOK.put(key, note)
	r.note(CheckAnchor, note)
	return nil
}

// anchorKey names a (receipt, credential forms, issuer) triple: SHA-256 over each part,
// length-prefixed.
func anchorKey(raw []byte, p *presented) [32]byte {
	h := sha256.New()
	write := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	write(raw)
	write([]byte(p.issuer))
	for _, f := range p.anchored {
		write(f)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// anchorIssuer returns the issuer member of an anchor operation's payload, "" if it has none.
// The receipt's inclusion proof already showed the ledger accepted the operation, and the
// ledger accepts an anchor only when signed by a key of its issuer.
func anchorIssuer(op string) string {
	parts := strings.Split(op, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var p struct {
		Issuer string `json:"issuer"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Issuer
}
