package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/issuer"
)

// maxFailedShown bounds the failed rows the final summary lists.
const maxFailedShown = 1000

func bulkCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bulk FILE",
		Short: "Issue one credential per row of a CSV or JSONL file, as a server-side job with progress",
		Long: "bulk uploads FILE (CSV with a header row: holder, one column per claim, optional id; or JSONL:\n" +
			"{\"holder\": DID, \"claims\": {...}, \"id\": optional} per line) as a job of credential TYPE, shows a\n" +
			"progress bar on stderr until the job finishes, and prints the job with its failed rows on stdout.\n" +
			"It exits with status 1 if any row failed. Running it again with the same file returns the same job\n" +
			"(resumed if the server was stopped) and issues nothing twice.",
		Args: cobra.ExactArgs(1),
	}
	serverFlag(cmd)
	cmd.Flags().String("token", "", "the agency's API token")
	cmd.Flags().String("type", "", "credential type of every row, e.g. DrivingLicence")
	cmd.Flags().String("format", "", "csv or jsonl (default: from the file name's extension)")
	cmd.Flags().Duration("poll", 500*time.Millisecond, "how often to ask the server for progress")
	for _, f := range []string{"token", "type"} {
		cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		format := getString(fs, "format")
		if format == "" {
			switch strings.ToLower(filepath.Ext(args[0])) {
			case ".csv":
				format = "csv"
			case ".jsonl", ".ndjson":
				format = "jsonl"
			default:
				return fmt.Errorf("%s: say --format csv or --format jsonl", args[0])
			}
		}
		ctype := map[string]string{"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}[format]
		if ctype == "" {
			return fmt.Errorf("unknown format %q (csv or jsonl)", format)
		}
		st, err := os.Stat(args[0])
		if err != nil {
			return err
		}
		if st.Size() > issuer.MaxBulkFileSize {
			return fmt.Errorf("%s is %d bytes; a bulk file is at most %d", args[0], st.Size(), issuer.MaxBulkFileSize)
		}
		file, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		poll, _ := fs.GetDuration("poll")
		c := bulkClient{base: strings.TrimSuffix(getString(fs, "server"), "/"), token: getString(fs, "token"),
			http: &http.Client{Timeout: 5 * time.Minute}}
		var job bulkProgress
		if err := c.call(cmd.Context(), http.MethodPost, "/issuer/v1/bulk?type="+url.QueryEscape(getString(fs, "type")), ctype, file, &job); err != nil {
			return err
		}
		stderr := cmd.ErrOrStderr()
		for {
			fmt.Fprint(stderr, "\r"+progressLine(job.Done+job.Failed, job.Total, job.Rate, job.ETASeconds))
			if job.State == issuer.BulkFinished {
				break
			}
			select {
			case <-cmd.Context().Done():
				fmt.Fprintln(stderr)
				return cmd.Context().Err()
			case <-time.After(poll):
			}
			if err := c.call(cmd.Context(), http.MethodGet, "/issuer/v1/bulk/"+url.PathEscape(job.ID), "", nil, &job); err != nil {
				fmt.Fprintln(stderr)
				return err
			}
		}
		fmt.Fprintln(stderr)
		out := bulkSummary{bulkProgress: job, FailedRows: []json.RawMessage{}}
		for after := 0; ; {
			var page struct {
				Rows []json.RawMessage `json:"rows"`
				Next int               `json:"next"`
			}
			path := fmt.Sprintf("/issuer/v1/bulk/%s/rows?state=failed&after=%d", url.PathEscape(job.ID), after)
			if err := c.call(cmd.Context(), http.MethodGet, path, "", nil, &page); err != nil {
				return err
			}
			out.FailedRows = append(out.FailedRows, page.Rows...)
			if page.Next == 0 || len(out.FailedRows) >= maxFailedShown {
				out.Truncated = page.Next != 0
				break
			}
			after = page.Next
		}
		if err := printJSON(stdout, out); err != nil {
			return err
		}
		if job.Failed > 0 {
			return fmt.Errorf("%d of %d rows failed", job.Failed, job.Total)
		}
		return nil
	}
	return cmd
}

// bulkProgress is the job as the server reports it.
type bulkProgress struct {
	ID         string  `json:"job_id"`
	Type       string  `json:"type"`
	State      string  `json:"state"`
	Total      int     `json:"total"`
	Done       int     `json:"done"`
	Failed     int     `json:"failed"`
	CreatedAt  string  `json:"created_at"`
	FinishedAt string  `json:"finished_at,omitempty"`
	Rate       float64 `json:"rate"`
	ETASeconds float64 `json:"eta_seconds"`
}

// bulkSummary is what `ezheng issuer bulk` prints when the job is finished.
type bulkSummary struct {
	bulkProgress
	FailedRows []json.RawMessage `json:"failed_rows"`
	Truncated  bool              `json:"failed_rows_truncated,omitempty"`
}

type bulkClient struct {
	base, token string
	http        *http.Client
}

// call sends a request and decodes a 2xx JSON answer into v; other answers become errors
// naming the problem.
func (c bulkClient) call(ctx context.Context, method, path, ctype string, body []byte, v any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var p struct{ Type, Detail string }
		json.Unmarshal(rb, &p)
		return fmt.Errorf("%s %s: HTTP %d %s: %s", method, strings.SplitN(path, "?", 2)[0], resp.StatusCode, p.Type, p.Detail)
	}
	if err := json.Unmarshal(rb, v); err != nil {
		return errors.Join(fmt.Errorf("%s %s: bad answer", method, path), err)
	}
	return nil
}

// progressLine draws `[#####.....] 12,345/50,000 24.7%  3,120/s  ETA 12s`.
func progressLine(processed, total int, rate, eta float64) string {
	const width = 10
	frac := 0.0
	if total > 0 {
		frac = float64(processed) / float64(total)
	}
	filled := min(width, int(frac*width))
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	etaText := "--"
	if processed >= total {
		etaText = "0s"
	} else if eta > 0 {
		etaText = (time.Duration(eta * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s] %s/%s %.1f%%  %s/s  ETA %s", bar, commas(processed), commas(total), 100*frac, commas(int(rate+0.5)), etaText)
}

// commas writes n with thousands separators.
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
