package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ezheng/ezheng/internal/problem"
)

// WalkResult is the output of the demo walk (a stable contract: later versions add fields,
// never remove or rename them).
type WalkResult struct {
	// ID is the credential's id at the issuer (to revoke it, say).
	ID         string          `json:"id"`
	Credential string          `json:"credential"`
	Issuer     string          `json:"issuer"`
	Holder     string          `json:"holder"`
	QR         string          `json:"qr"`
	QRPNG      string          `json:"qr_png"`
	Result     json.RawMessage `json:"result"`
	// Receipt is the credential's anchor receipt; LedgerKey verifies it offline.
	Receipt   json.RawMessage `json:"receipt"`
	LedgerKey string          `json:"ledger_key"`
}

// DrivingLicenceClaims are the demo citizen's licence claims.
var DrivingLicenceClaims = map[string]any{
	"family_name":    "张",
	"given_name":     "三",
	"birth_date":     "1990-05-17",
	"licence_number": "330106199005170012",
	"licence_class":  "C1",
	"issue_date":     "2024-03-01",
	"address":        "浙江省杭州市西湖区文三路 100 号",
}

// Walk performs the demo walk against server over HTTP only: the Public Security Bureau
// issues a DrivingLicence SD-JWT VC to the demo citizen; the citizen's app stores it in the
// wallet through the bridge and asks for the counter QR (PNG written to pngFile); the counter
// scans the PNG and the verifier answers.
func Walk(ctx context.Context, hc *http.Client, server string, w *World, pngFile string) (*WalkResult, error) {
	server = strings.TrimRight(server, "/")
	c := client{hc: hc, base: server, citizen: &w.Citizen}
	psb, ok := w.Agency("DrivingLicence")
	if !ok {
		return nil, fmt.Errorf("demo world has no DrivingLicence agency")
	}

	// a. The agency issues.
	var issued struct {
		ID         string `json:"id"`
		Issuer     string `json:"issuer"`
		Holder     string `json:"holder"`
		Credential string `json:"credential"`
	}
	idem := make([]byte, 16)
	rand.Read(idem)
	err := c.do(ctx, http.MethodPost, "/issuer/v1/credentials", psb.Token, map[string]string{"Idempotency-Key": hex.EncodeToString(idem)},
		map[string]any{"type": "DrivingLicence", "holder": w.Citizen.DID, "claims": DrivingLicenceClaims}, &issued)
	if err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}

	// b. The citizen's app hands it to the wallet.
	var held struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "/bridge/v1/credentials", w.Citizen.Token, nil, map[string]string{"credential": issued.Credential}, &held); err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}

	// c. The app asks for the counter QR.
	var qr struct {
		QR  string `json:"qr"`
		PNG string `json:"png"`
	}
	if err := c.do(ctx, http.MethodPost, "/bridge/v1/credentials/"+held.ID+"/qr", w.Citizen.Token, nil,
		map[string]any{"disclose": w.Counter.Disclose, "audience": w.Counter.ID}, &qr); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	png, err := base64.StdEncoding.DecodeString(qr.PNG)
	if err != nil {
		return nil, fmt.Errorf("qr png: %w", err)
	}
	if err := os.WriteFile(pngFile, png, 0o644); err != nil {
		return nil, err
	}

	// d. The counter scans the picture and the verifier answers.
	var result json.RawMessage
	if err := c.post(ctx, "/verifier/v1/verify?counter="+w.Counter.ID, "image/png", png, &result); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}

	// e. The credential's anchor receipt, once its batch is on the ledger.
	receipt, err := c.waitReceipt(ctx, psb.Token, issued.ID, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	return &WalkResult{ID: issued.ID, Credential: issued.Credential, Issuer: issued.Issuer, Holder: issued.Holder,
		QR: qr.QR, QRPNG: pngFile, Result: result, Receipt: receipt, LedgerKey: w.LedgerKey}, nil
}

// waitReceipt polls the issuer for a credential's anchor receipt until it exists.
func (c client) waitReceipt(ctx context.Context, token, id string, limit time.Duration) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/issuer/v1/credentials/"+id+"/receipt", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		var r json.RawMessage
		err = c.send(req, &r)
		if err == nil {
			return r, nil
		}
		if !strings.Contains(err.Error(), "/problems/not-anchored") {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("not anchored within %s", limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// client is a minimal JSON client for the walk. Errors carry the problem details the server
// sent.
type client struct {
	hc   *http.Client
	base string
	// citizen, when set, signs every /bridge/ call with the demo phone's device key (DPoP).
	citizen *Citizen
}

func (c client) do(ctx context.Context, method, path, token string, headers map[string]string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(path, "/bridge/") && c.citizen != nil:
		if err := c.citizen.Authorize(req, time.Now()); err != nil {
			return err
		}
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return c.send(req, out)
}

func (c client) post(ctx context.Context, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	return c.send(req, out)
}

func (c client) send(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p problem.Problem
		if json.Unmarshal(b, &p) == nil && p.Type != "" {
			return fmt.Errorf("%s %s: %d %s: %s", req.Method, req.URL.Path, p.Status, p.Type, p.Detail)
		}
		return fmt.Errorf("%s %s: HTTP %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	return json.Unmarshal(b, out)
}
