package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/demo"
)

// syncBuffer is a bytes.Buffer safe to write from the server goroutine and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is the environment the tests give run: a fixed master key, nothing else.
func testEnv(extra map[string]string) func(string) string {
	env := map[string]string{masterKeyEnv: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// startServe runs `ezheng serve` in-process on a free loopback port with data dir dir, waits
// until it answers, and returns the demo world. The server stops when the test ends (or
// when stop is called) and the test fails if it did not stop cleanly.
func startServe(t *testing.T, dir string, args ...string) (w *demo.World, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &syncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn"}, args...), out, out, testEnv(nil))
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v; output:\n%s", err, out.String())
				}
			case <-time.After(15 * time.Second):
				t.Errorf("serve did not stop within 15s")
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, out.String())
		default:
		}
		if strings.Contains(out.String(), "ezheng is serving on") {
			w, err := demo.Load(filepath.Join(dir, demo.FileName))
			if err == nil {
				resp, err := http.Get(w.BaseURL + "/healthz")
				if err == nil {
					resp.Body.Close()
					return w, stop
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve did not come up; output:\n%s", out.String())
	return nil, nil
}

// walk runs `ezheng demo walk` and decodes its output.
func walk(t *testing.T, dir string) (demo.WalkResult, verifyResult) {
	t.Helper()
	var out bytes.Buffer
	png := filepath.Join(t.TempDir(), "qr.png")
	if err := run(context.Background(), []string{"demo", "walk", "--data", dir, "--qr-png", png}, &out, io.Discard, testEnv(nil)); err != nil {
		t.Fatalf("demo walk: %v", err)
	}
	var res demo.WalkResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("walk output is not JSON: %v\n%s", err, out.String())
	}
	var vr verifyResult
	if err := json.Unmarshal(res.Result, &vr); err != nil {
		t.Fatalf("walk result: %v", err)
	}
	return res, vr
}

// verifyResult mirrors the verifier's answer as a client sees it.
type verifyResult struct {
	Valid  bool `json:"valid"`
	Checks []struct {
		Name    string `json:"name"`
		OK      bool   `json:"ok"`
		Skipped bool   `json:"skipped"`
		Reason  string `json:"reason"`
	} `json:"checks"`
	Claims map[string]any `json:"claims"`
	Issuer string         `json:"issuer"`
	Type   string         `json:"type"`
}

func (r verifyResult) failed() []string {
	var f []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			f = append(f, c.Name)
		}
	}
	return f
}

func (r verifyResult) reason(name string) string {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Reason
		}
	}
	return ""
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// citizenCommands returns, for a test, a runner of `ezheng citizen --profile profile …`, must
// (which fails the test on an error) and decode (which fails it on output that is not JSON).
func citizenCommands(t *testing.T, profile string) (citizen func(...string) (string, error), must func(string, error) string, decode func(string, any)) {
	citizen = func(args ...string) (string, error) {
		t.Helper()
		return runCLI(t, append([]string{"citizen", "--profile", profile}, args...)...)
	}
	must = func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	decode = func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
	}
	return citizen, must, decode
}
