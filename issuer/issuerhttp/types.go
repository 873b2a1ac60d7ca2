package issuerhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// TypeService is what the credential type and audit endpoints need from the issuer: an
// agency's own types and its audit log.
type TypeService interface {
	// AddType adds a type file to the agency; see issuer.Service.AddType.
	AddType(ctx context.Context, a issuer.Agency, fileName string, file []byte) (*credtype.Type, error)
	// AgencyTypes lists the types the agency sees (built in and its own).
	AgencyTypes(ctx context.Context, a issuer.Agency) ([]*credtype.Type, error)
	// AgencyType returns one type the agency sees, or issuer.ErrUnknownType.
	AgencyType(ctx context.Context, a issuer.Agency, name string) (*credtype.Type, error)
	// Audit returns a page of the agency's own audit log.
	Audit(ctx context.Context, a issuer.Agency, after int64, limit int) (issuer.AuditPage, error)
}

// TypeSummary is one type in GET /issuer/v1/types.
type TypeSummary struct {
	Name     string   `json:"name"`
	VCT      string   `json:"vct"`
	Validity string   `json:"validity"` // a Go duration
	Approval string   `json:"approval"`
	Formats  []string `json:"formats"`
	// Display holds the name per language.
	Display map[string]string `json:"display"`
	// Own is true for a type the agency added (POST /issuer/v1/types), false for a built-in.
	Own bool `json:"own"`
}

// TypeList is the body of GET /issuer/v1/types.
type TypeList struct {
	Types []TypeSummary `json:"types"`
}

// registerTypes mounts the agency's credential types and audit log if svc offers them.
func registerTypes(g *echo.Group, h handler) {
	ts, ok := h.svc.(TypeService)
	if !ok {
		return
	}
	th := typeHandler{h, ts}
	g.POST("/types", th.add)
	g.GET("/types", th.list)
	g.GET("/types/:name", th.show)
	g.GET("/audit", th.audit)
}

type typeHandler struct {
	handler
	svc TypeService
}

// typeFileName names an uploaded type file by its media type: JSON or YAML.
func typeFileName(ct string) (string, error) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = ""
	}
	switch mt {
	case echo.MIMEApplicationJSON:
		return "type.json", nil
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return "type.yaml", nil
	}
	return "", fmt.Errorf("%w: Content-Type must be application/json or application/yaml", problem.ErrUnsupportedMediaType)
}

func (h typeHandler) add(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	name, err := typeFileName(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, credtype.MaxFileSize+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: request body exceeds %d bytes", problem.ErrTooLarge, mbe.Limit)
	case err != nil:
		return fmt.Errorf("%w: reading request body: %v", problem.ErrMalformed, err)
	case len(body) > credtype.MaxFileSize:
		return fmt.Errorf("%w: a type file is at most %d bytes", problem.ErrTooLarge, credtype.MaxFileSize)
	}
	t, err := h.svc.AddType(c.Request().Context(), a, name, body)
	if errors.Is(err, issuer.ErrInvalidTypeFile) {
		return typeFileProblem(err)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/issuer/v1/types/"+t.Name)
	return c.JSON(http.StatusCreated, t.TypeMetadata())
}

// typeFileProblem lists every problem of a type file, one per field.
func typeFileProblem(err error) *problem.Problem {
	p := &problem.Problem{Type: problem.TypeURI("invalid-type-file"), Title: "The credential type file is not valid",
		Status: http.StatusUnprocessableEntity, Detail: "the type file has errors; nothing was stored"}
	for _, fe := range fileErrors(err) {
		field := fe.Field
		if field == "" {
			field = "(file)"
		}
		p.Errors = append(p.Errors, problem.FieldError{Field: field, Detail: fe.Err.Error()})
	}
	return p
}

// fileErrors returns every *credtype.FileError in err's tree (errors.Join nests them).
func fileErrors(err error) []*credtype.FileError {
	var out []*credtype.FileError
	switch e := err.(type) {
	case *credtype.FileError:
		return []*credtype.FileError{e}
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			out = append(out, fileErrors(inner)...)
		}
	case interface{ Unwrap() error }:
		return fileErrors(e.Unwrap())
	}
	return out
}

func (h typeHandler) list(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	all, err := h.svc.AgencyTypes(c.Request().Context(), a)
	if err != nil {
		return err
	}
	out := TypeList{Types: []TypeSummary{}}
	for _, t := range all {
		_, builtinErr := credtype.Builtin().Lookup(t.Name)
		s := TypeSummary{Name: t.Name, VCT: t.VCT, Validity: t.Validity.String(), Approval: string(t.Approval),
			Formats: t.Formats, Display: map[string]string{}, Own: builtinErr != nil}
		for _, d := range t.Display {
			s.Display[d.Lang] = d.Name
		}
		out.Types = append(out.Types, s)
	}
	return c.JSON(http.StatusOK, out)
}

func (h typeHandler) show(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	t, err := h.svc.AgencyType(c.Request().Context(), a, c.Param("name"))
	if err != nil {
		return err
	}
	switch c.QueryParam("example") {
	case "", "false":
		return c.JSON(http.StatusOK, t.TypeMetadata())
	case "true":
		return c.JSON(http.StatusOK, t.Example())
	}
	return fmt.Errorf("%w: example must be true or false", issuer.ErrInvalidRequest)
}

func (h typeHandler) audit(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	var after int64
	var limit int
	if s := c.QueryParam("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("%w: after must be an entry's seq", issuer.ErrInvalidRequest)
		}
	}
	if s := c.QueryParam("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			return fmt.Errorf("%w: limit must be between 1 and %d", issuer.ErrInvalidRequest, issuer.MaxAuditLimit)
		}
	}
	p, err := h.svc.Audit(c.Request().Context(), a, after, limit)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, p)
}
