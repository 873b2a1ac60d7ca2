package wallet

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/secret"
)

// Backup and restore (issue #5): the citizen's wallet — holder key, credentials, presentation
// history — exported as one file encrypted under a passphrase (Argon2id, then AES-256-GCM),
// and restored into an account, typically a new one made on a new phone: the holder key and
// everything else are re-sealed under that account's data key, and the phone that restores
// is the device bound to it. The format is in docs/wallet-backup.md.

// Errors of backup and restore.
var (
	ErrWeakPassphrase   = errors.New("the passphrase must be 12 to 1024 bytes of UTF-8 with at least 10 characters")
	ErrBackupMalformed  = errors.New("not an ezheng wallet backup, or a version or cost this server does not read")
	ErrBackupPassphrase = errors.New("wrong passphrase for this backup")
	ErrBackupTampered   = errors.New("the backup was altered or damaged: it does not decrypt")
	ErrRestoreConflict  = fmt.Errorf("%w: restore into a wallet that holds no credentials", problem.ErrConflict)
)

// BackupMagic is the first line of a backup file, naming its format and version.
const BackupMagic = "ezheng-wallet-backup v1"

// BackupMediaType is the media type of a backup file.
const BackupMediaType = "application/vnd.ezheng.wallet-backup"

// MaxBackupSize bounds a backup file the wallet reads.
const MaxBackupSize = 16 << 20

// KDFParams are Argon2id (RFC 9106) parameters.
type KDFParams struct {
	MemoryKiB uint32 `json:"m"` // memory, KiB
	Passes    uint32 `json:"t"` // passes over the memory
	Lanes     uint8  `json:"p"` // parallelism
}

// valid reports whether p are parameters Argon2id accepts: at least one lane and one pass,
// and at least 8 KiB of memory per lane.
func (p KDFParams) valid() bool {
	return p.Lanes > 0 && p.Passes > 0 && p.MemoryKiB >= 8*uint32(p.Lanes)
}

// DefaultBackupKDF is the cost of new backups: 64 MiB, 3 passes, 4 lanes (RFC 9106's second
// recommended option).
var DefaultBackupKDF = KDFParams{MemoryKiB: 64 << 10, Passes: 3, Lanes: 4}

// DefaultMaxRestoreKDF is the highest cost a backup may ask for at restore.
var DefaultMaxRestoreKDF = KDFParams{MemoryKiB: 256 << 10, Passes: 10, Lanes: 16}

// backupHeader is the file's second line: everything needed to derive the key, authenticated
// as additional data of the encryption.
type backupHeader struct {
	KDF       string    `json:"kdf"` // "argon2id"
	KDFParams           // m, t, p
	Salt      string    `json:"salt"`  // base64url, 16 bytes
	AEAD      string    `json:"aead"`  // "A256GCM"
	Nonce     string    `json:"nonce"` // base64url, 12 bytes
	Check     string    `json:"check"` // base64url, 16 bytes: tells a wrong passphrase from damage
	CreatedAt time.Time `json:"created_at"`
}

// backupPayload is what is encrypted.
type backupPayload struct {
	Citizen       backupCitizen        `json:"citizen"`
	HolderKey     []byte               `json:"holder_key"` // PKCS #8
	Credentials   []backupCredential   `json:"credentials"`
	Presentations []PresentationRecord `json:"presentations"`
}

type backupCitizen struct {
	ID        string    `json:"id"`
	HolderDID string    `json:"holder_did"`
	HolderKID string    `json:"holder_kid"`
	CreatedAt time.Time `json:"created_at"`
}

type backupCredential struct {
	Credential
	Raw string `json:"raw"`
}

// RestoreResult says what a restore brought back.
type RestoreResult struct {
	HolderDID     string `json:"holder_did"`
	Credentials   int    `json:"credentials"`
	Presentations int    `json:"presentations"`
}

// RestoreStore is what restore needs from storage; the walletstore implements it.
type RestoreStore interface {
	// RestoreWallet, in one transaction: fails with ErrRestoreConflict if the citizen holds
	// any credential; replaces the citizen's holder key (DID, kid, sealed key of version 1);
	// inserts the credentials and presentation records. ErrNotFound for no such citizen.
	RestoreWallet(ctx context.Context, citizenID string, r RestoredWallet) error
}

// RestoredWallet is what RestoreWallet writes, sealed for the target citizen.
type RestoredWallet struct {
	HolderDID, HolderKID string
	SealedKey            []byte
	Credentials          []RestoredCredential
	Presentations        []SealedRecord
}

// RestoredCredential is a credential to insert with its sealed raw form.
type RestoredCredential struct {
	Credential Credential
	Sealed     []byte
}

var backupB64 = base64.RawURLEncoding

func checkPassphrase(p string) error {
	if len(p) < 12 || len(p) > 1024 || !utf8.ValidString(p) || utf8.RuneCountInString(strings.TrimSpace(p)) < 10 {
		return ErrWeakPassphrase
	}
	return nil
}

