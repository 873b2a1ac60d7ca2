package issuer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ezheng/ezheng/issuer"
)

const libraryCard = `name: LibraryCard
vct: https://library.example.cn/vct/card
validity: 30d
formats: [dc+sd-jwt]
disclosable: [holder]
schema:
  type: object
  additionalProperties: false
  required: [holder]
  properties:
    holder: {type: string, maxLength: 64}
display:
  - {lang: zh-CN, name: 借书证}
  - {lang: en, name: Library card}
example: {holder: 张三}
`

// TestRuntimeTypesPersist: an agency's own type survives a restart (the new service parses
// the stored file again) and stays its own; concurrent additions of one name store it once.
func TestRuntimeTypesPersist(t *testing.T) {
	ctx := context.Background()
	w := newRotationWorld(t)
	svc := w.service(t)
	a, err := svc.CreateAgency(ctx, "Library", []string{"DrivingLicence"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.CreateAgency(ctx, "Museum", []string{"HealthCode"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.AddType(ctx, a, "card.yaml", []byte(libraryCard))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, issuer.ErrTypeExists):
			t.Fatalf("concurrent add: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent additions succeeded, want 1", ok)
	}

	restarted := w.service(t)
	a, _ = w.store.Agency(ctx, a.ID)
	if !strings.Contains(strings.Join(a.Types, ","), "LibraryCard") {
		t.Errorf("the agency's types %v lack its own type", a.Types)
	}
	ty, err := restarted.AgencyType(ctx, a, "LibraryCard")
	if err != nil || ty.VCT != "https://library.example.cn/vct/card" {
		t.Fatalf("after restart: %v %v", ty, err)
	}
	if _, err := restarted.AgencyType(ctx, b, "LibraryCard"); !errors.Is(err, issuer.ErrUnknownType) {
		t.Errorf("another agency sees it after restart: %v", err)
	}
	if _, err := restarted.AddType(ctx, b, "card.json", []byte(`{"name": "LibraryCard"}`)); !errors.Is(err, issuer.ErrInvalidTypeFile) {
		t.Errorf("a broken file: %v", err)
	}
	if _, err := restarted.AddType(ctx, b, "card.yaml", []byte(libraryCard)); !errors.Is(err, issuer.ErrTypeExists) {
		t.Errorf("the same type by another agency after restart: %v", err)
	}
	if _, err := restarted.AddType(ctx, b, "card.txt", []byte(libraryCard)); !errors.Is(err, issuer.ErrInvalidRequest) {
		t.Errorf("a .txt file: %v", err)
	}
	if m := restarted.IssuerMetadata(); m.CredentialConfigurationsSupported[issuer.ConfigurationID("LibraryCard")].Format == "" {
		t.Errorf("issuer metadata lacks the type")
	}
}
