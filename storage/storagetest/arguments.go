package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// wantCodes checks that every error has code, reporting all that do not.
func wantCodes(t *testing.T, what string, code oci.Code, errs ...error) {
	t.Helper()
	for i, err := range errs {
		var oe *oci.Error
		if !errors.As(err, &oe) || oe.Code != code {
			t.Errorf("%s, call %d: got error %v, want code %s", what, i, err, code)
		}
	}
}

// The HTTP layer validates names, digests and tags before a backend sees
// them; a backend validates them again, with the same codes, because it
// builds keys and paths from them.
var argumentTests = []test{
	{"InvalidNames", testInvalidNames},
	{"InvalidDigests", testInvalidDigests},
	{"InvalidTags", testInvalidTags},
}

func testInvalidNames(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	m := PushImage(t, b, "r", nil, []string{"v1"}, []byte("layer"))
	d := m.Layers[0].Digest
	for _, name := range []string{"", "UPPER", "../etc", "a//b", "/abs", "a/", "_layout", "r/_index.log", "a/../r", strings.Repeat("a", 256)} {
		errs := []error{
			func() error { _, err := b.StatBlob(ctx, name, d); return err }(),
			func() error { _, _, err := b.OpenBlob(ctx, name, d); return err }(),
			b.DeleteBlob(ctx, name, d),
			func() error { _, err := b.MountBlob(ctx, name, "r", d); return err }(),
			func() error { _, err := b.StartUpload(ctx, name, ""); return err }(),
			func() error { _, err := b.ResolveManifest(ctx, name, oci.Reference{Tag: "v1"}); return err }(),
			func() error { _, _, err := b.GetManifest(ctx, name, oci.Reference{Digest: m.Digest}); return err }(),
			b.PutManifest(ctx, name, m, []string{"v1"}),
			b.DeleteManifest(ctx, name, m.Digest),
			b.DeleteTag(ctx, name, "v1"),
			func() error { _, err := b.Tags(ctx, name, "", -1); return err }(),
			func() error { _, err := b.Referrers(ctx, name, m.Digest); return err }(),
			b.Commit(ctx, name, storage.Txn{Create: true}),
			b.Read(ctx, name, func(storage.View) error { return nil }),
		}
		if name != "" { // from "" means any repository
			_, err := b.MountBlob(ctx, "r2", name, d)
			errs = append(errs, err)
		}
		wantCodes(t, fmt.Sprintf("name %q", name), oci.CodeNameInvalid, errs...)
	}
	if got, err := b.Repositories(ctx, "", -1); err != nil || strings.Join(got, ",") != "r" {
		t.Fatalf("repositories = %q, %v", got, err)
	}
}

func testInvalidDigests(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	m := PushImage(t, b, "r", nil, []string{"v1"}, []byte("layer"))
	hex := m.Digest.Encoded()
	for _, bad := range []digest.Digest{"", "sha256:abc", "sha256:" + digest.Digest(strings.ToUpper(hex)), "md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha256:../../../../etc/passwd", digest.Digest("sha512:" + hex), digest.Digest("sha256:" + hex + "/x")} {
		st, err := b.StartUpload(ctx, "r", "")
		if err != nil {
			t.Fatal(err)
		}
		errs := []error{
			func() error { _, err := b.StatBlob(ctx, "r", bad); return err }(),
			func() error { _, _, err := b.OpenBlob(ctx, "r", bad); return err }(),
			b.DeleteBlob(ctx, "r", bad),
			func() error { _, err := b.MountBlob(ctx, "r2", "r", bad); return err }(),
			func() error {
				_, err := b.CommitUpload(ctx, "r", st.ID, -1, bytes.NewReader([]byte("x")), bad)
				return err
			}(),
			func() error { _, err := b.Referrers(ctx, "r", bad); return err }(),
			b.DeleteManifest(ctx, "r", bad),
			b.Commit(ctx, "r", storage.Txn{Delete: []digest.Digest{bad}}),
			b.Commit(ctx, "r", storage.Txn{Unlink: []digest.Digest{bad}}),
			b.Commit(ctx, "r", storage.Txn{Tag: map[string]digest.Digest{"t": bad}}),
			b.Commit(ctx, "r", storage.Txn{Meta: map[digest.Digest]map[string]string{bad: {}}}),
		}
		wantCodes(t, fmt.Sprintf("digest %q", bad), oci.CodeDigestInvalid, errs...)
	}
	wantManifest(t, b, "r", "v1", m)
}

func testInvalidTags(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	m := PushImage(t, b, "r", nil, []string{"v1"}, []byte("layer"))
	for _, bad := range []string{"", ".x", "-x", "a/b", "a:b", "../v1", strings.Repeat("t", 129)} {
		errs := []error{
			b.PutManifest(ctx, "r", m, []string{"ok", bad}),
			b.DeleteTag(ctx, "r", bad),
			b.Commit(ctx, "r", storage.Txn{Tag: map[string]digest.Digest{bad: m.Digest}}),
			b.Commit(ctx, "r", storage.Txn{Untag: []string{bad}}),
		}
		wantCodes(t, fmt.Sprintf("tag %q", bad), oci.CodeManifestInvalid, errs...)
	}
	wantTags(t, b, "r", "v1")
}
