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

# A pkg-config file for the library in this tree (not installed anywhere): what an installed
# infer.pc provides, with only -I, -L and -l, the flags SwiftPM accepts from pkg-config.
pcdir="$lib/pkgconfig"
mkdir -p "$pcdir"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
cat > "$pcdir/infer.pc" <<PC
prefix=$root
includedir=\${prefix}/include
libdir=\${prefix}/target/release

Name: infer
Description: Tensors, autograd and neural networks behind a stable C ABI (build tree)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -linfer
PC

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
