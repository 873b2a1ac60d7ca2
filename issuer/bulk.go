package issuer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// IssueManyChunk is how many credentials IssueMany signs and stores per transaction.
const IssueManyChunk = 500

// SealedCredential is a credential as the store keeps it: the sealed raw form, the sealed
// other formats (by format; see formats.go), its status list entry, the idempotency key (""
// for none) and the request hash.
type SealedCredential struct {
	Credential     Credential
	Sealed         []byte
	Status         StatusEntry
	Formats        map[string][]byte
	IdempotencyKey string
	RequestHash    []byte
}

// BatchStore is the optional ability of a Store to save many credentials per transaction;
// IssueMany needs it (issuerstore implements it).
type BatchStore interface {
	// ReserveStatusEntries hands out n unused entries of the agency's status lists (starting
	// new lists as they fill), never handing any out again; an entry reserved and never saved
	// with a credential stays unused.
	ReserveStatusEntries(ctx context.Context, agencyID string, n int) ([]StatusEntry, error)
	// SaveCredentials stores the signed credentials with their other formats, status entries
	// and anchor-queue rows, all in one transaction. If any idempotency key is already used it
	// stores nothing and returns ErrIdempotencyConflict.
	SaveCredentials(ctx context.Context, agencyID string, cs []SealedCredential) error
	// CredentialsByIdempotencyKeys returns the agency's credentials stored under any of keys,
	// by key (keys with none are absent from the map).
	CredentialsByIdempotencyKeys(ctx context.Context, agencyID string, keys []string) (map[string]SealedCredential, error)
}

// IssueResult is the outcome of one request of IssueMany: the credential, whether this call
// created it (false when its idempotency key returned an earlier one), or the row's error
// (the errors Issue returns for bad input).
type IssueResult struct {
	Credential Credential
	Created    bool
	Err        error
}

// prepared is a request that passed validation, with what signing it needs.
type prepared struct {
	i       int // index in the requests
	t       *credtype.Type
	req     IssueRequest
	reqHash []byte
	cnf     map[string]any // {"jwk": the holder's public key}, as JSON decodes it
}

