package provenance

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestBuildStatement(t *testing.T) {
	p := testPromotion()
	st := mustStatement(t, p)
	if again := mustStatement(t, testPromotion()); !bytes.Equal(st, again) {
		t.Errorf("two statements of the same promotion differ:\n%s\n%s", st, again)
	}

	// Read back with encoding/json only, as a consumer that knows nothing
	// of protojson would.
	var got struct {
		Type    string `json:"_type"`
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(st, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "https://in-toto.io/Statement/v1" || got.PredicateType != "https://slsa.dev/verification_summary/v1" {
		t.Errorf("_type %q, predicateType %q", got.Type, got.PredicateType)
	}
	wantSubject := `[{"name":"registry.example:5000/models/llama","digest":{"sha256":"` + testSubject.Encoded() + `"}}]`
	if s, _ := json.Marshal(got.Subject); string(s) != wantSubject {
		t.Errorf("subject = %s, want %s", s, wantSubject)
	}

	var pred map[string]any
	if err := json.Unmarshal(got.Predicate, &pred); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"verifier": map[string]any{
			"id":      "https://registry.example/promoter",
			"version": map[string]any{"ai-model-registry": "v0.9.0"},
		},
		"timeVerified": "2025-03-01T11:30:45Z",
		"resourceUri":  "pkg:oci/llama@sha256%3A" + testSubject.Encoded() + "?repository_url=registry.example:5000/models/llama&tag=v1",
		"policy": map[string]any{
			"uri":    "https://registry.example/policies/default",
			"digest": map[string]any{"sha256": otherDigest.Encoded()},
		},
		"inputAttestations": []any{map[string]any{
			"uri":    "pkg:oci/llama@sha256%3A" + strings.Repeat("01", 32) + "?repository_url=registry.example:5000/models/llama",
			"digest": map[string]any{"sha256": strings.Repeat("01", 32)},
		}},
		"verificationResult": "PASSED",
		"verifiedLevels":     []any{"AIMR_STAGE_TRUSTED"},
		"https://ai-model-registry.dev/promotion/v1": map[string]any{
			"actor":            "alice",
			"from":             "scanned",
			"to":               "trusted",
			"policy_version":   "7",
			"scan_results":     map[string]any{"modelscan": "clean", "picklescan": "clean"},
			"scanner_versions": map[string]any{"modelscan": "0.8.1", "picklescan": "0.0.26"},
			"tensor_manifest":  "sha256:" + strings.Repeat("02", 32),
			"source":           "https://huggingface.co/meta/llama",
			"source_revision":  "0123abc",
		},
	}
	if !reflect.DeepEqual(pred, want) {
		g, _ := json.MarshalIndent(pred, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("predicate =\n%s\nwant\n%s", g, w)
	}
}

func TestBuildStatementMinimal(t *testing.T) {
	p := &Promotion{
		Subject:    digest.Digest("sha512:" + strings.Repeat("ef", 64)),
		Repository: "m",
		VerifierID: "v",
		Time:       time.Unix(0, 1),
		PolicyURI:  "p",
		Result:     ResultFailed,
		Actor:      "a",
		To:         "rejected",
	}
	st := mustStatement(t, p)
	for _, absent := range []string{`"version"`, `"inputAttestations"`, `"from"`, `"tensor_manifest"`, `"scan_results"`, `"tag="`, `"digest":{"sha256"`} {
		if bytes.Contains(st, []byte(absent)) {
			t.Errorf("minimal statement has %s:\n%s", absent, st)
		}
	}
	for _, present := range []string{`"name":"m"`, `"sha512":"` + strings.Repeat("ef", 64), `"verifiedLevels":[]`, `"verificationResult":"FAILED"`, `?repository_url=m"`} {
		if !bytes.Contains(st, []byte(present)) {
			t.Errorf("minimal statement lacks %s:\n%s", present, st)
		}
	}
}

func TestBuildStatementInvalid(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Promotion)
		want string
	}{
		{"no subject", func(p *Promotion) { p.Subject = "" }, "Subject is required"},
		{"bad subject", func(p *Promotion) { p.Subject = "sha256:ABC" }, "Subject:"},
		{"md5 subject", func(p *Promotion) { p.Subject = "md5:" + digest.Digest(strings.Repeat("a", 32)) }, "Subject:"},
		{"bad repository", func(p *Promotion) { p.Repository = "Models/X" }, "Repository:"},
		{"bad registry", func(p *Promotion) { p.Registry = "https://registry.example" }, "is not host[:port]"},
		{"bad tag", func(p *Promotion) { p.Tag = "-x" }, "Tag:"},
		{"no verifier", func(p *Promotion) { p.VerifierID = "" }, "VerifierID is required"},
		{"no time", func(p *Promotion) { p.Time = time.Time{} }, "Time is required"},
		{"no policy", func(p *Promotion) { p.PolicyURI = "" }, "PolicyURI is required"},
		{"bad policy digest", func(p *Promotion) { p.PolicyDigest = "sha256:x" }, "PolicyDigest:"},
		{"bad result", func(p *Promotion) { p.Result = "passed" }, "Result must be"},
		{"SLSA level", func(p *Promotion) { p.Levels = []string{"SLSA_BUILD_LEVEL_3"} }, "reserved SLSA_ prefix"},
		{"empty level", func(p *Promotion) { p.Levels = []string{""} }, "must be non-empty"},
		{"bad input", func(p *Promotion) { p.InputAttestations = []digest.Digest{""} }, "InputAttestations[0] is required"},
		{"no actor", func(p *Promotion) { p.Actor = "" }, "Actor is required"},
		{"no target state", func(p *Promotion) { p.To = "" }, "To is required"},
		{"bad tensor manifest", func(p *Promotion) { p.TensorManifest = "x" }, "TensorManifest:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPromotion()
			tc.edit(p)
			_, err := BuildStatement(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("BuildStatement = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := BuildStatement(&Promotion{})
	if err == nil || strings.Count(err.Error(), "; ") < 5 {
		t.Errorf("BuildStatement of an empty promotion = %v, want every missing field named", err)
	}
}

func TestResourceURI(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("0f", 32))
	tests := []struct {
		registry, repo, tag, want string
	}{
		{"", "llama", "", "pkg:oci/llama@sha256%3A" + d.Encoded() + "?repository_url=llama"},
		{"r.example", "org/team/llama", "", "pkg:oci/llama@sha256%3A" + d.Encoded() + "?repository_url=r.example/org/team/llama"},
		{"[::1]:5000", "m", "v1.0", "pkg:oci/m@sha256%3A" + d.Encoded() + "?repository_url=%5B::1%5D:5000/m&tag=v1.0"},
	}
	for _, tc := range tests {
		if got := ResourceURI(tc.registry, tc.repo, d, tc.tag); got != tc.want {
			t.Errorf("ResourceURI(%q, %q, %q) = %q, want %q", tc.registry, tc.repo, tc.tag, got, tc.want)
		}
	}
}

func TestStageLevel(t *testing.T) {
	if got := StageLevel("trusted"); got != "AIMR_STAGE_TRUSTED" {
		t.Errorf("StageLevel = %q", got)
	}
}
