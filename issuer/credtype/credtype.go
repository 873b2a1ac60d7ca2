// Package credtype loads declarative credential type files: what a kind of credential
// (DrivingLicence, HealthCode, ...) contains, which of its claims the holder may disclose
// selectively, how long it stays valid, which formats it is issued in, and how wallets show it
// in zh-CN and en.
//
// A type file is YAML (*.yaml, *.yml) or JSON (*.json); both have the same fields:
//
//	name:        DrivingLicence              # required, ^[A-Z][A-Za-z0-9]{0,63}$, unique
//	vct:         urn:ezheng:vct:DrivingLicence  # SD-JWT VC type; default VCTPrefix+name; unique
//	version:     "1.0"                       # optional, free text
//	validity:    6y                          # required, > 0, <= 100y: a Go duration ("24h", "90m") or
//	                                         # a whole number of days ("30d") or years ("6y" = 6×365d)
//	refresh:     daily                       # optional: hourly, daily, weekly or a duration as above;
//	                                         # at most validity
//	approval:    none                        # none (default) or officer (deferred issuance)
//	formats:     [dc+sd-jwt, jwt_vc_json]    # subset of dc+sd-jwt, vc+jwt, jwt_vc_json, ldp_vc
//	disclosable: [family_name, given_name]   # top-level claims that become disclosures, or "all"
//	schema:      {...}                       # JSON Schema draft 2020-12 for the claims object
//	display:                                 # one entry per language; zh-CN and en required
//	  - lang: zh-CN
//	    name: 机动车驾驶证
//	    description: ...
//	    background_color: "#1f4e8c"           # #rrggbb
//	    text_color: "#ffffff"
//	    logo: {uri: "https://...", alt_text: ...}   # https: or data:image/ URI
//	claims:                                  # per-claim labels, zh-CN and en each
//	  - path: [family_name]
//	    display: [{lang: zh-CN, label: 姓}, {lang: en, label: Family name}]
//	example: {...}                           # a claims object that validates against schema
//
// The schema must be an object schema with "properties" and "additionalProperties": false.
// Formats ("date", "email", ...) are asserted and so is "contentEncoding": "base64". A $ref
// may point at another file of the same fs.FS (say "common/defs.json#/$defs/date"); http(s),
// file and any other URL is refused, so loading never touches the network or the disk beyond
// the fs.FS. Load reads type files from the top directory of the fs.FS only, so shared schema
// files belong in a subdirectory. Parse checks one file given as bytes (an agency's upload)
// the same way; its $ref may only point inside the file.
//
// The field names follow IETF SD-JWT VC Type Metadata and the OpenID4VCI credential
// configuration display, except that a language is called "lang" in files (as in the issue)
// and "locale" in the JSON that TypeMetadata and OpenID4VCIConfiguration produce (as in the
// current drafts).
//
// A Registry and the Types in it are immutable after Load and safe for concurrent use;
// callers must not modify the slices and maps reachable from a *Type.
package credtype

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// VCTPrefix prefixes the vct of ezheng's own credential types when a file names none.
const VCTPrefix = "urn:ezheng:vct:"

// Credential formats a type may be issued in.
const (
	FormatSDJWTVC   = "dc+sd-jwt"   // IETF SD-JWT VC
	FormatVCJWT     = "vc+jwt"      // W3C VC-JOSE-COSE (VC Data Model 2.0 as a JWT)
	FormatJWTVCJSON = "jwt_vc_json" // OpenID4VCI: W3C VC Data Model 1.1 as a JWT, no JSON-LD
	FormatLDPVC     = "ldp_vc"      // OpenID4VCI: W3C VC with a Data Integrity proof
)

// Approval says whether issuing a credential of a type needs a person's approval.
type Approval string

// Approval values.
const (
	// ApprovalNone issues at once.
	ApprovalNone Approval = "none"
	// ApprovalOfficer queues the request until an officer approves it (deferred issuance).
	ApprovalOfficer Approval = "officer"
)

var (
	// ErrUnknownType is returned by Lookup and ByVCT for a type the registry does not hold.
	ErrUnknownType = errors.New("unknown credential type")
	// ErrInvalidClaims matches (with errors.Is) every *ClaimsError.
	ErrInvalidClaims = errors.New("invalid claims")
	// ErrInvalidTypeFile matches (with errors.Is) every *FileError that Load returns.
	ErrInvalidTypeFile = errors.New("invalid credential type file")
)