// IssueMany issues one credential per request as agency a, like Issue, but fast: the agency
// key is opened once, holder keys are resolved once per distinct holder, the status entries
// of all new credentials are reserved in one transaction, and credentials are signed on
// GOMAXPROCS goroutines while the ones already signed are stored IssueManyChunk per
// transaction (with their status entries and anchor-queue rows), so signing never waits for a
// commit. Each request's outcome is in the result at its index; a request with an idempotency
// key already used for the same request returns that credential (Created false), for a
// different request ErrIdempotencyConflict; a key used twice in one call is an
// ErrInvalidRequest for the second. The error is for faults that stop the whole call
// (storage, a cancelled ctx, a store without BatchStore); requests whose chunk was stored
// before such a fault stay issued, and calling again with the same idempotency keys finishes
// the work without issuing anything twice.
func (s *Service) IssueMany(ctx context.Context, a Agency, reqs []IssueRequest) ([]IssueResult, error) {
	bs, ok := s.store.(BatchStore)
	if !ok {
		return nil, errors.New("issuer: the store cannot save credentials in batches")
	}
	res := make([]IssueResult, len(reqs))
	preps := make([]*prepared, len(reqs))
	var cc callCaches
	parallel(ctx, len(reqs), func(i int) {
		preps[i], res[i].Err = s.prepare(ctx, a, reqs[i], &cc)
		if preps[i] != nil {
			preps[i].i = i
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, r := range res {
		if r.Err != nil && !isRowError(r.Err) { // a fault (the ledger resolving a did:ez, say), not bad input
			return nil, r.Err
		}
	}
	var todo []*prepared
	seen := map[string]bool{}
	for lo := 0; lo < len(preps); lo += IssueManyChunk {
		t, err := s.known(ctx, bs, a, preps[lo:min(lo+IssueManyChunk, len(preps))], res, seen)
		if err != nil {
			return nil, err
		}
		todo = append(todo, t...)
	}
	if len(todo) > 0 {
		if err := s.issueAll(ctx, bs, a, todo, res); err != nil {
			return nil, err
		}
	}
	n := 0
	for _, r := range res {
		if r.Created {
			n++
		}
	}
	s.log.InfoContext(ctx, "credentials issued in bulk", "agency", a.ID, "requests", len(reqs), "issued", n)
	return res, nil
}

// issueAll signs the credentials of todo and stores them, IssueManyChunk per transaction in
// todo's order, each chunk as soon as it is signed; it fills in their results.
func (s *Service) issueAll(ctx context.Context, bs BatchStore, a Agency, todo []*prepared, res []IssueResult) error {
	// The agency as stored: its kid is the current key's (after a rotation).
	cur, key, err := s.agencyKey(ctx, a.ID)
	if err != nil {
		return err
	}
	a.DID, a.KID = cur.DID, cur.KID
	is, err := sdjwt.NewIssuer(key.Signer(), FormatSDJWTVC, a.KID)
	if err != nil {
		return err
	}
	entries, err := bs.ReserveStatusEntries(ctx, a.ID, len(todo))
	if err != nil {
		return fmt.Errorf("reserve status entries: %w", err)
	}
	if len(entries) != len(todo) {
		return fmt.Errorf("%d status entries for %d credentials", len(entries), len(todo))
	}

	chunks := (len(todo) + IssueManyChunk - 1) / IssueManyChunk
	out := make([]SealedCredential, len(todo))
	errs := make([]error, len(todo))
	left := make([]atomic.Int32, chunks) // credentials of each chunk still being signed
	signed := make([]chan struct{}, chunks)
	for c := range chunks {
		left[c].Store(int32(min(IssueManyChunk, len(todo)-c*IssueManyChunk)))
		signed[c] = make(chan struct{})
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		parallel(sctx, len(todo), func(i int) {
			out[i], errs[i] = s.signOne(sctx, is, key, a, todo[i], entries[i])
			if left[i/IssueManyChunk].Add(-1) == 0 {
				close(signed[i/IssueManyChunk])
			}
		})
	})
	defer func() { cancel(); wg.Wait() }()

	for c := range chunks {
		select {
		case <-signed[c]:
		case <-ctx.Done():
			return ctx.Err()
		}
		lo, hi := c*IssueManyChunk, min((c+1)*IssueManyChunk, len(todo))
		if err := errors.Join(errs[lo:hi]...); err != nil {
			return err
		}
		ps, cs := todo[lo:hi], out[lo:hi]
		err := bs.SaveCredentials(ctx, a.ID, cs)
		if errors.Is(err, ErrIdempotencyConflict) {
			// A concurrent call stored some of these keys first: look again, save the rest.
			left, err := s.known(ctx, bs, a, ps, res, map[string]bool{})
			if err != nil {
				return err
			}
			ps, cs = stillToSave(ps, cs, left)
			err = bs.SaveCredentials(ctx, a.ID, cs)
		}
		if err != nil {
			return fmt.Errorf("save credentials: %w", err)
		}
		for k, p := range ps {
			res[p.i] = IssueResult{Credential: cs[k].Credential, Created: true}
		}
	}
	return nil
}

// stillToSave keeps of ps (and their credentials cs) those in left.
func stillToSave(ps []*prepared, cs []SealedCredential, left []*prepared) ([]*prepared, []SealedCredential) {
	keep := make(map[*prepared]bool, len(left))
	for _, p := range left {
		keep[p] = true
	}
	var ps2 []*prepared
	var cs2 []SealedCredential
	for k, p := range ps {
		if keep[p] {
			ps2, cs2 = append(ps2, p), append(cs2, cs[k])
		}
	}
	return ps2, cs2
}

// isRowError reports whether err is about a request's content (Issue's input errors).
func isRowError(err error) bool {
	for _, e := range []error{ErrUnknownType, ErrTypeNotAllowed, ErrInvalidClaims, ErrInvalidHolder, ErrInvalidRequest, ErrIdempotencyConflict} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// prepare runs Issue's checks on one request: type, permission, claims, holder key.
func (s *Service) prepare(ctx context.Context, a Agency, req IssueRequest, cc *callCaches) (*prepared, error) {
	t, err := s.AgencyType(ctx, a, req.Type)
	if err != nil {
		return nil, err
	}
	if !contains(a.Types, t.Name) {
		return nil, fmt.Errorf("%w: %s may not issue %s", ErrTypeNotAllowed, a.Name, t.Name)
	}
	// The ledger decides, once per call: a withdrawal stops a running bulk job at its next batch.
	if _, err := cc.accredited.get(t.Name, func() (struct{}, error) {
		return struct{}{}, s.checkAccredited(ctx, a, t, s.now())
	}); err != nil {
		return nil, err
	}
	if len(req.IdempotencyKey) > 255 {
		return nil, fmt.Errorf("%w: idempotency key longer than 255 bytes", ErrInvalidRequest)
	}
	if err := t.Validate(req.Claims); err != nil {
		return nil, err
	}
	reqHash, err := requestHash(req)
	if err != nil {
		return nil, err
	}
	cnf, err := cc.holders.get(req.Holder, func() (map[string]any, error) { return s.holderCNF(ctx, req.Holder) })
	if err != nil {
		if did.IsUnresolvable(err) {
			return nil, fmt.Errorf("%w: %v", ErrInvalidHolder, err)
		}
		return nil, err
	}
	return &prepared{t: t, req: req, reqHash: reqHash, cnf: cnf}, nil
}

// known fills in the results of the requests in ps whose idempotency key is already used (or
// in seen, the keys of this call so far) and returns the others, to be issued.
func (s *Service) known(ctx context.Context, bs BatchStore, a Agency, ps []*prepared, res []IssueResult, seen map[string]bool) ([]*prepared, error) {
	var keys []string
	for _, p := range ps {
		if p != nil && p.req.IdempotencyKey != "" {
			keys = append(keys, p.req.IdempotencyKey)
		}
	}
	var found map[string]SealedCredential
	if len(keys) > 0 {
		var err error
		if found, err = bs.CredentialsByIdempotencyKeys(ctx, a.ID, keys); err != nil {
			return nil, err
		}
	}
	var todo []*prepared
	for _, p := range ps {
		if p == nil {
			continue
		}
		k := p.req.IdempotencyKey
		if prev, ok := found[k]; ok && k != "" {
			if string(prev.RequestHash) != string(p.reqHash) {
				res[p.i].Err = ErrIdempotencyConflict
				continue
			}
			c := prev.Credential
			var err error
			if c.Raw, err = s.openRaw(c.ID, prev.Sealed); err == nil {
				// IssueMany stores formats with their credential, so none can be missing.
				c.Formats, err = s.loadFormats(ctx, c.ID)
			}
			if err != nil {
				return nil, err
			}
			res[p.i] = IssueResult{Credential: c}
			continue
		}
		if k != "" && seen[k] {
			res[p.i].Err = fmt.Errorf("%w: idempotency key %q used twice in one batch", ErrInvalidRequest, k)
			continue
		}
		seen[k] = true
		todo = append(todo, p)
	}
	return todo, nil
}

// signOne builds and signs the SD-JWT VC of p with status entry e, and its other formats
// (buildFormats), as Issue does.
func (s *Service) signOne(ctx context.Context, is *sdjwt.Issuer, key *keys.Key, a Agency, p *prepared, e StatusEntry) (SealedCredential, error) {
	c, payload := s.newSDJWTVC(a, p.t, p.req.Holder, p.cnf, p.req.Claims)
	payload["status"] = statuslist.StatusClaim(s.StatusListURI(e.List), e.Index)
	raw, err := is.Issue(payload, p.t.Disclosable(p.req.Claims), 0, rand.Reader)
	if err != nil {
		return SealedCredential{}, fmt.Errorf("sign: %w", err)
	}
	c.Raw, c.Digest = raw, sdjwt.AnchorDigest(raw)
	if c.Formats, err = s.buildFormats(ctx, p.t, a, key, c, p.req.Claims, e); err != nil {
		return SealedCredential{}, err
	}
	var sealed map[string][]byte
	if len(c.Formats) > 0 {
		sealed = make(map[string][]byte, len(c.Formats))
		for f, raw := range c.Formats {
			sealed[f] = s.sealer.Seal([]byte(raw), formatAAD(c.ID, f))
		}
	}
	return SealedCredential{Credential: c, Sealed: s.sealer.Seal([]byte(raw), []byte(c.ID)), Formats: sealed, Status: e,
		IdempotencyKey: p.req.IdempotencyKey, RequestHash: p.reqHash}, nil
}

// parallel calls fn(i) for every i in [0, n) on GOMAXPROCS goroutines; it stops handing out
// work once ctx is done.
func parallel(ctx context.Context, n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return
				}
				fn(j)
			}
		})
	}
	wg.Wait()
}

