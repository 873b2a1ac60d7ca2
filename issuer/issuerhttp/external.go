package issuerhttp

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
)

// IssuerAccreditor accredits issuers that are not agencies here (issuer.Service).
type IssuerAccreditor interface {
	AccreditIssuer(ctx context.Context, root issuer.Agency, issuerDID string, vcts []string, days int) error
}

// AccreditIssuerRequest is the body of POST /issuer/v1/accreditations: the root authority
// accredits an issuer by its DID for credential types given by vct.
type AccreditIssuerRequest struct {
	Issuer    string   `json:"issuer"`
	Types     []string `json:"types"`
	ValidDays int      `json:"valid_days,omitempty"`
}

// registerExternal mounts POST /issuer/v1/accreditations (root authority token).
func registerExternal(e *echo.Echo, h handler) {
	ia, ok := h.svc.(IssuerAccreditor)
	if !ok {
		return
	}
	e.POST("/issuer/v1/accreditations", func(c echo.Context) error {
		root, err := h.auth(c)
		if err != nil {
			return err
		}
		var req AccreditIssuerRequest
		if err := web.Bind(c, &req); err != nil {
			return err
		}
		if err := ia.AccreditIssuer(c.Request().Context(), root, req.Issuer, req.Types, req.ValidDays); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
}
