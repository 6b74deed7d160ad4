package policy

import (
	"reflect"
	"strings"
	"testing"
)

// fullPolicy sets every rule. Its keys are k0 (ECDSA) and k1 (Ed25519).
var fullPolicy = sigs([]string{pubECDSA, pubEd25519},
	"min_signatures: 1",
	"require_quarantine: true",
	"scanners:",
	"  - name: modelscan",
	`    versions: ["0.8.8", "0.8.9"]`,
	"  - name: gguf-guard",
	`    min_version: "1.2.0"`,
	"    required: false",
	"min_passing_scanners: 1",
	"formats: [gguf, safetensors]",
	`media_types: ["application/vnd.ai-model-registry.model.*", "application/octet-stream"]`,
	"max_size_bytes: 1000",
	"sources:",
	`  - "https://huggingface.co/TheBloke/"`,
	`  - "https://huggingface.co/*/*-GGUF/"`,
	`  - "https://models.example.com/m.gguf"`,
	"require_tensor_manifest: true",
	"licenses: [Apache-2.0, MIT]",
)

// goodInput meets every rule of fullPolicy.
func goodInput() Input {
	return Input{
		Name:            "m",
		Format:          "gguf",
		MediaTypes:      []string{"application/vnd.ai-model-registry.model.gguf"},
		SizeBytes:       1000,
		Source:          "https://huggingface.co/TheBloke/m-GGUF/resolve/main/m.gguf",
		HadQuarantine:   true,
		HashVerified:    true,
		ScanResults:     map[string]string{"modelscan": "pass", "gguf-guard": "pass"},
		ScannerVersions: map[string]string{"modelscan": "0.8.8", "gguf-guard": "1.2.0"},
		TensorManifest:  true,
		SignedBy:        []string{"k0"},
		Licenses:        []string{"MIT"},
	}
}

func rulesOf(d Decision) []string {
	var out []string
	for _, u := range d.Unmet {
		out = append(out, u.Rule)
	}
	return out
}

// checkMessages: every unmet rule says what is missing, naming the rule,
// and how to provide it (after a semicolon).
func checkMessages(t *testing.T, d Decision) {
	t.Helper()
	for _, u := range d.Unmet {
		key, rest, _ := strings.Cut(u.Rule, ".")
		if key == "scanners" {
			key, _, _ = strings.Cut(rest, ".") // the scanner's name
		}
		if !strings.Contains(u.Message, key) || !strings.Contains(u.Message, "; ") {
			t.Errorf("%s: message does not name the rule or say what to do: %s", u.Rule, u.Message)
		}
	}
}