// Type is one credential type, loaded from a type file. Its fields are read-only.
type Type struct {
	// Name is the type's name, e.g. "DrivingLicence".
	Name string
	// VCT is the SD-JWT VC "vct" value, e.g. "urn:ezheng:vct:DrivingLicence".
	VCT string
	// Version is the type file's version, free text.
	Version string
	// Validity is how long a credential stays valid unless the issuer says otherwise.
	Validity time.Duration
	// Refresh, when not zero, is how often the holder's credential is reissued (HealthCode:
	// daily).
	Refresh time.Duration
	// Approval says whether issuance waits for an officer.
	Approval Approval
	// Formats lists the credential formats this type is issued in, in file order.
	Formats []string
	// DisclosableClaims lists, sorted, the top-level claims that become selective
	// disclosures; "all" in the file expands to every schema property.
	DisclosableClaims []string
	// Required lists, sorted, the claims the schema requires.
	Required []string
	// Properties lists, sorted, every top-level claim the schema allows.
	Properties []string
	// Schema is the claims JSON Schema as decoded JSON (numbers are json.Number).
	Schema map[string]any
	// Display holds the type's name, description and colours per language.
	Display []Display
	// Claims holds per-claim labels, in file order.
	Claims []ClaimDisplay
	// File is the path, inside the loaded fs.FS, of the file the type came from.
	File string

	schema  *jsonschema.Schema
	example map[string]any
}

// Display is how a wallet shows a credential type in one language.
type Display struct {
	// Lang is a BCP 47 language tag: "zh-CN" or "en" (both required), others allowed.
	Lang string `json:"lang"`
	// Name is the credential's name, e.g. "机动车驾驶证".
	Name string `json:"name"`
	// Description is one sentence about the credential.
	Description string `json:"description,omitempty"`
	// BackgroundColor is the card colour, "#rrggbb".
	BackgroundColor string `json:"background_color,omitempty"`
	// TextColor is the text colour on the card, "#rrggbb".
	TextColor string `json:"text_color,omitempty"`
	// Logo is the card's logo, if any.
	Logo *Logo `json:"logo,omitempty"`
}

// Logo is an image shown on a credential card.
type Logo struct {
	// URI is an https: or data:image/ URI.
	URI string `json:"uri"`
	// AltText describes the image for screen readers.
	AltText string `json:"alt_text,omitempty"`
}

// ClaimDisplay labels one claim.
type ClaimDisplay struct {
	// Path names the claim: its property names from the top of the claims object down,
	// as in SD-JWT VC claim paths.
	Path []string `json:"path"`
	// Display holds the claim's label per language; zh-CN and en are required.
	Display []ClaimLabel `json:"display"`
}

// ClaimLabel is a claim's label in one language.
type ClaimLabel struct {
	// Lang is a BCP 47 language tag.
	Lang string `json:"lang"`
	// Label is the claim's short name, e.g. "准驾车型".
	Label string `json:"label"`
	// Description explains the claim, optionally.
	Description string `json:"description,omitempty"`
}

// Registry holds loaded credential types by name and by vct. It is immutable and safe for
// concurrent use.
type Registry struct {
	byName map[string]*Type
	byVCT  map[string]*Type
	all    []*Type
}

// Lookup returns the type called name, or an error wrapping ErrUnknownType.
func (r *Registry) Lookup(name string) (*Type, error) {
	if t, ok := r.byName[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownType, name)
}

// ByVCT returns the type whose vct is vct, or an error wrapping ErrUnknownType.
func (r *Registry) ByVCT(vct string) (*Type, error) {
	if t, ok := r.byVCT[vct]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w: vct %q", ErrUnknownType, vct)
}

// All returns every type, sorted by name. The slice is the caller's; the types are shared.
func (r *Registry) All() []*Type {
	return append([]*Type(nil), r.all...)
}

func newRegistry(types []*Type) *Registry {
	r := &Registry{byName: map[string]*Type{}, byVCT: map[string]*Type{}}
	for _, t := range types {
		r.byName[t.Name] = t
		r.byVCT[t.VCT] = t
		r.all = append(r.all, t)
	}
	sort.Slice(r.all, func(i, j int) bool { return r.all[i].Name < r.all[j].Name })
	return r
}

//go:embed types
var builtinFS embed.FS

// Builtin returns the credential types shipped with ezheng (the files in types/):
// BusinessLicence, DegreeCertificate, DrivingLicence, HealthCode, ResidencePermit and
// VaccinationCertificate. They are loaded once; every call returns the same immutable
// registry. It panics only if the embedded files are broken, which TestBuiltin rules out.
func Builtin() *Registry { return builtin() }

var builtin = sync.OnceValue(func() *Registry {
	sub, err := fs.Sub(builtinFS, "types")
	if err != nil {
		panic(fmt.Sprintf("credtype: embedded types: %v", err))
	}
	r, err := Load(sub)
	if err != nil {
		panic(fmt.Sprintf("credtype: embedded types: %v", err))
	}
	return r
})
