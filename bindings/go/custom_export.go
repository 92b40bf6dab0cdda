package infer

// The Go functions the library calls for modules defined in Go (custom.go): their forward and
// the release of their ForwardFunc. Kept apart because a file with //export may only declare C.
// The callback runs on the C caller's thread (the goroutine is locked to it), so a library call
// that fails inside leaves its message as that thread's last error for the library to report.

// #include <stdlib.h>
// #include "infer.h"
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

//export goModuleForward
func goModuleForward(ctx unsafe.Pointer, self *C.rt_module, inputs **C.rt_tensor, n C.size_t, out **C.rt_tensor) C.rt_status {
	forward := cgo.Handle(uintptr(ctx)).Value().(ForwardFunc)
	// New handles for the call, closed after it (the library frees its own borrowed ones).
	empty := C.CString("")
	defer C.free(unsafe.Pointer(empty))
	var selfH *C.rt_module
	if st := C.rt_module_get_module(self, empty, &selfH); st != C.RT_OK {
		return st
	}
	me := wrapModule(selfH)
	defer me.Close()
	xs := make([]*Tensor, int(n))
	for i, h := range unsafe.Slice(inputs, int(n)) {
		if h == nil {
			continue
		}
		var x *C.rt_tensor
		if st := C.rt_tensor_share(h, &x); st != C.RT_OK {
			return st
		}
		xs[i] = wrapTensor(x)
		defer xs[i].Close()
	}
	y, err := forward(me, xs)
	if err != nil {
		if e, ok := err.(*Error); ok {
			return C.rt_status(e.Status)
		}
		return C.RT_ERR_INTERNAL
	}
	if y == nil || y.isClosed() {
		return C.RT_OK // *out not written: the library reports RT_ERR_INVALID_STATE
	}
	// The result may be one of the inputs: a new handle, so closing the inputs leaves it alive.
	if st := C.rt_tensor_share(y.c(), out); st != C.RT_OK {
		return st
	}
	return C.RT_OK
}

//export goModuleFree
func goModuleFree(ctx unsafe.Pointer) {
	cgo.Handle(uintptr(ctx)).Delete()
	liveForwards.Add(-1)
}