// onceCache computes a value once per key for the length of one IssueMany call, however many
// goroutines ask for it: the cnf claim of each holder, the accreditation of each type.
type onceCache[V any] struct {
	mu sync.Mutex
	m  map[string]*onceEntry[V]
}

type onceEntry[V any] struct {
	once sync.Once
	v    V
	err  error
}

// get returns what compute returned the first time key was asked for.
func (c *onceCache[V]) get(key string, compute func() (V, error)) (V, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*onceEntry[V]{}
	}
	e, ok := c.m[key]
	if !ok {
		e = &onceEntry[V]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = compute() })
	return e.v, e.err
}

// callCaches is what one IssueMany call looks up once rather than for every request.
type callCaches struct {
	holders    onceCache[map[string]any] // holder DID → cnf claim
	accredited onceCache[struct{}]       // type name → the ledger's answer
}

// holderCNF returns the cnf claim binding a credential to holder's authentication key, as
// JSON decodes it (decoded once here rather than for every credential when it is signed).
func (s *Service) holderCNF(ctx context.Context, holder string) (map[string]any, error) {
	k, err := did.ResolveKey(ctx, s.resolver, holderKID(holder), did.Authentication)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(map[string]any{"jwk": k.Public()})
	if err != nil {
		return nil, err
	}
	var cnf map[string]any
	return cnf, json.Unmarshal(raw, &cnf)
}

