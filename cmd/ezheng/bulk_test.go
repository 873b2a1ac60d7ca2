package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		processed, total int
		rate, eta        float64
		want             string
	}{
		{12345, 50000, 3120, 12, "[##........] 12,345/50,000 24.7%  3,120/s  ETA 12s"},
		{0, 10, 0, 0, "[..........] 0/10 0.0%  0/s  ETA --"},
		{10, 10, 0, 0, "[##########] 10/10 100.0%  0/s  ETA 0s"},
		{500, 1000, 1234567, 75, "[#####.....] 500/1,000 50.0%  1,234,567/s  ETA 1m15s"},
	}
	for _, tt := range tests {
		if got := progressLine(tt.processed, tt.total, tt.rate, tt.eta); got != tt.want {
			t.Errorf("progressLine(%d, %d, %v, %v) = %q, want %q", tt.processed, tt.total, tt.rate, tt.eta, got, tt.want)
		}
	}
}

// TestIssuerBulk runs `ezheng issuer bulk` against a served demo: a small CSV with one bad
// row shows the progress bar on stderr, prints the job with the failed row, and fails; the
// same command again returns the same job and issues nothing more.
func TestIssuerBulk(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	ag, _ := w.Agency("DrivingLicence")
	var csv strings.Builder
	csv.WriteString("id,holder,family_name,given_name,birth_date,licence_number,licence_class,issue_date\n")
	for i := range 5 {
		fmt.Fprintf(&csv, "r%d,%s,张,三,1990-05-17,3301061990%08d,C1,2024-03-01\n", i, w.Citizen.DID, i)
	}
	csv.WriteString("bad,did:nope,张,三,1990-05-17,330106199000000099,C1,2024-03-01\n")
	file := filepath.Join(t.TempDir(), "licences.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"issuer", "bulk", file, "--type", "DrivingLicence", "--server", w.BaseURL, "--token", ag.Token, "--poll", "20ms"}
	var jobID string
	for range 2 {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr, testEnv(nil))
		if err == nil || !strings.Contains(err.Error(), "1 of 6 rows failed") {
			t.Fatalf("err = %v, want 1 of 6 rows failed", err)
		}
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\r")
		last := lines[len(lines)-1]
		if !regexp.MustCompile(`^\[##########\] 6/6 100\.0%  [0-9,]+/s  ETA 0s$`).MatchString(last) {
			t.Fatalf("last progress line %q (stderr %q)", last, stderr.String())
		}
		var out struct {
			ID         string `json:"job_id"`
			State      string `json:"state"`
			Done       int    `json:"done"`
			Failed     int    `json:"failed"`
			FailedRows []struct {
				Row     int    `json:"row"`
				ID      string `json:"id"`
				Problem struct {
					Type string `json:"type"`
				} `json:"problem"`
			} `json:"failed_rows"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
		}
		if out.State != "finished" || out.Done != 5 || out.Failed != 1 || len(out.FailedRows) != 1 ||
			out.FailedRows[0].Row != 7 || out.FailedRows[0].ID != "bad" || out.FailedRows[0].Problem.Type != "/problems/invalid-holder" {
			t.Fatalf("summary %+v", out)
		}
		if jobID != "" && out.ID != jobID {
			t.Fatalf("second run made job %s, want %s", out.ID, jobID)
		}
		jobID = out.ID
	}
}