func TestEvaluate(t *testing.T) {
	full := mustParse(t, fullPolicy)
	only := func(lines ...string) *Policy { return mustParse(t, v1(lines...)) }
	withScans := func(in *Input, results, versions map[string]string) {
		in.ScanResults, in.ScannerVersions = results, versions
	}
	for _, tc := range []struct {
		name   string
		policy *Policy // fullPolicy if nil
		change func(*Input)
		want   []string
	}{
		{"all met", nil, func(*Input) {}, nil},

		{"hash not verified", nil, func(in *Input) { in.HashVerified = false }, []string{"hash_verified"}},
		{"hash not verified under a policy of version only", only(), func(in *Input) { in.HashVerified = false }, []string{"hash_verified"}},
		{"version-only policy", only(), func(in *Input) { *in = Input{HashVerified: true} }, nil},

		{"not quarantined", nil, func(in *Input) { in.HadQuarantine = false }, []string{"require_quarantine"}},
		{"quarantine not required", only("require_quarantine: false"), func(in *Input) { in.HadQuarantine = false }, nil},

		{"one step refused by default", Default(), func(in *Input) { in.OneStep, in.HadQuarantine = true, false },
			[]string{"require_quarantine", "allow_one_step_promote"}},
		{"one step refused when the key is absent", only(), func(in *Input) { in.OneStep = true }, []string{"allow_one_step_promote"}},
		{"one step refused by the full policy", nil, func(in *Input) { in.OneStep = true }, []string{"allow_one_step_promote"}},
		{"one step allowed", only("allow_one_step_promote: true"), func(in *Input) { in.OneStep = true }, nil},

		// Scanners.
		{"required scanner missing", nil, func(in *Input) {
			withScans(in, map[string]string{"gguf-guard": "pass"}, map[string]string{"gguf-guard": "1.2.0"})
		}, []string{"scanners.modelscan.result", "scanners.modelscan.version"}},
		{"required scanner failed", nil, func(in *Input) { in.ScanResults["modelscan"] = "fail" }, []string{"scanners.modelscan.result"}},
		{"verdict in upper case", nil, func(in *Input) { in.ScanResults["modelscan"] = "PASS" }, nil},
		{"verdict in Unicode case", nil, func(in *Input) { in.ScanResults["modelscan"] = "paſs" }, []string{"scanners.modelscan.result"}},
		{"pinned version other", nil, func(in *Input) { in.ScannerVersions["modelscan"] = "0.8.7" }, []string{"scanners.modelscan.version"}},
		{"pinned version second", nil, func(in *Input) { in.ScannerVersions["modelscan"] = "0.8.9" }, nil},
		{"pinned version is exact", nil, func(in *Input) { in.ScannerVersions["modelscan"] = "v0.8.8" }, []string{"scanners.modelscan.version"}},
		{"pinned version missing", nil, func(in *Input) { delete(in.ScannerVersions, "modelscan") }, []string{"scanners.modelscan.version"}},
		{"min_version older", nil, func(in *Input) { in.ScannerVersions["gguf-guard"] = "1.1.9" }, []string{"scanners.gguf-guard.version"}},
		{"min_version numeric order", nil, func(in *Input) { in.ScannerVersions["gguf-guard"] = "1.10.0" }, nil},
		{"min_version short form", nil, func(in *Input) { in.ScannerVersions["gguf-guard"] = "1.2" }, nil},
		{"min_version with v and build", nil, func(in *Input) { in.ScannerVersions["gguf-guard"] = "v1.2.0+build.5" }, nil},
		{"min_version pre-release", nil, func(in *Input) { in.ScannerVersions["gguf-guard"] = "1.2.0-rc1" }, []string{"scanners.gguf-guard.version"}},
		{"min_version not a number", nil, func(in *Input) { in.ScannerVersions["gguf-guard"] = "latest" }, []string{"scanners.gguf-guard.version"}},
		{"min_version huge", nil, func(in *Input) { in.ScannerVersions["gguf-guard"] = "99999999999999999999999.0" }, nil},
		{"optional scanner absent", nil, func(in *Input) {
			withScans(in, map[string]string{"modelscan": "pass"}, map[string]string{"modelscan": "0.8.8"})
		}, nil},
		{"optional scanner failed", nil, func(in *Input) { in.ScanResults["gguf-guard"] = "fail" }, []string{"scanners.gguf-guard.result"}},
		{"optional scanner without version", nil, func(in *Input) { delete(in.ScannerVersions, "gguf-guard") }, []string{"scanners.gguf-guard.version"}},
		{"all scanners failed", nil, func(in *Input) { in.ScanResults["modelscan"], in.ScanResults["gguf-guard"] = "fail", "fail" },
			[]string{"scanners.modelscan.result", "scanners.gguf-guard.result", "min_passing_scanners"}},
		{"a pass with a wrong version does not count", nil, func(in *Input) {
			withScans(in, map[string]string{"modelscan": "pass"}, map[string]string{"modelscan": "0.7"})
		}, []string{"scanners.modelscan.version", "min_passing_scanners"}},
		{"default without scans", Default(), func(in *Input) { withScans(in, nil, nil) }, []string{"min_passing_scanners"}},
		{"default with a failed scan", Default(), func(in *Input) { withScans(in, map[string]string{"modelscan": "fail"}, nil) }, []string{"min_passing_scanners"}},
		{"default with any passing scanner", Default(), func(in *Input) { withScans(in, map[string]string{"other": "Pass"}, nil) }, nil},
		{"two passing scanners needed", only("min_passing_scanners: 2"), func(in *Input) { in.ScanResults["gguf-guard"] = "fail" }, []string{"min_passing_scanners"}},
		{"expected verdict other than pass", only("scanners: [{name: av, result: clean}]", "min_passing_scanners: 1"),
			func(in *Input) { withScans(in, map[string]string{"av": "clean"}, nil) }, nil},

		// Formats and media types.
		{"format not allowed", nil, func(in *Input) { in.Format = "onnx" }, []string{"formats"}},
		{"format unknown", nil, func(in *Input) { in.Format = "" }, []string{"formats"}},
		{"format case", nil, func(in *Input) { in.Format = "GGUF" }, nil},
		{"media type not allowed", nil, func(in *Input) { in.MediaTypes = append(in.MediaTypes, "application/x-pickle") }, []string{"media_types"}},
		{"media type glob stops at slash", only(`media_types: ["application/*"]`), func(in *Input) { in.MediaTypes = []string{"application/a/b"} }, []string{"media_types"}},
		{"no media types", nil, func(in *Input) { in.MediaTypes = nil }, []string{"media_types"}},
		{"media type exact", nil, func(in *Input) { in.MediaTypes = []string{"application/octet-stream"} }, nil},

		// Size.
		{"size over", nil, func(in *Input) { in.SizeBytes = 1001 }, []string{"max_size_bytes"}},
		{"size under", nil, func(in *Input) { in.SizeBytes = 1 }, nil},
		{"size unknown", nil, func(in *Input) { in.SizeBytes = -1 }, []string{"max_size_bytes"}},
		{"size left out", nil, func(in *Input) { in.SizeBytes = 0 }, []string{"max_size_bytes"}},

		// Sources.
		{"source under a prefix", nil, func(in *Input) { in.Source = "https://huggingface.co/TheBloke/x" }, nil},
		{"source matching a glob", nil, func(in *Input) { in.Source = "https://huggingface.co/someone/phi-GGUF/resolve/main/x.gguf" }, nil},
		{"source exact", nil, func(in *Input) { in.Source = "https://models.example.com/m.gguf" }, nil},
		{"source exact plus query", nil, func(in *Input) { in.Source = "https://models.example.com/m.gguf?x=1" }, []string{"sources"}},
		{"source look-alike host", nil, func(in *Input) { in.Source = "https://huggingface.co.evil.example/TheBloke/x" }, []string{"sources"}},
		{"source longer organization", nil, func(in *Input) { in.Source = "https://huggingface.co/TheBlokeX/m" }, []string{"sources"}},
		{"source prefix itself without slash", nil, func(in *Input) { in.Source = "https://huggingface.co/TheBloke" }, []string{"sources"}},
		{"source glob mismatch", nil, func(in *Input) { in.Source = "https://huggingface.co/someone/phi-gguf/x" }, []string{"sources"}},
		{"source case", nil, func(in *Input) { in.Source = "HTTPS://huggingface.co/TheBloke/x" }, []string{"sources"}},
		{"source missing", nil, func(in *Input) { in.Source = "" }, []string{"sources"}},
		{"source host wildcard", only(`sources: ["https://*.example.com/"]`), func(in *Input) { in.Source = "https://cdn.example.com/m" }, nil},
		{"source host wildcard and query", only(`sources: ["https://*.example.com/"]`), func(in *Input) { in.Source = "https://evil.example?.example.com/m" }, []string{"sources"}},
		{"source host wildcard and fragment", only(`sources: ["https://*.example.com/"]`), func(in *Input) { in.Source = "https://evil.example#.example.com/m" }, []string{"sources"}},
		{"source host wildcard and userinfo", only(`sources: ["https://models-*/"]`), func(in *Input) { in.Source = "https://models-x@evil.example/m" }, []string{"sources"}},

		// Tensor manifest.
		{"tensor manifest missing", nil, func(in *Input) { in.TensorManifest = false }, []string{"require_tensor_manifest"}},
		{"tensor manifest missing for safetensors", nil, func(in *Input) { in.TensorManifest, in.Format = false, "SafeTensors" }, []string{"require_tensor_manifest"}},
		{"tensor manifest does not apply", only("require_tensor_manifest: true"), func(in *Input) { in.TensorManifest, in.Format = false, "onnx" }, nil},
		{"tensor manifest applies by flag", only("require_tensor_manifest: true"), func(in *Input) {
			in.TensorManifest, in.Format, in.TensorManifestApplies = false, "", true
		}, []string{"require_tensor_manifest"}},

		// Signatures.
		{"no signature of min 1", nil, func(in *Input) { in.SignedBy = nil }, []string{"min_signatures"}},
		{"signed by the other key", nil, func(in *Input) { in.SignedBy = []string{"k1"} }, nil},
		{"signed by an unknown key", nil, func(in *Input) { in.SignedBy = []string{"k9", "K0"} }, []string{"min_signatures"}},
		{"every key required", mustParse(t, sigs([]string{pubECDSA, pubEd25519})), func(in *Input) { in.SignedBy = []string{"k1"} }, []string{"signatures.k0"}},
		{"every key required, none signed", mustParse(t, sigs([]string{pubECDSA, pubEd25519})), func(in *Input) { in.SignedBy = nil }, []string{"signatures.k0", "signatures.k1"}},
		{"two of three, one signed", mustParse(t, sigs([]string{pubECDSA, pubEd25519, pubRSA2048}, "min_signatures: 2")), func(in *Input) { in.SignedBy = []string{"k2", "k2"} }, []string{"min_signatures"}},
		{"two of three, two signed", mustParse(t, sigs([]string{pubECDSA, pubEd25519, pubRSA2048}, "min_signatures: 2")), func(in *Input) { in.SignedBy = []string{"k2", "k0"} }, nil},

		// Licenses.
		{"license not allowed", nil, func(in *Input) { in.Licenses = []string{"GPL-3.0"} }, []string{"licenses"}},
		{"license case", nil, func(in *Input) { in.Licenses = []string{"mit", "apache-2.0"} }, nil},
		{"license one of two not allowed", nil, func(in *Input) { in.Licenses = []string{"MIT", "CC-BY-NC-4.0"} }, []string{"licenses"}},
		{"license missing", nil, func(in *Input) { in.Licenses = nil }, []string{"licenses"}},

		// Everything at once, in the documented order.
		{"everything unmet", nil, func(in *Input) {
			*in = Input{OneStep: true, SizeBytes: 5000, Format: "pytorch", MediaTypes: []string{"application/x-pickle"},
				Source: "https://evil.example/m", ScanResults: map[string]string{"modelscan": "fail", "gguf-guard": "fail"},
				ScannerVersions: map[string]string{"gguf-guard": "1.0"}, Licenses: []string{"GPL-3.0"}, TensorManifestApplies: true}
		}, []string{"hash_verified", "require_quarantine", "allow_one_step_promote",
			"scanners.modelscan.result", "scanners.modelscan.version", "scanners.gguf-guard.result", "scanners.gguf-guard.version",
			"min_passing_scanners", "formats", "media_types", "max_size_bytes", "sources", "require_tensor_manifest", "min_signatures", "licenses"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.policy
			if p == nil {
				p = full
			}
			in := goodInput()
			tc.change(&in)
			d := p.Evaluate(in)
			if got := rulesOf(d); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("unmet %q, want %q\n%+v", got, tc.want, d.Unmet)
			}
			if d.Allowed != (len(tc.want) == 0) {
				t.Fatalf("allowed %v with %d unmet", d.Allowed, len(d.Unmet))
			}
			if d.PolicyVersion != p.Version() || d.PolicyDigest != p.Digest() || d.PolicyDigest == "" {
				t.Fatalf("decision names %q %s", d.PolicyVersion, d.PolicyDigest)
			}
			checkMessages(t, d)
			if again := p.Evaluate(in); !reflect.DeepEqual(again, d) {
				t.Fatalf("not deterministic:\n%+v\n%+v", d, again)
			}
		})
	}
}

