package storagetest

import (
	"bytes"
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

var manifestTests = []test{
	{"ExactBytesAndMediaType", testManifestExact},
	{"SHA512", testManifestSHA512},
	{"Unknown", testManifestUnknown},
	{"TagsPagination", testManifestTagsPagination},
	{"TagMove", testManifestTagMove},
	{"DeleteTag", testManifestDeleteTag},
	{"DeleteManifest", testManifestDelete},
	{"Repush", testManifestRepush},
	{"MissingBlobRefused", testManifestMissingBlob},
	{"SizeMismatchRefused", testManifestSizeMismatch},
	{"Index", testManifestIndex},
	{"Referrers", testManifestReferrers},
	{"ReferrersTagSchema", testManifestReferrersTagSchema},
}

var repositoryTests = []test{
	{"Pagination", testRepositoriesPagination},
}

// wantManifest checks that ref serves exactly m: its bytes, digest, size
// and media type, by GET and by HEAD.
func wantManifest(t *testing.T, b storage.Backend, repo, ref string, m *oci.Manifest) {
	t.Helper()
	r, err := oci.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Descriptor()
	desc, body, err := b.GetManifest(t.Context(), repo, r)
	if err != nil || !bytes.Equal(body, m.Body) {
		t.Fatalf("get %s:%s = %v; body equal: %v", repo, ref, err, bytes.Equal(body, m.Body))
	}
	head, err := b.ResolveManifest(t.Context(), repo, r)
	if err != nil {
		t.Fatalf("resolve %s:%s: %v", repo, ref, err)
	}
	for _, got := range []ocispec.Descriptor{desc, head} {
		if got.MediaType != want.MediaType || got.Digest != want.Digest || got.Size != want.Size {
			t.Fatalf("%s:%s = %s %s (%d bytes), want %s %s (%d bytes)", repo, ref, got.MediaType, got.Digest, got.Size, want.MediaType, want.Digest, want.Size)
		}
	}
}

// Manifests come back byte for byte (whitespace, key order) with the
// media type they were put with, by tag and by digest.
func testManifestExact(t *testing.T, b storage.Backend) {
	cfg := PushBlob(t, b, "r", []byte(`{"architecture":"arm64","os":"linux"}`))
	layer := PushBlob(t, b, "r", RandomBytes(1000, 31))
	desc := func(mt string, d ocispec.Descriptor) string {
		return fmt.Sprintf(`{"mediaType": %q, "size": %d, "digest": %q}`, mt, d.Size, d.Digest)
	}
	// No mediaType member: the Content-Type decides, as KitOps pushes.
	oci1 := parse(t, ocispec.MediaTypeImageManifest, fmt.Appendf(nil, "{\n  \"schemaVersion\": 2,\n  \"config\": %s,\n  \"layers\": [ %s ],\n  \"annotations\": {\"z\": \"1\", \"a\": \"2\"}\n}\n",
		desc(ocispec.MediaTypeImageConfig, cfg), desc(ocispec.MediaTypeImageLayerGzip, layer)))
	docker := parse(t, "", fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[%s]}`, oci.MediaTypeDockerManifest,
		desc("application/vnd.docker.container.image.v1+json", cfg), desc("application/vnd.docker.image.rootfs.diff.tar.gzip", layer)))
	idx := parse(t, "", fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"manifests":[%s,  %s]}`, ocispec.MediaTypeImageIndex,
		desc(oci1.MediaType, oci1.Descriptor()), desc(docker.MediaType, docker.Descriptor())))
	list := parse(t, "", fmt.Appendf(nil, `{"mediaType":%q,"schemaVersion":2,"manifests":[%s]}`, oci.MediaTypeDockerManifestList,
		desc(docker.MediaType, docker.Descriptor())))
	for i, c := range []struct {
		m  *oci.Manifest
		mt string
	}{{oci1, ocispec.MediaTypeImageManifest}, {docker, oci.MediaTypeDockerManifest}, {idx, ocispec.MediaTypeImageIndex}, {list, oci.MediaTypeDockerManifestList}} {
		if c.m.MediaType != c.mt {
			t.Fatalf("test manifest %d parsed as %s", i, c.m.MediaType)
		}
		tag := fmt.Sprintf("t%d", i)
		put(t, b, "r", c.m, tag)
		wantManifest(t, b, "r", tag, c.m)
		wantManifest(t, b, "r", c.m.Digest.String(), c.m)
	}
}

