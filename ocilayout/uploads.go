package ocilayout

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// uploads tracks upload sessions. A session lives in memory until bytes
// arrive; then its bytes go to uploads/<id>.data, and each acknowledged
// chunk also writes uploads/<id>.json with the offset and the serialized
// hash state, so an acknowledged session survives a restart and finishing it
// never re-reads the data. A session that acknowledged nothing is not worth
// a file: after a crash its client gets BLOB_UPLOAD_UNKNOWN and restarts.
type uploads struct {
	s        *Store
	mu       sync.Mutex
	sessions map[string]*session
}

type session struct {
	mu      sync.Mutex
	id      string
	repo    string
	algo    digest.Algorithm
	base    string // uploads/<id>; data in base+".data", state in base+".json"
	created time.Time
	offset  atomic.Int64 // bytes durably received
	gone    bool         // removed; callers holding a pointer must not use it

	out       *sink     // open data file, nil until bytes arrive
	h         hash.Hash // hash of data[:offset]; nil until restored after a restart
	persisted bool      // base+".json" exists
}

type sessionState struct {
	Repository string           `json:"repository"`
	Algorithm  digest.Algorithm `json:"algorithm"`
	Offset     int64            `json:"offset"`
	HashState  []byte           `json:"hashState,omitempty"`
	Created    time.Time        `json:"created"`
}

func (u *uploads) init(s *Store) {
	u.s = s
	u.sessions = map[string]*session{}
}

func (u *uploads) root() string { return filepath.Join(u.s.dir, "uploads") }

func uploadUnknown(id string) error {
	return oci.Errorf(oci.CodeBlobUploadUnknown, "upload %q is unknown: it finished, was cancelled or expired; start a new upload", truncateID(id))
}

func truncateID(id string) string {
	if len(id) > 64 {
		return id[:64]
	}
	return id
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// StartUpload opens an upload session for repo, hashing with algo.
func (s *Store) StartUpload(ctx context.Context, repo string, algo digest.Algorithm) (oci.UploadStatus, error) {
	if err := oci.ValidateName(repo); err != nil {
		return oci.UploadStatus{}, err
	}
	if algo == "" {
		algo = digest.Canonical
	}
	if _, err := oci.ParseAlgorithm(algo.String()); err != nil {
		return oci.UploadStatus{}, err
	}
	u := &s.uploads
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	sess := &session{id: id, repo: repo, algo: algo, created: time.Now().UTC(), base: filepath.Join(u.root(), id), h: algo.Hash()}

	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.sessions) >= s.cfg.MaxUploads {
		return oci.UploadStatus{}, oci.Errorf(oci.CodeTooManyRequests, "%d uploads are in progress, the limit; finish or cancel some, or retry later", s.cfg.MaxUploads)
	}
	u.sessions[id] = sess
	return oci.UploadStatus{ID: id}, nil
}

// UploadSessions is the number of upload sessions open now (those resumed
// after a restart included): what MaxUploads bounds.
func (s *Store) UploadSessions() int {
	s.uploads.mu.Lock()
	defer s.uploads.mu.Unlock()
	return len(s.uploads.sessions)
}

// get finds a session of repo, loading it from disk after a restart.
func (u *uploads) get(repo, id string) (*session, error) {
	if !validID(id) {
		return nil, uploadUnknown(id)
	}
	u.mu.Lock()
	sess := u.sessions[id]
	u.mu.Unlock()
	if sess == nil || sess.repo != repo {
		return nil, uploadUnknown(id)
	}
	return sess, nil
}

// lock takes the session for a writer. A second concurrent writer is told
// to resynchronise instead of queueing behind a stream that may take hours.
func (u *uploads) lock(repo, id string) (*session, error) {
	sess, err := u.get(repo, id)
	if err != nil {
		return nil, err
	}
	if !sess.mu.TryLock() {
		return nil, oci.Errorf(oci.CodeBlobUploadInvalid, "another request is writing to upload %s; check its status and continue from the reported range", id).WithStatus(416)
	}
	if sess.gone {
		sess.mu.Unlock()
		return nil, uploadUnknown(id)
	}
	if err := sess.open(u.s); err != nil {
		sess.mu.Unlock()
		u.s.log.Error("upload session unusable; removing it", "upload", id, "error", err)
		u.remove(sess)
		return nil, uploadUnknown(id)
	}
	return sess, nil
}

// UploadStatus reports how many bytes a session holds.
func (s *Store) UploadStatus(ctx context.Context, repo, id string) (oci.UploadStatus, error) {
	sess, err := s.uploads.get(repo, id)
	if err != nil {
		return oci.UploadStatus{}, err
	}
	return oci.UploadStatus{ID: id, Offset: sess.offset.Load()}, nil
}

