// Command seccomp-exec runs a program under a seccomp profile in the
// OCI/Docker JSON format, as a container runtime would: it sets
// no_new_privs, installs the profile as a filter on every thread and
// execs the program in its place, so the program keeps this process's
// pid, descriptors and environment (a systemd-passed socket included).
//
//	seccomp-exec PROFILE PROGRAM [ARG...]
//
// The e2e tests start the registry through it (E2E_SECCOMP, TestSeccomp).
// A profile it cannot enforce exactly stops it before the program runs.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"

	"github.com/ai-model-registry/ai-model-registry/e2e/internal/seccompprofile"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: seccomp-exec PROFILE PROGRAM [ARG...]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "seccomp-exec:", err)
		os.Exit(1)
	}
}

func run(profilePath string, argv []string) error {
	data, err := os.ReadFile(profilePath)
	if err != nil {
		return err
	}
	p, err := seccompprofile.Parse(data)
	if err != nil {
		return err
	}
	pol, err := p.Policy()
	if err != nil {
		return fmt.Errorf("%s: %w", profilePath, err)
	}
	// Resolved before the filter, which need not allow what a lookup does.
	prog, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	if !seccomp.Supported() {
		return fmt.Errorf("this kernel does not support seccomp filters")
	}
	if err := seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: pol}); err != nil {
		return err
	}
	// From here on only what the profile allows: execve must be in it, as
	// it must be for any container runtime that loads the profile.
	return syscall.Exec(prog, argv, os.Environ())
}
