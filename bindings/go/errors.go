package infer

// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Status is a library status code (rt_status). A Status is also an error value, so that
// errors.Is(err, StatusShape) tests the status of an *Error.
type Status uint32

// The status codes of API.md (values fixed by the ABI).
const (
	StatusOK              Status = C.RT_OK
	StatusNullArgument    Status = C.RT_ERR_NULL_ARGUMENT
	StatusInvalidArgument Status = C.RT_ERR_INVALID_ARGUMENT
	StatusInvalidHandle   Status = C.RT_ERR_INVALID_HANDLE
	StatusShape           Status = C.RT_ERR_SHAPE
	StatusDType           Status = C.RT_ERR_DTYPE
	StatusAutograd        Status = C.RT_ERR_AUTOGRAD
	StatusInferenceMode   Status = C.RT_ERR_INFERENCE_MODE
	StatusInvalidState    Status = C.RT_ERR_INVALID_STATE
	StatusIO              Status = C.RT_ERR_IO
	StatusFormat          Status = C.RT_ERR_FORMAT
	StatusOutOfMemory     Status = C.RT_ERR_OUT_OF_MEMORY
	StatusUnsupported     Status = C.RT_ERR_UNSUPPORTED
	StatusBufferTooSmall  Status = C.RT_ERR_BUFFER_TOO_SMALL
	StatusInternal        Status = C.RT_ERR_INTERNAL
)

// String is the library's static description of the status.
func (s Status) String() string { return C.GoString(C.rt_status_str(C.rt_status(s))) }

// Error makes a Status usable as an errors.Is target.
func (s Status) Error() string { return s.String() }

// Error is a failed library call: its status and the library's message, which names the
// function, the argument and the fix where there is one.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("infer: %s (%s)", e.Message, e.Status) }

// Is reports whether target is this error's Status, so errors.Is(err, infer.StatusShape) works.
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

type cmsg = **C.char

// errorFrom turns a status and the message the shim captured with it into an error.
func errorFrom(st C.rt_status, msg *C.char) error {
	if st == C.RT_OK {
		return nil
	}
	m := Status(st).String()
	if msg != nil {
		if s := C.GoString(msg); s != "" {
			m = s
		}
		C.free(unsafe.Pointer(msg))
	}
	return &Error{Status: Status(st), Message: m}
}

// object is a Tensor, Module or Optimizer passed to a call.
type object interface {
	isClosed() bool
	kind() string
}

// call runs f, one shim call, after checking that the objects it uses are open, and keeps them
// reachable until f returns (otherwise their cleanups could free a handle C is using).
func call(f func(msg cmsg) C.rt_status, objs ...object) error {
	for _, o := range objs {
		if o.isClosed() {
			return &Error{Status: StatusInvalidHandle, Message: "the " + o.kind() + " was used after Close"}
		}
	}
	var msg *C.char
	st := f(&msg)
	runtime.KeepAlive(objs)
	return errorFrom(st, msg)
}
