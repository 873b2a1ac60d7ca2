// Package didhttp serves DID resolution over HTTP per the W3C DID Resolution HTTP(S) binding:
// GET /1.0/identifiers/{did}.
package didhttp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/problem"
)

// Result is a DID resolution result.
type Result struct {
	Context          string         `json:"@context"`
	DIDDocument      *did.Document  `json:"didDocument"`
	ResolutionMeta   map[string]any `json:"didResolutionMetadata"`
	DocumentMetadata did.Metadata   `json:"didDocumentMetadata"`
}

// The media types of the binding.
const (
	MediaResolution = "application/did-resolution"
	MediaDIDLD      = "application/did+ld+json"
	MediaDID        = "application/did+json"
)

// Register mounts GET /1.0/identifiers/:did resolving with r. The query parameters versionId
// and versionTime (RFC 3339) ask for a past version.
func Register(e *echo.Echo, r did.VersionResolver) {
	e.GET("/1.0/identifiers/:did", func(c echo.Context) error {
		raw, err := url.PathUnescape(c.Param("did"))
		if err != nil {
			return resolutionProblem(did.ErrInvalidDID, "the DID is not properly percent-encoded")
		}
		q := did.Query{VersionID: c.QueryParam("versionId")}
		if vt := c.QueryParam("versionTime"); vt != "" {
			if q.VersionTime, err = time.Parse(time.RFC3339, vt); err != nil {
				return resolutionProblem(did.ErrInvalidDID, "versionTime must be an RFC 3339 date-time")
			}
		}
		doc, meta, err := resolve(c.Request().Context(), r, raw, q)
		if err != nil {
			return err
		}
		accept := c.Request().Header.Get(echo.HeaderAccept)
		switch {
		case strings.Contains(accept, MediaDIDLD):
			return jsonAs(c, MediaDIDLD, doc)
		case strings.Contains(accept, MediaDID):
			return jsonAs(c, MediaDID, doc)
		}
		return jsonAs(c, MediaResolution, Result{
			Context:          "https://w3id.org/did-resolution/v1",
			DIDDocument:      doc,
			ResolutionMeta:   map[string]any{"contentType": MediaDIDLD},
			DocumentMetadata: meta,
		})
	})
}

func resolve(ctx context.Context, r did.VersionResolver, raw string, q did.Query) (*did.Document, did.Metadata, error) {
	doc, meta, err := r.ResolveVersion(ctx, raw, q)
	if err == nil {
		return doc, meta, nil
	}
	for _, e := range []error{did.ErrInvalidDID, did.ErrMethodNotSupported, did.ErrNotFound, did.ErrWebFetch} {
		if errors.Is(err, e) {
			return nil, meta, resolutionProblem(e, err.Error())
		}
	}
	return nil, meta, err
}

// resolutionProblem answers with the DID Resolution error types (absolute URIs in the DID
// namespace), shaped as RFC 9457 problem details as the DID Resolution draft specifies.
func resolutionProblem(kind error, detail string) *problem.Problem {
	p := &problem.Problem{Detail: detail}
	switch kind {
	case did.ErrInvalidDID:
		p.Type, p.Title, p.Status = "https://www.w3.org/ns/did#INVALID_DID", "Invalid DID", http.StatusBadRequest
	case did.ErrMethodNotSupported:
		p.Type, p.Title, p.Status = "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED", "DID method not supported", http.StatusNotImplemented
	default: // not found, or a did:web document that could not be fetched
		p.Type, p.Title, p.Status = "https://www.w3.org/ns/did#NOT_FOUND", "DID not found", http.StatusNotFound
	}
	return p
}

func jsonAs(c echo.Context, mediaType string, v any) error {
	c.Response().Header().Set(echo.HeaderContentType, mediaType)
	return c.JSON(http.StatusOK, v)
}
