package wallet

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/ezheng/ezheng/internal/keys"
)

// Envelope encryption: every citizen has a 32-byte data key, sealed by the wallet key (derived
// from the master key) and bound to the citizen id. Their credentials and profile are sealed
// with a key derived from the data key; erasing the data key makes every copy of them
// unreadable. Credentials stored before this (key version 0) were sealed with the wallet key:
// ResealAll moves them, and Credential reads both versions meanwhile.

// Key versions of a stored credential.
const (
	keyVersionWallet  = 0 // sealed with the wallet key (before envelope encryption)
	keyVersionCitizen = 1 // sealed with the citizen's data key
)

func dataKeyAAD(citizenID string) []byte { return []byte(citizenID + "/data-key") }

func holderKeyAAD(citizenID string) []byte { return []byte(citizenID + "/holder-key") }

// openHolderKey opens a citizen's holder key. One still sealed with the wallet key (from
// before envelope encryption, or made by CreateCitizen) is re-sealed with the data key first.
func (s *Service) openHolderKey(ctx context.Context, id string) (*keys.Key, error) {
	sealed, version, err := s.accounts.SealedHolderKey(ctx, id)
	if err != nil {
		return nil, err
	}
	cs, err := s.citizenSealer(ctx, id)
	if err != nil {
		return nil, err
	}
	if version == keyVersionCitizen {
		k, err := cs.OpenKey(sealed, holderKeyAAD(id))
		if err != nil {
			return nil, fmt.Errorf("open holder key: %w", err)
		}
		return k, nil
	}
	k, err := s.sealer.OpenKey(sealed, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("open holder key: %w", err)
	}
	resealed, err := cs.SealKey(k, holderKeyAAD(id))
	if err != nil {
		return nil, err
	}
	if err := s.accounts.ResealHolderKey(ctx, id, resealed); err != nil {
		return nil, fmt.Errorf("re-seal holder key: %w", err)
	}
	return k, nil
}

// dataSealer returns the sealer of a citizen's data key.
func dataSealer(dk []byte) (*keys.Sealer, error) { return keys.NewSealer(dk, "wallet/citizen") }

// citizenSealer returns the sealer of citizen id's data key, making the data key first if
// the citizen has none (an account from before envelope encryption).
func (s *Service) citizenSealer(ctx context.Context, id string) (*keys.Sealer, error) {
	sealed, err := s.accounts.DataKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		dk := make([]byte, 32)
		rand.Read(dk)
		if sealed, err = s.accounts.SetDataKey(ctx, id, s.sealer.Seal(dk, dataKeyAAD(id))); err != nil {
			return nil, fmt.Errorf("data key: %w", err)
		}
	}
	dk, err := s.sealer.Open(sealed, dataKeyAAD(id))
	if err != nil {
		return nil, fmt.Errorf("open data key: %w", err)
	}
	return dataSealer(dk)
}

// sealCredential seals a credential's raw form for citizen id with their data key.
func (s *Service) sealCredential(ctx context.Context, citizenID, credID string, raw []byte) ([]byte, error) {
	cs, err := s.citizenSealer(ctx, citizenID)
	if err != nil {
		return nil, err
	}
	return cs.Seal(raw, sealAAD(citizenID, credID)), nil
}

// openCredential opens a stored credential of either key version.
func (s *Service) openCredential(ctx context.Context, citizenID string, cr Credential, sealed []byte) ([]byte, error) {
	if cr.KeyVersion == keyVersionWallet {
		return s.sealer.Open(sealed, sealAAD(citizenID, cr.ID))
	}
	cs, err := s.citizenSealer(ctx, citizenID)
	if err != nil {
		return nil, err
	}
	return cs.Open(sealed, sealAAD(citizenID, cr.ID))
}

// ResealAll gives every citizen a data key and re-seals their holder key and the credentials
// stored before envelope encryption with it. It is idempotent; the server runs it at start-up. It returns
// how many credentials it re-sealed.
func (s *Service) ResealAll(ctx context.Context) (int, error) {
	ids, err := s.accounts.LegacyCitizenIDs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := s.openHolderKey(ctx, id); err != nil { // re-seals it if needed
			return n, err
		}
		cs, err := s.citizenSealer(ctx, id)
		if err != nil {
			return n, err
		}
		legacy, err := s.accounts.LegacyCredentials(ctx, id)
		if err != nil {
			return n, err
		}
		for credID, sealed := range legacy {
			raw, err := s.sealer.Open(sealed, sealAAD(id, credID))
			if err != nil {
				return n, fmt.Errorf("open credential %s: %w", credID, err)
			}
			if err := s.accounts.ResealCredential(ctx, id, credID, cs.Seal(raw, sealAAD(id, credID))); err != nil {
				return n, err
			}
			n++
		}
	}
	if n > 0 {
		s.log.InfoContext(ctx, "credentials re-sealed with per-citizen data keys", "count", n)
	}
	return n, nil
}
