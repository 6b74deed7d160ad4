// Command securectl is the command-line client of ai-model-registry.
//
// Environment: REGISTRY_URL (default http://127.0.0.1:8470) and
// SERVICE_TOKEN_PATH (default /run/secure-ai/service-token). Exit status: 0
// on success, 2 for a usage error, 1 for anything else.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ai-model-registry/ai-model-registry/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one securectl invocation and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cl := &cli{stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		cl.tty = isTerminal(f)
	}
	// Flags before the verb: --json, --help.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "--json", "-json":
			cl.json = true
		case "-h", "--help", "-help":
			fmt.Fprint(stdout, usage())
			return 0
		default:
			fmt.Fprintf(stderr, "securectl: unknown flag %s\n\n%s", args[0], usage())
			return 2
		}
		args = args[1:]
	}
	if len(args) == 0 || args[0] == "help" {
		if len(args) > 1 {
			if cmd := lookup(args[1]); cmd != nil {
				fmt.Fprint(stdout, cmd.help())
				return 0
			}
		}
		fmt.Fprint(stdout, usage())
		return 0
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "securectl: unknown command %q\n\n%s", args[0], usage())
		return 2
	}

	tokenPath, explicit := os.LookupEnv("SERVICE_TOKEN_PATH")
	if !explicit || tokenPath == "" {
		tokenPath, explicit = "/run/secure-ai/service-token", false
	}
	url := os.Getenv("REGISTRY_URL")
	if url == "" {
		url = "http://127.0.0.1:8470"
	}
	cl.url, cl.tokenPath = url, tokenPath
	c, err := client.New(url, tokenPath, explicit)
	if err != nil && !cmd.noClient {
		fmt.Fprintln(stderr, "securectl:", err)
		return 2
	}
	cl.c, cl.clientErr = c, err

	err = cl.exec(ctx, cmd, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		fmt.Fprint(stdout, cmd.help())
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "securectl: %s\n\n%s", ue.msg, cmd.help())
		return 2
	}
	fmt.Fprintln(stderr, "securectl:", err)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Hint() != "" {
		fmt.Fprintln(stderr, "securectl: hint:", ce.Hint())
	}
	return 1
}