// A manifest put by a sha512 digest, using sha512 blobs, is stored and
// found under that digest.
func testManifestSHA512(t *testing.T, b storage.Backend) {
	cfg, err := pushBlob(t.Context(), b, "r", []byte(`{"architecture":"amd64","os":"linux"}`), digest.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MediaType = ocispec.MediaTypeImageConfig
	layer, err := pushBlob(t.Context(), b, "r", RandomBytes(4096, 32), digest.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	layer.MediaType = ocispec.MediaTypeImageLayer
	m := image(t, cfg, []ocispec.Descriptor{layer}, nil)
	m = parseAs(t, "", m.Body, digest.SHA512)
	if m.Digest.Algorithm() != digest.SHA512 {
		t.Fatalf("manifest hashed as %s", m.Digest)
	}
	put(t, b, "r", m, "v1")
	wantManifest(t, b, "r", "v1", m)
	wantManifest(t, b, "r", m.Digest.String(), m)
	wantUnknown(t, b, "r", digest.FromBytes(m.Body).String())
}

// What is not there is MANIFEST_UNKNOWN (also in a repository that does not
// exist, and in another repository than the one holding it); tags of an
// unknown repository are NAME_UNKNOWN.
func testManifestUnknown(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	m := PushImage(t, b, "a", nil, []string{"v1"}, []byte("layer"))
	PushImage(t, b, "b", nil, []string{"other"}, []byte("other layer"))
	for _, c := range []struct{ repo, ref string }{
		{"a", "v2"}, {"a", digest.FromString("x").String()}, {"b", "v1"}, {"b", m.Digest.String()},
		{"no/such/repo", "v1"}, {"no/such/repo", m.Digest.String()},
	} {
		wantUnknown(t, b, c.repo, c.ref)
	}
	WantCode(t, b.DeleteManifest(ctx, "b", m.Digest), oci.CodeManifestUnknown)
	WantCode(t, b.DeleteManifest(ctx, "no/such/repo", m.Digest), oci.CodeManifestUnknown)
	WantCode(t, b.DeleteTag(ctx, "a", "v2"), oci.CodeManifestUnknown)
	WantCode(t, b.DeleteTag(ctx, "no/such/repo", "v1"), oci.CodeManifestUnknown)
	_, err := b.Tags(ctx, "no/such/repo", "", -1)
	WantCode(t, err, oci.CodeNameUnknown)
	wantManifest(t, b, "a", "v1", m)
}

// Tags are listed sorted (byte order), n at a time after last.
func testManifestTagsPagination(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	tags := []string{"b", "a", "c10", "c2", "A", "_x", "1", "latest", "v1.0.0", "v1.0.0-rc.1"}
	PushImage(t, b, "r", nil, tags, []byte("layer"))
	sorted := slices.Sorted(slices.Values(tags))
	wantTags(t, b, "r", sorted...)
	for _, n := range []int{1, 3, len(tags)} {
		var walked []string
		last := ""
		for page := 0; ; page++ {
			got, err := b.Tags(ctx, "r", last, n)
			if err != nil || len(got) > n || page > len(tags) {
				t.Fatalf("page %d of %d after %q = %q, %v", page, n, last, got, err)
			}
			if len(got) == 0 {
				break
			}
			walked = append(walked, got...)
			last = got[len(got)-1]
		}
		if !slices.Equal(walked, sorted) {
			t.Fatalf("pages of %d = %q, want %q", n, walked, sorted)
		}
	}
	for _, c := range []struct {
		last string
		n    int
		want []string
	}{
		{"", 0, nil},
		{"b", -1, []string{"c10", "c2", "latest", "v1.0.0", "v1.0.0-rc.1"}},
		{"bb", 2, []string{"c10", "c2"}}, // last need not be a tag
		{"v1.0.0-rc.1", 5, nil},
		{"zzz", -1, nil},
	} {
		got, err := b.Tags(ctx, "r", c.last, c.n)
		if err != nil || !slices.Equal(got, c.want) {
			t.Fatalf("Tags(last=%q, n=%d) = %q, %v; want %q", c.last, c.n, got, err, c.want)
		}
	}
}

// Putting a tag on another manifest moves it; the old manifest stays by
// digest with its other tags.
func testManifestTagMove(t *testing.T, b storage.Backend) {
	a := PushImage(t, b, "r", nil, []string{"latest", "a"}, []byte("A"))
	bm := PushImage(t, b, "r", nil, []string{"b"}, []byte("B"))
	put(t, b, "r", bm, "latest")
	wantResolve(t, b, "r", "latest", bm.Digest)
	wantResolve(t, b, "r", "a", a.Digest)
	wantManifest(t, b, "r", a.Digest.String(), a)
	wantTags(t, b, "r", "a", "b", "latest")
	read(t, b, "r", func(v storage.View) {
		ma, _ := v.Manifest(a.Digest)
		mb, _ := v.Manifest(bm.Digest)
		if !slices.Equal(ma.Tags, []string{"a"}) || !slices.Equal(mb.Tags, []string{"b", "latest"}) {
			t.Fatalf("tags after the move: a has %q, b has %q", ma.Tags, mb.Tags)
		}
	})
}

// Deleting a tag keeps the manifest, reachable by digest and other tags.
func testManifestDeleteTag(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	m := PushImage(t, b, "r", nil, []string{"v1", "v2"}, []byte("layer"))
	if err := b.DeleteTag(ctx, "r", "v1"); err != nil {
		t.Fatal(err)
	}
	wantUnknown(t, b, "r", "v1")
	wantResolve(t, b, "r", "v2", m.Digest)
	wantManifest(t, b, "r", m.Digest.String(), m)
	wantTags(t, b, "r", "v2")
	WantCode(t, b.DeleteTag(ctx, "r", "v1"), oci.CodeManifestUnknown)
	if err := b.DeleteTag(ctx, "r", "v2"); err != nil {
		t.Fatal(err)
	}
	wantTags(t, b, "r")
	wantManifest(t, b, "r", m.Digest.String(), m)
}

// Deleting a manifest removes every tag on it and its bytes; its blobs
// stay until deleted themselves. It can be put again.
func testManifestDelete(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	m := PushImage(t, b, "r", nil, []string{"v1", "v2"}, []byte("layer"))
	keep := PushImage(t, b, "r", nil, []string{"keep"}, []byte("other"))
	if err := b.DeleteManifest(ctx, "r", m.Digest); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"v1", "v2", m.Digest.String()} {
		wantUnknown(t, b, "r", ref)
	}
	wantTags(t, b, "r", "keep")
	wantNoBlob(t, b, "r", m.Digest)
	wantBlob(t, b, "r", m.Layers[0].Digest, []byte("layer"))
	WantCode(t, b.DeleteManifest(ctx, "r", m.Digest), oci.CodeManifestUnknown)
	read(t, b, "r", func(v storage.View) {
		if _, ok := v.Manifest(m.Digest); ok || !slices.Equal(v.Manifests(), []digest.Digest{keep.Digest}) {
			t.Fatalf("manifests after delete = %v", v.Manifests())
		}
	})
	put(t, b, "r", m, "v3")
	wantManifest(t, b, "r", "v3", m)
}

// Putting a manifest that is already there is harmless and adds tags.
func testManifestRepush(t *testing.T, b storage.Backend) {
	m := PushImage(t, b, "r", nil, []string{"v1"}, []byte("layer"))
	put(t, b, "r", m)
	put(t, b, "r", m, "v1", "v2")
	wantTags(t, b, "r", "v1", "v2")
	wantManifest(t, b, "r", "v2", m)
	read(t, b, "r", func(v storage.View) {
		if len(v.Manifests()) != 1 {
			t.Fatalf("manifests after re-push = %v", v.Manifests())
		}
	})
}

// A manifest whose config, layer or index child is not in the repository
// is MANIFEST_BLOB_UNKNOWN, and nothing of it appears: not the manifest,
// its tags, its bytes, nor a new repository. A non-distributable layer is
// not required.
func testManifestMissingBlob(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	missing := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("not pushed"), Size: 10}
	elsewhere := PushBlob(t, b, "other", []byte("in another repository"))
	elsewhere.MediaType = ocispec.MediaTypeImageLayer
	cfg := PushBlob(t, b, "r", []byte(`{"architecture":"amd64","os":"linux"}`))
	cfg.MediaType = ocispec.MediaTypeImageConfig
	layer := PushBlob(t, b, "r", []byte("layer"))
	layer.MediaType = ocispec.MediaTypeImageLayer
	good := image(t, cfg, []ocispec.Descriptor{layer}, nil)
	put(t, b, "r", good, "good")

	missingCfg := missing
	missingCfg.MediaType = ocispec.MediaTypeImageConfig
	cases := []struct {
		repo string
		m    *oci.Manifest
	}{
		{"fresh", image(t, missingCfg, nil, nil)},
		{"r", image(t, missingCfg, []ocispec.Descriptor{layer}, nil)},
		{"r", image(t, cfg, []ocispec.Descriptor{layer, missing}, nil)},
		{"r", image(t, cfg, []ocispec.Descriptor{elsewhere}, nil)},
		{"r", index(t, nil, good.Descriptor(), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("no manifest"), Size: 10})},
		{"fresh", index(t, nil, good.Descriptor())},
	}
	for i, c := range cases {
		WantCode(t, b.PutManifest(ctx, c.repo, c.m, []string{"bad", "good"}), oci.CodeManifestBlobUnknown)
		wantUnknown(t, b, c.repo, c.m.Digest.String())
		wantNoBlob(t, b, c.repo, c.m.Digest)
		if c.repo == "r" {
			wantResolve(t, b, "r", "good", good.Digest)
			wantTags(t, b, "r", "good")
		} else if hasRepo(t, b, c.repo) {
			t.Fatalf("case %d: a refused manifest created repository %s", i, c.repo)
		}
	}
	foreign := image(t, cfg, []ocispec.Descriptor{{MediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		Digest: missing.Digest, Size: missing.Size, URLs: []string{"https://example.com/layer"}}}, nil)
	put(t, b, "r", foreign, "foreign")
	wantManifest(t, b, "r", "foreign", foreign)
}

