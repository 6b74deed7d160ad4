package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// listenFDsStart is SD_LISTEN_FDS_START: the first descriptor that systemd
// passes to a socket-activated service.
const listenFDsStart = 3

// listen returns the socket systemd passed (deploy/systemd's
// secure-ai-registry.socket), or else a new one on BIND_ADDR. A passed
// socket is held to the rule BIND_ADDR is: beyond loopback only with
// ALLOW_REMOTE_BIND=true, and never in dev mode, so a socket unit cannot
// open the registry to the network behind the operator's back.
func listen(cfg config) (net.Listener, error) {
	ln, err := activatedListener(os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getpid(), listenFDsStart)
	// Like sd_listen_fds(1): the variables are for this process only.
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if err != nil {
		return nil, err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.bindAddr); err != nil {
			return nil, fmt.Errorf("listen on BIND_ADDR %s: %w", cfg.bindAddr, err)
		}
		return ln, nil
	}
	if err := checkActivatedAddr(ln.Addr(), cfg.remoteBind, cfg.devMode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// activatedListener implements the sd_listen_fds protocol for one socket:
// LISTEN_FDS=1 and LISTEN_PID equal to pid mean that descriptor first is
// a listening socket passed by systemd. Variables meant for another process
// (LISTEN_PID differs) or no variables at all give nil and no error.
func activatedListener(pidVar, fdsVar string, pid, first int) (net.Listener, error) {
	if fdsVar == "" || pidVar != strconv.Itoa(pid) {
		return nil, nil
	}
	n, err := strconv.Atoi(fdsVar)
	switch {
	case err != nil || n < 0:
		return nil, fmt.Errorf("LISTEN_FDS=%q: not a number of descriptors", fdsVar)
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, fmt.Errorf("LISTEN_FDS=%d: systemd passed %d sockets, want one (a single ListenStream= in the socket unit)", n, n)
	}
	syscall.CloseOnExec(first)
	f := os.NewFile(uintptr(first), "systemd-socket")
	defer f.Close() // FileListener holds its own duplicate
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_FDS: descriptor %d is not a listening stream socket: %w", first, err)
	}
	return ln, nil
}

// checkActivatedAddr applies the BIND_ADDR rule to the address of a socket
// systemd passed. A Unix socket is local like loopback; an address that
// cannot be told (getsockname failed) is refused, never taken as local.
func checkActivatedAddr(addr net.Addr, remoteBind, devMode bool) error {
	switch a := addr.(type) {
	case *net.UnixAddr:
		return nil
	case *net.TCPAddr:
		if a.IP.IsLoopback() {
			return nil
		}
	default:
		return fmt.Errorf("the socket systemd passed has no address this registry can check (%v); pass a TCP or Unix stream socket", addr)
	}
	if !remoteBind {
		return fmt.Errorf("the socket systemd passed listens on %s, not a loopback address; set ALLOW_REMOTE_BIND=true to listen beyond this host (and read the README's threat model first)", addr)
	}
	if devMode {
		return fmt.Errorf("INSECURE_DEV_MODE=true is refused with the non-loopback socket %s that systemd passed", addr)
	}
	return nil
}
