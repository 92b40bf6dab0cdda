#!/usr/bin/env bash
# Builds libinfer (release) and runs the language bindings' tests:
#   Go    (bindings/go)     always; once with the repo-relative cgo flags, once through pkg-config;
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

echo "== Go: go vet, go test (repo-relative cgo flags)"
(cd bindings/go && go vet ./... && go test -count=1 ./...)

echo "== Go: go test -tags infer_pkgconfig (flags from pkg-config infer)"
(cd bindings/go && PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
    LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" go test -count=1 -tags infer_pkgconfig ./...)

if command -v swift >/dev/null 2>&1; then
    echo "== Swift: swift test"
    (cd bindings/swift && PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
        LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" swift test)
else
    echo "== Swift: SKIPPED (no swift toolchain on PATH; see bindings/swift/README.md)"
fi
echo "== bindings: all run tests passed"