// A manifest that gives a blob or child another size than it has is
// MANIFEST_INVALID and leaves nothing.
func testManifestSizeMismatch(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	child := PushImage(t, b, "r", nil, []string{"child"}, []byte("layer"))
	layer := child.Layers[0]
	layer.Size++
	childDesc := child.Descriptor()
	childDesc.Size--
	for _, m := range []*oci.Manifest{
		image(t, *child.Config, []ocispec.Descriptor{layer}, nil),
		index(t, nil, childDesc),
	} {
		WantCode(t, b.PutManifest(ctx, "r", m, []string{"bad"}), oci.CodeManifestInvalid)
		wantUnknown(t, b, "r", m.Digest.String())
		wantTags(t, b, "r", "child")
	}
}

// An index lists manifests of the repository; a listed manifest cannot be
// deleted before its index.
func testManifestIndex(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	amd := PushImage(t, b, "r", nil, nil, []byte("amd64"))
	arm := PushImage(t, b, "r", nil, nil, []byte("arm64"))
	children := []ocispec.Descriptor{amd.Descriptor(), arm.Descriptor()}
	children[0].Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
	children[1].Platform = &ocispec.Platform{Architecture: "arm64", OS: "linux"}
	idx := index(t, nil, children...)
	put(t, b, "r", idx, "multi")
	wantManifest(t, b, "r", "multi", idx)
	read(t, b, "r", func(v storage.View) {
		m, ok := v.Manifest(idx.Digest)
		if !ok || len(m.Children) != 2 || m.Children[0].Digest != amd.Digest || m.Children[1].Platform.Architecture != "arm64" {
			t.Fatalf("index children = %+v", m.Children)
		}
		if !slices.Equal(v.Users(amd.Digest), []digest.Digest{idx.Digest}) {
			t.Fatalf("users of a child = %v", v.Users(amd.Digest))
		}
	})
	WantCode(t, b.DeleteManifest(ctx, "r", amd.Digest), oci.CodeDenied)
	wantManifest(t, b, "r", amd.Digest.String(), amd)
	if err := b.DeleteManifest(ctx, "r", idx.Digest); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteManifest(ctx, "r", amd.Digest); err != nil {
		t.Fatalf("child delete after its index is gone: %v", err)
	}
	// An index of an index works the same way.
	inner := index(t, nil, arm.Descriptor())
	outer := index(t, nil, inner.Descriptor())
	put(t, b, "r", inner)
	put(t, b, "r", outer, "nested")
	WantCode(t, b.DeleteManifest(ctx, "r", inner.Digest), oci.CodeDenied)
}

