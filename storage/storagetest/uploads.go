package storagetest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

var uploadTests = []test{
	{"Monolithic", testUploadMonolithic},
	{"Chunked", testUploadChunked},
	{"Empty", testUploadEmpty},
	{"OutOfOrderChunk", testUploadOutOfOrder},
	{"BrokenChunk", testUploadBrokenChunk},
	{"DigestMismatch", testUploadDigestMismatch},
	{"Cancel", testUploadCancel},
	{"UnknownSessions", testUploadUnknown},
	{"SHA512", testUploadSHA512},
}

// A blob uploaded in one request; the finished session is gone.
func testUploadMonolithic(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(100<<10, 21)
	d := digest.FromBytes(data)
	st, err := b.StartUpload(ctx, "r", "") // no algorithm: sha256
	if err != nil || st.ID == "" || st.Offset != 0 {
		t.Fatalf("start upload = %+v, %v", st, err)
	}
	desc, err := b.CommitUpload(ctx, "r", st.ID, -1, bytes.NewReader(data), d)
	if err != nil || desc.Digest != d || desc.Size != int64(len(data)) {
		t.Fatalf("commit = %+v, %v", desc, err)
	}
	wantBlob(t, b, "r", d, data)
	_, err = b.UploadStatus(ctx, "r", st.ID)
	WantCode(t, err, oci.CodeBlobUploadUnknown)
	_, err = b.CommitUpload(ctx, "r", st.ID, -1, bytes.NewReader(data), d)
	WantCode(t, err, oci.CodeBlobUploadUnknown)
}

// appendChunk appends a chunk and checks the offset the backend reports,
// in its answer and in the session's status.
func appendChunk(t *testing.T, b storage.Backend, repo, id string, start int64, chunk []byte, want int64) {
	t.Helper()
	st, err := b.AppendUpload(t.Context(), repo, id, start, bytes.NewReader(chunk))
	if err != nil || st.Offset != want || st.ID != id {
		t.Fatalf("append %d bytes at %d = %+v, %v; want offset %d", len(chunk), start, st, err, want)
	}
	wantOffset(t, b, repo, id, want)
}

func wantOffset(t *testing.T, b storage.Backend, repo, id string, want int64) {
	t.Helper()
	st, err := b.UploadStatus(t.Context(), repo, id)
	if err != nil || st.Offset != want || st.ID != id {
		t.Fatalf("upload status = %+v, %v; want offset %d", st, err, want)
	}
}

// Chunks with and without a declared start, finished with a last chunk or
// with none; the offset is reported after every chunk.
func testUploadChunked(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(300<<10+17, 22)
	cuts := []int{0, 64<<10 + 1, 64<<10 + 2, 200 << 10, len(data)}
	for _, lastInCommit := range []bool{true, false} {
		st, err := b.StartUpload(ctx, "r", digest.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		wantOffset(t, b, "r", st.ID, 0)
		n := len(cuts) - 1
		if lastInCommit {
			n--
		}
		for i := range n {
			start := int64(cuts[i])
			if i%2 == 1 {
				start = -1 // streamed onto the end
			}
			appendChunk(t, b, "r", st.ID, start, data[cuts[i]:cuts[i+1]], int64(cuts[i+1]))
		}
		var last io.Reader
		start := int64(-1)
		if lastInCommit {
			last, start = bytes.NewReader(data[cuts[n]:]), int64(cuts[n])
		}
		desc, err := b.CommitUpload(ctx, "r", st.ID, start, last, digest.FromBytes(data))
		if err != nil || desc.Size != int64(len(data)) {
			t.Fatalf("commit = %+v, %v", desc, err)
		}
		wantBlob(t, b, "r", desc.Digest, data)
	}
}

// The empty blob is a blob like any other.
func testUploadEmpty(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	d := digest.FromBytes(nil)
	for _, body := range []io.Reader{nil, bytes.NewReader(nil)} {
		st, err := b.StartUpload(ctx, "r", "")
		if err != nil {
			t.Fatal(err)
		}
		desc, err := b.CommitUpload(ctx, "r", st.ID, -1, body, d)
		if err != nil || desc.Digest != d || desc.Size != 0 {
			t.Fatalf("commit empty blob = %+v, %v", desc, err)
		}
		wantBlob(t, b, "r", d, []byte{})
	}
}

// wantRangeError checks for BLOB_UPLOAD_INVALID with status 416, which the
// HTTP layer answers with the session's current range.
func wantRangeError(t *testing.T, err error) {
	t.Helper()
	var oe *oci.Error
	if !errors.As(err, &oe) || oe.Code != oci.CodeBlobUploadInvalid || oe.Status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("got error %v, want BLOB_UPLOAD_INVALID with status 416", err)
	}
}

