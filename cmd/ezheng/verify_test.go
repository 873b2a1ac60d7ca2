package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/verifier/bundle"
)

// offlineResult is the verifier's answer with its source, as `ezheng verify` prints it.
type offlineResult struct {
	Valid  bool `json:"valid"`
	Source struct {
		Mode    string    `json:"mode"`
		Bundle  string    `json:"bundle"`
		Issued  time.Time `json:"bundle_issued_at"`
		AgeSecs int64     `json:"bundle_age_seconds"`
	} `json:"source"`
	Warnings []string `json:"warnings"`
	Checks   []struct {
		Name    string   `json:"name"`
		OK      bool     `json:"ok"`
		Skipped bool     `json:"skipped"`
		Reason  string   `json:"reason"`
		Rules   []string `json:"rules"`
	} `json:"checks"`
}

func (r offlineResult) failed() []string {
	var f []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			f = append(f, c.Name)
		}
	}
	return f
}

func (r offlineResult) reason(name string) string {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Reason
		}
	}
	return ""
}

// cli runs ezheng with args and returns its stdout, stderr and error.
func cli(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut, testEnv(nil))
	return out.String(), errOut.String(), err
}

// noNetwork makes every HTTP request of this process fail until the test ends.
func noNetwork(t *testing.T) {
	prev := http.DefaultTransport
	http.DefaultTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("network used offline: %s %s", r.Method, r.URL)
		return nil, errors.New("no network in this test")
	})
	t.Cleanup(func() { http.DefaultTransport = prev })
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOfflineVerification: a counter exports a bundle, the credential is revoked, an updated
// copy of the bundle is made, the server stops and the network goes away; the old bundle still
// says valid, the updated one says revoked, and stale, forged and foreign bundles are refused.
func TestOfflineVerification(t *testing.T) {
	dir := t.TempDir()
	w, stop := startServe(t, dir, "--qr-validity", "10m")
	res, _ := walk(t, dir) // issues a DrivingLicence to the demo citizen and makes the counter QR
	id, qrText, pngFile := res.ID, res.QR, res.QRPNG
	if id == "" {
		t.Fatal("the walk names no credential id")
	}
	psb, _ := w.Agency("DrivingLicence")
	work := t.TempDir()
	oldFile, newFile := filepath.Join(work, "old.ezb"), filepath.Join(work, "new.ezb")

	out, _, err := cli(t, "verifier", "bundle", "export", "--server", w.BaseURL, "--out", oldFile, "--ledger-key", w.LedgerKey)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	var sum bundleSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Issuers < 1 || sum.StatusLists < 1 || sum.Seq == 0 {
		t.Fatalf("export summary %+v (%v)", sum, err)
	}
	pinned, err := os.ReadFile(oldFile + ".key")
	if err != nil {
		t.Fatalf("first export pinned no key: %v", err)
	}
	// A second export pins the key it already has; another key is refused.
	if _, _, err := cli(t, "verifier", "bundle", "export", "--server", w.BaseURL, "--out", oldFile); err != nil {
		t.Fatalf("second export: %v", err)
	}
	other := bundle.PublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)).String()
	if _, _, err := cli(t, "verifier", "bundle", "export", "--server", w.BaseURL, "--out", filepath.Join(work, "x.ezb"), "--bundle-key", other); !errors.Is(err, bundle.ErrWrongKey) {
		t.Fatalf("export with another pinned key: %v, want ErrWrongKey", err)
	}
	checkBundleHTTP(t, w.BaseURL, sum.Seq, strings.TrimSpace(string(pinned)))
	if b, err := openBundleFile(oldFile, mustPin(t, string(pinned)), bundle.Options{LedgerKey: w.LedgerKey}); err != nil {
		t.Fatal(err)
	} else if versionsOf(b, psb.DID) < 1 {
		t.Fatalf("the bundle lacks the agency's DID %s", psb.DID)
	}

	// The agency revokes; a copy of the old bundle is brought up to date with a delta.
	copyFile(t, oldFile, newFile)
	copyFile(t, oldFile+".key", newFile+".key")
	if _, _, err := cli(t, "issuer", "revoke", id, "--server", w.BaseURL, "--token", psb.Token, "--reason", "keyCompromise"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	out, _, err = cli(t, "verifier", "bundle", "update", "--server", w.BaseURL, "--bundle", newFile)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	var upd bundleSummary
	json.Unmarshal([]byte(out), &upd)
	if upd.From != sum.Seq || upd.Seq <= sum.Seq {
		t.Fatalf("update summary %+v, from %d", upd, sum.Seq)
	}

	// From here on there is no server and no network.
	stop()
	noNetwork(t)

	verify := func(t *testing.T, input, file string, extra ...string) (offlineResult, string, error) {
		t.Helper()
		out, errOut, err := cli(t, append([]string{"verify", input, "--bundle", file, "--counter", w.Counter.ID, "--qr-validity", "10m"}, extra...)...)
		var r offlineResult
		if out != "" {
			if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
				t.Fatalf("output is not JSON: %v\n%s", jerr, out)
			}
		}
		return r, errOut, err
	}
	t.Run("old bundle: valid offline", func(t *testing.T) {
		for _, input := range []string{qrText, pngFile} {
			r, errOut, err := verify(t, input, oldFile)
			if err != nil || !r.Valid {
				t.Fatalf("%.20s…: %v; failed %v", input, err, r.failed())
			}
			if r.Source.Mode != "offline" || r.Source.Issued.IsZero() || !strings.HasPrefix(r.Source.Bundle, fmt.Sprint(sum.Seq)+" sha256:") {
				t.Errorf("source = %+v", r.Source)
			}
			if !strings.Contains(errOut, "old") {
				t.Errorf("stderr does not state the bundle's age: %q", errOut)
			}
		}
	})
	t.Run("updated bundle: revoked", func(t *testing.T) {
		r, _, err := verify(t, qrText, newFile)
		if !errors.Is(err, errNotValid) || r.Valid {
			t.Fatalf("err %v, valid %v", err, r.Valid)
		}
		if got := r.failed(); len(got) != 1 || got[0] != "status" || !strings.Contains(r.reason("status"), "revoked") {
			t.Errorf("failed %v (status: %q), want only status: revoked", got, r.reason("status"))
		}
	})
	t.Run("stale bundle", func(t *testing.T) {
		late := time.Now().Add(25 * time.Hour).UTC().Format(time.RFC3339)
		r, _, err := verify(t, qrText, oldFile, "--now", late)
		if !errors.Is(err, errNotValid) || !hasRule(r, "policy", "max_bundle_age") {
			t.Fatalf("stale bundle: err %v, checks %+v", err, r.Checks)
		}
		if r.Source.AgeSecs < 25*3600-60 {
			t.Errorf("bundle age %d s, want about 25 h", r.Source.AgeSecs)
		}
		r, _, _ = verify(t, qrText, oldFile, "--now", late, "--stale", "flag")
		if hasRule(r, "policy", "max_bundle_age") || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "stale") {
			t.Errorf("flagged stale bundle: warnings %q, checks %+v", r.Warnings, r.Checks)
		}
		// A policy's own limit: 2 h, given on the command line for every policy.
		r, _, _ = verify(t, qrText, oldFile, "--now", time.Now().Add(3*time.Hour).UTC().Format(time.RFC3339), "--max-bundle-age", "2h")
		if !hasRule(r, "policy", "max_bundle_age") {
			t.Errorf("3 h old bundle with --max-bundle-age 2h: checks %+v", r.Checks)
		}
	})
	t.Run("forged and foreign bundles", func(t *testing.T) {
		good, _ := os.ReadFile(oldFile)
		for _, tc := range []struct {
			name string
			file []byte
			args []string
			want error
		}{
			{"bad signature", flipAt(good, 50), nil, bundle.ErrSignature},
			{"tampered payload", flipAt(good, len(good)-3), nil, bundle.ErrMalformed},
			{"not a bundle", []byte("EZTB"), nil, bundle.ErrMalformed},
			{"wrong pinned key", good, []string{"--bundle-key", other}, bundle.ErrWrongKey},
			{"pinned ledger key differs", good, []string{"--ledger-key", "other+12345678+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, bundle.ErrCheckpoint},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := filepath.Join(t.TempDir(), "b.ezb")
				os.WriteFile(f, tc.file, 0o644)
				os.WriteFile(f+".key", pinned, 0o644)
				out, _, err := verify(t, qrText, f, tc.args...)
				if !errors.Is(err, tc.want) && !(tc.want == bundle.ErrMalformed && errors.Is(err, bundle.ErrSignature)) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if out.Valid || len(out.Checks) != 0 {
					t.Errorf("a refused bundle printed a result")
				}
			})
		}
		// No pin at all.
		f := filepath.Join(t.TempDir(), "b.ezb")
		os.WriteFile(f, good, 0o644)
		if _, _, err := verify(t, qrText, f); err == nil || !strings.Contains(err.Error(), "no pinned bundle key") {
			t.Errorf("bundle without a pin: %v", err)
		}
	})
}