// backupKeys derives the encryption key and the passphrase check value.
func backupKeys(passphrase string, salt []byte, p KDFParams) (encKey, check []byte, err error) {
	master := argon2.IDKey([]byte(passphrase), salt, p.Passes, p.MemoryKiB, p.Lanes, 32)
	if encKey, err = hkdf.Expand(sha256.New, master, "ezheng wallet backup v1 encryption key", 32); err != nil {
		return nil, nil, err
	}
	if check, err = hkdf.Expand(sha256.New, master, "ezheng wallet backup v1 passphrase check", 16); err != nil {
		return nil, nil, err
	}
	return encKey, check, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Backup returns c's wallet — holder key, credentials, presentation history — encrypted under
// passphrase, in the format of docs/wallet-backup.md. Errors: ErrWeakPassphrase.
func (s *Service) Backup(ctx context.Context, c Citizen, passphrase string) ([]byte, error) {
	if err := checkPassphrase(passphrase); err != nil {
		return nil, err
	}
	key, err := s.holderKey(ctx, c)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key.Signer())
	if err != nil {
		return nil, err
	}
	pl := backupPayload{Citizen: backupCitizen{ID: c.ID, HolderDID: c.HolderDID, HolderKID: c.HolderKID, CreatedAt: c.CreatedAt}, HolderKey: der}
	creds, err := s.store.Credentials(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, meta := range creds {
		cr, err := s.Credential(ctx, c, meta.ID)
		if err != nil {
			return nil, err
		}
		pl.Credentials = append(pl.Credentials, backupCredential{Credential: cr, Raw: cr.Raw})
	}
	if pl.Presentations, err = s.history(ctx, c, 0, 0); err != nil {
		return nil, err
	}
	out, err := sealBackup(pl, passphrase, s.ctl.cfg.BackupKDF, s.now())
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "wallet.backup", c.ID, map[string]any{"credentials": len(pl.Credentials), "presentations": len(pl.Presentations)})
	return out, nil
}

// sealBackup encrypts pl under passphrase with the Argon2id cost p: the file of
// docs/wallet-backup.md.
func sealBackup(pl backupPayload, passphrase string, p KDFParams, now time.Time) ([]byte, error) {
	if !p.valid() {
		return nil, fmt.Errorf("wallet: invalid backup KDF parameters %+v", p)
	}
	plaintext, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	salt, nonce := make([]byte, 16), make([]byte, 12)
	rand.Read(salt)
	rand.Read(nonce)
	encKey, check, err := backupKeys(passphrase, salt, p)
	if err != nil {
		return nil, err
	}
	h := backupHeader{KDF: "argon2id", KDFParams: p, Salt: backupB64.EncodeToString(salt), AEAD: "A256GCM", Nonce: backupB64.EncodeToString(nonce),
		Check: backupB64.EncodeToString(check), CreatedAt: now.UTC().Truncate(time.Second)}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	aad := append([]byte(BackupMagic+"\n"), hb...)
	aead, err := gcm(encKey)
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, nonce, plaintext, aad)
	out := append(aad, '\n')
	out = append(out, backupB64.EncodeToString(ct)...)
	return append(out, '\n'), nil
}

