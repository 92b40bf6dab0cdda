//go:build !infer_repo

package infer

// The default: the library found through pkg-config (an installed libinfer, see the package doc).

// #cgo pkg-config: infer
import "C"
