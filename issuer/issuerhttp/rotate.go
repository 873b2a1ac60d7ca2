package issuerhttp

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/issuer"
)

// KeyService is what the key rotation handler needs from the issuer.
type KeyService interface {
	// RotateKey replaces the agency's signing and update keys through a ledger update of its
	// DID and returns the agency with its new kid. Errors: issuer.ErrLedgerRejected.
	RotateKey(ctx context.Context, a issuer.Agency) (issuer.Agency, error)
}

// registerKeys mounts POST /issuer/v1/agency/keys/rotate on g if svc can rotate keys.
func registerKeys(g *echo.Group, h handler) {
	ks, ok := h.svc.(KeyService)
	if !ok {
		return
	}
	g.POST("/agency/keys/rotate", func(c echo.Context) error {
		a, err := h.auth(c)
		if err != nil {
			return err
		}
		a, err = ks.RotateKey(c.Request().Context(), a)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, a)
	})
}
