package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// passedSocket returns a descriptor of a new listening socket on addr, as
// systemd would pass it, and the address it listens on.
func passedSocket(t *testing.T, addr string) (int, string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return dup(t, f), ln.Addr().String()
}

// dup returns a descriptor of f's file that activatedListener may take
// over (and close), and closes f.
func dup(t *testing.T, f *os.File) int {
	t.Helper()
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestActivatedListener(t *testing.T) {
	pid := os.Getpid()
	self := strconv.Itoa(pid)

	t.Run("serves the passed socket", func(t *testing.T) {
		fd, addr := passedSocket(t, "127.0.0.1:0")
		ln, err := activatedListener(self, "1", pid, fd)
		if err != nil || ln == nil {
			t.Fatalf("activatedListener: %v, %v; want the passed socket", ln, err)
		}
		defer ln.Close()
		if ln.Addr().String() != addr {
			t.Errorf("listener on %s, want the passed socket's %s", ln.Addr(), addr)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte("hello"))
				c.Close()
			}
		}()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if b, err := io.ReadAll(c); err != nil || string(b) != "hello" {
			t.Errorf("read %q, %v from the passed socket; want hello", b, err)
		}
	})

	notActivated := []struct{ name, pidVar, fdsVar string }{
		{"no variables", "", ""},
		{"for another process", strconv.Itoa(pid + 1), "1"},
		{"no LISTEN_PID", "", "1"},
		{"zero sockets", self, "0"},
	}
	for _, tc := range notActivated {
		t.Run(tc.name, func(t *testing.T) {
			if ln, err := activatedListener(tc.pidVar, tc.fdsVar, pid, 1<<20); ln != nil || err != nil {
				t.Errorf("activatedListener(%q, %q): %v, %v; want nil, nil (listen on BIND_ADDR)", tc.pidVar, tc.fdsVar, ln, err)
			}
		})
	}

	refused := []struct{ name, fdsVar, want string }{
		{"not a number", "one", "not a number"},
		{"negative", "-1", "not a number"},
		{"two sockets", "2", "want one"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := activatedListener(self, tc.fdsVar, pid, 1<<20)
			if ln != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("activatedListener(LISTEN_FDS=%q): %v, %v; want an error saying %q", tc.fdsVar, ln, err, tc.want)
			}
		})
	}

	t.Run("not a socket", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "file"))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := activatedListener(self, "1", pid, dup(t, f))
		if ln != nil || err == nil || !strings.Contains(err.Error(), "not a listening stream socket") {
			t.Errorf("activatedListener on a regular file: %v, %v; want an error", ln, err)
		}
	})
}

func TestCheckActivatedAddr(t *testing.T) {
	tcp := func(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 8470} }
	cases := []struct {
		name            string
		addr            net.Addr
		remoteBind, dev bool
		wantErr         string
	}{
		{"loopback", tcp("127.0.0.1"), false, false, ""},
		{"loopback v6 in dev mode", tcp("::1"), false, true, ""},
		{"unix socket", &net.UnixAddr{Name: "/run/registry.sock", Net: "unix"}, false, false, ""},
		{"any address", tcp("0.0.0.0"), false, false, "ALLOW_REMOTE_BIND=true"},
		{"remote address", tcp("192.0.2.1"), false, false, "ALLOW_REMOTE_BIND=true"},
		{"remote address allowed", tcp("192.0.2.1"), true, false, ""},
		{"remote address in dev mode", tcp("192.0.2.1"), true, true, "INSECURE_DEV_MODE"},
		{"unknown address", nil, true, false, "no address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkActivatedAddr(tc.addr, tc.remoteBind, tc.dev)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("checkActivatedAddr(%s): %v, want nil", tc.addr, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("checkActivatedAddr(%s): %v, want an error naming %s", tc.addr, err, tc.wantErr)
			}
		})
	}
}
