//go:build infer_pkgconfig

package infer

// An installed library, found through pkg-config (build with -tags infer_pkgconfig).

// #cgo pkg-config: infer
import "C"
