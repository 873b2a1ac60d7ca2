package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/loadgen"
)

func benchCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench issue|verify",
		Short: "Load a running server at a fixed rate (open loop) and report throughput and latency percentiles",
		Long: "bench uses the demo world (demo.json) of a running server. `issue` has the Public Security Bureau issue\n" +
			"driving licences over HTTP; `verify` has a counter verify the citizen's QR over HTTP. It prints one JSON\n" +
			"result; progress goes to stderr. Point it only at servers you run (loopback).",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"issue", "verify"},
	}
	addSettings(cmd.Flags(), getenv, "data")
	cmd.Flags().String("server", "", "base URL (default: the one in demo.json)")
	cmd.Flags().Float64("rate", 500, "requests per second")
	cmd.Flags().Duration("duration", 10*time.Second, "how long to offer load")
	cmd.Flags().Int("concurrency", 64, "requests in flight at most")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		w, err := demo.Load(filepath.Join(getString(fs, "data"), demo.FileName))
		if err != nil {
			return fmt.Errorf("read the demo world: %w", err)
		}
		server := getString(fs, "server")
		if server == "" {
			server = w.BaseURL
		}
		rate, _ := fs.GetFloat64("rate")
		dur, _ := fs.GetDuration("duration")
		conc, _ := fs.GetInt("concurrency")
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
		var call func(ctx context.Context) error
		switch args[0] {
		case "issue":
			call = issueCall(hc, server, w)
		case "verify":
			if call, err = verifyCall(cmd.Context(), hc, server, w); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown target %q: issue or verify", args[0])
		}
		res, err := loadgen.Run(cmd.Context(), loadgen.Config{Rate: rate, Duration: dur, Concurrency: conc,
			Progress: func(done, errs int, el time.Duration) {
				fmt.Fprintf(cmd.ErrOrStderr(), "\rbench %s: %d requests, %d errors, %.0fs of %.0fs", args[0], done, errs, el.Seconds(), dur.Seconds())
			}}, call)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"target": args[0], "server": server, "result": res})
	}
	return cmd
}

// postJSON sends body and fails unless the status is want.
func postJSON(ctx context.Context, hc *http.Client, url, token string, headers map[string]string, body any, want int, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

func issueCall(hc *http.Client, server string, w *demo.World) func(context.Context) error {
	psb, _ := w.Agency("DrivingLicence")
	body := map[string]any{"type": "DrivingLicence", "holder": w.Citizen.DID, "claims": demo.DrivingLicenceClaims}
	return func(ctx context.Context) error {
		key := make([]byte, 12)
		rand.Read(key)
		return postJSON(ctx, hc, server+"/issuer/v1/credentials", psb.Token, map[string]string{"Idempotency-Key": hex.EncodeToString(key)}, body, http.StatusCreated, nil)
	}
}

// verifyCall prepares a credential in the citizen's wallet and returns a call that verifies
// its counter QR; the QR is renewed every 20 s so it never goes stale during a run.
func verifyCall(ctx context.Context, hc *http.Client, server string, w *demo.World) (func(context.Context) error, error) {
	psb, _ := w.Agency("DrivingLicence")
	var issued struct{ Credential string }
	if err := postJSON(ctx, hc, server+"/issuer/v1/credentials", psb.Token, nil,
		map[string]any{"type": "DrivingLicence", "holder": w.Citizen.DID, "claims": demo.DrivingLicenceClaims}, http.StatusCreated, &issued); err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	var held struct{ ID string }
	if err := bridgeJSON(ctx, hc, w.Citizen, http.MethodPost, server+"/bridge/v1/credentials", map[string]string{"credential": issued.Credential}, http.StatusCreated, &held); err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	var qr atomic.Value
	renew := func() error {
		var out struct{ QR string }
		if err := bridgeJSON(ctx, hc, w.Citizen, http.MethodPost, server+"/bridge/v1/credentials/"+held.ID+"/qr",
			map[string]any{"disclose": w.Counter.Disclose, "audience": w.Counter.ID}, http.StatusOK, &out); err != nil {
			return err
		}
		qr.Store(out.QR)
		return nil
	}
	if err := renew(); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	go func() {
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				renew()
			}
		}
	}()
	return func(ctx context.Context) error {
		var res struct{ Valid bool }
		if err := postJSON(ctx, hc, server+"/verifier/v1/verify", "", nil, map[string]string{"qr": qr.Load().(string), "counter": w.Counter.ID}, http.StatusOK, &res); err != nil {
			return err
		}
		if !res.Valid {
			return fmt.Errorf("verdict not valid")
		}
		return nil
	}, nil
}
