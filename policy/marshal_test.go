package policy

import (
	"bytes"
	"crypto"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
)

// equalRules compares two rule sets, keys by their Equal method.
func equalRules(a, b rules) bool {
	eq := func(x, y NamedKey) bool {
		px, ok := x.Public.(interface{ Equal(crypto.PublicKey) bool })
		return ok && px.Equal(y.Public) && x.Name == y.Name && bytes.Equal(x.PEM, y.PEM)
	}
	if !slices.EqualFunc(a.Signatures, b.Signatures, eq) {
		return false
	}
	a.Signatures, b.Signatures = nil, nil
	return reflect.DeepEqual(a, b)
}

// roundTrip checks that p's YAML parses back to the same rules, and that
// the text is a fixed point: printing the re-parsed policy gives the same
// bytes, hence the same Digest.
func roundTrip(t testing.TB, p *Policy) {
	t.Helper()
	text := p.YAML()
	q, err := Parse(text)
	if err != nil {
		t.Fatalf("YAML does not parse: %v\n%s", err, text)
	}
	if !equalRules(p.r, q.r) {
		t.Fatalf("round trip differs\n got %+v\nwant %+v\n%s", q.r, p.r, text)
	}
	if q.Digest() != digest.FromBytes(text) {
		t.Fatalf("digest %s of the printed policy is not that of its text", q.Digest())
	}
	again := q.YAML()
	if !bytes.Equal(again, text) {
		t.Fatalf("printing is not stable\n%s\n---\n%s", text, again)
	}
	if r := mustParse(t, string(again)); r.Digest() != q.Digest() {
		t.Fatalf("digest changed: %s then %s", q.Digest(), r.Digest())
	}
}

func TestDefault(t *testing.T) {
	p := Default()
	if p != Default() {
		t.Fatal("Default is built more than once")
	}
	r := p.r
	if r.Version != DefaultVersion || !r.RequireQuarantine || r.AllowOneStepPromote || r.MinPassingScanners != 1 {
		t.Fatalf("the default policy is not strict: %+v", r)
	}
	if p.URI() != DefaultURI || p.Version() != DefaultVersion || p.Digest() != digest.FromBytes(p.YAML()) {
		t.Fatalf("uri %q version %q digest %s", p.URI(), p.Version(), p.Digest())
	}
	q := mustParse(t, string(p.YAML()))
	if !equalRules(p.r, q.r) || q.Digest() != p.Digest() {
		t.Fatalf("Parse(Default().YAML()) differs: %+v %s", q.r, q.Digest())
	}
	roundTrip(t, p)
}

func TestRoundTripExample(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, mustParse(t, string(data)))
}

func TestRoundTripAwkward(t *testing.T) {
	for name, text := range map[string]string{
		"version only": `version: "1"` + "\n",
		"quotes and backslashes": `version: "a \"quoted\" \\ back: # not a comment"` + "\n" +
			`scanners: [{name: a, result: "ok \"yes\" \\ #1", versions: ["0.8.8#x", "'s'", "\\"]}]` + "\n" +
			`sources: ["https://e.example/a:b#c/", "*", "x'y\"z"]` + "\n",
		"YAML-looking strings": `version: "- [x]"` + "\n" +
			`scanners: [{name: "null", result: "~", versions: ["true", "1e3", "*a", "&b", "!t", "%x", "<<", "@", "` + "`" + `"]}, {name: "yes", min_version: "v1.02.3", required: false}]` + "\n" +
			`formats: ["0", "null"]` + "\n" + `licenses: ["true"]` + "\n",
		"unicode": `version: "модель 模型 🦙 é"` + "\n" + `scanners: [{name: a, result: "ℌ\uE000\U0010FFFD"}]` + "\n" +
			`sources: ["https://例え.jp/モデル/"]` + "\n",
		"every rule": `{version: "x", require_quarantine: false, allow_one_step_promote: true, min_passing_scanners: 64,
			media_types: ["*/*"], max_size_bytes: 1, require_tensor_manifest: true}` + "\n",
		"keys": sigs([]string{pubRSA2048, pubEd25519, pubECDSA}, "min_signatures: 2"),
	} {
		t.Run(name, func(t *testing.T) { roundTrip(t, mustParse(t, text)) })
	}
}