// openBackup parses and decrypts a backup file. Errors: ErrBackupMalformed,
// ErrBackupPassphrase, ErrBackupTampered.
func (s *Service) openBackup(file []byte, passphrase string) (backupPayload, error) {
	var pl backupPayload
	if len(file) > MaxBackupSize {
		return pl, fmt.Errorf("%w: larger than %d bytes", ErrBackupMalformed, MaxBackupSize)
	}
	lines := strings.Split(strings.TrimSuffix(string(file), "\n"), "\n")
	if len(lines) != 3 || lines[0] != BackupMagic {
		return pl, fmt.Errorf("%w: the first line must be %q, then a header and the ciphertext", ErrBackupMalformed, BackupMagic)
	}
	var h backupHeader
	dec := json.NewDecoder(strings.NewReader(lines[1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return pl, fmt.Errorf("%w: header: %v", ErrBackupMalformed, err)
	}
	max := s.ctl.cfg.MaxRestoreKDF
	salt, err1 := backupB64.DecodeString(h.Salt)
	nonce, err2 := backupB64.DecodeString(h.Nonce)
	check, err3 := backupB64.DecodeString(h.Check)
	ct, err4 := backupB64.DecodeString(lines[2])
	switch {
	case h.KDF != "argon2id" || h.AEAD != "A256GCM":
		return pl, fmt.Errorf("%w: kdf %q, aead %q (want argon2id, A256GCM)", ErrBackupMalformed, h.KDF, h.AEAD)
	case !h.KDFParams.valid():
		return pl, fmt.Errorf("%w: invalid Argon2id parameters", ErrBackupMalformed)
	case h.MemoryKiB > max.MemoryKiB || h.Passes > max.Passes || h.Lanes > max.Lanes:
		return pl, fmt.Errorf("%w: Argon2id cost above this server's limit (m=%d KiB, t=%d, p=%d)", ErrBackupMalformed, max.MemoryKiB, max.Passes, max.Lanes)
	case errors.Join(err1, err2, err3, err4) != nil || len(salt) < 16 || len(nonce) != 12 || len(check) != 16:
		return pl, fmt.Errorf("%w: salt, nonce, check or ciphertext", ErrBackupMalformed)
	}
	encKey, want, err := backupKeys(passphrase, salt, h.KDFParams)
	if err != nil {
		return pl, err
	}
	if subtle.ConstantTimeCompare(want, check) != 1 {
		return pl, ErrBackupPassphrase
	}
	aead, err := gcm(encKey)
	if err != nil {
		return pl, err
	}
	plaintext, err := aead.Open(nil, nonce, ct, []byte(lines[0]+"\n"+lines[1]))
	if err != nil {
		return pl, ErrBackupTampered
	}
	dec = json.NewDecoder(bytes.NewReader(plaintext))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pl); err != nil {
		return pl, fmt.Errorf("%w: content: %v", ErrBackupMalformed, err)
	}
	return pl, nil
}

// Restore decrypts a backup made by Backup and restores it into c's wallet, which must hold
// no credentials (a new account, enrolled on the phone that restores): the backup's holder
// key becomes c's (so the credentials bound to it work again), and the holder key, the
// credentials and the history are re-sealed under c's data key. The devices bound to c stay
// bound. Errors: ErrBackupMalformed, ErrBackupPassphrase, ErrBackupTampered,
// ErrRestoreConflict; nothing changes when it fails.
func (s *Service) Restore(ctx context.Context, c Citizen, file []byte, passphrase string) (RestoreResult, error) {
	rs, ok := s.store.(RestoreStore)
	if !ok {
		return RestoreResult{}, errors.New("wallet: the store cannot restore (RestoreStore)")
	}
	if passphrase == "" || len(passphrase) > 1024 {
		return RestoreResult{}, fmt.Errorf("%w: the passphrase is empty or too long", ErrInvalidRequest)
	}
	pl, err := s.openBackup(file, passphrase)
	if err != nil {
		return RestoreResult{}, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(pl.HolderKey)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("%w: holder key: %v", ErrBackupMalformed, err)
	}
	k, err := keysFromPKCS8(priv)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("%w: holder key: %v", ErrBackupMalformed, err)
	}
	holderDID, holderKID, err := did.NewJWK(k.Public())
	if err != nil {
		return RestoreResult{}, err
	}
	if holderDID != pl.Citizen.HolderDID {
		return RestoreResult{}, fmt.Errorf("%w: the holder key is not the key of %s", ErrBackupMalformed, pl.Citizen.HolderDID)
	}
	cs, err := s.citizenSealer(ctx, c.ID)
	if err != nil {
		return RestoreResult{}, err
	}
	sealedKey, err := cs.SealKey(k, holderKeyAAD(c.ID))
	if err != nil {
		return RestoreResult{}, err
	}
	rw := RestoredWallet{HolderDID: holderDID, HolderKID: holderKID, SealedKey: sealedKey}
	now := s.now().UTC().Truncate(time.Second)
	for _, bc := range pl.Credentials {
		if _, err := sdjwt.Parse(bc.Raw); err != nil {
			return RestoreResult{}, fmt.Errorf("%w: credential: %v", ErrBackupMalformed, err)
		}
		if sdjwt.AnchorDigest(bc.Raw) != bc.Digest {
			return RestoreResult{}, fmt.Errorf("%w: a credential does not match its digest", ErrBackupMalformed)
		}
		cr := bc.Credential
		cr.ID, cr.KeyVersion, cr.Raw = secret.ID("wc"), keyVersionCitizen, ""
		if cr.StoredAt.IsZero() {
			cr.StoredAt = now
		}
		if cr.Claims == nil {
			cr.Claims = []string{}
		}
		rw.Credentials = append(rw.Credentials, RestoredCredential{Credential: cr, Sealed: cs.Seal([]byte(bc.Raw), sealAAD(c.ID, cr.ID))})
	}
	for i := len(pl.Presentations) - 1; i >= 0; i-- { // oldest first, so seq keeps the order
		rec := pl.Presentations[i]
		rec.ID, rec.Seq = secret.ID("pr"), 0
		if err := rec.validate(); err != nil {
			return RestoreResult{}, fmt.Errorf("%w: history: %v", ErrBackupMalformed, err)
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return RestoreResult{}, err
		}
		rw.Presentations = append(rw.Presentations, SealedRecord{ID: rec.ID, At: rec.At, Sealed: cs.Seal(b, presentationAAD(c.ID, rec.ID))})
	}
	if err := rs.RestoreWallet(ctx, c.ID, rw); err != nil {
		return RestoreResult{}, err
	}
	s.audit(ctx, "wallet.restore", c.ID, map[string]any{"credentials": len(rw.Credentials), "presentations": len(rw.Presentations)})
	s.log.InfoContext(ctx, "wallet restored from a backup", "citizen", c.ID, "credentials", len(rw.Credentials))
	return RestoreResult{HolderDID: holderDID, Credentials: len(rw.Credentials), Presentations: len(rw.Presentations)}, nil
}

// keysFromPKCS8 wraps a parsed PKCS #8 private key.
func keysFromPKCS8(priv any) (*keys.Key, error) {
	cs, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T is not a signing key", priv)
	}
	return keys.FromSigner(cs)
}
