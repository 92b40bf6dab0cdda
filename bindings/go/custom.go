package infer

// Modules defined in Go (API.md 7.A): the forward is a Go function, reached from the library
// through an exported Go function (custom_export.go) and a runtime/cgo.Handle passed as ctx, so
// no Go pointer is handed to C.

/*
#include "shim.h"

rt_status go_forward_trampoline(void *ctx, const rt_module *self, const rt_tensor *const *inputs, size_t n, rt_tensor **out);
void goModuleFree(void *ctx);

static inline rt_status go_rt_module_custom_go(const char *type_name, uintptr_t id, bool has_forward, rt_module **out, char **msg) {
    return go_capture(rt_module_custom(type_name, has_forward ? go_forward_trampoline : NULL, (void *)id, goModuleFree, out), msg);
}
GO_WRAP(rt_module_register_module, (rt_module *m, const char *name, const rt_module *child, char **msg), (m, name, child))
GO_WRAP(rt_module_register_parameter, (rt_module *m, const char *name, T *t, bool rg, char **msg), (m, name, t, rg))
GO_WRAP(rt_module_register_buffer, (rt_module *m, const char *name, T *t, bool persistent, char **msg), (m, name, t, persistent))
GO_WRAP(rt_module_get_module, (const rt_module *m, const char *path, rt_module **out, char **msg), (m, path, out))
GO_WRAP(rt_module_type_name, (const rt_module *m, char *buf, size_t cap, size_t *len, char **msg), (m, buf, cap, len))
GO_WRAP(rt_module_forward_n, (const rt_module *m, CT *const *in, size_t n, T **out, char **msg), (m, in, n, out))
*/
import "C"

import (
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// ForwardFunc is a module's forward written in Go. self and inputs are valid during the call only
// (Share what must outlive it); an input the caller passed as nil is nil. Return a new tensor, or
// an error: an *Error from a failed library call keeps its status and message (prefixed with the
// type name); any other error gives StatusInternal.
type ForwardFunc func(self *Module, inputs []*Tensor) (*Tensor, error)

// liveForwards counts the ForwardFuncs the library still holds (tests check they are released).
var liveForwards atomic.Int64

func newCustom(typeName string, forward ForwardFunc) (*Module, error) {
	cname := C.CString(typeName)
	defer C.free(unsafe.Pointer(cname))
	var id cgo.Handle
	if forward != nil {
		id = cgo.NewHandle(forward)
	} else {
		id = cgo.NewHandle(ForwardFunc(nil))
	}
	liveForwards.Add(1)
	mod, err := newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_custom_go(cname, C.uintptr_t(id), C.bool(forward != nil), out, m)
	})
	if err != nil { // the library never calls ctx_free for a module it did not make
		id.Delete()
		liveForwards.Add(-1)
	}
	return mod, err
}

// Custom is an empty module of type typeName (in training mode) whose forward is forward.
func Custom(typeName string, forward ForwardFunc) (*Module, error) {
	return newCustom(typeName, forward)
}

// Container is a module without forward that holds children (PyTorch's ModuleList role).
func Container(typeName string) (*Module, error) { return newCustom(typeName, nil) }

// RegisterModule adds child under name (the module keeps its own reference).
func (mod *Module) RegisterModule(name string, child *Module) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return call(func(m cmsg) C.rt_status { return C.go_rt_module_register_module(mod.c(), cname, child.c(), m) }, mod, child)
}

// RegisterParameter adds the F32 leaf t as parameter name, setting its requires_grad.
func (mod *Module) RegisterParameter(name string, t *Tensor, requiresGrad bool) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return call(func(m cmsg) C.rt_status {
		return C.go_rt_module_register_parameter(mod.c(), cname, t.c(), C.bool(requiresGrad), m)
	}, mod, t)
}

// RegisterBuffer adds t as buffer name; a non-persistent one is left out of the state_dict.
func (mod *Module) RegisterBuffer(name string, t *Tensor, persistent bool) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return call(func(m cmsg) C.rt_status {
		return C.go_rt_module_register_buffer(mod.c(), cname, t.c(), C.bool(persistent), m)
	}, mod, t)
}

// Module is the module at a dotted path below this one ("" is this module).
func (mod *Module) Module(path string) (*Module, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status { return C.go_rt_module_get_module(mod.c(), cpath, out, m) }, mod)
}

// TypeName is the module's type: PyTorch's class name for built-ins, the given one for others.
func (mod *Module) TypeName() (string, error) {
	return readName(func(buf *C.char, capacity C.size_t, n *C.size_t, m cmsg) C.rt_status {
		return C.go_rt_module_type_name(mod.c(), buf, capacity, n, m)
	}, mod)
}

// ForwardN runs the module on several inputs (nil entries are absent inputs).
func (mod *Module) ForwardN(inputs ...*Tensor) (*Tensor, error) {
	hs := make([]*C.rt_tensor, len(inputs))
	objs := []object{mod}
	for i, t := range inputs {
		hs[i] = t.c()
		if t != nil {
			objs = append(objs, t)
		}
	}
	var p **C.rt_tensor
	if len(hs) > 0 {
		p = &hs[0]
	}
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_module_forward_n(mod.c(), p, C.size_t(len(hs)), out, m)
	}, objs...)
}
