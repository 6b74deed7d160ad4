package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

var txnTests = []test{
	{"CheckErrorAppliesNothing", testTxnCheckError},
	{"CheckSeesCurrentState", testTxnCheckView},
	{"MetaReplaced", testTxnMeta},
	{"AllOrNothing", testTxnAllOrNothing},
	{"Blobs", testTxnBlobs},
	{"Unlink", testTxnUnlink},
	{"Create", testTxnCreate},
	{"Delete", testTxnDelete},
	{"UntagThenTag", testTxnUntagTag},
}

var viewTests = []test{
	{"Contents", testViewContents},
	{"AfterDelete", testViewAfterDelete},
	{"Errors", testViewErrors},
}

// fixture is a repository with an image tagged "a" (with Meta k=1), one
// tagged "b" and a loose blob.
type fixture struct {
	a, b  *oci.Manifest
	loose ocispec.Descriptor
}

func newFixture(t *testing.T, b storage.Backend, repo string) fixture {
	t.Helper()
	f := fixture{
		a:     PushImage(t, b, repo, nil, []string{"a"}, []byte("A")),
		b:     PushImage(t, b, repo, nil, []string{"b"}, []byte("B")),
		loose: PushBlob(t, b, repo, []byte("loose")),
	}
	commit(t, b, repo, storage.Txn{Meta: map[digest.Digest]map[string]string{f.a.Digest: {"k": "1"}}})
	return f
}

// snapshot describes everything a View shows of repo (and whether it
// holds blobs), to compare states before and after a refused change.
func snapshot(t *testing.T, b storage.Backend, repo string, blobs ...digest.Digest) string {
	t.Helper()
	var sb strings.Builder
	read(t, b, repo, func(v storage.View) {
		for _, d := range v.Manifests() {
			m, _ := v.Manifest(d)
			fmt.Fprintf(&sb, "%s tags=%q meta=%v referrers=%v users=%v\n", d, m.Tags, m.Meta, v.Referrers(d), v.Users(d))
		}
		for _, d := range blobs {
			fmt.Fprintf(&sb, "%s blob=%v users=%v\n", d, v.HasBlob(d), v.Users(d))
		}
	})
	tags, err := b.Tags(t.Context(), repo, "", -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		desc, err := b.ResolveManifest(t.Context(), repo, oci.Reference{Tag: tag})
		fmt.Fprintf(&sb, "tag %s=%s %v\n", tag, desc.Digest, err)
	}
	return sb.String()
}

// wantSnapshot fails t when repo no longer looks like before.
func wantSnapshot(t *testing.T, b storage.Backend, repo, before string, blobs ...digest.Digest) {
	t.Helper()
	if after := snapshot(t, b, repo, blobs...); after != before {
		t.Fatalf("a refused transaction changed %s:\nbefore:\n%safter:\n%s", repo, before, after)
	}
}

