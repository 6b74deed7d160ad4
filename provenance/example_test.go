package provenance_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/provenance"
)

// A promotion is recorded as a signed VSA and verified later against the
// registry's keyring.
func Example() {
	dir, err := os.MkdirTemp("", "keyring")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ring, err := provenance.OpenKeyring(filepath.Join(dir, "keys"))
	if err != nil {
		log.Fatal(err)
	}

	manifest := digest.FromString("a model manifest")
	statement, err := provenance.BuildStatement(&provenance.Promotion{
		Subject:    manifest,
		Repository: "models/llama",
		VerifierID: "https://registry.example/promoter",
		Time:       time.Now(),
		PolicyURI:  "https://registry.example/policies/default",
		Result:     provenance.ResultPassed,
		Levels:     []string{provenance.StageLevel("trusted")},
		Actor:      "alice",
		From:       "scanned",
		To:         "trusted",
	})
	if err != nil {
		log.Fatal(err)
	}
	bundle, err := provenance.SignBundle(context.Background(), statement, ring.Current())
	if err != nil {
		log.Fatal(err)
	}

	v, err := provenance.VerifyBundle(context.Background(), bundle, ring, manifest, provenance.PredicateVSA)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Summary.VerificationResult, v.Summary.VerifiedLevels, v.Summary.Promotion.Actor)
	// Output: PASSED [AIMR_STAGE_TRUSTED] alice
}