// Bulk job limits.
const (
	MaxBulkRows     = 50_000   // data rows per file
	MaxBulkFileSize = 64 << 20 // bytes per file
	MaxBulkRowSize  = 64 << 10 // bytes per row
)

// Errors of bulk issuance.
var (
	// ErrMalformedFile is returned for a bulk file that cannot be read at all (no rows, a CSV
	// header without holder or with columns the type does not have, broken CSV quoting, no
	// line that parses); its text names the first bad line.
	ErrMalformedFile = fmt.Errorf("%w: malformed bulk file", ErrInvalidRequest)
	// ErrFileTooLarge is returned for a bulk file over MaxBulkFileSize, MaxBulkRows or with a
	// row over MaxBulkRowSize.
	ErrFileTooLarge = fmt.Errorf("%w: bulk file over the limits", problem.ErrTooLarge)
)

// BulkFormat is the format of a bulk file.
type BulkFormat string

// The bulk file formats.
const (
	// BulkJSONL is one JSON object per line: {"holder": DID, "claims": {...}, "id": optional}.
	BulkJSONL BulkFormat = "jsonl"
	// BulkCSV is RFC 4180 CSV with a header row: a holder column, one column per claim, and an
	// optional id column.
	BulkCSV BulkFormat = "csv"
)

// States of bulk jobs and rows.
const (
	BulkQueued   = "queued"   // job or row not processed yet
	BulkRunning  = "running"  // job being processed (or interrupted; it resumes)
	BulkFinished = "finished" // job with every row processed
	BulkDone     = "done"     // row issued
	BulkFailed   = "failed"   // row rejected; see its RowProblem
)

