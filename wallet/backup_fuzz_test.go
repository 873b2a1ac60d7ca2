package wallet

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"testing"
	"time"
)

var updateBackupGolden = flag.Bool("update-backup", false, "rewrite testdata/backup-v1.ezbackup")

// goldenBackup is the content of testdata/backup-v1.ezbackup, sealed with fuzzPass.
var goldenBackup = backupPayload{Citizen: backupCitizen{ID: "cit_1", HolderDID: "did:jwk:x"}, HolderKey: []byte{1, 2, 3},
	Credentials:   []backupCredential{{Credential: Credential{ID: "wc_1", Type: "T", Digest: "d", Claims: []string{"n"}}, Raw: "a.b.c~"}},
	Presentations: []PresentationRecord{{ID: "pr_1", Channel: ChannelCounterQR, Audience: "urn:c", Claims: []string{"n"}, Result: ResultPresented}}}

// TestBackupGolden: a version 1 backup written once stays readable (the format must not
// drift); -update-backup writes a new one.
func TestBackupGolden(t *testing.T) {
	const file = "testdata/backup-v1.ezbackup"
	if *updateBackupGolden {
		b, err := sealBackup(goldenBackup, fuzzPass, fuzzKDF, time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{ctl: newControl(ControlConfig{})}
	got, err := s.openBackup(b, fuzzPass)
	if err != nil {
		t.Fatal(err)
	}
	if got.Citizen != goldenBackup.Citizen || len(got.Credentials) != 1 || got.Credentials[0].Raw != "a.b.c~" || got.Presentations[0].Audience != "urn:c" {
		t.Errorf("golden backup opened as %+v", got)
	}
	if _, err := s.openBackup(b, fuzzPass+"!"); !errors.Is(err, ErrBackupPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
}

// fuzzKDF keeps each fuzz iteration cheap.
var fuzzKDF = KDFParams{MemoryKiB: 8, Passes: 1, Lanes: 1}

const fuzzPass = "correct horse battery staple"

// FuzzOpenBackup feeds backup files to the parser: it never panics, every failure is one of
// the three backup errors, and a file that opens is the sealed one (give or take its final
// newline) — any other change is refused. Seeded from testdata.
func FuzzOpenBackup(f *testing.F) {
	sealed, err := os.ReadFile("testdata/backup-v1.ezbackup")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(bytes.TrimSuffix(sealed, []byte("\n")))
	f.Add([]byte(BackupMagic + "\n{}\n\n"))
	f.Add([]byte(BackupMagic + "\n" + `{"kdf":"argon2id","m":8,"t":1,"p":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA","aead":"A256GCM","nonce":"AAAAAAAAAAAAAAAA","check":"AAAAAAAAAAAAAAAAAAAAAA","created_at":"2026-11-21T09:00:00Z"}` + "\nAAAA\n"))
	s := &Service{ctl: newControl(ControlConfig{MaxRestoreKDF: KDFParams{MemoryKiB: 64, Passes: 2, Lanes: 2}})}
	f.Fuzz(func(t *testing.T, file []byte) {
		got, err := s.openBackup(file, fuzzPass)
		if err != nil {
			if !errors.Is(err, ErrBackupMalformed) && !errors.Is(err, ErrBackupPassphrase) && !errors.Is(err, ErrBackupTampered) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if !bytes.Equal(bytes.TrimSuffix(file, []byte("\n")), bytes.TrimSuffix(sealed, []byte("\n"))) {
			t.Fatalf("a changed file opened: %q", file)
		}
		if got.Citizen.ID != "cit_1" || len(got.Credentials) != 1 || len(got.Presentations) != 1 {
			t.Fatalf("opened %+v", got)
		}
	})
}

// BenchmarkBackupKDF measures the key derivation of a backup at the default cost (64 MiB,
// 3 passes, 4 lanes): the work a passphrase guess costs, and the wait at backup and restore.
func BenchmarkBackupKDF(b *testing.B) {
	salt := make([]byte, 16)
	for b.Loop() {
		if _, _, err := backupKeys(fuzzPass, salt, DefaultBackupKDF); err != nil {
			b.Fatal(err)
		}
	}
}