// A chunk that does not start at the session's offset is refused with 416
// and changes nothing; the session goes on.
func testUploadOutOfOrder(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(8<<10, 23)
	st, _ := b.StartUpload(ctx, "r", "")
	appendChunk(t, b, "r", st.ID, 0, data[:4096], 4096)
	for _, start := range []int64{0, 5, 4095, 4097, 1 << 20} {
		_, err := b.AppendUpload(ctx, "r", st.ID, start, bytes.NewReader(data[4096:]))
		wantRangeError(t, err)
		_, err = b.CommitUpload(ctx, "r", st.ID, start, bytes.NewReader(data[4096:]), digest.FromBytes(data))
		wantRangeError(t, err)
		wantOffset(t, b, "r", st.ID, 4096)
	}
	wantNoBlob(t, b, "r", digest.FromBytes(data))
	if _, err := b.CommitUpload(ctx, "r", st.ID, 4096, bytes.NewReader(data[4096:]), digest.FromBytes(data)); err != nil {
		t.Fatalf("commit at the right offset after refused chunks: %v", err)
	}
	wantBlob(t, b, "r", digest.FromBytes(data), data)
}

// A chunk whose body breaks off part-way (fewer bytes than the client
// declared) is discarded as a whole: the session is where it was.
func testUploadBrokenChunk(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(600<<10+5, 24)
	first := int64(200 << 10)
	st, _ := b.StartUpload(ctx, "r", "")
	appendChunk(t, b, "r", st.ID, 0, data[:first], first)
	_, err := b.AppendUpload(ctx, "r", st.ID, first, FailingReader(data[first:], 150<<10))
	WantCode(t, err, oci.CodeBlobUploadInvalid)
	wantOffset(t, b, "r", st.ID, first)
	_, err = b.CommitUpload(ctx, "r", st.ID, first, FailingReader(data[first:], 10), digest.FromBytes(data))
	WantCode(t, err, oci.CodeBlobUploadInvalid)
	wantOffset(t, b, "r", st.ID, first)
	wantNoBlob(t, b, "r", digest.FromBytes(data))
	desc, err := b.CommitUpload(ctx, "r", st.ID, first, bytes.NewReader(data[first:]), digest.FromBytes(data))
	if err != nil || desc.Size != int64(len(data)) {
		t.Fatalf("commit after a broken chunk = %+v, %v", desc, err)
	}
	wantBlob(t, b, "r", desc.Digest, data)
}

// Content that does not hash to the digest the client claims is refused:
// nothing becomes visible, under either digest, and the session ends.
func testUploadDigestMismatch(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := []byte("payload")
	claimed := digest.FromString("something else")
	for _, chunked := range []bool{false, true} {
		st, _ := b.StartUpload(ctx, "fresh", "")
		body := io.Reader(bytes.NewReader(data))
		if chunked {
			appendChunk(t, b, "fresh", st.ID, 0, data, int64(len(data)))
			body = nil
		}
		_, err := b.CommitUpload(ctx, "fresh", st.ID, -1, body, claimed)
		WantCode(t, err, oci.CodeDigestInvalid)
		wantNoBlob(t, b, "fresh", claimed)
		wantNoBlob(t, b, "fresh", digest.FromBytes(data))
		_, err = b.UploadStatus(ctx, "fresh", st.ID)
		WantCode(t, err, oci.CodeBlobUploadUnknown)
	}
	if hasRepo(t, b, "fresh") {
		t.Fatal("a refused upload created its repository")
	}
	// A digest that is not one at all is refused as such.
	st, _ := b.StartUpload(ctx, "r", "")
	_, err := b.CommitUpload(ctx, "r", st.ID, -1, bytes.NewReader(data), "sha256:abc")
	WantCode(t, err, oci.CodeDigestInvalid)
}

