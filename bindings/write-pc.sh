#!/usr/bin/env bash
# Writes infer.pc for the library in this build tree (include/ and target/release) into DIR
# (default target/release/pkgconfig): what an installed infer.pc provides, with only the -I, -L
# and -l flags SwiftPM accepts from pkg-config. Nothing is installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/target/release/pkgconfig}"
mkdir -p "$dir"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
cat > "$dir/infer.pc" <<PC
prefix=$root
includedir=\${prefix}/include
libdir=\${prefix}/target/release

Name: infer
Description: Tensors, autograd and neural networks behind a stable C ABI (build tree)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -linfer
PC
echo "wrote $dir/infer.pc"
