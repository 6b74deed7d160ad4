package audit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/ai-model-registry/ai-model-registry/audit"
)

func Example() {
	dir, err := os.MkdirTemp("", "audit-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	l, err := audit.Open(ctx, dir, audit.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// Append returns once the entry is on disk.
	for _, to := range []string{"quarantined", "trusted"} {
		_, err := l.Append(ctx, audit.Entry{
			Who: "token:release-bot", Action: audit.ActionPromote, Name: "phi-3-mini",
			Digest: "sha256:8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef",
			To:     to, Result: audit.ResultOK,
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	// One page for GET /v1/audit?from=1&limit=50.
	page, err := l.Read(ctx, 1, 50)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range page {
		fmt.Println(e.Seq, e.Action, e.Name, e.To, e.Result, e.Prev == page[0].Prev)
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	rep, err := audit.Verify(ctx, dir, audit.VerifyOptions{})
	fmt.Println(rep.Entries, rep.Files, err)
	// Output:
	// 1 promote phi-3-mini quarantined ok true
	// 2 promote phi-3-mini trusted ok false
	// 2 1 <nil>
}

func ExampleLog_Checkpoint() {
	dir, err := os.MkdirTemp("", "audit-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	pub, key, _ := ed25519.GenerateKey(nil)

	l, err := audit.Open(ctx, dir, audit.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := l.Append(ctx, audit.Entry{Who: audit.WhoSystem, Action: audit.ActionRevoke, Name: "m", Result: audit.ResultOK}); err != nil {
		log.Fatal(err)
	}
	// Sign the head, so that cutting entries off the end is detected.
	c, err := l.Checkpoint(ctx, func(_ context.Context, msg []byte) ([]byte, error) {
		return ed25519.Sign(key, msg), nil
	}, "audit-2025")
	if err != nil {
		log.Fatal(err)
	}
	l.Close()
	fmt.Println(c.Count, c.KeyID)

	rep, err := audit.Verify(ctx, dir, audit.VerifyOptions{CheckSignature: func(c audit.Checkpoint) error {
		if c.KeyID != "audit-2025" || !ed25519.Verify(pub, c.Message(), c.Signature) {
			return errors.New("signature does not verify")
		}
		return nil
	}})
	fmt.Println(rep.Checkpoints, err)
	// Output:
	// 1 audit-2025
	// 1 <nil>
}
