package lockfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ai-model-registry/ai-model-registry/strictjson"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// FingerprintFromJSON turns a JSON object, such as an artifact's
// gguf_guard_fingerprint, into the values Entry.GGUFGuardFingerprint
// holds: integer literals become int64, other numbers float64, so that
// the lock written from it reads back equal. Duplicate keys, trailing
// data and anything beyond the fingerprint limits are refused. An empty
// object gives nil.
func FingerprintFromJSON(data []byte) (map[string]any, error) {
	if err := strictjson.Check(data, MaxFingerprintDepth, nil); err != nil {
		return nil, fmt.Errorf("lockfile: fingerprint: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("lockfile: fingerprint: %w", err)
	}
	v, err := fromJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("lockfile: fingerprint: %w", err)
	}
	m := v.(map[string]any)
	count := 0
	if why := checkFP(m, 1, &count); why != "" {
		return nil, fmt.Errorf("lockfile: fingerprint: %s", why)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func fromJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("integer %s out of range", strictyaml.Show(s))
			}
			return n, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s out of range", strictyaml.Show(s))
		}
		return f, nil
	case []any:
		for i, c := range x {
			var err error
			if x[i], err = fromJSON(c); err != nil {
				return nil, err
			}
		}
		return x, nil
	case map[string]any:
		for k, c := range x {
			var err error
			if x[k], err = fromJSON(c); err != nil {
				return nil, err
			}
		}
		return x, nil
	}
	return v, nil
}
