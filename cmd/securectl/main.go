// Command securectl is the command-line client of ai-model-registry.
//
// Environment: REGISTRY_URL (default http://127.0.0.1:8470) and
// SERVICE_TOKEN_PATH (default /run/secure-ai/service-token).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/ai-model-registry/ai-model-registry/client"
)

const usage = `securectl — ai-model-registry command-line client

Usage:
  securectl status          show registry health
  securectl list | ls       list repositories, tags and manifest digests

Environment:
  REGISTRY_URL        registry address (default http://127.0.0.1:8470;
                      plain http only to loopback, otherwise https)
  SERVICE_TOKEN_PATH  service token file (default /run/secure-ai/service-token)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	tokenPath, explicit := os.LookupEnv("SERVICE_TOKEN_PATH")
	if !explicit || tokenPath == "" {
		tokenPath, explicit = "/run/secure-ai/service-token", false
	}
	url := os.Getenv("REGISTRY_URL")
	if url == "" {
		url = "http://127.0.0.1:8470"
	}
	c, err := client.New(url, tokenPath, explicit)
	if err != nil {
		fmt.Fprintln(stderr, "securectl:", err)
		return 2
	}
	switch args[0] {
	case "status":
		err = status(ctx, c, stdout)
	case "list", "ls":
		err = list(ctx, c, stdout)
	default:
		fmt.Fprintf(stderr, "securectl: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "securectl:", err)
		var ce *client.Error
		if errors.As(err, &ce) && (ce.Status == 401 || ce.Status == 403) {
			fmt.Fprintln(stderr, "securectl: check SERVICE_TOKEN_PATH points at the registry's service token")
		}
		return 1
	}
	return 0
}

func status(ctx context.Context, c *client.Client, w io.Writer) error {
	h, err := c.Health(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "status: %v\n", h["status"])
	if v, ok := h["auth_required"]; ok {
		fmt.Fprintf(w, "auth_required: %v\n", v)
	}
	return nil
}

func list(ctx context.Context, c *client.Client, w io.Writer) error {
	repos, err := c.Repositories(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tSIZE\tMEDIA TYPE")
	for _, repo := range repos {
		tags, err := c.Tags(ctx, repo)
		if err != nil {
			return fmt.Errorf("tags of %s: %w", repo, err)
		}
		for _, tag := range tags {
			m, err := c.HeadManifest(ctx, repo, tag)
			if err != nil {
				return fmt.Errorf("%s:%s: %w", repo, tag, err)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, short(m.Digest), m.Size, m.MediaType)
		}
	}
	return tw.Flush()
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
