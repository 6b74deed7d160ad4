#!/usr/bin/env bash
# Every check: vet and race-enabled tests of the root module, then the
# end-to-end suite in e2e/ (the real registry binary driven over HTTP by
# pinned oras, crane, skopeo and the OCI conformance suite). Both parts run
# even if the first fails; the script fails if either does.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi

# tool VAR NAME VERSION PACKAGE: the pinned client tool NAME, built once into
# .tools/ (the Go build cache makes later builds instant) and exported as VAR,
# unless VAR is already set. Their dependencies stay out of both modules.
tool() {
	local var="$1" name="$2" version="$3" pkg="$4"
	if [ -n "${!var:-}" ]; then
		return
	fi
	local bin="$PWD/.tools/$name-$version"
	if [ ! -x "$bin" ]; then
		mkdir -p .tools
		GOBIN="$PWD/.tools/bin-$name-$version" go install "$pkg@$version"
		mv "$PWD/.tools/bin-$name-$version/$name" "$bin"
	fi
	export "$var=$bin"
}
# cosign: an independent verifier of the registry's attestations (e2e
# TestProvenance, TestPolicyEvidence); about 4 minutes the first time.
tool COSIGN cosign v3.1.3 github.com/sigstore/cosign/v3/cmd/cosign
# versitygw: the S3-compatible gateway the s3blob tests start on loopback;
# about 3 minutes the first time.
tool VERSITYGW versitygw v1.8.0 github.com/versity/versitygw/cmd/versitygw

status=0
pkgs="$(go list ./...)"
if [ -n "$pkgs" ]; then
	{ go vet ./... && go test -race -count=1 ./...; } || status=1
else
	echo "root module: no Go packages yet, skipping its vet and tests"
fi

{ cd e2e && go vet ./... && go test -count=1 -timeout 40m -v ./...; } || status=1

exit "$status"
