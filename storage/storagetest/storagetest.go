package storagetest

import (
	"testing"

	"github.com/ai-model-registry/ai-model-registry/storage"
)

// Option adds to what Run checks.
type Option func(*suite)

// ReopenFunc ends backend b and returns a new backend over the same data,
// registering its cleanup with t. Everything b acknowledged must be there.
type ReopenFunc func(t *testing.T, b storage.Backend) storage.Backend

// Reopen makes Run check durability: the Durability/<name> subtests write,
// reopen with fn and check that every acknowledged change is still there.
// Give it once per way a backend can go away (a clean close, a kill -9).
func Reopen(name string, fn ReopenFunc) Option {
	return func(s *suite) { s.reopens = append(s.reopens, namedReopen{name, fn}) }
}

type namedReopen struct {
	name string
	fn   ReopenFunc
}

type suite struct {
	open    func(t *testing.T) storage.Backend
	reopens []namedReopen
}

// test is one subtest: it gets a fresh, empty backend.
type test struct {
	name string
	fn   func(t *testing.T, b storage.Backend)
}

type group struct {
	name  string
	tests []test
}

// Run runs the suite against the backends open returns. open is called once
// per subtest, possibly from several goroutines at once (the subtests run
// in parallel); each call returns an empty backend that shares nothing with
// the others and is closed by a cleanup registered with t.
func Run(t *testing.T, open func(t *testing.T) storage.Backend, opts ...Option) {
	s := &suite{open: open}
	for _, o := range opts {
		o(s)
	}
	groups := []group{
		{"Blobs", blobTests},
		{"Uploads", uploadTests},
		{"Manifests", manifestTests},
		{"Repositories", repositoryTests},
		{"Txn", txnTests},
		{"View", viewTests},
		{"Concurrency", concurrencyTests},
		{"Arguments", argumentTests},
	}
	for _, r := range s.reopens {
		var tests []test
		for _, d := range durabilityTests {
			tests = append(tests, test{d.name, func(t *testing.T, b storage.Backend) { d.fn(t, b, r.fn) }})
		}
		groups = append(groups, group{"Durability/" + r.name, tests})
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, s.open(t))
				})
			}
		})
	}
}