// A transaction whose Check fails changes nothing at all, and Commit
// returns the Check's error as it is.
func testTxnCheckError(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	f := newFixture(t, b, "r")
	cfgData := []byte(`{"refused":true}`)
	cfg := ocispec.Descriptor{MediaType: "application/vnd.example.config.v1+json", Digest: digest.FromBytes(cfgData), Size: int64(len(cfgData))}
	c := image(t, cfg, f.a.Layers, nil)
	blobs := []digest.Digest{f.loose.Digest, cfg.Digest, c.Digest, f.a.Layers[0].Digest, f.b.Layers[0].Digest}
	before := snapshot(t, b, "r", blobs...)
	errRefused := errors.New("refused by Check")
	denied := oci.Errorf(oci.CodeDenied, "refused by Check")
	txns := []storage.Txn{
		{
			Put: []*oci.Manifest{c}, Blobs: [][]byte{cfgData}, Delete: []digest.Digest{f.b.Digest}, Untag: []string{"a"},
			Tag:  map[string]digest.Digest{"c": c.Digest, "a": f.b.Digest},
			Meta: map[digest.Digest]map[string]string{f.a.Digest: {"k": "2"}, c.Digest: {"k": "3"}}, Unlink: []digest.Digest{f.loose.Digest},
			Create: true,
		},
		{Blobs: [][]byte{cfgData}},
		{Unlink: []digest.Digest{f.loose.Digest, f.a.Layers[0].Digest}},
		{Meta: map[digest.Digest]map[string]string{f.a.Digest: {"k": "2"}}},
		{Delete: []digest.Digest{f.a.Digest}},
	}
	for i, tx := range txns {
		for _, want := range []error{errRefused, denied} {
			calls := 0
			tx.Check = func(storage.View) error { calls++; return want }
			err := b.Commit(ctx, "r", tx)
			if !errors.Is(err, want) || calls == 0 {
				t.Fatalf("transaction %d: Commit = %v after %d Check calls, want %v", i, err, calls, want)
			}
			wantSnapshot(t, b, "r", before, blobs...)
			wantNoBlob(t, b, "r", cfg.Digest)
			wantUnknown(t, b, "r", c.Digest.String())
		}
	}
	WantCode(t, b.Commit(ctx, "r", storage.Txn{Check: func(storage.View) error { return denied }}), oci.CodeDenied)
	// A refused transaction does not create its repository either.
	for _, tx := range []storage.Txn{{Create: true}, {Create: true, Blobs: [][]byte{cfgData}}, {Create: true, Put: []*oci.Manifest{record(t, "x")}, Blobs: [][]byte{emptyConfig.Data}}} {
		tx.Check = func(storage.View) error { return errRefused }
		if err := b.Commit(ctx, "fresh", tx); !errors.Is(err, errRefused) {
			t.Fatalf("Commit to a new repository = %v, want the Check's error", err)
		}
		if hasRepo(t, b, "fresh") {
			t.Fatal("a refused transaction created its repository")
		}
		WantCode(t, b.Read(ctx, "fresh", func(storage.View) error { return nil }), oci.CodeNameUnknown)
	}
}

// Check sees the repository as it is before the transaction.
func testTxnCheckView(t *testing.T, b storage.Backend) {
	f := newFixture(t, b, "r")
	c := record(t, "c")
	checked := 0
	commit(t, b, "r", storage.Txn{
		Put: []*oci.Manifest{c}, Blobs: [][]byte{emptyConfig.Data}, Tag: map[string]digest.Digest{"a": c.Digest},
		Meta: map[digest.Digest]map[string]string{f.a.Digest: {"k": "2"}},
		Check: func(v storage.View) error {
			checked++
			d, ok := v.Tag("a")
			m, _ := v.Manifest(f.a.Digest)
			_, cThere := v.Manifest(c.Digest)
			if !ok || d != f.a.Digest || m.Meta["k"] != "1" || cThere || !v.HasBlob(f.loose.Digest) || !sameSet(v.Manifests(), []digest.Digest{f.a.Digest, f.b.Digest}) {
				return fmt.Errorf("check saw a=%s (%v), meta %v, c there: %v, manifests %v", d, ok, m.Meta, cThere, v.Manifests())
			}
			return nil
		},
	})
	if checked == 0 {
		t.Fatal("Check was not called")
	}
	wantResolve(t, b, "r", "a", c.Digest)
}

func metaOf(t *testing.T, b storage.Backend, repo string, d digest.Digest) map[string]string {
	t.Helper()
	var meta map[string]string
	read(t, b, repo, func(v storage.View) {
		m, ok := v.Manifest(d)
		if !ok {
			t.Fatalf("manifest %s not in the view", d)
		}
		meta = m.Meta
	})
	return meta
}

func wantMeta(t *testing.T, b storage.Backend, repo string, d digest.Digest, want map[string]string) {
	t.Helper()
	if got := metaOf(t, b, repo, d); !maps.Equal(got, want) {
		t.Fatalf("meta of %s = %v, want %v", d, got, want)
	}
}

