package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

// bulkJob mirrors the job JSON.
type bulkJob struct {
	ID         string  `json:"job_id"`
	Type       string  `json:"type"`
	State      string  `json:"state"`
	Total      int     `json:"total"`
	Done       int     `json:"done"`
	Failed     int     `json:"failed"`
	Rate       float64 `json:"rate"`
	ETASeconds float64 `json:"eta_seconds"`
}

type bulkRows struct {
	Rows []struct {
		Row          int    `json:"row"`
		ID           string `json:"id"`
		State        string `json:"state"`
		CredentialID string `json:"credential_id"`
		Problem      *struct {
			Type   string `json:"type"`
			Detail string `json:"detail"`
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		} `json:"problem"`
	} `json:"rows"`
	Next int `json:"next"`
}

// licenceRow returns the demo licence claims with a distinct licence number for row i.
func licenceRow(i int) map[string]any {
	c := map[string]any{}
	for k, v := range licence {
		c[k] = v
	}
	c["licence_number"] = fmt.Sprintf("3301061990%08d", i)
	return c
}

// bulkJSONL makes n JSONL rows for holder.
func bulkJSONL(n int, holder string) []byte {
	var b bytes.Buffer
	for i := range n {
		line, _ := json.Marshal(map[string]any{"holder": holder, "claims": licenceRow(i), "id": fmt.Sprintf("r%d", i)})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// bulkCSV makes n CSV rows for holder.
func bulkCSV(n int, holder string) []byte {
	cols := []string{"id", "holder", "family_name", "given_name", "birth_date", "licence_number", "licence_class", "issue_date", "address"}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(cols)
	for i := range n {
		c := licenceRow(i)
		rec := []string{fmt.Sprintf("c%d", i), holder}
		for _, k := range cols[2:] {
			rec = append(rec, c[k].(string))
		}
		w.Write(rec)
	}
	w.Flush()
	return b.Bytes()
}

func (f *fixture) bulkUpload(token, typ, ctype string, body []byte) (response, bulkJob) {
	f.t.Helper()
	r := f.do(http.MethodPost, "/issuer/v1/bulk?type="+typ, token, ctype, body)
	var j bulkJob
	json.Unmarshal(r.body, &j)
	return r, j
}

// bulkWait polls the job until it is finished.
func (f *fixture) bulkWait(url, token, id string) bulkJob {
	f.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		j, status := bulkGet(f.t, url, token, id)
		if status != 200 {
			f.t.Fatalf("GET job: HTTP %d", status)
		}
		if j.State == issuer.BulkFinished {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("job %s did not finish", id)
	return bulkJob{}
}

func bulkGet(t testing.TB, url, token, id string) (bulkJob, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/issuer/v1/bulk/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var j bulkJob
	json.NewDecoder(resp.Body).Decode(&j)
	return j, resp.StatusCode
}

func (f *fixture) bulkRows(token, id, state string) bulkRows {
	f.t.Helper()
	var out bulkRows
	after := 0
	for {
		r := f.do(http.MethodGet, fmt.Sprintf("/issuer/v1/bulk/%s/rows?state=%s&after=%d", id, state, after), token, "", nil)
		if r.status != 200 {
			f.t.Fatalf("rows: HTTP %d %s", r.status, r.body)
		}
		var page bulkRows
		if err := json.Unmarshal(r.body, &page); err != nil {
			f.t.Fatal(err)
		}
		out.Rows = append(out.Rows, page.Rows...)
		if page.Next == 0 {
			return out
		}
		after = page.Next
	}
}

// checkIssued asserts every done row of the job has its own credential and that a sample of
// them verifies at the counter (distinctStatusIndexes checks the status entries).
func (f *fixture) checkIssued(token, id string, want int) {
	f.t.Helper()
	rows := f.bulkRows(token, id, "done")
	if len(rows.Rows) != want {
		f.t.Fatalf("%d done rows, want %d", len(rows.Rows), want)
	}
	creds := map[string]bool{}
	for _, r := range rows.Rows {
		if r.CredentialID == "" || creds[r.CredentialID] {
			f.t.Fatalf("row %d: credential %q missing or repeated", r.Row, r.CredentialID)
		}
		creds[r.CredentialID] = true
	}
	for _, i := range []int{0, want / 2, want - 1} {
		r := f.do(http.MethodGet, "/issuer/v1/credentials/"+rows.Rows[i].CredentialID, token, "", nil)
		var c struct {
			Credential string            `json:"credential"`
			Formats    map[string]string `json:"formats"`
		}
		json.Unmarshal(r.body, &c)
		if c.Formats["jwt_vc_json"] == "" { // DrivingLicence lists dc+sd-jwt and jwt_vc_json
			f.t.Fatalf("row %d's credential has no jwt_vc_json: %v", rows.Rows[i].Row, c.Formats)
		}
		res := f.verify(f.present(c.Credential, counterClaims, nil, f.world.Counter.ID), f.world.Counter.ID)
		if !res.Valid {
			f.t.Fatalf("row %d's credential does not verify: %q", rows.Rows[i].Row, res.failed())
		}
	}
}

// distinctStatusIndexes asserts, in the issuer database, that no two credentials share a
// status entry and that every credential has one and an anchor-queue or receipt row.
func distinctStatusIndexes(t *testing.T, dir string) int {
	t.Helper()
	db, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(dir, "issuer.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var creds, entries, distinct, anchored int
	db.QueryRow(`SELECT COUNT(*) FROM credentials`).Scan(&creds)
	db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT list_id || '#' || idx) FROM credential_status`).Scan(&entries, &distinct)
	db.QueryRow(`SELECT (SELECT COUNT(*) FROM anchor_queue) + (SELECT COUNT(*) FROM receipts)`).Scan(&anchored)
	if creds != entries || entries != distinct || anchored != creds {
		t.Fatalf("%d credentials, %d status entries (%d distinct), %d anchor rows", creds, entries, distinct, anchored)
	}
	return creds
}

// TestBulkJSONLAndCSV: a 1,000-row JSONL job and a 1,000-row CSV job complete; every row is
// issued once with its own status entry; samples verify; uploading again changes nothing.
func TestBulkJSONLAndCSV(t *testing.T) {
	var dir string
	f := newFixture(t, func(c *server.Config) { dir = c.DataDir })
	dl := f.token("DrivingLicence")
	before, _ := f.counts()
	for _, tc := range []struct {
		name, ctype string
		body        []byte
	}{
		{"jsonl", "application/x-ndjson", bulkJSONL(1000, f.holderDID)},
		{"csv", "text/csv; charset=utf-8", bulkCSV(1000, f.holderDID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, j := f.bulkUpload(dl, "DrivingLicence", tc.ctype, tc.body)
			if r.status != http.StatusAccepted || j.ID == "" || j.Total != 1000 {
				t.Fatalf("upload: HTTP %d %s", r.status, r.body)
			}
			j = f.bulkWait(f.url, dl, j.ID)
			if j.Done != 1000 || j.Failed != 0 {
				t.Fatalf("job %+v", j)
			}
			f.checkIssued(dl, j.ID, 1000)
			n, _ := f.counts()
			r, again := f.bulkUpload(dl, "DrivingLicence", tc.ctype, tc.body)
			if r.status != http.StatusOK || again.ID != j.ID {
				t.Fatalf("re-upload: HTTP %d job %s, want 200 and job %s", r.status, again.ID, j.ID)
			}
			time.Sleep(100 * time.Millisecond)
			if m, _ := f.counts(); m != n {
				t.Fatalf("re-upload issued %d more", m-n)
			}
		})
	}
	if after, _ := f.counts(); after-before != 2000 {
		t.Fatalf("%d credentials issued, want 2000", after-before)
	}
	distinctStatusIndexes(t, dir)
}

// TestBulkBadRows: a schema violation, a bad holder and a malformed line are reported by row;
// the other rows are issued.
func TestBulkBadRows(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	lines := strings.Split(strings.TrimSpace(string(bulkJSONL(20, f.holderDID))), "\n")
	bad := licenceRow(99)
	bad["licence_class"] = 3
	schema, _ := json.Marshal(map[string]any{"holder": f.holderDID, "claims": bad, "id": "schema"})
	holder, _ := json.Marshal(map[string]any{"holder": "did:nope", "claims": licenceRow(98), "id": "holder"})
	lines[4] = string(schema)
	lines[9] = string(holder)
	lines[14] = `{"holder": "did:jwk:x", "claims": {`
	before, _ := f.counts()
	r, j := f.bulkUpload(dl, "DrivingLicence", "application/jsonl", []byte(strings.Join(lines, "\n")))
	if r.status != http.StatusAccepted {
		t.Fatalf("upload: HTTP %d %s", r.status, r.body)
	}
	j = f.bulkWait(f.url, dl, j.ID)
	if j.Done != 17 || j.Failed != 3 {
		t.Fatalf("job %+v, want 17 done and 3 failed", j)
	}
	failed := f.bulkRows(dl, j.ID, "failed").Rows
	want := []struct {
		row   int
		id    string
		ptype string
	}{{5, "schema", "/problems/invalid-claims"}, {10, "holder", "/problems/invalid-holder"}, {15, "", "/problems/malformed-request"}}
	if len(failed) != len(want) {
		t.Fatalf("%d failed rows, want %d: %+v", len(failed), len(want), failed)
	}
	for i, w := range want {
		got := failed[i]
		if got.Row != w.row || got.ID != w.id || got.Problem == nil || got.Problem.Type != w.ptype {
			t.Errorf("failed row %d: %+v %+v, want %+v", i, got, got.Problem, w)
		}
	}
	if e := failed[0].Problem.Errors; len(e) != 1 || e[0].Field != "claims/licence_class" {
		t.Errorf("schema violation fields %+v", e)
	}
	if after, _ := f.counts(); after-before != 17 {
		t.Fatalf("%d issued, want 17", after-before)
	}
}

// TestBulkBadRequests: every refused upload answers its problem and creates no job.
func TestBulkBadRequests(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	good := bulkJSONL(3, f.holderDID)
	r, j := f.bulkUpload(dl, "DrivingLicence", "application/x-ndjson", good)
	if r.status != http.StatusAccepted {
		t.Fatalf("upload: HTTP %d %s", r.status, r.body)
	}
	f.bulkWait(f.url, dl, j.ID)
	big := bytes.Repeat([]byte("x"), issuer.MaxBulkFileSize+1)
	tests := []struct {
		name, method, path, token, ctype string
		body                             []byte
		status                           int
		ptype                            string
	}{
		{"wrong token", "POST", "/issuer/v1/bulk?type=DrivingLicence", "ezt_nope", "application/x-ndjson", good, 401, "/problems/unauthorized"},
		{"no token", "GET", "/issuer/v1/bulk/" + j.ID, "", "", nil, 401, "/problems/unauthorized"},
		{"another agency's job", "GET", "/issuer/v1/bulk/" + j.ID, f.token("HealthCode"), "", nil, 404, "/problems/not-found"},
		{"another agency's rows", "GET", "/issuer/v1/bulk/" + j.ID + "/rows", f.token("HealthCode"), "", nil, 404, "/problems/not-found"},
		{"unknown type", "POST", "/issuer/v1/bulk?type=PilotLicence", dl, "application/x-ndjson", good, 400, "/problems/unknown-credential-type"},
		{"type not allowed", "POST", "/issuer/v1/bulk?type=HealthCode", dl, "application/x-ndjson", good, 403, "/problems/type-not-allowed"},
		{"no type", "POST", "/issuer/v1/bulk", dl, "application/x-ndjson", good, 400, "/problems/malformed-request"},
		{"oversize", "POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "application/x-ndjson", big, 413, "/problems/too-large"},
		{"row too long", "POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "application/x-ndjson", bytes.Repeat([]byte("y"), issuer.MaxBulkRowSize+1), 413, "/problems/too-large"},
		{"not a bulk file", "POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "application/x-ndjson", []byte("hello\nworld\n"), 400, "/problems/malformed-request"},
		{"csv without holder", "POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "text/csv", []byte("family_name\n张\n"), 400, "/problems/malformed-request"},
		{"csv unknown column", "POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "text/csv", []byte("holder,blood_type\ndid:jwk:x,A\n"), 400, "/problems/malformed-request"},
		{"empty", "POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "text/csv", nil, 400, "/problems/malformed-request"},
		{"json body", "POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "application/json", good, 415, "/problems/unsupported-media-type"},
		{"bad row state", "GET", "/issuer/v1/bulk/" + j.ID + "/rows?state=lost", dl, "", nil, 400, "/problems/malformed-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.counts()
			r := f.do(tt.method, tt.path, tt.token, tt.ctype, tt.body)
			if r.status != tt.status || r.problemType() != tt.ptype {
				t.Fatalf("HTTP %d %q, want %d %q: %.300s", r.status, r.problemType(), tt.status, tt.ptype, r.body)
			}
			time.Sleep(20 * time.Millisecond)
			if after, _ := f.counts(); after != before {
				t.Fatalf("a refused request issued %d", after-before)
			}
		})
	}
	// The malformed-file problem names the first bad line.
	r = f.do("POST", "/issuer/v1/bulk?type=DrivingLicence", dl, "application/x-ndjson", []byte("\nnot json\n"))
	if !strings.Contains(string(r.body), "line 2") {
		t.Fatalf("malformed file problem does not name line 2: %s", r.body)
	}
}

// TestIssueManyTwice: a request issued again with the same idempotency key (a row processed
// twice) returns the first credential and issues nothing.
func TestIssueManyTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, err := f.srv.Issuer.Authenticate(ctx, f.token("DrivingLicence"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]issuer.IssueRequest, 1200)
	for i := range reqs {
		reqs[i] = issuer.IssueRequest{Type: "DrivingLicence", Holder: f.holderDID, Claims: licenceRow(i), IdempotencyKey: fmt.Sprintf("k/%d", i)}
	}
	first, err := f.srv.Issuer.IssueMany(ctx, a, reqs[:700])
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.counts()
	again, err := f.srv.Issuer.IssueMany(ctx, a, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if r.Err != nil {
			t.Fatalf("request %d: %v", i, r.Err)
		}
		if i < 700 && (r.Created || r.Credential.ID != first[i].Credential.ID || r.Credential.Raw != first[i].Credential.Raw ||
			r.Credential.Formats["jwt_vc_json"] == "" || r.Credential.Formats["jwt_vc_json"] != first[i].Credential.Formats["jwt_vc_json"]) {
			t.Fatalf("request %d issued again", i)
		}
		if i >= 700 && !r.Created {
			t.Fatalf("request %d not issued", i)
		}
	}
	if m, _ := f.counts(); m-n != 500 {
		t.Fatalf("%d issued by the second call, want 500", m-n)
	}
}

// TestBulkResumes: a server stopped in the middle of a job leaves it unfinished; a new server
// on the same data directory finishes it, each row issued exactly once. The file (~2 MB) is
// also over the server's default 1 MiB body limit, which the bulk route lifts.
func TestBulkResumes(t *testing.T) {
	var cfg server.Config
	f := newFixture(t, func(c *server.Config) { cfg = *c })
	dl := f.token("DrivingLicence")
	const n = 6000
	before, _ := f.counts()
	r, j := f.bulkUpload(dl, "DrivingLicence", "application/x-ndjson", bulkJSONL(n, f.holderDID))
	if r.status != http.StatusAccepted {
		t.Fatalf("upload: HTTP %d %s", r.status, r.body)
	}
	interrupted := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		p, _ := bulkGet(t, f.url, dl, j.ID)
		if p.State == issuer.BulkFinished {
			break
		}
		if p.Done > 0 {
			interrupted = true
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	f.srv.Close() // cancels the worker, possibly inside a chunk
	// If the job finished first, the forgetting below still makes the new server process every
	// row again — the crash-after-store case — so the test never passes vacuously.
	t.Logf("stopped mid-job: %v", interrupted)
	// Forget what was recorded, as if the process had died after storing the credentials and
	// before recording their rows: the rows are processed again and must not issue again.
	db, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(cfg.DataDir, "issuer.db")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE bulk_rows SET state = 'queued', credential_id = NULL WHERE job_id = ? AND state = 'done'`, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	forgotten, _ := res.RowsAffected()
	if _, err := db.Exec(`UPDATE bulk_jobs SET done = 0, state = 'running' WHERE id = ?`, j.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	t.Logf("stopped with %d rows recorded", forgotten)

	hs := httptest.NewUnstartedServer(nil)
	cfg.PublicURL = "http://" + hs.Listener.Addr().String()
	srv2, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv2.Close() })
	hs.Config.Handler = srv2.Echo
	hs.Start()
	t.Cleanup(hs.Close)
	got := f.bulkWait(hs.URL, dl, j.ID)
	if got.Done != n || got.Failed != 0 {
		t.Fatalf("resumed job %+v", got)
	}
	issued, _, err := srv2.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if issued-before != n {
		t.Fatalf("%d credentials for %d rows", issued-before, n)
	}
	distinctStatusIndexes(t, cfg.DataDir)
}

// BenchmarkBulkIssue is bulk issuance end to end through IssueMany (validate, resolve
// holders, sign, seal, and store with status entries and anchor-queue rows in SQLite), 10,000
// rows per op for 1,000 distinct did:jwk holders. HealthCode is SD-JWT VC only (one Ed25519
// signature per credential: issue #4's target); DrivingLicence also gets its jwt_vc_json copy
// (two signatures). It reports credentials/s, the bare Ed25519 sign rate on all GOMAXPROCS
// cores measured in the same run, and their ratio.
func BenchmarkBulkIssue(b *testing.B) {
	for _, tc := range []struct {
		typ string
		row func(i int) map[string]any
	}{
		{"HealthCode", healthCodeRow},
		{"DrivingLicence", licenceRow},
	} {
		b.Run(tc.typ, func(b *testing.B) { benchBulk(b, tc.typ, tc.row) })
	}
}

// healthCodeRow is the i-th row of a HealthCode bulk file: a daily refresh.
func healthCodeRow(i int) map[string]any {
	status := []string{"green", "green", "green", "yellow", "red"}[i%5]
	sum := sha256.Sum256(fmt.Appendf(nil, "3301061990%08d", i))
	return map[string]any{
		"family_name": "张", "given_name": fmt.Sprintf("三%d", i), "health_status": status,
		"id_number_hash": hex.EncodeToString(sum[:]), "region": "浙江省杭州市西湖区", "region_code": "330106",
		"assessed_at": "2026-11-21T06:00:00+08:00",
	}
}

func benchBulk(b *testing.B, typ string, row func(i int) map[string]any) {
	f := newFixture(b, func(c *server.Config) { c.AnchorInterval = time.Hour })
	ctx := context.Background()
	a, err := f.srv.Issuer.Authenticate(ctx, f.token(typ))
	if err != nil {
		b.Fatal(err)
	}
	holders := make([]string, 1000)
	for i := range holders {
		k, _ := keys.Generate(keys.ES256, nil)
		holders[i], _, _ = did.NewJWK(k.Public())
	}
	const rows = 10_000
	batch := 0
	newReqs := func() []issuer.IssueRequest {
		batch++
		reqs := make([]issuer.IssueRequest, rows)
		for i := range reqs {
			reqs[i] = issuer.IssueRequest{Type: typ, Holder: holders[i%len(holders)], Claims: row(i),
				IdempotencyKey: fmt.Sprintf("bench/%d/%d", batch, i)}
		}
		return reqs
	}
	signRate, signCPU := parallelSignRate(300 * time.Millisecond)
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		reqs := newReqs()
		start, startCPU := time.Now(), cpuTime()
		res, err := f.srv.Issuer.IssueMany(ctx, a, reqs)
		elapsed, cpu = elapsed+time.Since(start), cpu+cpuTime()-startCPU
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil || !r.Created {
				b.Fatalf("row: %v", r.Err)
			}
		}
	}
	rate := float64(b.N*rows) / elapsed.Seconds()
	b.ReportMetric(rate, "credentials/s")
	b.ReportMetric(signRate, "ed25519-signs/s")
	b.ReportMetric(rate/signRate, "ratio")
	// The same comparison in CPU time (user + system of the process), which other work on
	// the machine disturbs far less than the wall clock: CPU per credential against CPU per
	// bare signature.
	perCred := cpu.Seconds() / float64(b.N*rows)
	b.ReportMetric(perCred*1e6, "cpu-µs/credential")
	b.ReportMetric(signCPU.Seconds()*1e6, "cpu-µs/sign")
	b.ReportMetric(signCPU.Seconds()/perCred, "cpu-ratio")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallelSignRate measures bare Ed25519 signatures per second on GOMAXPROCS goroutines, and
// the CPU time each took.
func parallelSignRate(d time.Duration) (perSecond float64, cpuPerSign time.Duration) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := sha256.Sum256([]byte("ezheng"))
	var total atomic.Int64
	var wg sync.WaitGroup
	start, startCPU := time.Now(), cpuTime()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			n := 0
			for time.Since(start) < d {
				for range 100 {
					ed25519.Sign(priv, msg[:])
				}
				n += 100
			}
			total.Add(int64(n))
		})
	}
	wg.Wait()
	n := total.Load()
	return float64(n) / time.Since(start).Seconds(), (cpuTime() - startCPU) / time.Duration(n)
}
