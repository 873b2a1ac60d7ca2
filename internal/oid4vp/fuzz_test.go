package oid4vp

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"testing"
)

func FuzzParseRequestURI(f *testing.F) {
	c := newTestClient(1)
	s, _ := EncodeRequestURI(RequestLink{ClientID: c.clientID(), RequestURI: "https://verifier.example/r/1"})
	f.Add(s, false)
	f.Add("openid4vp://authorize?client_id=decentralized_identifier%3Adid%3Ajwk%3Aabc&request_uri=http%3A%2F%2F127.0.0.1%3A1%2Fr", true)
	f.Add("https://wallet.example/share?client_id=decentralized_identifier:did:web:v.example&request_uri=https://v.example/r", false)
	f.Fuzz(func(t *testing.T, s string, loopback bool) {
		var opts []ParseOption
		if loopback {
			opts = append(opts, AllowLoopbackHTTP())
		}
		l, err := ParseRequestURI(s, opts...)
		if err != nil {
			if l != (RequestLink{}) {
				t.Fatalf("error %v with a result %+v", err, l)
			}
			return
		}
		enc, err := EncodeRequestURI(l, opts...)
		if err != nil {
			t.Fatalf("accepted link does not encode: %v", err)
		}
		again, err := ParseRequestURI(enc, opts...)
		if err != nil || again != l {
			t.Fatalf("re-parse of %s = %+v, %v; want %+v", enc, again, err, l)
		}
	})
}

func FuzzParseRequestObject(f *testing.F) {
	c := newTestClient(1)
	good := c.sign(f, c.request(f))
	f.Add(good)
	f.Add(good[:len(good)-2] + "AA")
	f.Add("eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJ4In0.")
	f.Fuzz(func(t *testing.T, jwt string) {
		req, err := ParseRequestObject(context.Background(), jwt, VerifyOptions{ClientID: c.clientID(), Now: testNow, Resolve: c.resolve})
		if err != nil {
			if req != nil {
				t.Fatal("error with a result")
			}
			return
		}
		// Only c's key signs acceptable request objects, and whatever it signed is valid.
		if req.ClientID != c.clientID() {
			t.Fatalf("accepted client_id %q", req.ClientID)
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	f.Add(readTestdata(f, "dcql_two_claims.json"))
	f.Add(readTestdata(f, "dcql_sets.json"))
	f.Add([]byte(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a",0,null]}]}]}`))
	cand := licenceCandidate("c", "family_name", "licence_class")
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := ParseQuery(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		b, err := q.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseQuery(b)
		if err != nil || !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip: %v", err)
		}
		// Evaluation never panics and agrees with CheckPresented on what it selects.
		ev := q.Evaluate([]Candidate{cand})
		if ev.Satisfied {
			presented := map[string][]Candidate{}
			for _, id := range ev.Selected {
				presented[id] = []Candidate{cand}
			}
			if err := q.CheckPresented(presented); err != nil {
				t.Fatalf("evaluation satisfied but check refuses: %v", err)
			}
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add("vp_token=%7B%22licence%22%3A%5B%22eyJ.a.b~d~kb%22%5D%7D&state=s-1")
	f.Add("error=access_denied&state=s")
	f.Add("vp_token=%7B%22a%22%3A%5B%22x%22%2C%22y%22%5D%2C%22b%22%3A%5B%22z%22%5D%7D")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		r, err := ParseResponse(form)
		if err != nil {
			if r != nil || (!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge)) {
				t.Fatalf("%v with %+v", err, r)
			}
			return
		}
		if (r.Error == "") == (r.VPToken == nil) {
			t.Fatalf("want exactly one of vp_token and error: %+v", r)
		}
		enc, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		f2, _ := url.ParseQuery(enc)
		again, err := ParseResponse(f2)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %s: %+v %v", enc, again, err)
		}
	})
}
