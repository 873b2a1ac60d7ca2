package issuer

import (
	"errors"
	"fmt"

	"github.com/ezheng/ezheng/issuer/credtype"
)

// LookupType returns the credential type called name from the built-in, declarative type
// files (issuer/credtype/types), or an error wrapping ErrUnknownType.
func LookupType(name string) (*credtype.Type, error) {
	t, err := credtype.Builtin().Lookup(name)
	if errors.Is(err, credtype.ErrUnknownType) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, name)
	}
	return t, err
}
