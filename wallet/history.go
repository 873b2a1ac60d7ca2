package wallet

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ezheng/ezheng/internal/secret"
)

// Presentation history (issue #5, "The citizen stays in control"): every presentation the
// wallet makes for a citizen — a counter QR (Present), an OpenID4VP response — is recorded
// with who it was for, which claims it disclosed, when, why and, once known, the result. The
// record is sealed with the citizen's data key, so erasing the account shreds it.

// Channels a presentation is made through.
const (
	ChannelCounterQR = "counter-qr"
	ChannelOpenID4VP = "openid4vp"
)

// Results of a presentation. A counter QR is only shown: the wallet never learns whether the
// counter accepted it, so it stays ResultPresented.
const (
	ResultPresented = "presented" // made and handed over; the outcome is not known
	ResultAccepted  = "accepted"  // the verifier said it accepted it
	ResultRejected  = "rejected"  // the verifier said it refused it
	ResultFailed    = "failed"    // it could not be delivered
	ResultDeclined  = "declined"  // the citizen refused to share
)

// History limits.
const (
	DefaultHistoryPage = 100
	MaxHistoryPage     = 1000
	maxHistoryField    = 1024 // bytes of one text field of a record
	maxHistoryClaims   = 256
)

// PresentationRecord is one entry of a citizen's presentation history.
type PresentationRecord struct {
	// ID is the record's id ("pr_…"), set by RecordPresentation.
	ID string `json:"id"`
	// Seq orders a citizen's records (larger is newer); it is the cursor of History.
	Seq int64 `json:"seq"`
	// At is when the presentation was made; RecordPresentation sets it to now when zero.
	At time.Time `json:"at"`
	// Channel is ChannelCounterQR or ChannelOpenID4VP.
	Channel string `json:"channel"`
	// Audience is whom it was made for: the KB-JWT aud (a counter's id, a verifier's
	// client_id).
	Audience string `json:"audience"`
	// Verifier is the verifier's verified display name, when the wallet knows one.
	Verifier string `json:"verifier,omitempty"`
	// CredentialID, CredentialType and Issuer say which credential was shown.
	CredentialID   string `json:"credential_id,omitempty"`
	CredentialType string `json:"credential_type,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	// Claims are the names of the disclosed claims.
	Claims []string `json:"claims"`
	// Purpose is why the verifier asked, as it said (OpenID4VP), if it said.
	Purpose string `json:"purpose,omitempty"`
	// Result is one of the Result* values; ResultPresented when empty.
	Result string `json:"result"`
	// ResultDetail explains a result other than presented or accepted.
	ResultDetail string `json:"result_detail,omitempty"`
}

// SealedRecord is a history record or event as stored: its clear ordering fields and its
// sealed content.
type SealedRecord struct {
	Seq    int64
	ID     string // a presentation's id; "" for an event
	Type   string // an event's type; "" for a presentation
	At     time.Time
	Sealed []byte
}

// HistoryStore is what history, notifications and the status check need from storage. The
// walletstore implements it; Service finds it by type assertion on its Store.
type HistoryStore interface {
	// AddPresentation stores a sealed presentation record and returns its seq.
	AddPresentation(ctx context.Context, citizenID, id string, at time.Time, sealed []byte) (int64, error)
	// Presentations lists the citizen's records with seq < before (all when before <= 0),
	// newest first, at most limit (all when limit <= 0).
	Presentations(ctx context.Context, citizenID string, before int64, limit int) ([]SealedRecord, error)
	// Presentation returns one record of the citizen, or ErrNotFound.
	Presentation(ctx context.Context, citizenID, id string) (SealedRecord, error)
	// UpdatePresentation replaces the sealed content of the citizen's record id, or returns
	// ErrNotFound.
	UpdatePresentation(ctx context.Context, citizenID, id string, sealed []byte) error
}

// historyStore returns the Store's HistoryStore.
func (s *Service) historyStore() (HistoryStore, error) {
	hs, ok := s.store.(HistoryStore)
	if !ok {
		return nil, errors.New("wallet: the store keeps no history (HistoryStore)")
	}
	return hs, nil
}

func presentationAAD(citizenID, id string) []byte {
	return []byte(citizenID + "/presentation/" + id)
}

// RecordPresentation adds rec to c's history and returns it as stored (with ID, At and Result
// set). It is the one call every way of presenting makes once the presentation exists;
// Present calls it for counter QRs, and an OpenID4VP response calls it once posted (then
// SetPresentationResult when the verifier answers). Errors: ErrInvalidRequest for a record
// without channel or audience, or with fields too long.
func (s *Service) RecordPresentation(ctx context.Context, c Citizen, rec PresentationRecord) (PresentationRecord, error) {
	hs, err := s.historyStore()
	if err != nil {
		return PresentationRecord{}, err
	}
	rec.ID, rec.Seq = secret.ID("pr"), 0
	if rec.At.IsZero() {
		rec.At = s.now()
	}
	rec.At = rec.At.UTC().Truncate(time.Second)
	if rec.Result == "" {
		rec.Result = ResultPresented
	}
	if rec.Claims == nil {
		rec.Claims = []string{}
	}
	if err := rec.validate(); err != nil {
		return PresentationRecord{}, err
	}
	sealed, err := s.sealRecord(ctx, c.ID, presentationAAD(c.ID, rec.ID), rec)
	if err != nil {
		return PresentationRecord{}, err
	}
	if rec.Seq, err = hs.AddPresentation(ctx, c.ID, rec.ID, rec.At, sealed); err != nil {
		return PresentationRecord{}, fmt.Errorf("record presentation: %w", err)
	}
	return rec, nil
}

// SetPresentationResult records the outcome of c's presentation id (ResultAccepted,
// ResultRejected, ResultFailed or ResultDeclined), with detail saying why. Errors:
// ErrNotFound, ErrInvalidRequest.
func (s *Service) SetPresentationResult(ctx context.Context, c Citizen, id, result, detail string) (PresentationRecord, error) {
	switch result {
	case ResultAccepted, ResultRejected, ResultFailed, ResultDeclined, ResultPresented:
	default:
		return PresentationRecord{}, fmt.Errorf("%w: unknown result %q", ErrInvalidRequest, result)
	}
	hs, err := s.historyStore()
	if err != nil {
		return PresentationRecord{}, err
	}
	sr, err := hs.Presentation(ctx, c.ID, id)
	if err != nil {
		return PresentationRecord{}, err
	}
	rec, err := s.openPresentation(ctx, c.ID, sr)
	if err != nil {
		return PresentationRecord{}, err
	}
	rec.Result, rec.ResultDetail = result, detail
	if err := rec.validate(); err != nil {
		return PresentationRecord{}, err
	}
	sealed, err := s.sealRecord(ctx, c.ID, presentationAAD(c.ID, rec.ID), rec)
	if err != nil {
		return PresentationRecord{}, err
	}
	if err := hs.UpdatePresentation(ctx, c.ID, id, sealed); err != nil {
		return PresentationRecord{}, err
	}
	return rec, nil
}

func (r PresentationRecord) validate() error {
	if r.Channel == "" || r.Audience == "" {
		return fmt.Errorf("%w: a presentation record needs a channel and an audience", ErrInvalidRequest)
	}
	for _, f := range []string{r.Channel, r.Audience, r.Verifier, r.CredentialID, r.CredentialType, r.Issuer, r.Purpose, r.Result, r.ResultDetail} {
		if len(f) > maxHistoryField || !utf8.ValidString(f) {
			return fmt.Errorf("%w: a presentation record field is longer than %d bytes or not UTF-8", ErrInvalidRequest, maxHistoryField)
		}
	}
	if len(r.Claims) > maxHistoryClaims {
		return fmt.Errorf("%w: more than %d claims", ErrInvalidRequest, maxHistoryClaims)
	}
	for _, n := range r.Claims {
		if len(n) > maxHistoryField || !utf8.ValidString(n) {
			return fmt.Errorf("%w: a claim name is longer than %d bytes or not UTF-8", ErrInvalidRequest, maxHistoryField)
		}
	}
	return nil
}

// sealRecord seals v's JSON with citizen id's data key, bound to aad.
func (s *Service) sealRecord(ctx context.Context, citizenID string, aad []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	cs, err := s.citizenSealer(ctx, citizenID)
	if err != nil {
		return nil, err
	}
	return cs.Seal(b, aad), nil
}

func (s *Service) openPresentation(ctx context.Context, citizenID string, sr SealedRecord) (PresentationRecord, error) {
	cs, err := s.citizenSealer(ctx, citizenID)
	if err != nil {
		return PresentationRecord{}, err
	}
	b, err := cs.Open(sr.Sealed, presentationAAD(citizenID, sr.ID))
	if err != nil {
		return PresentationRecord{}, fmt.Errorf("open presentation record %s: %w", sr.ID, err)
	}
	var rec PresentationRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return PresentationRecord{}, fmt.Errorf("presentation record %s: %w", sr.ID, err)
	}
	rec.Seq = sr.Seq
	return rec, nil
}

// HistoryPage is one page of a citizen's history, newest first. Next is the cursor of the
// following (older) page, 0 when there is none.
type HistoryPage struct {
	Presentations []PresentationRecord `json:"presentations"`
	Next          int64                `json:"next,omitempty"`
}

// History returns c's presentations older than the cursor before (from the newest when 0),
// newest first, at most limit (DefaultHistoryPage when 0). Errors: ErrInvalidRequest for a
// negative cursor or a limit above MaxHistoryPage.
func (s *Service) History(ctx context.Context, c Citizen, before int64, limit int) (HistoryPage, error) {
	switch {
	case limit == 0:
		limit = DefaultHistoryPage
	case limit < 0 || limit > MaxHistoryPage:
		return HistoryPage{}, fmt.Errorf("%w: limit must be 1 to %d", ErrInvalidRequest, MaxHistoryPage)
	}
	if before < 0 {
		return HistoryPage{}, fmt.Errorf("%w: before must not be negative", ErrInvalidRequest)
	}
	list, err := s.history(ctx, c, before, limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	page := HistoryPage{Presentations: list}
	if len(list) > limit {
		page.Presentations = list[:limit]
		page.Next = list[limit-1].Seq
	}
	return page, nil
}

// history opens c's records, newest first (all of them when limit <= 0).
func (s *Service) history(ctx context.Context, c Citizen, before int64, limit int) ([]PresentationRecord, error) {
	hs, err := s.historyStore()
	if err != nil {
		return nil, err
	}
	srs, err := hs.Presentations(ctx, c.ID, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]PresentationRecord, 0, len(srs))
	for _, sr := range srs {
		rec, err := s.openPresentation(ctx, c.ID, sr)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// Export formats of the history.
const (
	ExportJSON = "json"
	ExportCSV  = "csv"
)

// HistoryExport is the JSON export of a citizen's whole history.
type HistoryExport struct {
	Format        string               `json:"format"` // "ezheng-presentation-history"
	Version       int                  `json:"version"`
	Citizen       string               `json:"citizen"` // holder DID
	ExportedAt    time.Time            `json:"exported_at"`
	Presentations []PresentationRecord `json:"presentations"`
}

// ExportHistory returns c's whole history, oldest first, as format (ExportJSON or ExportCSV),
// with the file's media type. Errors: ErrInvalidRequest for another format.
func (s *Service) ExportHistory(ctx context.Context, c Citizen, format string) (body []byte, contentType string, err error) {
	if format != ExportJSON && format != ExportCSV {
		return nil, "", fmt.Errorf("%w: format must be %q or %q", ErrInvalidRequest, ExportJSON, ExportCSV)
	}
	list, err := s.history(ctx, c, 0, 0)
	if err != nil {
		return nil, "", err
	}
	slices.Reverse(list)
	if format == ExportJSON {
		b, err := json.MarshalIndent(HistoryExport{Format: "ezheng-presentation-history", Version: 1, Citizen: c.HolderDID,
			ExportedAt: s.now().UTC().Truncate(time.Second), Presentations: list}, "", "  ")
		return append(b, '\n'), "application/json", err
	}
	b, err := historyCSV(list)
	return b, "text/csv; charset=utf-8", err
}

// historyCSVHeader names the CSV export's columns.
var historyCSVHeader = []string{"id", "at", "channel", "audience", "verifier", "credential_id", "credential_type", "issuer", "claims", "purpose", "result", "result_detail"}

// historyCSV writes records as RFC 4180 CSV: a header row, then one row per record, claims
// joined by ";". A field a spreadsheet would run as a formula is prefixed with "'".
func historyCSV(list []PresentationRecord) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(historyCSVHeader); err != nil {
		return nil, err
	}
	for _, r := range list {
		row := []string{r.ID, r.At.Format(time.RFC3339), r.Channel, r.Audience, r.Verifier, r.CredentialID, r.CredentialType, r.Issuer,
			strings.Join(r.Claims, ";"), r.Purpose, r.Result, r.ResultDetail}
		for i, f := range row {
			row[i] = csvSafe(f)
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvSafe defuses CSV formula injection: a field starting with =, +, -, @, tab or CR gets a
// leading apostrophe.
func csvSafe(f string) string {
	if f != "" && strings.ContainsRune("=+-@\t\r", rune(f[0])) {
		return "'" + f
	}
	return f
}

// recordCounterQR records a counter QR made by Present.
func (s *Service) recordCounterQR(ctx context.Context, c Citizen, cr Credential, p Presentation) error {
	_, err := s.RecordPresentation(ctx, c, PresentationRecord{
		At: p.IssuedAt, Channel: ChannelCounterQR, Audience: p.Audience, CredentialID: cr.ID, CredentialType: cr.Type,
		Issuer: cr.Issuer, Claims: slices.Clone(p.Disclosed),
	})
	return err
}