func hasRule(r offlineResult, check, rule string) bool {
	for _, c := range r.Checks {
		if c.Name == check {
			for _, x := range c.Rules {
				if x == rule {
					return true
				}
			}
		}
	}
	return false
}

func flipAt(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkBundleHTTP checks the bundle routes: ETag and 304, Cache-Control, the key, and a
// malformed or future since.
func checkBundleHTTP(t *testing.T, base string, seq uint64, key string) {
	t.Helper()
	resp, err := http.Get(base + "/verifier/v1/bundle")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") || resp.Header.Get("Content-Type") != bundle.MediaType {
		t.Fatalf("GET bundle: %d, headers %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/verifier/v1/bundle", nil)
	req.Header.Set("If-None-Match", etag)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %v %v, want 304", err, resp.StatusCode)
	}
	resp.Body.Close()
	for _, since := range []string{"abc", "-1", fmt.Sprint(seq + 1_000_000)} {
		resp, err := http.Get(base + "/verifier/v1/bundle?since=" + since)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Type string }
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.HasSuffix(p.Type, "/malformed-request") && !strings.Contains(p.Type, "malformed") {
			t.Errorf("since=%s: %d %q, want 400 malformed", since, resp.StatusCode, p.Type)
		}
	}
	b, err := httpGet(context.Background(), base+"/verifier/v1/bundle/key")
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Key, Fingerprint string }
	json.Unmarshal(b, &k)
	if k.Key != key || !strings.HasPrefix(k.Fingerprint, "sha256:") {
		t.Errorf("bundle key %+v, pinned %q", k, key)
	}
}

func mustPin(t *testing.T, s string) bundle.Pin {
	t.Helper()
	p, err := bundle.ParsePin(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func versionsOf(b *bundle.Bundle, id string) int {
	for _, is := range b.Content().Issuers {
		if is.DID == id {
			return len(is.Versions)
		}
	}
	return 0
}
