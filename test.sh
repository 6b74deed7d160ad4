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

# cosign, pinned, as an independent verifier of the registry's attestations
# (e2e TestProvenance). Built once into .tools/ (about 4 minutes; the Go
# build cache makes later runs instant); its dependencies stay out of both
# modules.
COSIGN_VERSION=v3.1.3
if [ -z "${COSIGN:-}" ]; then
	export COSIGN="$PWD/.tools/cosign-$COSIGN_VERSION"
	if [ ! -x "$COSIGN" ]; then
		mkdir -p .tools
		GOBIN="$PWD/.tools/bin-$COSIGN_VERSION" go install "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION"
		mv "$PWD/.tools/bin-$COSIGN_VERSION/cosign" "$COSIGN"
	fi
fi

# versitygw, pinned, the S3-compatible gateway the s3blob tests start on
# loopback. Built once into .tools/ the same way (about 3 minutes).
VERSITYGW_VERSION=v1.8.0
if [ -z "${VERSITYGW:-}" ]; then
	export VERSITYGW="$PWD/.tools/versitygw-$VERSITYGW_VERSION"
	if [ ! -x "$VERSITYGW" ]; then
		mkdir -p .tools
		GOBIN="$PWD/.tools/bin-versitygw-$VERSITYGW_VERSION" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
		mv "$PWD/.tools/bin-versitygw-$VERSITYGW_VERSION/versitygw" "$VERSITYGW"
	fi
fi

status=0
pkgs="$(go list ./...)"
if [ -n "$pkgs" ]; then
	{ go vet ./... && go test -race -count=1 ./...; } || status=1
else
	echo "root module: no Go packages yet, skipping its vet and tests"
fi

{ cd e2e && go vet ./... && go test -count=1 -timeout 40m -v ./...; } || status=1

exit "$status"
