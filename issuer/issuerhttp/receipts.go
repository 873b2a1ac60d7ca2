package issuerhttp

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/issuer"
)

// ReceiptService finds anchor receipts by credential digest (issuer.Service).
type ReceiptService interface {
	ReceiptByDigest(ctx context.Context, digest []byte) ([]byte, error)
}

// registerReceipts mounts GET /issuer/v1/receipts/{digest}: the anchor receipt of the
// credential whose SHA-256 as issued is digest (64 hex digits). It needs no token: a receipt
// holds digests and the ledger's anchor operation, no personal data, and only a holder of the
// credential knows its digest. 404 not-anchored (with Retry-After) while its batch waits.
func registerReceipts(g *echo.Group, h handler) {
	rs, ok := h.svc.(ReceiptService)
	if !ok {
		return
	}
	g.GET("/receipts/:digest", func(c echo.Context) error {
		d, err := hex.DecodeString(c.Param("digest"))
		if err != nil || len(d) != 32 {
			return fmt.Errorf("%w: the digest is 64 hex digits of SHA-256", issuer.ErrInvalidRequest)
		}
		r, err := rs.ReceiptByDigest(c.Request().Context(), d)
		if errors.Is(err, issuer.ErrNotAnchored) {
			c.Response().Header().Set("Retry-After", "1")
		}
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=86400, immutable")
		return c.JSONBlob(http.StatusOK, r)
	})
}

// ReceiptClient fetches anchor receipts by digest from an issuer's
// GET /issuer/v1/receipts/{digest}: the HTTP form of ReceiptService, for a wallet or verifier
// that runs apart from the issuer.
type ReceiptClient struct {
	// BaseURL is the issuer's base URL, without a trailing slash.
	BaseURL string
	// Client sends the requests; http.DefaultClient when nil.
	Client *http.Client
	// NotFound is the error Receipt wraps for "no receipt (yet)": the caller's own
	// not-found sentinel (wallet.ErrNotFound, verifier.ErrNotFound); issuer.ErrNotFound
	// when nil.
	NotFound error
}

// Receipt returns the receipt of the credential whose SHA-256 is digest, an error wrapping
// c.NotFound when the issuer has none (yet), or another error.
func (c ReceiptClient) Receipt(ctx context.Context, digest []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/issuer/v1/receipts/"+hex.EncodeToString(digest), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, merklelog.MaxReceiptSize+1))
	if err != nil {
		return nil, err
	}
	notFound := c.NotFound
	if notFound == nil {
		notFound = issuer.ErrNotFound
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: no anchor receipt for %x", notFound, digest)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("receipt %x: HTTP %d", digest, resp.StatusCode)
	case len(b) > merklelog.MaxReceiptSize:
		return nil, fmt.Errorf("receipt %x: larger than %d bytes", digest, merklelog.MaxReceiptSize)
	}
	return b, nil
}