// wantReferrers checks the referrers of subject as a set, with the fields
// the referrers API returns.
func wantReferrers(t *testing.T, b storage.Backend, repo string, subject digest.Digest, want ...ocispec.Descriptor) {
	t.Helper()
	got, err := b.Referrers(t.Context(), repo, subject)
	if err != nil || got == nil {
		t.Fatalf("referrers of %s in %s = %v, %v", subject, repo, got, err)
	}
	byDigest := func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) }
	got, want = slices.SortedFunc(slices.Values(got), byDigest), slices.SortedFunc(slices.Values(want), byDigest)
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = g.MediaType == w.MediaType && g.Digest == w.Digest && g.Size == w.Size && g.ArtifactType == w.ArtifactType && maps.Equal(g.Annotations, w.Annotations)
	}
	if !same {
		t.Fatalf("referrers of %s in %s = %+v, want %+v", subject, repo, got, want)
	}
}

// referrer is the descriptor the referrers API gives for m.
func referrer(m *oci.Manifest) ocispec.Descriptor {
	d := m.Descriptor()
	d.ArtifactType, d.Annotations = m.ArtifactType, m.Annotations
	return d
}

// Referrers are found by subject, with their artifactType (an image's
// config media type when it has none) and annotations; the subject need
// not exist; deleting a referrer drops it.
func testManifestReferrers(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	subj := PushImage(t, b, "r", nil, []string{"v1"}, []byte("model"))
	sd := subj.Descriptor()
	sig := PushImage(t, b, "r", &sd, nil, []byte("signature"))
	cfg := *subj.Config
	annotated := image(t, cfg, nil, func(m *ocispec.Manifest) {
		m.Subject = &sd
		m.Annotations = map[string]string{"org.opencontainers.image.created": "2025-01-01T00:00:00Z", "org.example.k": "v"}
	})
	put(t, b, "r", annotated)
	idx := index(t, func(i *ocispec.Index) {
		i.Subject, i.ArtifactType = &sd, "application/vnd.example.sbom.v1"
	}, subj.Descriptor())
	put(t, b, "r", idx)
	if annotated.ArtifactType != ocispec.MediaTypeImageConfig {
		t.Fatalf("artifactType of an image without one = %q", annotated.ArtifactType)
	}
	wantReferrers(t, b, "r", subj.Digest, referrer(sig), referrer(annotated), referrer(idx))

	ghost := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("ghost"), Size: 5}
	early := PushImage(t, b, "r", &ghost, nil, []byte("early"))
	wantReferrers(t, b, "r", ghost.Digest, referrer(early))
	wantReferrers(t, b, "r", sig.Digest)
	wantReferrers(t, b, "other", subj.Digest)
	wantReferrers(t, b, "no/such/repo", subj.Digest)

	if err := b.DeleteManifest(ctx, "r", sig.Digest); err != nil {
		t.Fatal(err)
	}
	wantReferrers(t, b, "r", subj.Digest, referrer(annotated), referrer(idx))
	read(t, b, "r", func(v storage.View) {
		if !sameSet(v.Referrers(subj.Digest), []digest.Digest{annotated.Digest, idx.Digest}) {
			t.Fatalf("view referrers = %v", v.Referrers(subj.Digest))
		}
	})
}