// AppendUpload appends body to a session. start is where the client says the
// chunk begins (-1 when it did not say); a chunk that does not start at the
// current offset is refused with 416. The chunk is on disk when this returns.
func (s *Store) AppendUpload(ctx context.Context, repo, id string, start int64, body io.Reader) (oci.UploadStatus, error) {
	sess, err := s.uploads.lock(repo, id)
	if err != nil {
		return oci.UploadStatus{}, err
	}
	defer sess.mu.Unlock()
	if _, err := sess.write(s.bufs, start, body); err != nil {
		return oci.UploadStatus{ID: id, Offset: sess.offset.Load()}, err
	}
	if err := sess.persist(); err != nil {
		return oci.UploadStatus{ID: id, Offset: sess.offset.Load()}, err
	}
	return oci.UploadStatus{ID: id, Offset: sess.offset.Load()}, nil
}

// CommitUpload appends an optional last chunk, checks that the content
// hashes to d and publishes it as a blob of repo. On a digest mismatch the
// session is discarded and nothing becomes visible.
func (s *Store) CommitUpload(ctx context.Context, repo, id string, start int64, body io.Reader, d digest.Digest) (ocispec.Descriptor, error) {
	if _, err := oci.ParseDigest(string(d)); err != nil {
		return ocispec.Descriptor{}, err
	}
	sess, err := s.uploads.lock(repo, id)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer sess.mu.Unlock()
	if _, err := sess.write(s.bufs, start, body); err != nil {
		return ocispec.Descriptor{}, err
	}
	size := sess.offset.Load()
	got, err := sess.sum(d.Algorithm())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if got != d {
		s.uploads.remove(sess)
		return ocispec.Descriptor{}, oci.Errorf(oci.CodeDigestInvalid, "uploaded content (%d bytes) hashes to %s, not %s; the upload was discarded", size, got, d)
	}
	if err := datasync(sess.out.f); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sync upload: %w", err)
	}
	r, err := s.repo(repo, true)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := s.ingestFile(r, sess.base+".data", d, size); err != nil {
		return ocispec.Descriptor{}, err
	}
	s.uploads.remove(sess)
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: size}, nil
}

// CancelUpload discards a session and its data.
func (s *Store) CancelUpload(ctx context.Context, repo, id string) error {
	sess, err := s.uploads.lock(repo, id)
	if err != nil {
		return err
	}
	defer sess.mu.Unlock()
	s.uploads.remove(sess)
	return nil
}

// open makes the data file ready: a new one for a fresh session, or the
// persisted one (truncated to the acknowledged offset, hash state restored)
// after a restart. Called with sess.mu held.
func (sess *session) open(s *Store) error {
	if sess.out != nil {
		return nil
	}
	path := sess.base + ".data"
	if !sess.persisted {
		f, err := s.newFile(path)
		if err != nil {
			return err
		}
		sess.out = &sink{f: f, direct: openDirect(path)}
		return nil
	}
	st, err := readState(sess.base + ".json")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < st.Offset {
		err = fmt.Errorf("data is %d bytes but the session recorded %d", fi.Size(), st.Offset)
	}
	if err == nil && fi.Size() > st.Offset {
		err = f.Truncate(st.Offset) // bytes of an unacknowledged chunk
	}
	h := sess.algo.Hash()
	if err == nil && len(st.HashState) > 0 {
		err = h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.HashState)
	}
	if err != nil {
		_ = f.Close()
		return err
	}
	sess.out = &sink{f: f, direct: openDirect(path), started: st.Offset, waited: st.Offset}
	sess.h = h
	sess.offset.Store(st.Offset)
	return nil
}

func readState(path string) (sessionState, error) {
	var st sessionState
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(b, &st)
	return st, err
}

// write appends body at the session offset. On failure the data file and the
// hash are rolled back, so a broken chunk leaves the session as it was.
func (sess *session) write(bufs buffers, start int64, body io.Reader) (int64, error) {
	off := sess.offset.Load()
	if start >= 0 && start != off {
		return 0, oci.Errorf(oci.CodeBlobUploadInvalid, "chunk starts at byte %d but the upload holds %d bytes; send the range starting at %d", start, off, off).WithStatus(416)
	}
	if body == nil {
		return 0, nil
	}
	snap, err := sess.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := copyHashed(sess.out, bufs, off, body, sess.h)
	if err != nil {
		if rerr := sess.rollback(off, snap); rerr != nil {
			sess.out.close()
			sess.out = nil // reopen from the last persisted state
		}
		switch {
		case isNoSpace(err):
			return 0, oci.Errorf(oci.CodeDenied, "registry storage is full").WithStatus(507)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return 0, oci.Errorf(oci.CodeBlobUploadInvalid, "the request body ended early, after %d bytes; the chunk was discarded, resend it", n)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return 0, oci.Errorf(oci.CodeBlobUploadInvalid, "no data arrived for too long, after %d bytes; the chunk was discarded, resend it", n)
		}
		return 0, fmt.Errorf("receive upload data after %d bytes: %w", n, err)
	}
	sess.offset.Store(off + n)
	return n, nil
}

func (sess *session) rollback(off int64, snap []byte) error {
	h := sess.algo.Hash()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(snap); err != nil {
		return err
	}
	sess.h = h
	sess.out.started, sess.out.waited = off, off
	return sess.out.f.Truncate(off)
}