// BulkJob is one uploaded file of one credential type and its progress.
type BulkJob struct {
	ID         string     `json:"job_id"`
	AgencyID   string     `json:"-"`
	Type       string     `json:"type"`
	Digest     []byte     `json:"-"` // SHA-256 of the type name and the file
	State      string     `json:"state"`
	Total      int        `json:"total"`
	Done       int        `json:"done"`
	Failed     int        `json:"failed"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// BulkRow is one row of a job as stored.
type BulkRow struct {
	Num          int         // line number in the file (1-based)
	RowID        string      // the client's optional row id
	State        string      // BulkQueued, BulkDone or BulkFailed
	Sealed       []byte      // sealed holder and claims until the job finishes
	Problem      *RowProblem // why a failed row failed
	CredentialID string      // the credential of a done row
}

// RowProblem says why a row failed: Kind is a stable problem name ("invalid-claims",
// "invalid-holder", "malformed-request", "idempotency-conflict", "type-not-allowed",
// "unknown-credential-type", "internal"); Detail and Fields are safe to show (no claim values).
type RowProblem struct {
	Kind   string      `json:"kind"`
	Detail string      `json:"detail"`
	Fields []Violation `json:"fields,omitempty"`
}

// Violation is one field of a row that broke the type's schema.
type Violation = credtype.Violation

// BulkStore keeps bulk jobs. Implementation: issuerstore.
type BulkStore interface {
	// CreateBulkJob stores the job and its rows in one transaction and returns it with
	// created=true, or, if the agency already has a job with the same digest, stores nothing
	// and returns that job with created=false.
	CreateBulkJob(ctx context.Context, j BulkJob, rows []BulkRow) (BulkJob, bool, error)
	// BulkJob returns the agency's job id, or ErrNotFound.
	BulkJob(ctx context.Context, agencyID, id string) (BulkJob, error)
	// UnfinishedBulkJobs returns the jobs not finished, oldest first.
	UnfinishedBulkJobs(ctx context.Context) ([]BulkJob, error)
	// QueuedBulkRows returns up to limit queued rows of the job, in row order.
	QueuedBulkRows(ctx context.Context, jobID string, limit int) ([]BulkRow, error)
	// SaveBulkRows records the outcome of processed rows (state done or failed; rows no
	// longer queued are left alone, so saving twice counts once), updates the job's counts,
	// and finishes the job at `at` when no row is queued, dropping every row's sealed payload,
	// in one transaction. It returns the job as it is then.
	SaveBulkRows(ctx context.Context, jobID string, rows []BulkRow, at time.Time) (BulkJob, error)
	// BulkRows returns up to limit rows of the agency's job with row number > after, in
	// state (all states when ""), in row order; ErrNotFound if the job is not the agency's.
	BulkRows(ctx context.Context, agencyID, jobID, state string, after, limit int) ([]BulkRow, error)
}

// BulkConfig configures a Bulk.
type BulkConfig struct {
	Service *Service  // issues the rows (IssueMany); its store must be a BatchStore
	Store   BulkStore // keeps the jobs
	// Batch is how many rows the worker reads and issues at a time; 4×IssueManyChunk when 0.
	Batch int
	// Poll is how often the worker looks for jobs when nothing woke it; 1s when 0.
	Poll time.Duration
}

// Bulk runs bulk issuance jobs: Submit stores a parsed file as a job, Run issues its rows in
// the background (resuming unfinished jobs after a restart), Progress and Rows report. Each
// row is issued with the idempotency key "bulk/<job>/<row>", so a row processed twice (a crash
// between storing its credential and recording it) is issued once. It is safe for concurrent
// use; run one Run per database.
type Bulk struct {
	svc   *Service
	store BulkStore
	batch int
	poll  time.Duration
	wake  chan struct{}

	mu    sync.Mutex
	rates map[string]rateMark // job id → where this process started counting
}

type rateMark struct {
	at    time.Time // monotonic
	count int
}

// NewBulk returns a Bulk.
func NewBulk(cfg BulkConfig) (*Bulk, error) {
	if cfg.Service == nil || cfg.Store == nil {
		return nil, errors.New("issuer: bulk needs a Service and a Store")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 4 * IssueManyChunk
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Bulk{svc: cfg.Service, store: cfg.Store, batch: cfg.Batch, poll: cfg.Poll,
		wake: make(chan struct{}, 1), rates: map[string]rateMark{}}, nil
}

// Authenticate returns the agency owning token, or ErrUnauthorized (Service.Authenticate).
func (b *Bulk) Authenticate(ctx context.Context, token string) (Agency, error) {
	return b.svc.Authenticate(ctx, token)
}

// Submit parses file (format, rows of credential type typ) and stores it as a queued job for
// Run. The same file (and type) submitted again by the agency returns the existing job with
// created=false. Rows that do not parse are failed at once (kind "malformed-request"); the
// others are validated and issued by Run. Errors: ErrUnknownType, ErrTypeNotAllowed,
// ErrMalformedFile, ErrFileTooLarge.
func (b *Bulk) Submit(ctx context.Context, a Agency, typ string, format BulkFormat, file []byte) (job BulkJob, created bool, err error) {
	t, err := b.svc.AgencyType(ctx, a, typ)
	if err != nil {
		return BulkJob{}, false, err
	}
	if !contains(a.Types, t.Name) {
		return BulkJob{}, false, fmt.Errorf("%w: %s may not issue %s", ErrTypeNotAllowed, a.Name, t.Name)
	}
	parsed, err := ParseBulk(t, format, file)
	if err != nil {
		return BulkJob{}, false, err
	}
	h := sha256.New()
	h.Write([]byte(t.Name))
	h.Write([]byte{0})
	h.Write(file)
	now := b.svc.now().UTC().Truncate(time.Second)
	job = BulkJob{ID: secret.ID("bulk"), AgencyID: a.ID, Type: t.Name, Digest: h.Sum(nil), State: BulkQueued,
		Total: len(parsed), CreatedAt: now}
	rows := make([]BulkRow, len(parsed))
	for i, p := range parsed {
		rows[i] = BulkRow{Num: p.Num, RowID: p.ID}
		if p.Problem != nil {
			rows[i].State, rows[i].Problem = BulkFailed, p.Problem
			job.Failed++
			continue
		}
		payload, err := json.Marshal(rowPayload{Holder: p.Holder, Claims: p.Claims})
		if err != nil {
			return BulkJob{}, false, fmt.Errorf("%w: line %d: %v", ErrMalformedFile, p.Num, err)
		}
		rows[i].State, rows[i].Sealed = BulkQueued, b.svc.sealer.Seal(payload, rowAAD(job.ID, p.Num))
	}
	if job.Failed == job.Total {
		job.State, job.FinishedAt = BulkFinished, &now
	}
	job, created, err = b.store.CreateBulkJob(ctx, job, rows)
	if err != nil {
		return BulkJob{}, false, fmt.Errorf("create bulk job: %w", err)
	}
	if created {
		b.svc.log.InfoContext(ctx, "bulk job created", "agency", a.ID, "job", job.ID, "type", job.Type, "rows", job.Total, "malformed", job.Failed)
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return job, created, nil
}

// BulkProgress is a job with its issuance rate and estimated time to finish.
type BulkProgress struct {
	BulkJob
	Rate       float64 `json:"rate"`        // rows per second processed by this process, 0 before it starts
	ETASeconds float64 `json:"eta_seconds"` // 0 when finished or unknown
}

// Progress returns the agency's job id with its rate and ETA, or ErrNotFound. The rate is
// rows per second since this process started on the job, on the monotonic clock (not the
// injected one: it describes the machine, not the credentials); 0 while the job waits.
func (b *Bulk) Progress(ctx context.Context, a Agency, id string) (BulkProgress, error) {
	j, err := b.store.BulkJob(ctx, a.ID, id)
	if err != nil {
		return BulkProgress{}, err
	}
	p := BulkProgress{BulkJob: j}
	b.mu.Lock()
	m, ok := b.rates[id]
	b.mu.Unlock()
	if ok && j.State != BulkFinished {
		if el := time.Since(m.at).Seconds(); el > 0 {
			p.Rate = float64(j.Done+j.Failed-m.count) / el
		}
		if p.Rate > 0 {
			p.ETASeconds = float64(j.Total-j.Done-j.Failed) / p.Rate
		}
	}
	return p, nil
}

// Rows returns up to limit rows (at most 1,000) of the agency's job id after row number
// after, in state ("" for all), or ErrNotFound.
func (b *Bulk) Rows(ctx context.Context, a Agency, id, state string, after, limit int) ([]BulkRow, error) {
	switch state {
	case "", BulkQueued, BulkDone, BulkFailed:
	default:
		return nil, fmt.Errorf("%w: unknown row state %q", ErrInvalidRequest, state)
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return b.store.BulkRows(ctx, a.ID, id, state, after, limit)
}

// Run processes queued jobs until ctx is done: unfinished jobs first (a restart resumes them
// at their first queued row), then each job Submit makes. A job whose processing hits a
// fault (storage) is retried at the next poll.
func (b *Bulk) Run(ctx context.Context) {
	for {
		jobs, err := b.store.UnfinishedBulkJobs(ctx)
		if err != nil && ctx.Err() == nil {
			b.svc.log.ErrorContext(ctx, "bulk jobs", "err", err)
		}
		for _, j := range jobs {
			if err := b.process(ctx, j); err != nil && ctx.Err() == nil {
				b.svc.log.ErrorContext(ctx, "bulk job", "job", j.ID, "err", err)
			}
		}
		t := time.NewTimer(b.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-b.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// process issues the queued rows of j, a batch at a time.
func (b *Bulk) process(ctx context.Context, j BulkJob) error {
	a, err := b.svc.store.Agency(ctx, j.AgencyID)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.rates[j.ID] = rateMark{at: time.Now(), count: j.Done + j.Failed}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.rates, j.ID)
		b.mu.Unlock()
	}()
	for ctx.Err() == nil {
		rows, err := b.store.QueuedBulkRows(ctx, j.ID, b.batch)
		if err != nil {
			return err
		}
		reqs := make([]IssueRequest, 0, len(rows))
		idx := make([]int, 0, len(rows)) // reqs[k] is rows[idx[k]]
		for i, r := range rows {
			var p rowPayload
			plain, err := b.svc.sealer.Open(r.Sealed, rowAAD(j.ID, r.Num))
			if err == nil {
				err = json.Unmarshal(plain, &p)
			}
			if err != nil {
				rows[i].State, rows[i].Problem = BulkFailed, &RowProblem{Kind: "internal", Detail: "the stored row cannot be read"}
				b.svc.log.ErrorContext(ctx, "bulk row unreadable", "job", j.ID, "row", r.Num, "err", err)
				continue
			}
			reqs = append(reqs, IssueRequest{Type: j.Type, Holder: p.Holder, Claims: p.Claims,
				IdempotencyKey: fmt.Sprintf("bulk/%s/%d", j.ID, r.Num)})
			idx = append(idx, i)
		}
		if len(reqs) > 0 {
			res, err := b.svc.IssueMany(ctx, a, reqs)
			if err != nil {
				return err
			}
			for k, r := range res {
				row := &rows[idx[k]]
				if r.Err != nil {
					row.State, row.Problem = BulkFailed, rowProblem(r.Err)
				} else {
					row.State, row.CredentialID = BulkDone, r.Credential.ID
				}
			}
		}
		j, err = b.store.SaveBulkRows(ctx, j.ID, rows, b.svc.now().UTC().Truncate(time.Second))
		if err != nil {
			return err
		}
		if j.State == BulkFinished || len(rows) == 0 {
			b.svc.log.InfoContext(ctx, "bulk job finished", "job", j.ID, "done", j.Done, "failed", j.Failed)
			return nil
		}
	}
	return ctx.Err()
}

// rowProblem describes a row's issuance error without its claim values.
func rowProblem(err error) *RowProblem {
	var ce *credtype.ClaimsError
	switch {
	case errors.As(err, &ce):
		return &RowProblem{Kind: "invalid-claims", Detail: "the claims do not fit the credential type", Fields: ce.Violations}
	case errors.Is(err, ErrInvalidHolder):
		return &RowProblem{Kind: "invalid-holder", Detail: err.Error()}
	case errors.Is(err, ErrIdempotencyConflict):
		return &RowProblem{Kind: "idempotency-conflict", Detail: err.Error()}
	case errors.Is(err, ErrTypeNotAllowed):
		return &RowProblem{Kind: "type-not-allowed", Detail: err.Error()}
	case errors.Is(err, ErrUnknownType):
		return &RowProblem{Kind: "unknown-credential-type", Detail: err.Error()}
	case errors.Is(err, ErrInvalidRequest):
		return &RowProblem{Kind: "malformed-request", Detail: err.Error()}
	}
	return &RowProblem{Kind: "internal", Detail: "internal error"}
}

// rowPayload is what a queued row keeps (sealed).
type rowPayload struct {
	Holder string         `json:"holder"`
	Claims map[string]any `json:"claims"`
}

func rowAAD(jobID string, num int) []byte { return fmt.Appendf(nil, "bulk/%s/%d", jobID, num) }

// ParsedRow is one data row of a bulk file: its line number, the client's row id, and the
// holder and claims, or the Problem that kept it from parsing.
type ParsedRow struct {
	Num     int
	ID      string
	Holder  string
	Claims  map[string]any
	Problem *RowProblem
}

// maxRowIDLen bounds a client's row id.
const maxRowIDLen = 200

// ParseBulk reads a bulk file of credential type t. JSONL: one object per line with holder,
// claims and an optional id (unknown members make the row malformed); blank lines are
// skipped. CSV: a header row naming holder, optional id, and claim columns (each one of t's
// properties); empty cells are absent claims; a cell of an integer, number or boolean
// property is converted when it parses as one. A row that does not parse gets a Problem
// (kind "malformed-request") and the others are still returned. Errors: ErrFileTooLarge,
// ErrMalformedFile (naming the first bad line). It does not validate claims against the schema.
func ParseBulk(t *credtype.Type, format BulkFormat, file []byte) ([]ParsedRow, error) {
	if len(file) > MaxBulkFileSize {
		return nil, fmt.Errorf("%w: the file is %d bytes, the limit is %d", ErrFileTooLarge, len(file), MaxBulkFileSize)
	}
	if !utf8.Valid(file) {
		return nil, fmt.Errorf("%w: the file is not UTF-8", ErrMalformedFile)
	}
	file = bytes.TrimPrefix(file, []byte("\ufeff"))
	var rows []ParsedRow
	var err error
	switch format {
	case BulkJSONL:
		rows, err = parseJSONL(file)
	case BulkCSV:
		rows, err = parseCSV(t, file)
	default:
		return nil, fmt.Errorf("%w: unknown format %q", ErrMalformedFile, format)
	}
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no rows", ErrMalformedFile)
	}
	ok := false
	for _, r := range rows {
		if r.Problem == nil {
			ok = true
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: line %d: %s", ErrMalformedFile, rows[0].Num, rows[0].Problem.Detail)
	}
	return rows, nil
}

func malformedRow(num int, id, format string, args ...any) ParsedRow {
	return ParsedRow{Num: num, ID: id, Problem: &RowProblem{Kind: "malformed-request", Detail: fmt.Sprintf(format, args...)}}
}

func parseJSONL(file []byte) ([]ParsedRow, error) {
	var rows []ParsedRow
	for num := 1; len(file) > 0; num++ {
		line := file
		if i := bytes.IndexByte(file, '\n'); i >= 0 {
			line, file = file[:i], file[i+1:]
		} else {
			file = nil
		}
		if len(line) > MaxBulkRowSize {
			return nil, fmt.Errorf("%w: line %d is %d bytes, the limit is %d", ErrFileTooLarge, num, len(line), MaxBulkRowSize)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(rows) == MaxBulkRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrFileTooLarge, MaxBulkRows)
		}
		var r struct {
			Holder *string         `json:"holder"`
			Claims map[string]any  `json:"claims"`
			ID     json.RawMessage `json:"id"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		err := dec.Decode(&r)
		if err == nil && dec.More() {
			err = errors.New("data after the object")
		}
		var id string
		if err == nil && len(r.ID) > 0 {
			err = json.Unmarshal(r.ID, &id)
			if err != nil {
				err = errors.New("id is not a string")
			}
		}
		switch {
		case err != nil:
			rows = append(rows, malformedRow(num, "", "line %d is not a bulk row object: %v", num, err))
		case len(id) > maxRowIDLen:
			rows = append(rows, malformedRow(num, "", "line %d: id longer than %d bytes", num, maxRowIDLen))
		case r.Holder == nil || *r.Holder == "":
			rows = append(rows, malformedRow(num, id, "line %d: holder is missing", num))
		default:
			rows = append(rows, ParsedRow{Num: num, ID: id, Holder: *r.Holder, Claims: r.Claims})
		}
	}
	return rows, nil
}