// Clients without the referrers API keep an index tagged
// <alg>-<hex of the subject> (the referrers tag schema); what it lists is
// reported as referrers too.
func testManifestReferrersTagSchema(t *testing.T, b storage.Backend) {
	subj := PushImage(t, b, "r", nil, []string{"v1"}, []byte("model"))
	sd := subj.Descriptor()
	direct := PushImage(t, b, "r", &sd, nil, []byte("direct"))
	legacy := PushImage(t, b, "r", nil, nil, []byte("legacy signature"))
	listed := referrer(legacy)
	listed.ArtifactType = "application/vnd.example.legacy.v1"
	// The index lists the direct referrer too: it is reported once.
	fallback := index(t, nil, listed, referrer(direct))
	put(t, b, "r", fallback, "sha256-"+subj.Digest.Encoded())
	wantReferrers(t, b, "r", subj.Digest, referrer(direct), listed)
}

// Repositories are listed sorted, n at a time after last.
func testRepositoriesPagination(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	if got, err := b.Repositories(ctx, "", -1); err != nil || len(got) != 0 {
		t.Fatalf("repositories of an empty backend = %q, %v", got, err)
	}
	for _, repo := range []string{"b", "a", "a/b", "c", "a-b", "a/b/c"} {
		PushBlob(t, b, repo, []byte(repo))
	}
	for _, c := range []struct {
		last string
		n    int
		want string
	}{
		{"", -1, "a,a-b,a/b,a/b/c,b,c"},
		{"", 2, "a,a-b"},
		{"a-b", 2, "a/b,a/b/c"},
		{"a/b", 1, "a/b/c"},
		{"a/b/c", -1, "b,c"},
		{"c", 5, ""},
		{"", 0, ""},
		{"aa", -1, "b,c"}, // last need not be a repository
	} {
		got, err := b.Repositories(ctx, c.last, c.n)
		if err != nil || strings.Join(got, ",") != c.want {
			t.Fatalf("Repositories(last=%q, n=%d) = %q, %v; want %s", c.last, c.n, got, err, c.want)
		}
	}
}