// persist makes the received bytes and the hash state durable, which is
// what acknowledging a chunk promises.
func (sess *session) persist() error {
	if err := datasync(sess.out.f); err != nil {
		return fmt.Errorf("sync upload data: %w", err)
	}
	hs, err := sess.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	b, err := json.Marshal(sessionState{Repository: sess.repo, Algorithm: sess.algo, Offset: sess.offset.Load(), HashState: hs, Created: sess.created})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(sess.base+".json", b, filePerm); err != nil {
		return err
	}
	sess.persisted = true
	return nil
}

// sum returns the digest of the data with algo. The running hash is used
// when it matches; a client that finishes with another algorithm than the
// session started with costs one re-read.
func (sess *session) sum(algo digest.Algorithm) (digest.Digest, error) {
	if _, err := oci.ParseAlgorithm(algo.String()); err != nil {
		return "", err
	}
	if algo == sess.algo {
		return digest.NewDigest(algo, sess.h), nil
	}
	f, err := os.Open(sess.base + ".data")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return algo.FromReader(io.LimitReader(f, sess.offset.Load()))
}

// remove deletes a session. Called with sess.mu held, or for a session no
// one else can reach.
func (u *uploads) remove(sess *session) {
	u.mu.Lock()
	delete(u.sessions, sess.id)
	u.mu.Unlock()
	sess.gone = true
	if sess.out != nil {
		sess.out.close()
		sess.out = nil
	}
	for _, p := range []string{sess.base + ".data", sess.base + ".json"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.s.log.Warn("could not remove upload session", "upload", sess.id, "error", err)
		}
	}
}

// expire removes sessions idle for longer than UploadMaxAge and registers the
// persisted ones found on disk after a restart, so they can be resumed.
func (u *uploads) expire(now time.Time) {
	entries, err := os.ReadDir(u.root())
	if err != nil {
		u.s.log.Warn("cannot list upload sessions", "error", err)
		return
	}
	u.mu.Lock()
	live := make([]*session, 0, len(u.sessions))
	for _, sess := range u.sessions {
		live = append(live, sess)
	}
	u.mu.Unlock()
	for _, e := range entries {
		name := e.Name()
		id, ext, _ := strings.Cut(name, ".")
		path := filepath.Join(u.root(), name)
		if strings.HasPrefix(name, ".") && e.Type().IsRegular() {
			// The temp file of a session's state being replaced right now
			// (atomicfile): it is renamed or removed by its writer. Only a
			// crash leaves one behind; collect it once it is old.
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > u.s.cfg.UploadMaxAge {
				_ = os.Remove(path)
			}
			continue
		}
		if !validID(id) || (ext != "json" && ext != "data") || !e.Type().IsRegular() {
			_ = os.RemoveAll(path)
			continue
		}
		u.mu.Lock()
		known := u.sessions[id] != nil
		u.mu.Unlock()
		if known {
			continue
		}
		if ext == "data" {
			// Data without state belongs to a session that acknowledged
			// nothing and did not survive a restart.
			if _, err := os.Stat(filepath.Join(u.root(), id+".json")); errors.Is(err, fs.ErrNotExist) {
				_ = os.Remove(path)
			}
			continue
		}
		st, err := readState(path)
		if err != nil || oci.ValidateName(st.Repository) != nil || !validAlgorithm(st.Algorithm) {
			u.s.log.Warn("removing unreadable upload session", "upload", id, "error", err)
			_ = os.Remove(path)
			_ = os.Remove(filepath.Join(u.root(), id+".data"))
			continue
		}
		sess := &session{id: id, repo: st.Repository, algo: st.Algorithm, base: filepath.Join(u.root(), id), created: st.Created, persisted: true}
		sess.offset.Store(st.Offset)
		u.mu.Lock()
		u.sessions[id] = sess
		u.mu.Unlock()
		live = append(live, sess)
	}
	for _, sess := range live {
		if !sess.mu.TryLock() {
			continue // in use
		}
		// A session that never received a byte holds a slot of MaxUploads
		// but nothing worth keeping, so it goes sooner.
		maxAge := u.s.cfg.UploadMaxAge
		if sess.offset.Load() == 0 && !sess.persisted {
			maxAge = min(maxAge, emptyUploadMaxAge)
		}
		if !sess.gone && now.Sub(sess.lastActivity()) > maxAge {
			u.s.log.Info("removing expired upload", "upload", sess.id, "repository", sess.repo, "bytes", sess.offset.Load())
			u.remove(sess)
		}
		sess.mu.Unlock()
	}
}

// emptyUploadMaxAge bounds how long a session without data is kept.
const emptyUploadMaxAge = 15 * time.Minute

func validAlgorithm(a digest.Algorithm) bool {
	_, err := oci.ParseAlgorithm(a.String())
	return err == nil
}

// lastActivity is when the session last received bytes (or was created).
func (sess *session) lastActivity() time.Time {
	t := sess.created
	for _, p := range []string{sess.base + ".json", sess.base + ".data"} {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}

func (u *uploads) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, sess := range u.sessions {
		if sess.mu.TryLock() {
			if sess.out != nil {
				sess.out.close()
				sess.out = nil
			}
			sess.mu.Unlock()
		}
	}
}
