#!/usr/bin/env bash
# Builds libinfer (release) and runs the language bindings' tests against that build tree, without
# installing it (`make test` runs the Go tests against an installed debug build instead):
#   Go    (bindings/go)     always; through pkg-config (the default), then with -tags infer_repo;
#   Swift (bindings/swift)  only when a `swift` toolchain is on PATH (otherwise says SKIPPED).
# The C++ header's tests run with the Rust ones: cargo test --test cpp_tests.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lib="$root/target/release"
cd "$root"

echo "== cargo build --release"
cargo build --release

pcdir="$lib/pkgconfig"
bindings/write-pc.sh "$pcdir"

echo "== Go: go vet, go test (flags from pkg-config infer)"
(cd bindings/go && export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
    LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && go vet ./... && go test -count=1 ./...)

echo "== Go: go test -tags infer_repo (repo-relative cgo flags)"
(cd bindings/go && go test -count=1 -tags infer_repo ./...)

if command -v swift >/dev/null 2>&1; then
    echo "== Swift: swift test"
    (cd bindings/swift && PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
        LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" swift test)
else
    echo "== Swift: SKIPPED (no swift toolchain on PATH; see bindings/swift/README.md)"
fi
echo "== bindings: all run tests passed"
