package issuerhttp

import (
	"context"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
)

// StatusService is what the status handlers need from the issuer: changing a credential's
// status and serving the signed status lists.
type StatusService interface {
	SetStatus(ctx context.Context, a issuer.Agency, id string, req issuer.StatusRequest) (issuer.StatusResult, error)
	// StatusListToken returns the statuslist+jwt to serve and how long it may be cached, or
	// ErrNotFound.
	StatusListToken(ctx context.Context, id string) (string, time.Duration, error)
}

// StatusChangeRequest is the body of POST /issuer/v1/credentials/{id}/status.
type StatusChangeRequest struct {
	Action string `json:"action"`         // revoke, suspend or reinstate
	Reason string `json:"reason"`         // an RFC 5280 CRLReason name in camelCase
	Note   string `json:"note,omitempty"` // operator's note for the audit trail; no personal data
}

// ContentTypeStatusList is the media type of a Status List Token.
const ContentTypeStatusList = "application/statuslist+jwt"

// registerStatus mounts the status endpoints on g if svc can change statuses.
func registerStatus(g *echo.Group, h handler) {
	ss, ok := h.svc.(StatusService)
	if !ok {
		return
	}
	g.POST("/credentials/:id/status", func(c echo.Context) error {
		a, err := h.auth(c)
		if err != nil {
			return err
		}
		var req StatusChangeRequest
		if err := web.Bind(c, &req); err != nil {
			return err
		}
		res, err := ss.SetStatus(c.Request().Context(), a, c.Param("id"), issuer.StatusRequest{Action: req.Action, Reason: req.Reason, Note: req.Note})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	})
	g.GET("/status/:list", func(c echo.Context) error {
		tok, ttl, err := ss.StatusListToken(c.Request().Context(), c.Param("list"))
		if err != nil {
			return err
		}
		etag := `"` + hex.EncodeToString(statuslist.Digest([]byte(tok))[:16]) + `"`
		hdr := c.Response().Header()
		hdr.Set("ETag", etag)
		hdr.Set("Cache-Control", "max-age="+strconv.Itoa(int(ttl/time.Second)))
		if match := c.Request().Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, ContentTypeStatusList, []byte(tok))
	})
}

// etagMatches reports whether an If-None-Match header lists etag (or is "*").
func etagMatches(header, etag string) bool {
	for _, m := range strings.Split(header, ",") {
		m = strings.TrimPrefix(strings.TrimSpace(m), "W/")
		if m == etag || m == "*" {
			return true
		}
	}
	return false
}
