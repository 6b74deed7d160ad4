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

status=0
pkgs="$(go list ./...)"
if [ -n "$pkgs" ]; then
	{ go vet ./... && go test -race -count=1 ./...; } || status=1
else
	echo "root module: no Go packages yet, skipping its vet and tests"
fi

{ cd e2e && go vet ./... && go test -count=1 -timeout 40m -v ./...; } || status=1

exit "$status"
