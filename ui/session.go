package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/ai-model-registry/ai-model-registry/token"
)

// session is one signed-in browser: who the token belonged to and its
// role, never the token itself.
type session struct {
	who     string
	role    token.Role
	created time.Time
	seen    time.Time
}

// sessions holds the page's sessions in memory: a restart signs everyone
// out. They are keyed by the SHA-256 of the cookie value, so looking one up
// does not compare the secret itself.
type sessions struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte]*session
	now   func() time.Time
	idle  time.Duration // unused this long: gone
	max   time.Duration // older than this: gone, however busy
	limit int           // most sessions kept; the oldest go first
}

func newSessions(idle, max time.Duration, limit int) *sessions {
	return &sessions{m: map[[sha256.Size]byte]*session{}, now: time.Now, idle: idle, max: max, limit: limit}
}

// create starts a session and returns the cookie value that names it.
func (s *sessions) create(who string, role token.Role) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	id := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= s.limit {
		s.evict(now)
	}
	s.m[sha256.Sum256([]byte(id))] = &session{who: who, role: role, created: now, seen: now}
	return id
}

// get returns the live session named by id, and marks it used.
func (s *sessions) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ss, ok := s.m[k]
	if !ok {
		return session{}, false
	}
	if s.expired(ss, now) {
		delete(s.m, k)
		return session{}, false
	}
	ss.seen = now
	return *ss, true
}

// drop ends the session named by id.
func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) >= s.idle || now.Sub(ss.created) >= s.max
}

// evict drops expired sessions, or the least recently used one when none
// has expired.
func (s *sessions) evict(now time.Time) {
	var oldest [sha256.Size]byte
	var oldestSeen time.Time
	for k, ss := range s.m {
		switch {
		case s.expired(ss, now):
			delete(s.m, k)
		case oldestSeen.IsZero() || ss.seen.Before(oldestSeen):
			oldest, oldestSeen = k, ss.seen
		}
	}
	if len(s.m) >= s.limit && !oldestSeen.IsZero() {
		delete(s.m, oldest)
	}
}