func parseCSV(t *credtype.Type, file []byte) ([]ParsedRow, error) {
	cr := csv.NewReader(bytes.NewReader(file))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: line 1: no header row: %v", ErrMalformedFile, err)
	}
	props, _ := t.Schema["properties"].(map[string]any)
	cols := slices.Clone(header)
	holderCol, idCol := -1, -1
	seen := map[string]bool{}
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = c
		if seen[c] {
			return nil, fmt.Errorf("%w: line 1: column %q appears twice", ErrMalformedFile, c)
		}
		seen[c] = true
		switch {
		case c == "holder":
			holderCol = i
		case c == "id":
			idCol = i
		case props[c] == nil:
			return nil, fmt.Errorf("%w: line 1: column %q is not a claim of %s", ErrMalformedFile, c, t.Name)
		}
	}
	if holderCol < 0 {
		return nil, fmt.Errorf("%w: line 1: no holder column", ErrMalformedFile)
	}
	kinds := make([]string, len(cols))
	for i, c := range cols {
		if p, ok := props[c].(map[string]any); ok {
			kinds[i], _ = p["type"].(string)
		}
	}
	var rows []ParsedRow
	start := cr.InputOffset()
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, csv.ErrFieldCount) {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedFile, line, err)
		}
		num, _ := cr.FieldPos(0)
		end := cr.InputOffset()
		if end-start > MaxBulkRowSize {
			return nil, fmt.Errorf("%w: line %d is %d bytes, the limit is %d", ErrFileTooLarge, num, end-start, MaxBulkRowSize)
		}
		start = end
		if len(rows) == MaxBulkRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrFileTooLarge, MaxBulkRows)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" && len(cols) > 1 {
			continue // a blank line
		}
		var id string
		if idCol >= 0 && idCol < len(rec) {
			id = rec[idCol]
		}
		if len(id) > maxRowIDLen {
			id = ""
		}
		if len(rec) != len(cols) {
			rows = append(rows, malformedRow(num, id, "line %d has %d fields, the header %d", num, len(rec), len(cols)))
			continue
		}
		r := ParsedRow{Num: num, ID: id, Holder: strings.TrimSpace(rec[holderCol]), Claims: map[string]any{}}
		for i, v := range rec {
			if i == holderCol || i == idCol || v == "" {
				continue
			}
			r.Claims[cols[i]] = csvValue(kinds[i], v)
		}
		if r.Holder == "" {
			r = malformedRow(num, id, "line %d: holder is missing", num)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// csvValue converts a CSV cell to the JSON type of its schema property when it parses as
// one; otherwise it stays a string and the schema reports it.
func csvValue(kind, v string) any {
	switch kind {
	case "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return json.Number(v)
		}
	case "number":
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case "boolean":
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}
