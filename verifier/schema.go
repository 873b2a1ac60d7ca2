package verifier

import (
	"errors"
	"maps"
	"strings"

	"github.com/ezheng/ezheng/issuer/credtype"
)

// schema reports the schema check: the claims shown are valid against the JSON Schema of the
// credential's type. When the holder withheld claims, the schema's "required" is not held
// against the presentation (selective disclosure exists to leave claims out); every claim
// shown must still be valid.
func (r *run) schema(p *presented) {
	if p.typeName == "" {
		r.unavailable(CheckSchema, "no JSON Schema known for type "+r.res.Type)
		return
	}
	t, err := r.s.types.Lookup(p.typeName)
	if err != nil {
		r.unavailable(CheckSchema, "no JSON Schema known for type "+p.typeName)
		return
	}
	err = t.ValidateDecoded(maps.Clone(p.claims))
	var ce *credtype.ClaimsError
	if err != nil && !errors.As(err, &ce) {
		r.fail(CheckSchema, err.Error())
		return
	}
	var bad []string
	if ce != nil {
		for _, v := range ce.Violations {
			if p.partial && v.Reason == "required" {
				if _, shown := p.claims[strings.TrimPrefix(v.Path, "/")]; !shown {
					continue
				}
			}
			path := v.Path
			if path == "" {
				path = "/"
			}
			bad = append(bad, path+": "+v.Reason)
		}
	}
	switch {
	case len(bad) > 0:
		r.fail(CheckSchema, "claims invalid for "+t.Name+": "+strings.Join(bad, "; "))
	case p.partial:
		r.note(CheckSchema, "claims shown are valid; withheld claims not checked")
	default:
		r.pass(CheckSchema)
	}
}
