#!/bin/sh
# End-to-end benchmark of the registry binary against this machine's limits.
# Flags go to the program, e.g.: ./bench.sh -size 256MiB -small 500 -keep
# Exits non-zero only when a phase errors, or on a missed target with -strict.
set -eu
cd "$(dirname "$0")"
exec go run ./bench "$@"
