package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// benchRequest is a request body of the size and shape Bind sees on most requests: an
// issuance request of about 2 KiB with a few nested claims.
func benchRequest() []byte {
	var sb strings.Builder
	sb.WriteString(`{"credential_configuration_id":"ez.driving_licence","subject_did":"did:ezheng:3f9a1c0b7d2e4a5f8b6c","claims":{`)
	for i := range 24 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"claim_%02d":{"value":"Wei Li \u00e9 %d","lang":"zh-CN","display":[{"name":"Name %d","locale":"en"}]}`, i, i, i)
	}
	sb.WriteString(`},"valid_days":365,"notify":true}`)
	return []byte(sb.String())
}

type benchTarget struct {
	CredentialConfigurationID string         `json:"credential_configuration_id"`
	SubjectDID                string         `json:"subject_did"`
	Claims                    map[string]any `json:"claims"`
	ValidDays                 int            `json:"valid_days"`
	Notify                    bool           `json:"notify"`
}

// BenchmarkBind measures Bind, which runs on every request, on a typical request body.
func BenchmarkBind(b *testing.B) {
	body := benchRequest()
	e := echo.New()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		c := e.NewContext(req, nil)
		var v benchTarget
		if err := Bind(c, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckJSONRequest measures Bind's strict check alone on the same body.
func BenchmarkCheckJSONRequest(b *testing.B) {
	body := benchRequest()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}