// Meta replaces a manifest's whole map (no merge), for several manifests
// at once; it is the caller's copy, not shared; unknown manifests are
// MANIFEST_UNKNOWN and nothing is applied.
func testTxnMeta(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	f := newFixture(t, b, "r")
	type meta = map[digest.Digest]map[string]string
	wantMeta(t, b, "r", f.a.Digest, map[string]string{"k": "1"})
	wantMeta(t, b, "r", f.b.Digest, nil)
	commit(t, b, "r", storage.Txn{Meta: meta{f.a.Digest: {"x": "1", "y": "2"}}})
	wantMeta(t, b, "r", f.a.Digest, map[string]string{"x": "1", "y": "2"})
	commit(t, b, "r", storage.Txn{Meta: meta{f.a.Digest: {"x": "3"}, f.b.Digest: {"z": "1"}}})
	wantMeta(t, b, "r", f.a.Digest, map[string]string{"x": "3"})
	wantMeta(t, b, "r", f.b.Digest, map[string]string{"z": "1"})
	commit(t, b, "r", storage.Txn{Meta: meta{f.a.Digest: {}}})
	wantMeta(t, b, "r", f.a.Digest, nil)

	err := b.Commit(ctx, "r", storage.Txn{Meta: meta{f.b.Digest: {"z": "2"}, digest.FromString("no manifest"): {"z": "2"}}})
	WantCode(t, err, oci.CodeManifestUnknown)
	wantMeta(t, b, "r", f.b.Digest, map[string]string{"z": "1"})

	mine := map[string]string{"q": "1"}
	commit(t, b, "r", storage.Txn{Meta: meta{f.a.Digest: mine}})
	mine["q"] = "changed after the commit"
	metaOf(t, b, "r", f.a.Digest)["q"] = "changed in a view"
	wantMeta(t, b, "r", f.a.Digest, map[string]string{"q": "1"})
	// Meta is not the manifest: its bytes and tags are untouched.
	wantManifest(t, b, "r", "a", f.a)
}

// Put, Blobs, Tag and Meta in one transaction are all visible together;
// a transaction with one bad part applies none of it and leaves no trace.
func testTxnAllOrNothing(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	one, two := record(t, "one"), record(t, "two")
	commit(t, b, "fresh", storage.Txn{
		Put: []*oci.Manifest{one, two}, Blobs: [][]byte{emptyConfig.Data}, Create: true,
		Tag:  map[string]digest.Digest{"one": one.Digest, "two": two.Digest, "latest": two.Digest},
		Meta: map[digest.Digest]map[string]string{one.Digest: {"state": "acquired"}, two.Digest: {"state": "record"}},
	})
	read(t, b, "fresh", func(v storage.View) {
		d1, _ := v.Tag("one")
		d2, _ := v.Tag("latest")
		m1, _ := v.Manifest(one.Digest)
		m2, _ := v.Manifest(two.Digest)
		if d1 != one.Digest || d2 != two.Digest || m1.Meta["state"] != "acquired" || m2.Meta["state"] != "record" ||
			!v.HasBlob(emptyConfig.Digest) || !sameSet(v.Manifests(), []digest.Digest{one.Digest, two.Digest}) {
			t.Fatalf("after the commit: one=%s latest=%s meta %v %v manifests %v", d1, d2, m1.Meta, m2.Meta, v.Manifests())
		}
	})
	wantManifest(t, b, "fresh", "one", one)
	wantBlob(t, b, "fresh", emptyConfig.Digest, emptyConfig.Data)

	three := record(t, "three")
	missing := image(t, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("missing"), Size: 7}, nil, nil)
	nowhere := digest.FromString("no manifest")
	before := snapshot(t, b, "fresh", three.Digest, missing.Digest)
	for _, c := range []struct {
		tx   storage.Txn
		code oci.Code
	}{
		{storage.Txn{Put: []*oci.Manifest{three}, Tag: map[string]digest.Digest{"three": three.Digest, "bad": nowhere}}, oci.CodeManifestUnknown},
		{storage.Txn{Put: []*oci.Manifest{three}, Meta: map[digest.Digest]map[string]string{three.Digest: {}, nowhere: {}}}, oci.CodeManifestUnknown},
		{storage.Txn{Put: []*oci.Manifest{three, missing}, Tag: map[string]digest.Digest{"three": three.Digest}}, oci.CodeManifestBlobUnknown},
		{storage.Txn{Put: []*oci.Manifest{three}, Delete: []digest.Digest{nowhere}, Untag: []string{"one"}}, oci.CodeManifestUnknown},
		{storage.Txn{Tag: map[string]digest.Digest{"one": two.Digest, "bad": nowhere}}, oci.CodeManifestUnknown},
	} {
		WantCode(t, b.Commit(ctx, "fresh", c.tx), c.code)
		wantSnapshot(t, b, "fresh", before, three.Digest, missing.Digest)
		wantUnknown(t, b, "fresh", three.Digest.String())
		wantNoBlob(t, b, "fresh", three.Digest)
	}
}

