package issuer

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseBulkCSVConvertsIntegers(t *testing.T) {
	typ, err := LookupType("VaccinationCertificate")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ParseBulk(typ, BulkCSV, []byte("\ufeffholder,dose_number,total_doses,id\ndid:jwk:a,2,x,r1\ndid:jwk:b,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	if got := rows[0].Claims["dose_number"]; got != json.Number("2") {
		t.Errorf("dose_number = %#v, want json.Number 2", got)
	}
	if got := rows[0].Claims["total_doses"]; got != "x" {
		t.Errorf("total_doses = %#v, want the string left for the schema to reject", got)
	}
	if rows[0].Num != 2 || rows[0].ID != "r1" || rows[0].Holder != "did:jwk:a" {
		t.Errorf("row 0 = %+v", rows[0])
	}
	if rows[1].Problem == nil || rows[1].Problem.Kind != "malformed-request" || rows[1].Num != 3 {
		t.Errorf("short row = %+v", rows[1])
	}
}

// FuzzParseBulk: ParseBulk never panics; it returns rows or one of its two errors, every row
// has a line number within the file, and a row either parsed or has a problem.
func FuzzParseBulk(f *testing.F) {
	f.Add([]byte(`{"holder":"did:jwk:x","claims":{"family_name":"张"},"id":"1"}`+"\n\n{bad\n"), false)
	f.Add([]byte("holder,family_name,id\ndid:jwk:x,张,1\n\"unterminated\n"), true)
	f.Add([]byte("holder\n\n\n"), true)
	typ, err := LookupType("DrivingLicence")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, file []byte, csv bool) {
		format := BulkJSONL
		if csv {
			format = BulkCSV
		}
		rows, err := ParseBulk(typ, format, file)
		if err != nil {
			if !errors.Is(err, ErrMalformedFile) && !errors.Is(err, ErrFileTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		lines := 1
		for _, b := range file {
			if b == '\n' {
				lines++
			}
		}
		for _, r := range rows {
			if r.Num < 1 || r.Num > lines {
				t.Fatalf("row number %d outside 1..%d", r.Num, lines)
			}
			if (r.Problem == nil) == (r.Holder == "") {
				t.Fatalf("row %+v: parsed and problem disagree", r)
			}
		}
	})
}
