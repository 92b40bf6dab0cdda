//go:build infer_repo

package infer

// The library built in this repository by `cargo build --release` (-tags infer_repo, see the
// package doc).

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../target/release -linfer -Wl,-rpath,${SRCDIR}/../../target/release
import "C"