// Blobs are stored with the transaction, usable by its manifests and by
// later ones; storing one twice is harmless.
func testTxnBlobs(t *testing.T, b storage.Backend) {
	small := []byte(`{"small":"blob"}`)
	commit(t, b, "r", storage.Txn{Blobs: [][]byte{small, emptyConfig.Data}, Create: true})
	wantBlob(t, b, "r", digest.FromBytes(small), small)
	wantBlob(t, b, "r", emptyConfig.Digest, emptyConfig.Data)
	read(t, b, "r", func(v storage.View) {
		if !v.HasBlob(digest.FromBytes(small)) || len(v.Manifests()) != 0 {
			t.Fatalf("view after Blobs: has blob %v, manifests %v", v.HasBlob(digest.FromBytes(small)), v.Manifests())
		}
	})
	rec := record(t, "uses the stored blob")
	commit(t, b, "r", storage.Txn{Put: []*oci.Manifest{rec}, Blobs: [][]byte{emptyConfig.Data}})
	put(t, b, "r", record(t, "put later"), "later")
	wantManifest(t, b, "r", rec.Digest.String(), rec)
}

// Unlink drops blobs even though a manifest still uses them (a soft
// delete): the manifest stays.
func testTxnUnlink(t *testing.T, b storage.Backend) {
	m := PushImage(t, b, "r", nil, []string{"v1"}, []byte("weights"))
	layer := m.Layers[0].Digest
	commit(t, b, "r", storage.Txn{Unlink: []digest.Digest{layer}, Meta: map[digest.Digest]map[string]string{m.Digest: {"state": "deleted"}}})
	wantNoBlob(t, b, "r", layer)
	wantManifest(t, b, "r", "v1", m)
	wantMeta(t, b, "r", m.Digest, map[string]string{"state": "deleted"})
	read(t, b, "r", func(v storage.View) {
		if v.HasBlob(layer) || !slices.Equal(v.Users(layer), []digest.Digest{m.Digest}) {
			t.Fatalf("after unlink: has blob %v, users %v", v.HasBlob(layer), v.Users(layer))
		}
	})
	// Unlinking what is not there (a retry) is not an error.
	commit(t, b, "r", storage.Txn{Unlink: []digest.Digest{layer, digest.FromString("never there")}})
	wantBlob(t, b, "r", m.Config.Digest, []byte(`{"architecture":"amd64","os":"linux"}`))
}

// Only a transaction with Create makes a repository.
func testTxnCreate(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	WantCode(t, b.Commit(ctx, "new", storage.Txn{Blobs: [][]byte{emptyConfig.Data}}), oci.CodeNameUnknown)
	WantCode(t, b.Commit(ctx, "new", storage.Txn{Put: []*oci.Manifest{record(t, "x")}, Blobs: [][]byte{emptyConfig.Data}}), oci.CodeNameUnknown)
	WantCode(t, b.Read(ctx, "new", func(storage.View) error { return nil }), oci.CodeNameUnknown)
	if hasRepo(t, b, "new") {
		t.Fatal("a transaction without Create made a repository")
	}
	for range 2 {
		commit(t, b, "new", storage.Txn{Create: true})
		if !hasRepo(t, b, "new") {
			t.Fatal("Create did not make the repository")
		}
		read(t, b, "new", func(v storage.View) {
			if len(v.Manifests()) != 0 {
				t.Fatalf("new repository has manifests %v", v.Manifests())
			}
		})
		wantTags(t, b, "new")
	}
}

