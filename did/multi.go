package did

import (
	"context"
	"fmt"
	"time"
)

// Methods dispatches resolution by DID method: each method name maps to the resolver for it
// (e.g. "ez" to the ledger, "key" and "jwk" to Local). It is safe for concurrent use if its
// resolvers are; do not change the map after first use.
type Methods map[string]Resolver

// Resolve implements Resolver. An unknown method gives ErrMethodNotSupported.
func (m Methods) Resolve(ctx context.Context, s string) (*Document, error) {
	d, err := Parse(s)
	if err != nil {
		return nil, err
	}
	r, ok := m[d.Method]
	if !ok {
		return nil, fmt.Errorf("%w: did:%s", ErrMethodNotSupported, d.Method)
	}
	return r.Resolve(ctx, s)
}

// Query asks for a past version of a DID document: by versionId, or the version in force at
// VersionTime. The zero Query asks for the current version.
type Query struct {
	VersionID   string
	VersionTime time.Time
}

// IsZero reports whether q asks for the current version.
func (q Query) IsZero() bool { return q.VersionID == "" && q.VersionTime.IsZero() }

// Metadata is DID document metadata (DID Core §7.1.3).
type Metadata struct {
	Created       *time.Time `json:"created,omitempty"`
	Updated       *time.Time `json:"updated,omitempty"`
	VersionID     string     `json:"versionId,omitempty"`
	NextUpdate    *time.Time `json:"nextUpdate,omitempty"`
	NextVersionID string     `json:"nextVersionId,omitempty"`
	Deactivated   bool       `json:"deactivated,omitempty"`
}

// VersionResolver is the optional ability of a resolver to return document metadata and past
// versions (the ledger method has it; did:key and did:jwk have one version and no metadata).
type VersionResolver interface {
	// ResolveVersion resolves did as q asks. Errors as Resolve; a version that does not exist
	// is ErrNotFound.
	ResolveVersion(ctx context.Context, did string, q Query) (*Document, Metadata, error)
}

// ResolveVersion implements VersionResolver: methods whose resolver lacks the ability answer
// the current version with empty metadata, and ErrNotFound for any other version.
func (m Methods) ResolveVersion(ctx context.Context, s string, q Query) (*Document, Metadata, error) {
	d, err := Parse(s)
	if err != nil {
		return nil, Metadata{}, err
	}
	r, ok := m[d.Method]
	if !ok {
		return nil, Metadata{}, fmt.Errorf("%w: did:%s", ErrMethodNotSupported, d.Method)
	}
	if vr, ok := r.(VersionResolver); ok {
		return vr.ResolveVersion(ctx, s, q)
	}
	if !q.IsZero() {
		return nil, Metadata{}, fmt.Errorf("%w: did:%s has no versions", ErrNotFound, d.Method)
	}
	doc, err := r.Resolve(ctx, s)
	return doc, Metadata{}, err
}
