package ocilayout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

const (
	formatName    = "ai-model-registry/ocilayout"
	formatVersion = 1

	dirPerm  = 0o750
	filePerm = 0o640
	blobPerm = 0o440 // blobs are immutable: nobody rewrites them in place
)

// Config configures a Store. Zero values take the documented defaults.
type Config struct {
	// Dir is the registry directory. It is created if missing.
	Dir string
	// UploadMaxAge is how long an idle upload session is kept (default 24h).
	UploadMaxAge time.Duration
	// MaxUploads caps concurrent upload sessions (default 1024).
	MaxUploads int
	// FlushInterval is how often journaled index changes are folded into
	// index.json (default 1s).
	FlushInterval time.Duration
	// OrphanGrace is how long a pool blob that no repository links to is
	// kept before it is removed (default 1h).
	OrphanGrace time.Duration
	Logger      *slog.Logger
}

// Store is a registry of OCI image layouts on one filesystem. It is safe for
// concurrent use. Only one Store may use a directory at a time (enforced with
// flock).
type Store struct {
	dir  string
	cfg  Config
	log  *slog.Logger
	lock *os.File

	// digestLocks serialise link/unlink of one digest between pool and
	// repositories, so deleting the last link never races a new one.
	digestLocks [64]sync.Mutex

	mu    sync.Mutex
	repos map[string]*repo

	uploads uploads

	bufs        buffers       // recycled 1 MiB stream buffers
	spares      chan string   // paths of empty files ready in tmp/
	spareWanted chan struct{} // wakes the spare maker

	stop     chan struct{}
	bg       sync.WaitGroup
	closeErr error
	once     sync.Once
}

// Open opens (creating if needed) the registry directory, takes its lock,
// removes leftovers of interrupted writes and starts background upkeep.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("ocilayout: no directory configured")
	}
	if cfg.UploadMaxAge <= 0 {
		cfg.UploadMaxAge = 24 * time.Hour
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = 1024
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.OrphanGrace <= 0 {
		cfg.OrphanGrace = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("registry directory %q: %w", cfg.Dir, err)
	}
	if err := mkdirAllDurable(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("create registry directory %s: %w", dir, err)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("registry directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("registry directory: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("registry directory %s is writable by group or others (mode %v): run chmod go-w %s", dir, fi.Mode().Perm(), dir)
	}
	s := &Store{dir: dir, cfg: cfg, log: cfg.Logger, repos: map[string]*repo{}, stop: make(chan struct{}),
		bufs: newBuffers(8), spares: make(chan string, spareFiles), spareWanted: make(chan struct{}, 1)}
	s.uploads.init(s)

	lf, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("lock registry directory: %w", err)
	}
	if err := lockDir(lf); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("registry directory %s is in use by another registry process: %w", dir, err)
	}
	s.lock = lf
	ok := false
	defer func() {
		if !ok {
			_ = lf.Close()
		}
	}()
	if err := s.checkFormat(); err != nil {
		return nil, err
	}
	for _, d := range []string{"pool/sha256", "pool/sha512", "repos", "uploads", "tmp"} {
		if err := mkdirAllDurable(filepath.Join(dir, d), dirPerm); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Temp files are never referenced: anything left is an interrupted write.
	if err := clearDir(filepath.Join(dir, "tmp")); err != nil {
		return nil, err
	}
	if err := s.scanRepos(); err != nil {
		return nil, err
	}
	s.uploads.expire(time.Now())
	ok = true

	s.bg.Add(3)
	go s.flushLoop()
	go s.janitorLoop()
	go s.spareLoop()
	s.log.Info("storage opened", "dir", dir, "repositories", len(s.repos))
	return s, nil
}

