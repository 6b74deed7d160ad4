package lockfile_test

import (
	"fmt"

	"github.com/ai-model-registry/ai-model-registry/lockfile"
)

func ExampleParse() {
	_, err := lockfile.Parse([]byte(`version: 1
models:
  - name: "mistral-7b-instruct-v0.3"
    format: "gguf"
    filename: "mistral-7b-instruct-v0.3.Q5_K_M.gguf"
    sha256: "47b0c3f4ec0bf93659ab2fc92cf2041374ef78bf1cb5b8c790421f463e7b7979"
    size_bytes: 5136000000
    smoke_test_score: 0.0
`))
	fmt.Println(err)
	// Output:
	// models.lock.yaml line 8: unknown field "smoke_test_score" in models[0]
}

func ExampleMarshal() {
	out, err := lockfile.Marshal(&lockfile.Lock{Version: 1, Models: []lockfile.Entry{{
		Name:          "Phi-3 Mini 3.8B (Q4_K_M)",
		Format:        lockfile.FormatGGUF,
		Filename:      "Phi-3-mini-4k-instruct-q4.gguf",
		SHA256:        "8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef",
		SizeBytes:     2393231072,
		Blocked:       true,
		BlockedReason: "Rejected by behavioral smoke test",
	}}})
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// # models.lock.yaml written by ai-model-registry (package lockfile): entries sorted by name.
	// version: 1
	// models:
	//   - name: "Phi-3 Mini 3.8B (Q4_K_M)"
	//     format: "gguf"
	//     filename: "Phi-3-mini-4k-instruct-q4.gguf"
	//     sha256: "8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef"
	//     size_bytes: 2393231072
	//     blocked: true
	//     blocked_reason: "Rejected by behavioral smoke test"
}
