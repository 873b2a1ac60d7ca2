package strictjson_test

import (
	"errors"
	"fmt"

	"github.com/ezheng/ezheng/internal/strictjson"
)

func ExampleCheck() {
	err := strictjson.Check([]byte(`{"pin":"1","PIN":"2"}`), strictjson.Options{FoldNames: true})
	fmt.Println(err)
	var e *strictjson.Error
	if errors.As(err, &e) {
		fmt.Println(e.Kind == strictjson.Duplicate, e.Offset, e.Reason())
	}
	// Output:
	// duplicate member name "PIN" at offset 11
	// true 11 duplicate member name "PIN"
}

func ExampleDecode() {
	v, err := strictjson.Decode([]byte(`{"n":12345678901234567890,"s":["a"]}`), strictjson.Options{MaxDepth: 4})
	fmt.Printf("%v %#v\n", err, v.(map[string]any)["n"])
	// Output:
	// <nil> "12345678901234567890"
}

func ExampleWrap() {
	errMalformed := errors.New("malformed")
	errTooLarge := errors.New("too large")
	_, err := strictjson.Decode([]byte(`[[[1]]]`), strictjson.Options{MaxDepth: 2})
	err = strictjson.Wrap(err, errMalformed, errTooLarge, "payload")
	fmt.Println(err, errors.Is(err, errTooLarge))
	// Output:
	// too large: payload: JSON nested deeper than 2 true
}
