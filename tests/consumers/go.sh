#!/usr/bin/env bash
# package.go: go vet and go test of bindings/go (the working directory) against the installed
# prefix, found through pkg-config as a Go user's build finds it.
# Usage: go.sh PREFIX LIBDIR
set -euo pipefail
libdir="$1/$2"
if ! command -v go >/dev/null; then
    echo "error: go is not on PATH; install Go (see go.mod for the version; .ci/run does) or configure with -DINFER_BUILD_TESTS=OFF" >&2
    exit 1
fi
export PKG_CONFIG_PATH="$libdir/pkgconfig" LD_LIBRARY_PATH="$libdir"
go version
go vet ./...
go test -count=1 ./...
