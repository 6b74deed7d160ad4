package provenance

import (
	"context"
	"testing"
)

// BenchmarkAttest builds, signs and wraps one promotion attestation (what a
// promotion adds to its re-hash), and reports the bundle's size.
func BenchmarkAttest(b *testing.B) {
	k, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	size := 0
	for b.Loop() {
		st, err := BuildStatement(testPromotion())
		if err != nil {
			b.Fatal(err)
		}
		bundle, err := SignBundle(ctx, st, k)
		if err != nil {
			b.Fatal(err)
		}
		size = len(bundle)
	}
	b.ReportMetric(float64(size), "bundle_bytes")
}

// BenchmarkVerify verifies one promotion bundle, as the runtime gate does
// for an artifact it has not verified before.
func BenchmarkVerify(b *testing.B) {
	k, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p := testPromotion()
	st, err := BuildStatement(p)
	if err != nil {
		b.Fatal(err)
	}
	bundle, err := SignBundle(ctx, st, k)
	if err != nil {
		b.Fatal(err)
	}
	ring := NewKeyring(k)
	for b.Loop() {
		if _, err := VerifyBundle(ctx, bundle, ring, p.Subject, PredicateVSA); err != nil {
			b.Fatal(err)
		}
	}
}
