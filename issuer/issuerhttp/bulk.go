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
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
)

// BulkService is what the bulk handlers need: the agency's token, and issuer.Bulk's Submit,
// Progress and Rows.
type BulkService interface {
	Authenticate(ctx context.Context, token string) (issuer.Agency, error)
	Submit(ctx context.Context, a issuer.Agency, typ string, format issuer.BulkFormat, file []byte) (issuer.BulkJob, bool, error)
	Progress(ctx context.Context, a issuer.Agency, id string) (issuer.BulkProgress, error)
	Rows(ctx context.Context, a issuer.Agency, id, state string, after, limit int) ([]issuer.BulkRow, error)
}

// BulkPath is where bulk files are uploaded.
const BulkPath = "/issuer/v1/bulk"

// bulkBodyKey is the echo.Context key of the upload's own body (see RegisterBulk).
const bulkBodyKey = "ezheng.bulk_body"

// RegisterBulk mounts the bulk issuance API:
//
//	POST /issuer/v1/bulk?type=T          upload a CSV (text/csv) or JSONL (application/x-ndjson,
//	                                     application/jsonl) file → 202 job (200: the same file again)
//	GET  /issuer/v1/bulk/{id}            progress: state, total, done, failed, rate, eta_seconds
//	GET  /issuer/v1/bulk/{id}/rows       rows (?state=failed&after=N&limit=N) with their problems
//
// Uploads may be up to issuer.MaxBulkFileSize, above the server's body limit: a pre-routing
// middleware keeps the upload's body aside (and hides its length from the server-wide
// limit), and the handler reads it with the bulk limit instead.
func RegisterBulk(e *echo.Echo, svc BulkService) {
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method == http.MethodPost && r.URL.Path == BulkPath && r.Body != nil {
				c.Set(bulkBodyKey, bulkBody{body: r.Body, length: r.ContentLength})
				r.ContentLength = -1
			}
			return next(c)
		}
	})
	h := bulkHandler{svc}
	e.POST(BulkPath, h.submit)
	e.GET(BulkPath+"/:id", h.progress)
	e.GET(BulkPath+"/:id/rows", h.rows)
}

type bulkBody struct {
	body   io.ReadCloser
	length int64
}

type bulkHandler struct{ svc BulkService }

func (h bulkHandler) auth(c echo.Context) (issuer.Agency, error) {
	tok, err := web.BearerToken(c)
	if err != nil {
		return issuer.Agency{}, err
	}
	return h.svc.Authenticate(c.Request().Context(), tok)
}

// bulkFormat maps the upload's media type to a bulk format.
func bulkFormat(ct string) (issuer.BulkFormat, error) {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		if cs, ok := params["charset"]; ok && cs != "utf-8" && cs != "UTF-8" {
			err = errors.New("charset must be utf-8")
		}
	}
	if err == nil {
		switch mt {
		case "text/csv":
			return issuer.BulkCSV, nil
		case "application/x-ndjson", "application/jsonl", "application/jsonlines":
			return issuer.BulkJSONL, nil
		}
	}
	return "", fmt.Errorf("%w: a bulk file is text/csv or application/x-ndjson (JSONL), got %q", problem.ErrUnsupportedMediaType, ct)
}

func (h bulkHandler) submit(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	typ := c.QueryParam("type")
	if typ == "" {
		return fmt.Errorf("%w: the type query parameter is required", issuer.ErrInvalidRequest)
	}
	format, err := bulkFormat(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil {
		return err
	}
	bb, ok := c.Get(bulkBodyKey).(bulkBody)
	if !ok {
		return errors.New("issuerhttp: bulk upload without its body (RegisterBulk's middleware did not run)")
	}
	if bb.length > issuer.MaxBulkFileSize {
		c.Response().Header().Set(echo.HeaderConnection, "close")
		return fmt.Errorf("%w: the file is %d bytes, the limit is %d", issuer.ErrFileTooLarge, bb.length, issuer.MaxBulkFileSize)
	}
	file, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, bb.body, issuer.MaxBulkFileSize))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: the file is over %d bytes", issuer.ErrFileTooLarge, issuer.MaxBulkFileSize)
	}
	if err != nil {
		return fmt.Errorf("%w: reading the upload: %v", problem.ErrMalformed, err)
	}
	job, created, err := h.svc.Submit(c.Request().Context(), a, typ, format, file)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	c.Response().Header().Set(echo.HeaderLocation, BulkPath+"/"+job.ID)
	return c.JSON(status, job)
}

func (h bulkHandler) progress(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	p, err := h.svc.Progress(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// BulkRow is one row in GET /issuer/v1/bulk/{id}/rows.
type BulkRow struct {
	Row          int              `json:"row"` // line number in the file
	ID           string           `json:"id,omitempty"`
	State        string           `json:"state"`
	CredentialID string           `json:"credential_id,omitempty"`
	Problem      *problem.Problem `json:"problem,omitempty"`
}

// BulkRows is the body of GET /issuer/v1/bulk/{id}/rows; Next is the after value of the
// next page, 0 on the last.
type BulkRows struct {
	Rows []BulkRow `json:"rows"`
	Next int       `json:"next,omitempty"`
}

// rowProblem is a row's problem as the problem a single issuance would have answered: its
// kind is the name of one of Rules.
func rowProblem(p *issuer.RowProblem) *problem.Problem {
	out := &problem.Problem{Type: "about:blank", Title: "Internal error", Status: http.StatusInternalServerError, Detail: p.Detail}
	for _, r := range Rules {
		if r.Name == p.Kind {
			out.Type, out.Title, out.Status = problem.TypeURI(r.Name), r.Title, r.Status
		}
	}
	for _, v := range p.Fields {
		out.Errors = append(out.Errors, problem.FieldError{Field: "claims" + v.Path, Detail: v.Reason})
	}
	return out
}

func (h bulkHandler) rows(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	after, limit := 0, 1000
	for name, p := range map[string]*int{"after": &after, "limit": &limit} {
		if v := c.QueryParam(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: %s must be a non-negative integer", issuer.ErrInvalidRequest, name)
			}
			*p = n
		}
	}
	rows, err := h.svc.Rows(c.Request().Context(), a, c.Param("id"), c.QueryParam("state"), after, limit)
	if err != nil {
		return err
	}
	out := BulkRows{Rows: make([]BulkRow, 0, len(rows))}
	for _, r := range rows {
		br := BulkRow{Row: r.Num, ID: r.RowID, State: r.State, CredentialID: r.CredentialID}
		if r.Problem != nil {
			br.Problem = rowProblem(r.Problem)
		}
		out.Rows = append(out.Rows, br)
	}
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	if len(rows) > 0 && len(rows) == limit {
		out.Next = rows[len(rows)-1].Num
	}
	return c.JSON(http.StatusOK, out)
}
