package infer

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// The wrapper types check for a nil receiver before reaching their embedded handle: a nil
// object is passed to C as NULL (allowed where an argument is optional, StatusNullArgument
// elsewhere), and is not "closed".

// handle is the one library handle a Tensor, Module or Optimizer owns. The pointer is swapped
// atomically so that Close is idempotent even when goroutines race to call it.
type handle struct {
	p       unsafe.Pointer // nil once closed
	cleanup runtime.Cleanup
}

func (h *handle) get() unsafe.Pointer { return atomic.LoadPointer(&h.p) }

// take claims the handle for freeing: the first caller gets it, later ones get nil.
func (h *handle) take() unsafe.Pointer {
	p := atomic.SwapPointer(&h.p, nil)
	if p != nil {
		h.cleanup.Stop()
	}
	return p
}