// A missing policy allows nothing, and still says when the hash did not
// verify.
func TestEvaluateWithoutPolicy(t *testing.T) {
	for name, p := range map[string]*Policy{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			d := p.Evaluate(goodInput())
			if d.Allowed || !reflect.DeepEqual(rulesOf(d), []string{"policy"}) {
				t.Fatalf("%+v", d)
			}
			d = p.Evaluate(Input{})
			if d.Allowed || !reflect.DeepEqual(rulesOf(d), []string{"policy", "hash_verified"}) {
				t.Fatalf("%+v", d)
			}
			checkMessages(t, d)
			if p.Version() != "" || p.Digest() != "" || p.URI() != "" || p.SignatureKeys() != nil {
				t.Fatal("a missing policy has no name")
			}
		})
	}
}

func TestEvaluateMessages(t *testing.T) {
	full := mustParse(t, fullPolicy)
	for _, tc := range []struct {
		name   string
		change func(*Input)
		want   []string // substrings of the one message
	}{
		{"bad media types once each", func(in *Input) {
			in.MediaTypes = []string{"application/x-pickle", "text/plain", "application/x-pickle"}
		}, []string{`layer media types "application/x-pickle", "text/plain" are not allowed`, `"application/octet-stream"`}},
		{"one bad license", func(in *Input) { in.Licenses = []string{"GPL-3.0", "MIT"} }, []string{`license "GPL-3.0" is not allowed by this policy (licenses: Apache-2.0, MIT)`}},
		{"scanner verdict", func(in *Input) { in.ScanResults["modelscan"] = "infected" }, []string{`scanner "modelscan" reported "infected"`, `needs "pass"`, "scan_results.modelscan"}},
		{"missing scanner", func(in *Input) { in.ScannerVersions["modelscan"] = "0.8.8"; delete(in.ScanResults, "modelscan") }, []string{`no scan result from scanner "modelscan"`, "send its verdict as scan_results.modelscan"}},
		{"old scanner", func(in *Input) { in.ScannerVersions["gguf-guard"] = "1.1" }, []string{`"1.1" is older than this policy's minimum 1.2.0`, "rescan with gguf-guard 1.2.0 or newer"}},
		{"pinned scanner", func(in *Input) { in.ScannerVersions["modelscan"] = "0.9" }, []string{`one of the versions "0.8.8", "0.8.9"`}},
		{"signatures", func(in *Input) { in.SignedBy = nil }, []string{`at least 1 of the keys "k0", "k1"`, "none of them signed", "sign the artifact with 1 more"}},
		{"size", func(in *Input) { in.SizeBytes = 1 << 40 }, []string{`"m" is 1099511627776 bytes, more than this policy's max_size_bytes of 1000`}},
		{"hostile name", func(in *Input) { in.Name, in.HadQuarantine = "m\n\u202e"+strings.Repeat("x", 100), false }, []string{`"m\n\u202exxx`, `"... was never quarantined`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			tc.change(&in)
			d := full.Evaluate(in)
			if len(d.Unmet) != 1 {
				t.Fatalf("%+v", d.Unmet)
			}
			for _, w := range tc.want {
				if !strings.Contains(d.Unmet[0].Message, w) {
					t.Errorf("message lacks %q:\n%s", w, d.Unmet[0].Message)
				}
			}
		})
	}
}

func TestEvaluateDoesNotChangeInput(t *testing.T) {
	in := goodInput()
	in.ScanResults["modelscan"] = "fail"
	before := goodInput()
	before.ScanResults["modelscan"] = "fail"
	mustParse(t, fullPolicy).Evaluate(in)
	if !reflect.DeepEqual(in, before) {
		t.Fatalf("%+v", in)
	}
}
