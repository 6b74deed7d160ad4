package strictjson

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	exact := func(depth int, parent, key string) error {
		if depth == 1 && key != "name" && key != "m" {
			return errors.New("unknown key " + key)
		}
		return nil
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"name":"a"}`, true},
		{` {"name":"a","m":{"x":1,"X":2}} ` + "\n", true},
		{`{"name":"a","name":"b"}`, false},
		{`{"name":"a","m":{"x":1,"x":2}}`, false},
		{`{"Name":"a"}`, false},
		{`{"name":"a"}}`, false},
		{`{"name":"a"}]`, false},
		{`{"name":"a"}{"name":"b"}`, false},
		{`{"name":"a"} x`, false},
		{`["name"]`, false},
		{`{"name":"\xff"}`, false},
		{`{"m":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, false},
		{`{"name":`, false},
		{``, false},
	} {
		err := Check([]byte(tc.body), 16, exact)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.body, err, tc.ok)
		}
	}
}
