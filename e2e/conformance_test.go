package e2e

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// TestConformance runs the official OCI distribution-spec conformance suite
// with every API and data test on (except sparse manifests, which a registry
// may reject).
func TestConformance(t *testing.T) {
	runConformance(t, startRegistry(t))
}

// runConformance runs the suite against r, prints its counts and fails t
// unless everything enabled passed.
func runConformance(t *testing.T, r *registry) {
	t.Helper()
	dir := t.TempDir() // also the cwd, so no stray oci-conformance.yaml is read
	results := filepath.Join(dir, "results")
	if keep := os.Getenv("E2E_CONFORMANCE_RESULTS"); keep != "" {
		results = keep // results.yaml, junit.xml, report.html (every request and response)
	}
	env := append(os.Environ(),
		"OCI_VERSION=1.1",
		"OCI_TLS=disabled",
		"OCI_REGISTRY="+r.Addr,
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_USERNAME=conformance",
		"OCI_PASSWORD="+r.Token,
		"OCI_RESULTS_DIR="+results,
		"OCI_LOG=warn",
		"OCI_DATA_SPARSE=false",
	)
	for _, api := range []string{"PING", "PULL", "PUSH",
		"BLOBS_DELETE", "BLOBS_ATOMIC", "BLOBS_DIGEST_HEADER", "BLOBS_MOUNT_ANONYMOUS", "BLOBS_UPLOAD_CANCEL",
		"MANIFESTS_DELETE", "MANIFESTS_ATOMIC", "MANIFESTS_DIGEST_HEADER", "MANIFESTS_TAG_PARAM",
		"TAGS_DELETE", "TAGS_ATOMIC", "TAGS_LIST", "REFERRER"} {
		env = append(env, "OCI_API_"+api+"=true")
	}
	for _, data := range []string{"IMAGE", "INDEX", "INDEX_LIST", "ARTIFACT", "SUBJECT", "SUBJECT_MISSING",
		"ARTIFACT_LIST", "SUBJECT_LIST", "DATA_FIELD", "NONDISTRIBUTABLE", "CUSTOM_FIELDS", "NO_LAYERS",
		"EMPTY_BLOB", "SHA512"} {
		env = append(env, "OCI_DATA_"+data+"=true")
	}

	res := runCmd(t, runOpts{Dir: dir, Env: env, Timeout: 25 * time.Minute}, "conformance")
	if err := os.WriteFile(filepath.Join(results, "stdout.txt"), []byte(res.Stdout), 0o644); err != nil {
		t.Logf("saving conformance stdout: %v", err)
	}

	suite, err := readJUnit(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatalf("conformance wrote no usable junit.xml (%v)\n%s", err, res)
	}
	apis, data, err := readResultsYAML(filepath.Join(results, "results.yaml"))
	if err != nil {
		t.Fatalf("conformance wrote no usable results.yaml (%v)\n%s", err, res)
	}
	pass := suite.Tests - suite.Failures - suite.Errors - suite.Skipped - suite.Disabled
	summary := fmt.Sprintf("CONFORMANCE: pass=%d fail=%d error=%d skip=%d disabled=%d apis=%s data=%s",
		pass, suite.Failures, suite.Errors, suite.Skipped, suite.Disabled, passCount(apis), passCount(data))
	fmt.Println(summary)
	t.Log(summary)
	if notPassing := notPass(apis, data); notPassing != "" {
		fmt.Println("CONFORMANCE not passing: " + notPassing)
		t.Log("not passing: " + notPassing)
	}

	if suite.Tests == 0 || suite.Failures > 0 || suite.Errors > 0 || suite.Skipped > 0 || res.Code != 0 {
		const maxShown = 40
		var bad []string
		for _, tc := range suite.Testcases {
			if tc.Status != "passed" {
				bad = append(bad, fmt.Sprintf("%s: %s\n    %s", tc.Status, tc.Name,
					strings.ReplaceAll(strings.TrimSpace(tc.SystemOut), "\n", "\n    ")))
			}
		}
		if len(bad) > maxShown {
			bad = append(bad[:maxShown], fmt.Sprintf("... and %d more (set E2E_CONFORMANCE_RESULTS=<dir> to keep report.html)", len(bad)-maxShown))
		}
		t.Errorf("conformance suite did not fully pass (exit %d):\n%s\n--- conformance stderr:\n%s",
			res.Code, strings.Join(bad, "\n"), tail(res.Stderr, 20))
	}
}

type junitSuite struct {
	Tests     int `xml:"tests,attr"`
	Failures  int `xml:"failures,attr"`
	Errors    int `xml:"errors,attr"`
	Skipped   int `xml:"skipped,attr"`
	Disabled  int `xml:"disabled,attr"`
	Testcases []struct {
		Name      string `xml:"name,attr"`
		Status    string `xml:"status,attr"` // passed, skipped, failure, error
		SystemOut string `xml:"system-out"`  // the test's errors
	} `xml:"testcase"`
}

// readJUnit returns the single suite of the conformance junit.xml.
func readJUnit(path string) (junitSuite, error) {
	var doc struct {
		Suites []junitSuite `xml:"testsuite"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return junitSuite{}, err
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return junitSuite{}, err
	}
	if len(doc.Suites) != 1 {
		return junitSuite{}, fmt.Errorf("%d test suites, want 1", len(doc.Suites))
	}
	return doc.Suites[0], nil
}

// readResultsYAML returns the per-API and per-data-type statuses
// ("Pass", "FAIL", "Error", "Skip", "Disabled", "Unknown").
func readResultsYAML(path string) (apis, data map[string]string, err error) {
	var doc struct {
		APIs map[string]string `yaml:"apis"`
		Data map[string]string `yaml:"data"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, err
	}
	if len(doc.APIs) == 0 || len(doc.Data) == 0 {
		return nil, nil, fmt.Errorf("no apis or data statuses")
	}
	return doc.APIs, doc.Data, nil
}

// passCount says how many of the statuses are "Pass", as "N/TOTAL".
func passCount(statuses map[string]string) string {
	n := 0
	for _, s := range statuses {
		if s == "Pass" {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(statuses))
}

// notPass lists the entries whose status is not "Pass", as "name=Status, ...".
func notPass(maps ...map[string]string) string {
	var others []string
	for _, statuses := range maps {
		for name, s := range statuses {
			if s != "Pass" {
				others = append(others, name+"="+s)
			}
		}
	}
	sort.Strings(others)
	return strings.Join(others, ", ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