// Delete removes manifests with their tags; a manifest an index lists
// goes only with the index, in the same transaction or after it.
func testTxnDelete(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	amd := PushImage(t, b, "r", nil, []string{"amd"}, []byte("amd64"))
	arm := PushImage(t, b, "r", nil, []string{"arm"}, []byte("arm64"))
	idx := index(t, nil, amd.Descriptor(), arm.Descriptor())
	put(t, b, "r", idx, "multi")
	before := snapshot(t, b, "r")
	WantCode(t, b.Commit(ctx, "r", storage.Txn{Delete: []digest.Digest{amd.Digest}}), oci.CodeDenied)
	WantCode(t, b.Commit(ctx, "r", storage.Txn{Delete: []digest.Digest{idx.Digest, digest.FromString("nothing")}}), oci.CodeManifestUnknown)
	wantSnapshot(t, b, "r", before)
	commit(t, b, "r", storage.Txn{Delete: []digest.Digest{amd.Digest, idx.Digest}})
	wantTags(t, b, "r", "arm")
	wantUnknown(t, b, "r", amd.Digest.String())
	wantUnknown(t, b, "r", idx.Digest.String())
	wantManifest(t, b, "r", "arm", arm)
}

// Untag runs before Tag, so one transaction can re-point a tag through
// both; untagging a missing tag is no error; Tag needs a known manifest.
func testTxnUntagTag(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	f := newFixture(t, b, "r")
	commit(t, b, "r", storage.Txn{Untag: []string{"a", "absent"}, Tag: map[string]digest.Digest{"a": f.b.Digest, "x": f.a.Digest}})
	wantResolve(t, b, "r", "a", f.b.Digest)
	wantResolve(t, b, "r", "x", f.a.Digest)
	commit(t, b, "r", storage.Txn{Untag: []string{"x"}})
	wantTags(t, b, "r", "a", "b")
	wantManifest(t, b, "r", f.a.Digest.String(), f.a)
	WantCode(t, b.Commit(ctx, "r", storage.Txn{Tag: map[string]digest.Digest{"y": digest.FromString("nothing")}}), oci.CodeManifestUnknown)
	wantTags(t, b, "r", "a", "b")
}

