package mobilebridge

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/wallet"
)

// credentialDetailer is the wallet's single-credential view (wallet.Service.CredentialDetail):
// the metadata the list shows plus the state of the credential's anchor receipt.
type credentialDetailer interface {
	// CredentialDetail returns one of c's credentials with its anchor status, or
	// wallet.ErrNotFound.
	CredentialDetail(ctx context.Context, c wallet.Citizen, id string) (wallet.Credential, error)
}

// registerCredentialDetail mounts GET /bridge/v1/credentials/{id}: one credential the citizen
// holds, with "anchor" — whether the issuer's anchor on the ledger has been fetched and
// verified ("pending", "anchored" with the receipt, "not_anchored").
func (h handler) registerCredentialDetail(g *echo.Group) {
	cd, ok := h.w.(credentialDetailer)
	if !ok {
		return
	}
	g.GET("/credentials/:id", func(c echo.Context) error {
		cit, err := h.auth(c)
		if err != nil {
			return err
		}
		cr, err := cd.CredentialDetail(c.Request().Context(), cit, c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, cr)
	})
}
