#!/usr/bin/env bash
# Makes the library in this build tree (include/ and target/release, after `cargo build --release`)
# usable without installing it: writes infer.pc into DIR (default target/release/pkgconfig), what
# an installed infer.pc provides with only the -I, -L and -l flags SwiftPM accepts from
# pkg-config, and links libinfer.so.<ABI version> (the library's SONAME, which programs look for
# at run time) to target/release/libinfer.so.
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
abi="$(sed -n 's/^#define RT_ABI_VERSION \([0-9]*\)$/\1/p' "$root/include/infer.h")"
ln -sfn libinfer.so "$root/target/release/libinfer.so.$abi"
echo "wrote $dir/infer.pc and target/release/libinfer.so.$abi -> libinfer.so"
