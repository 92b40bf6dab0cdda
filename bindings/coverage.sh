#!/usr/bin/env bash
# Lists the C functions of include/infer.h that a binding does not call yet, per binding: the
# to-do list when the C API grows. Exit status 0 always. Left out on purpose: rt_with_inference_mode
# everywhere (each binding has its own scoped form); in Go rt_tensor_from_blob and
# rt_tensor_data_ptr (C may not keep Go memory, and a borrowed pointer into library memory has no
# lifetime Go can enforce); the Swift API is thin by design.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
functions=$(grep -oE '\b(rt_[a-z0-9_]+)\(' "$root/include/infer.h" | tr -d '(' | sort -u)
# report NAME PREFIX FILES...: a function counts as wrapped when PREFIX+name occurs as a word.
report() {
    local name="$1" prefix="$2"; shift 2
    local missing=()
    for f in $functions; do
        grep -qE -- "(^|[^A-Za-z0-9_])$prefix$f([^A-Za-z0-9_]|\$)" "$@" || missing+=("$f")
    done
    echo "$name: ${#missing[@]} not wrapped${missing:+: ${missing[*]}}"
}
report "C++ (include/infer.hpp)" "" "$root/include/infer.hpp"
report "Go (bindings/go)" "(go_)?" "$root"/bindings/go/*.go "$root"/bindings/go/shim.h
report "Swift (bindings/swift)" "" "$root"/bindings/swift/Sources/Infer/*.swift
