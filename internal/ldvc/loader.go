package ldvc

import (
	"bytes"
	"embed"
	"fmt"

	"github.com/piprate/json-gold/ld"
)

// Context URLs served by [Loader]. These are the only JSON-LD contexts a
// credential handled by this package may name.
const (
	// ContextCredentialsV1 is the W3C VCDM 1.1 base context. It must be the
	// first entry of every credential's @context.
	ContextCredentialsV1 = "https://www.w3.org/2018/credentials/v1"
	// ContextEd25519Signature2020 is the Ed25519Signature2020 suite context,
	// which defines the proof's terms. Sign adds it when it is missing.
	ContextEd25519Signature2020 = "https://w3id.org/security/suites/ed25519-2020/v1"
	// ContextLicenceV1 is our own context: it defines every credential type
	// and claim our agencies issue (see contexts/README.md). Its vocabulary
	// is ContextLicenceV1 + "#" + term.
	ContextLicenceV1 = "https://ezheng.dev/contexts/licence/v1"
	// ContextStatusV1 is the W3C Bitstring Status List v1.0 context: it defines
	// BitstringStatusListEntry, the credentialStatus our credentials carry
	// (see StatusTypes).
	ContextStatusV1 = "https://www.w3.org/ns/credentials/status/v1"

	// contextCredentialsV2 is VCDM 2.0, which aries rejects; see ErrVCDM2.
	contextCredentialsV2 = "https://www.w3.org/ns/credentials/v2"
)

//go:embed contexts/*.jsonld
var contextFS embed.FS

// embedded maps each served context URL to its file under contexts/.
var embedded = map[string]string{
	ContextCredentialsV1:        "contexts/credentials-v1.jsonld",
	ContextEd25519Signature2020: "contexts/ed25519-signature-2020-v1.jsonld",
	ContextLicenceV1:            "contexts/licence-v1.jsonld",
	ContextStatusV1:             "contexts/status-v1.jsonld",
}

// DocumentLoader is an offline JSON-LD document loader that serves only the
// contexts embedded in this package and refuses every other URL without
// touching the network. It implements the json-gold ld.DocumentLoader
// interface that aries-framework-go's verifiable and processor packages
// accept. A DocumentLoader is immutable and safe for concurrent use.
type DocumentLoader struct {
	docs map[string]*ld.RemoteDocument
}

// loader is built once at package initialisation; the embedded files are
// part of the binary, so a failure here is a programming error.
var loader = mustNewLoader()

func mustNewLoader() *DocumentLoader {
	l := &DocumentLoader{docs: make(map[string]*ld.RemoteDocument, len(embedded))}
	for url, name := range embedded {
		raw, err := contextFS.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("ldvc: read embedded context %s: %v", name, err))
		}
		doc, err := ld.DocumentFromReader(bytes.NewReader(raw))
		if err != nil {
			panic(fmt.Sprintf("ldvc: parse embedded context %s: %v", name, err))
		}
		l.docs[url] = &ld.RemoteDocument{DocumentURL: url, Document: doc}
	}
	return l
}

// Loader returns the package's offline document loader. Pass it to aries
// (verifiable.WithJSONLDDocumentLoader, processor.WithDocumentLoader) so
// that no context is ever fetched over the network.
func Loader() *DocumentLoader { return loader }

// ErrUnknownContext reports a JSON-LD context URL that is not embedded in
// this package. It wraps ErrMalformed.
var ErrUnknownContext = fmt.Errorf("%w: JSON-LD context is not one of ours (offline loader)", ErrMalformed)

// LoadDocument returns the embedded context for the exact URL u, or an error
// wrapping ErrUnknownContext for any other URL. The returned document is
// shared and must not be modified (json-gold only reads it).
func (l *DocumentLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	if d, ok := l.docs[u]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownContext, u)
}

// ContextDocument returns the raw bytes of the embedded context for url and
// reports whether it is one of ours. Useful for publishing ContextLicenceV1.
func ContextDocument(url string) ([]byte, bool) {
	name, ok := embedded[url]
	if !ok {
		return nil, false
	}
	raw, err := contextFS.ReadFile(name)
	if err != nil {
		return nil, false
	}
	return raw, true
}

// isEmbedded reports whether url is served by Loader.
func isEmbedded(url string) bool {
	_, ok := embedded[url]
	return ok
}

var _ ld.DocumentLoader = (*DocumentLoader)(nil)