// A View shows every fact of a manifest and the indexes over them.
func testViewContents(t *testing.T, b storage.Backend) {
	subj := PushImage(t, b, "r", nil, []string{"v1", "latest"}, []byte("L1"), []byte("L2"))
	sd := subj.Descriptor()
	sig := PushImage(t, b, "r", &sd, nil, []byte("L2"))
	idx := index(t, nil, sd)
	put(t, b, "r", idx, "idx")
	cfg, l1, l2 := subj.Config.Digest, subj.Layers[0].Digest, subj.Layers[1].Digest
	nowhere := digest.FromString("nowhere")
	read(t, b, "r", func(v storage.View) {
		if d, ok := v.Tag("v1"); !ok || d != subj.Digest {
			t.Errorf("Tag(v1) = %s, %v", d, ok)
		}
		if _, ok := v.Tag("nope"); ok {
			t.Error("Tag(nope) found")
		}
		if !sameSet(v.Manifests(), []digest.Digest{subj.Digest, sig.Digest, idx.Digest}) {
			t.Errorf("Manifests = %v", v.Manifests())
		}
		m, ok := v.Manifest(subj.Digest)
		if !ok || m.Descriptor.MediaType != subj.MediaType || m.Descriptor.Digest != subj.Digest || m.Descriptor.Size != int64(len(subj.Body)) ||
			m.ArtifactType != ocispec.MediaTypeImageConfig || m.Subject != nil || m.Config == nil || m.Config.Digest != cfg ||
			len(m.Layers) != 2 || m.Layers[0].Digest != l1 || m.Layers[1].Digest != l2 || len(m.Children) != 0 ||
			!slices.Equal(m.Tags, []string{"latest", "v1"}) {
			t.Errorf("Manifest(subject) = %+v, %v", m, ok)
		}
		if s, _ := v.Manifest(sig.Digest); s.Subject == nil || s.Subject.Digest != subj.Digest || s.ArtifactType != SignatureType || len(s.Tags) != 0 {
			t.Errorf("Manifest(signature) = %+v", s)
		}
		if i, _ := v.Manifest(idx.Digest); len(i.Children) != 1 || i.Children[0].Digest != subj.Digest || i.Config != nil {
			t.Errorf("Manifest(index) = %+v", i)
		}
		if _, ok := v.Manifest(nowhere); ok {
			t.Error("Manifest of an unknown digest found")
		}
		for _, c := range []struct {
			of   digest.Digest
			want []digest.Digest
		}{
			{l1, []digest.Digest{subj.Digest}},
			{l2, []digest.Digest{subj.Digest, sig.Digest}},
			{cfg, []digest.Digest{subj.Digest, sig.Digest}},
			{subj.Digest, []digest.Digest{idx.Digest}},
			{nowhere, nil},
		} {
			if !sameSet(v.Users(c.of), c.want) {
				t.Errorf("Users(%s) = %v, want %v", c.of, v.Users(c.of), c.want)
			}
		}
		if !sameSet(v.Referrers(subj.Digest), []digest.Digest{sig.Digest}) || len(v.Referrers(sig.Digest)) != 0 {
			t.Errorf("Referrers = %v / %v", v.Referrers(subj.Digest), v.Referrers(sig.Digest))
		}
		if !v.HasBlob(l1) || !v.HasBlob(cfg) || v.HasBlob(nowhere) {
			t.Errorf("HasBlob: l1 %v, config %v, unknown %v", v.HasBlob(l1), v.HasBlob(cfg), v.HasBlob(nowhere))
		}
	})
}

// Deletes update Users and Referrers.
func testViewAfterDelete(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	subj := PushImage(t, b, "r", nil, []string{"v1"}, []byte("L1"), []byte("L2"))
	sd := subj.Descriptor()
	sig := PushImage(t, b, "r", &sd, nil, []byte("L2"))
	idx := index(t, nil, sd)
	put(t, b, "r", idx, "idx")
	for _, d := range []digest.Digest{sig.Digest, idx.Digest} {
		if err := b.DeleteManifest(ctx, "r", d); err != nil {
			t.Fatal(err)
		}
	}
	read(t, b, "r", func(v storage.View) {
		if !sameSet(v.Users(subj.Layers[1].Digest), []digest.Digest{subj.Digest}) || len(v.Users(subj.Digest)) != 0 ||
			len(v.Referrers(subj.Digest)) != 0 || !sameSet(v.Manifests(), []digest.Digest{subj.Digest}) {
			t.Fatalf("after deletes: users %v / %v, referrers %v, manifests %v",
				v.Users(subj.Layers[1].Digest), v.Users(subj.Digest), v.Referrers(subj.Digest), v.Manifests())
		}
	})
	WantCode(t, b.DeleteBlob(ctx, "r", subj.Layers[1].Digest), oci.CodeDenied)
}

// Read returns fn's error as it is; an unknown repository is NAME_UNKNOWN.
func testViewErrors(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	PushBlob(t, b, "r", []byte("x"))
	errMine := errors.New("mine")
	if err := b.Read(ctx, "r", func(storage.View) error { return errMine }); !errors.Is(err, errMine) {
		t.Fatalf("Read = %v, want fn's error", err)
	}
	called := false
	err := b.Read(ctx, "no/such/repo", func(storage.View) error { called = true; return nil })
	WantCode(t, err, oci.CodeNameUnknown)
	if called {
		t.Fatal("fn called for an unknown repository")
	}
}
