package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// bridgeAuthorizer signs one bridge request as a phone: "Authorization: DPoP <token>" and a
// fresh DPoP proof of the phone's device key for the request's method and URL. The demo
// citizen's phone (demo.Citizen) and an `ezheng citizen` profile (citizenProfile) are ones.
type bridgeAuthorizer interface {
	Authorize(req *http.Request, now time.Time) error
}

// maxBridgeAnswer bounds what a bridge answer may hold (a QR with its PNG is far less).
const maxBridgeAnswer = 1 << 20

// newBridgeRequest builds a bridge request with body as JSON (nil sends no body), signed by
// auth. A DPoP proof is good for one call: build a new request for every call.
func newBridgeRequest(ctx context.Context, auth bridgeAuthorizer, method, url string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := auth.Authorize(req, time.Now()); err != nil {
		return nil, err
	}
	return req, nil
}

// bridgeCall makes a signed bridge call and returns the answer's status and body (at most
// maxBridgeAnswer bytes). Any status is returned without error; see bridgeError.
func bridgeCall(ctx context.Context, hc *http.Client, auth bridgeAuthorizer, method, url string, body any) (int, []byte, error) {
	req, err := newBridgeRequest(ctx, auth, method, url, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBridgeAnswer))
	return resp.StatusCode, rb, err
}

// bridgeError describes an unexpected answer: the problem's type and detail when it is an
// RFC 9457 problem, else the start of the body.
func bridgeError(method, rawURL string, status int, body []byte) error {
	path := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		path = u.Path
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil && p.Type != "" {
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		return fmt.Errorf("%s %s: HTTP %d %s: %s", method, path, status, p.Type, msg)
	}
	return fmt.Errorf("%s %s: HTTP %d: %.200s", method, path, status, body)
}

// bridgeJSON makes a bridge call as the phone auth stands for (the demo citizen's phone, or
// an `ezheng citizen` profile): the request is signed with a fresh DPoP proof of the phone's
// device key (the bridge refuses plain bearer tokens). body nil sends no body. It fails
// unless the answer has status want; out nil ignores the answer.
func bridgeJSON(ctx context.Context, hc *http.Client, auth bridgeAuthorizer, method, url string, body any, want int, out any) error {
	status, rb, err := bridgeCall(ctx, hc, auth, method, url, body)
	if err != nil {
		return err
	}
	if status != want {
		return bridgeError(method, url, status, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}
