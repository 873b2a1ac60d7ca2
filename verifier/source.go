package verifier

import (
	"context"
	"time"
)

// The modes of SourceInfo.
const (
	SourceOnline  = "online"  // the DID ledger and status lists fetched now
	SourceOffline = "offline" // a trust bundle
)

// SourceInfo describes the trust data behind a verification: online, or a bundle of a
// certain age. It is part of every Result.
type SourceInfo struct {
	// Mode is SourceOnline or SourceOffline.
	Mode string `json:"mode"`
	// Bundle identifies the trust bundle (offline only), e.g. its digest.
	Bundle string `json:"bundle,omitempty"`
	// BundleIssuedAt is when the bundle was made (offline only).
	BundleIssuedAt *time.Time `json:"bundle_issued_at,omitempty"`
	// BundleAgeSeconds is the bundle's age at the verification, set by the verifier.
	BundleAgeSeconds int64 `json:"bundle_age_seconds,omitempty"`
}

// Source describes where the verifier's Trust, Resolver and StatusLists get their data. An
// offline verifier (a trust bundle) passes one so that results state the bundle's age and
// policies can refuse a stale bundle; without one the verifier is online.
type Source interface {
	// Info returns the source's description. Mode must be SourceOnline or SourceOffline; an
	// offline source sets BundleIssuedAt (a missing time counts as infinitely old). The
	// verifier computes BundleAgeSeconds itself. Info must be cheap: it runs on every
	// verification.
	Info(ctx context.Context) SourceInfo
}

// sourceInfo returns the source of this verification at now.
func (s *Service) sourceInfo(ctx context.Context, now time.Time) SourceInfo {
	if s.source == nil {
		return SourceInfo{Mode: SourceOnline}
	}
	info := s.source.Info(ctx)
	if info.Mode != SourceOffline {
		return SourceInfo{Mode: SourceOnline}
	}
	if info.BundleIssuedAt != nil {
		at := info.BundleIssuedAt.UTC()
		info.BundleIssuedAt = &at
		info.BundleAgeSeconds = int64(max(now.Sub(at), 0) / time.Second)
	}
	return info
}

// bundleAge returns the bundle's age and whether it is known.
func (i SourceInfo) bundleAge(now time.Time) (time.Duration, bool) {
	if i.BundleIssuedAt == nil {
		return 0, false
	}
	return max(now.Sub(*i.BundleIssuedAt), 0), true
}
