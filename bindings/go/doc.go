// Package infer is the Go binding of libinfer: tensors, autograd and neural-network modules with
// PyTorch's grad-mode and inference-mode semantics, over the C ABI in include/infer.h (cgo).
//
// # Building
//
// The package finds libinfer through pkg-config (#cgo pkg-config: infer), as `cmake --install`
// installs it (see the repository's README). With the library installed in a prefix P:
//
//	PKG_CONFIG_PATH=P/lib/pkgconfig go build ./...
//	LD_LIBRARY_PATH=P/lib ./program     # unless P is a system prefix known to ldconfig
//
// `make test` at the repository root runs this package's tests that way, against the build it
// has just installed into a test prefix. To use the library built in this repository without
// installing it, build with -tags infer_repo: the cgo flags then point at ../../include and
// ../../target/release, with an rpath to the latter:
//
//	cargo build --release && bindings/write-pc.sh   # at the repository root
//	cd bindings/go && go test -tags infer_repo ./...
//
// (bindings/write-pc.sh also links libinfer.so.1, the library's SONAME, to libinfer.so there.)
//
// # Handles and errors
//
// Tensor, Module, Optimizer and SafeTensors each own one library handle. Close releases it; Close is
// idempotent and safe to call from several goroutines. A cleanup registered with
// runtime.AddCleanup frees the handle of an object that becomes unreachable without Close, as a
// backstop only: the garbage collector does not see the library's memory, so close tensors you
// are done with. Using a closed object returns an *Error with StatusInvalidHandle.
//
// Every failing call returns an *Error carrying the library's Status and message. The message
// is per OS thread in the C library, and Go may move a goroutine to another thread between two
// cgo calls, so the binding reads the message inside the same C call as the failing function
// (see shim.h). errors.Is(err, StatusShape) tests the status.
//
// # Modules written in Go
//
// Custom makes a module whose forward is a Go function (ForwardFunc); RegisterModule,
// RegisterParameter and RegisterBuffer give it parts, named in the state_dict as PyTorch names
// them, and Module reaches a part by dotted path. The library calls the forward through an
// exported Go function with a runtime/cgo.Handle as its context (no Go pointer goes to C) and
// releases the function with the module's last reference. The forward runs on the calling thread
// with its modes, so it may run ops and other modules' Forward directly.
//
// # Grad modes and goroutines
//
// Grad mode and inference mode are per OS thread in the library, but goroutines are not threads:
// the Go scheduler moves a goroutine between threads at any point, and runs other goroutines on
// the thread it left. Entering a mode with one cgo call and running ops with the next would apply
// the mode to whichever goroutine later runs on that thread, and the ops could run elsewhere.
// So the binding offers modes only as scoped calls: WithInferenceMode(fn), WithNoGrad(fn) and
// WithGradMode(enabled, fn) lock the goroutine to its thread (runtime.LockOSThread), enter the
// mode, run fn, exit the mode and unlock, all on that one thread. While locked, no other goroutine
// runs on the thread, so the mode is seen by fn's calls and by nothing else. The exit runs even if
// fn panics. Goroutines started inside fn run on other threads with the default modes (grad on,
// inference off), like new threads in PyTorch: enter the mode again inside them.
//
// Objects themselves are not tied to threads: tensors and modules may be used and closed from any
// goroutine. Calls that only read an object may run concurrently (Module.Forward in eval mode
// included); calls that modify one (in-place ops, Optimizer.Step, Module.Train) must not run
// concurrently with other calls on it.
package infer