// A cancelled session is gone and leaves nothing.
func testUploadCancel(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(16<<10, 25)
	st, _ := b.StartUpload(ctx, "fresh", "")
	appendChunk(t, b, "fresh", st.ID, 0, data, int64(len(data)))
	if err := b.CancelUpload(ctx, "fresh", st.ID); err != nil {
		t.Fatal(err)
	}
	_, err := b.UploadStatus(ctx, "fresh", st.ID)
	WantCode(t, err, oci.CodeBlobUploadUnknown)
	_, err = b.AppendUpload(ctx, "fresh", st.ID, -1, bytes.NewReader(data))
	WantCode(t, err, oci.CodeBlobUploadUnknown)
	_, err = b.CommitUpload(ctx, "fresh", st.ID, -1, nil, digest.FromBytes(data))
	WantCode(t, err, oci.CodeBlobUploadUnknown)
	WantCode(t, b.CancelUpload(ctx, "fresh", st.ID), oci.CodeBlobUploadUnknown)
	wantNoBlob(t, b, "fresh", digest.FromBytes(data))
	if hasRepo(t, b, "fresh") {
		t.Fatal("a cancelled upload created its repository")
	}
}

// Invented, hostile and other repositories' session ids are unknown, and
// using another repository's id does not touch the session.
func testUploadUnknown(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	st, _ := b.StartUpload(ctx, "r", "")
	appendChunk(t, b, "r", st.ID, 0, []byte("abc"), 3)
	d := digest.FromString("abc")
	try := func(repo, id string) {
		t.Helper()
		_, err := b.UploadStatus(ctx, repo, id)
		WantCode(t, err, oci.CodeBlobUploadUnknown)
		_, err = b.AppendUpload(ctx, repo, id, -1, bytes.NewReader([]byte("x")))
		WantCode(t, err, oci.CodeBlobUploadUnknown)
		_, err = b.CommitUpload(ctx, repo, id, -1, nil, d)
		WantCode(t, err, oci.CodeBlobUploadUnknown)
		WantCode(t, b.CancelUpload(ctx, repo, id), oci.CodeBlobUploadUnknown)
	}
	for _, id := range []string{"", "../../etc/passwd", "no-such-upload", "0123456789abcdef0123456789abcdef",
		st.ID + "0", st.ID[1:], strings.Repeat("a", 300)} {
		try("r", id)
	}
	if up := strings.ToUpper(st.ID); up != st.ID {
		try("r", up)
	}
	try("other", st.ID)
	wantOffset(t, b, "r", st.ID, 3)
	wantNoBlob(t, b, "other", d)
	if _, err := b.CommitUpload(ctx, "r", st.ID, -1, nil, d); err != nil {
		t.Fatalf("the session was disturbed by another repository: %v", err)
	}
}

// sha512 blobs: a session hashing with sha512, and a sha256 session that
// the client finishes with a sha512 digest.
func testUploadSHA512(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(150<<10, 26)
	d := digest.SHA512.FromBytes(data)
	for _, algo := range []digest.Algorithm{digest.SHA512, digest.SHA256} {
		st, err := b.StartUpload(ctx, "r", algo)
		if err != nil {
			t.Fatal(err)
		}
		appendChunk(t, b, "r", st.ID, 0, data[:100<<10], 100<<10)
		desc, err := b.CommitUpload(ctx, "r", st.ID, 100<<10, bytes.NewReader(data[100<<10:]), d)
		if err != nil || desc.Digest != d || desc.Size != int64(len(data)) {
			t.Fatalf("commit (session hashing with %s) = %+v, %v", algo, desc, err)
		}
		wantBlob(t, b, "r", d, data)
		wantNoBlob(t, b, "r", digest.FromBytes(data))
		if err := b.DeleteBlob(ctx, "r", d); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.StartUpload(ctx, "r", "md5")
	WantCode(t, err, oci.CodeDigestInvalid)
}
