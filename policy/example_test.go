package policy_test

import (
	"fmt"

	"github.com/ai-model-registry/ai-model-registry/policy"
)

func ExampleParse() {
	_, err := policy.Parse([]byte(`version: "2026-05-1"
require_quarantine: true
require_quarantene: true
`))
	fmt.Println(err)
	// Output:
	// policy.yaml line 3: unknown field "require_quarantene" at the top level
}

func ExamplePolicy_Evaluate() {
	p, err := policy.Parse([]byte(`version: "2026-05-1"
require_quarantine: true
scanners:
  - name: modelscan
    min_version: "0.8.0"
formats: [gguf, safetensors]
`))
	if err != nil {
		panic(err)
	}
	d := p.Evaluate(policy.Input{
		Name:            "phi-3-mini",
		Format:          "gguf",
		HadQuarantine:   true,
		HashVerified:    true,
		ScanResults:     map[string]string{"modelscan": "pass"},
		ScannerVersions: map[string]string{"modelscan": "0.7.2"},
	})
	fmt.Println(d.Allowed, d.PolicyVersion)
	for _, u := range d.Unmet {
		fmt.Printf("%s: %s\n", u.Rule, u.Message)
	}
	// Output:
	// false 2026-05-1
	// scanners.modelscan.version: scanner "modelscan" version "0.7.2" is older than this policy's minimum 0.8.0; rescan with modelscan 0.8.0 or newer and send the new result and version
}

func ExampleDefault() {
	fmt.Print(string(policy.Default().YAML()))
	// Output:
	// # Promotion policy (ai-model-registry, package policy).
	// # hash_verified is not a key: every blob is re-hashed and must match its
	// # digest before any promotion, whatever the policy says.
	// version: "builtin-default-1"
	// require_quarantine: true
	// allow_one_step_promote: false
	// min_passing_scanners: 1
	// require_tensor_manifest: false
}
