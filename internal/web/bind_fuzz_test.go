package web

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheckJSON checks Bind's strict JSON check against encoding/json and an independent
// parser written for this test: it never panics, rejects everything encoding/json rejects,
// and accepts valid JSON exactly when no object has two member names equal under
// strings.EqualFold and nesting is at most maxJSONDepth deep.
func FuzzCheckJSON(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "json", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `[]`, `1`, `"s"`, `null`, `{"a":1,"b":[{"a":2}]}`, `{"a":1,"A":2}`, `{"\u0041":1,"a":2}`,
		`{"K":1,"\u212a":2}`, `{"a":1} {}`, `{"a" 1}`, `[1,]`, `{"a":1,}`, "\xef\xbb\xbf{}",
		`{"\xff":1,"\xfe":2}`, strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
		strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkJSON(data)
		if !json.Valid(data) {
			if err == nil {
				t.Fatalf("checkJSON accepted invalid JSON %q", data)
			}
			return
		}
		o := &oracle{data: data}
		o.value()
		wantErr := o.duplicate || o.maxDepth > maxJSONDepth
		if (err != nil) != wantErr {
			t.Fatalf("checkJSON(%q) = %v; duplicate %v, depth %d", data, err, o.duplicate, o.maxDepth)
		}
		// checkJSON looks at syntax only: values out of range (1E700) are Bind's decoder's
		// business, so there is nothing more to check for accepted input.
	})
}

// oracle walks JSON that json.Valid accepted, recording nesting depth and whether an object
// has two member names that are equal ignoring case.
type oracle struct {
	data      []byte
	i         int
	depth     int
	maxDepth  int
	duplicate bool
}

func (o *oracle) ws() {
	for o.i < len(o.data) && strings.IndexByte(" \t\r\n", o.data[o.i]) >= 0 {
		o.i++
	}
}

func (o *oracle) value() {
	o.ws()
	switch o.data[o.i] {
	case '{':
		o.enter()
		var names []string
		o.ws()
		if o.data[o.i] == '}' {
			o.i++
		} else {
			for {
				o.ws()
				names = append(names, o.str())
				o.ws()
				o.i++ // ':'
				o.value()
				o.ws()
				c := o.data[o.i]
				o.i++
				if c == '}' {
					break
				}
			}
		}
		for a := range names {
			for b := a + 1; b < len(names); b++ {
				if strings.EqualFold(names[a], names[b]) {
					o.duplicate = true
				}
			}
		}
		o.depth--
	case '[':
		o.enter()
		o.ws()
		if o.data[o.i] == ']' {
			o.i++
		} else {
			for {
				o.value()
				o.ws()
				c := o.data[o.i]
				o.i++
				if c == ']' {
					break
				}
			}
		}
		o.depth--
	case '"':
		o.str()
	default: // number, true, false, null
		for o.i < len(o.data) && strings.IndexByte(",]} \t\r\n", o.data[o.i]) < 0 {
			o.i++
		}
	}
}

func (o *oracle) enter() {
	o.i++
	o.depth++
	o.maxDepth = max(o.maxDepth, o.depth)
}

// str consumes a string literal and returns it unescaped.
func (o *oracle) str() string {
	start := o.i
	o.i++
	for o.data[o.i] != '"' {
		if o.data[o.i] == '\\' {
			o.i++
		}
		o.i++
	}
	o.i++
	var s string
	if err := json.Unmarshal(o.data[start:o.i], &s); err != nil {
		panic(err) // json.Valid accepted the document
	}
	return s
}

// BenchmarkCheckJSON measures the strict check on a body near the default 1 MiB limit.
func BenchmarkCheckJSON(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"rows":[`)
	for i := 0; sb.Len() < 1<<20-200; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"given_name":"Wei","family_name":"Li","birthdate":"1990-01-01","licence":{"class":"C1","points":12}}`, i)
	}
	sb.WriteString(`]}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}
