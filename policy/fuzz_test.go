package policy

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// FuzzParse: Parse never panics and refuses only with an *Error whose
// line exists; whatever it accepts has the sha256 of its input as Digest,
// prints through YAML to a text that parses back to the same rules and
// prints again to the same bytes (so the same Digest), and can be
// evaluated. Seeds are in testdata/fuzz/FuzzParse, and example.yaml and
// the default policy as they are now.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add(Default().YAML())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.Contains(pe.Msg, strictyaml.InternalError) {
				t.Fatalf("the parser panicked: %v", err)
			}
			lines := bytes.Count(data, []byte("\n"))
			if len(data) > 0 && data[len(data)-1] != '\n' {
				lines++
			}
			if pe.Line < 0 || pe.Line > max(lines, 1) {
				t.Fatalf("line %d of a %d-line input: %v", pe.Line, lines, err)
			}
			return
		}
		if p.Digest() != digest.FromBytes(data) || p.Version() == "" {
			t.Fatalf("accepted policy has digest %s and version %q", p.Digest(), p.Version())
		}
		roundTrip(t, p)

		d := p.Evaluate(Input{Name: "m", SizeBytes: -1})
		if d.Allowed || len(d.Unmet) == 0 || d.Unmet[0].Rule != "hash_verified" {
			t.Fatalf("an unverified artifact was not refused first for its hash: %+v", d)
		}
		d = p.Evaluate(goodInput())
		if d.Allowed != (len(d.Unmet) == 0) || d.PolicyDigest != p.Digest() {
			t.Fatalf("inconsistent decision %+v", d)
		}
	})
}

// FuzzYAML prints policies made of arbitrary strings that pass the
// parser's checks: the printed text must be accepted and hold exactly
// those strings (so quote is right for every value the checks let
// through), and round-trip.
func FuzzYAML(f *testing.F) {
	f.Add("2026-05-1", "pass", "0.8.8", "https://huggingface.co/TheBloke/", "gguf")
	f.Add(`a "b" \c # d`, "PASS ✓", "'s'", "https://*.example.com/", "LicenseRef-x")
	f.Add("- [x]: *a &b !t %x", "~", "null", "*", "0")
	f.Add("模型 🦙 \u00e9", "\U0010FFFD", "\uE000", "https://例え.jp/", "a.b+c")
	f.Fuzz(func(t *testing.T, version, result, exact, source, token string) {
		for _, why := range []string{checkVersion(version), checkResult(result), checkExactVersion(exact),
			checkSourcePattern(source), checkFormat(token), checkLicense(token)} {
			if why != "" {
				return // Parse refuses it in a file too, so no policy holds it
			}
		}
		r := rules{
			Version:  version,
			Scanners: []scannerRule{{Name: "s", Result: result, Versions: []string{exact}, Required: true}},
			Sources:  []string{source},
			Formats:  []string{token},
			Licenses: []string{token},
		}
		text := marshal(&r)
		p, err := Parse(text)
		if err != nil {
			t.Fatalf("printed text of accepted values is refused: %v\n%s", err, text)
		}
		if !equalRules(p.r, r) {
			t.Fatalf("printed %+v, read back %+v\n%s", r, p.r, text)
		}
		roundTrip(t, p)
	})
}
