package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/wallet"
)

// walletChecker lets the wallet check every credential it receives with the verifier's engine
// (wallet.CredentialChecker): the "credential" policy (a credential on its own, without
// proof of its holder), no verification record (the wallet is not a verifier; its checks are
// not a counter's decisions). It reads s.Verifier when called: the wallet is made first.
type walletChecker struct{ s *Server }

// credentialPolicy is the built-in verification policy for a credential shown on its own
// (verifier/policies/credential.yaml), as the VC-API's POST /credentials/verify applies.
const credentialPolicy = "credential"

func (w walletChecker) CheckCredential(ctx context.Context, raw string) ([]wallet.CheckOutcome, error) {
	res, err := w.s.Verifier.Verify(ctx, raw, verifier.Options{Policy: credentialPolicy, NoRecord: true})
	if errors.Is(err, verifier.ErrNotPresentation) {
		return nil, fmt.Errorf("%w: %v", wallet.ErrInvalidCredential, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]wallet.CheckOutcome, len(res.Checks))
	for i, c := range res.Checks {
		out[i] = wallet.CheckOutcome{Name: c.Name, OK: c.OK, Skipped: c.Skipped, Reason: c.Reason}
	}
	return out, nil
}

// walletReceipts gives the wallet the issuer's anchor receipts by credential digest
// (wallet.ReceiptSource); over HTTP the same is issuerhttp.ReceiptClient.
type walletReceipts struct{ iss *issuer.Service }

func (w walletReceipts) Receipt(ctx context.Context, digest []byte) ([]byte, error) {
	r, err := w.iss.ReceiptByDigest(ctx, digest)
	if errors.Is(err, issuer.ErrNotFound) || errors.Is(err, issuer.ErrNotAnchored) {
		return nil, fmt.Errorf("%w: %v", wallet.ErrNotFound, err)
	}
	return r, err
}