// Close folds every journal into index.json and releases the directory lock.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.stop)
		s.bg.Wait()
		s.mu.Lock()
		repos := make([]*repo, 0, len(s.repos))
		for _, r := range s.repos {
			repos = append(repos, r)
		}
		s.mu.Unlock()
		var errs []error
		for _, r := range repos {
			errs = append(errs, r.close())
		}
		s.uploads.closeAll()
		errs = append(errs, s.lock.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Dir returns the registry directory (symlinks resolved).
func (s *Store) Dir() string { return s.dir }

// Check reports whether the store can serve: it is open and its directory
// is still there (not unmounted or removed under it). It is cheap enough
// for a readiness probe: one stat, no index is read.
func (s *Store) Check() error {
	select {
	case <-s.stop:
		return errors.New("ocilayout: the store is closed")
	default:
	}
	if _, err := os.Stat(filepath.Join(s.dir, "registry.json")); err != nil {
		return fmt.Errorf("ocilayout: the registry directory is unavailable: %w", err)
	}
	return nil
}

// LayoutPath returns the OCI image layout directory of a repository, for
// offline tools.
func (s *Store) LayoutPath(name string) string {
	return filepath.Join(s.dir, "repos", filepath.FromSlash(name), "_layout")
}

type formatFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

func (s *Store) checkFormat() error {
	p := filepath.Join(s.dir, "registry.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		data, _ := json.Marshal(formatFile{Format: formatName, Version: formatVersion})
		return writeFileAtomic(p, append(data, '\n'), filePerm)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	var f formatFile
	if err := json.Unmarshal(b, &f); err != nil || f.Format != formatName {
		return fmt.Errorf("%s is not an ai-model-registry data directory marker; refusing to use %s", p, s.dir)
	}
	if f.Version != formatVersion {
		return fmt.Errorf("%s has format version %d; this registry understands version %d", p, f.Version, formatVersion)
	}
	return nil
}

func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	for _, e := range entries {
		// removeTree: an interrupted runtime build has read-only dirs.
		if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clean %s: %w", dir, err)
		}
	}
	return nil
}

// scanRepos finds every repository layout under repos/. Layouts are loaded
// lazily on first use, so start-up does not read every index.
func (s *Store) scanRepos() error {
	root := filepath.Join(s.dir, "repos")
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || path == root {
			return nil
		}
		if strings.HasPrefix(d.Name(), "_") {
			return fs.SkipDir
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if oci.ValidateName(name) != nil {
			s.log.Warn("ignoring directory that is not a valid repository name", "path", path)
			return fs.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "_layout", "oci-layout")); err == nil {
			s.repos[name] = newRepo(s, name, true)
		}
		return nil
	})
}

// repo returns the repository, creating it on disk when create is set. It
// returns NAME_UNKNOWN for a repository that does not exist.
func (s *Store) repo(name string, create bool) (*repo, error) {
	if err := oci.ValidateName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r := s.repos[name]
	if r == nil {
		if !create {
			s.mu.Unlock()
			return nil, oci.Errorf(oci.CodeNameUnknown, "repository %q is not known to this registry", name)
		}
		r = newRepo(s, name, false)
		s.repos[name] = r
	}
	s.mu.Unlock()
	if err := r.ensure(create); err != nil {
		return nil, err
	}
	return r, nil
}

// lookup returns an existing repository, or notFound() when it does not
// exist. Other failures (a damaged journal) are passed on, not hidden.
func (s *Store) lookup(name string, notFound func() error) (*repo, error) {
	r, err := s.repo(name, false)
	if errors.Is(err, oci.ErrNameUnknown) {
		return nil, notFound()
	}
	return r, err
}

// Repositories returns up to n repository names after last, sorted. n < 0
// means all of them.
func (s *Store) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	s.mu.Lock()
	names := make([]string, 0, len(s.repos))
	for name, r := range s.repos {
		if r.existsOnDisk() && name > last {
			names = append(names, name)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	if n >= 0 && len(names) > n {
		names = names[:n]
	}
	return names, nil
}

func (s *Store) poolPath(d digest.Digest) string {
	return filepath.Join(s.dir, "pool", d.Algorithm().String(), d.Encoded())
}

func (s *Store) tmpDir() string { return filepath.Join(s.dir, "tmp") }

func (s *Store) digestLock(d digest.Digest) *sync.Mutex {
	enc := d.Encoded()
	var h byte
	if len(enc) >= 2 {
		h = enc[0] ^ enc[1]<<4
	}
	return &s.digestLocks[int(h)%len(s.digestLocks)]
}

func (s *Store) flushLoop() {
	defer s.bg.Done()
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.flushAll()
		}
	}
}

func (s *Store) flushAll() {
	s.mu.Lock()
	repos := make([]*repo, 0, len(s.repos))
	for _, r := range s.repos {
		repos = append(repos, r)
	}
	s.mu.Unlock()
	for _, r := range repos {
		if err := r.flush(); err != nil {
			s.log.Error("folding journal into index.json failed; the journal still holds every change", "repository", r.name, "error", err)
		}
	}
}

func (s *Store) janitorLoop() {
	defer s.bg.Done()
	every := min(s.cfg.UploadMaxAge/4, 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	// The first orphan sweep runs shortly after start, not during it, so a
	// large pool does not delay readiness.
	sweep := time.NewTimer(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.uploads.expire(now)
		case <-sweep.C:
			s.sweepOrphans(time.Now())
			sweep.Reset(s.cfg.OrphanGrace)
		}
	}
}
