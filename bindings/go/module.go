package infer

// #include "shim.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// Module is a layer or a container of layers. Modules start in training mode, as in PyTorch.
// Close releases this handle; a container keeps its own references to its children.
type Module struct{ handle }

func (mod *Module) kind() string   { return "Module" }
func (mod *Module) isClosed() bool { return mod != nil && mod.get() == nil }

func (mod *Module) c() *C.rt_module {
	if mod == nil {
		return nil
	}
	return (*C.rt_module)(mod.get())
}

func wrapModule(p *C.rt_module) *Module {
	mod := &Module{handle{p: unsafe.Pointer(p)}}
	mod.cleanup = runtime.AddCleanup(mod, func(p *C.rt_module) { C.rt_module_free(p) }, p)
	return mod
}

// Close releases the module's handle. Later calls do nothing and return nil.
func (mod *Module) Close() error {
	if mod == nil {
		return nil
	}
	p := mod.take()
	if p == nil {
		return nil
	}
	return call(func(m cmsg) C.rt_status { return C.go_rt_module_free((*C.rt_module)(p), m) })
}

func newModule(f func(out **C.rt_module, m cmsg) C.rt_status, objs ...object) (*Module, error) {
	var out *C.rt_module
	if err := call(func(m cmsg) C.rt_status { return f(&out, m) }, objs...); err != nil {
		return nil, err
	}
	return wrapModule(out), nil
}

// Linear is y = x W^T + b with PyTorch's default initialisation.
func Linear(inFeatures, outFeatures int64, bias bool) (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_linear(C.int64_t(inFeatures), C.int64_t(outFeatures), C.bool(bias), out, m)
	})
}

func ReLU() (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status { return C.go_rt_module_relu(out, m) })
}

func GELU() (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status { return C.go_rt_module_gelu(out, m) })
}

func Sigmoid() (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status { return C.go_rt_module_sigmoid(out, m) })
}

func Tanh() (*Module, error) {
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status { return C.go_rt_module_tanh(out, m) })
}

// Sequential runs children in order. It keeps its own references: the children may be closed
// afterwards without affecting it.
func Sequential(children ...*Module) (*Module, error) {
	objs := make([]object, len(children))
	hs := make([]*C.rt_module, len(children))
	for i, c := range children {
		objs[i], hs[i] = c, c.c()
	}
	var p **C.rt_module
	if len(hs) > 0 {
		p = &hs[0]
	}
	return newModule(func(out **C.rt_module, m cmsg) C.rt_status {
		return C.go_rt_module_sequential(p, C.size_t(len(hs)), out, m)
	}, objs...)
}

// Forward runs the module on input. It may run concurrently with other Forward calls in eval mode.
func (mod *Module) Forward(input *Tensor) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_module_forward(mod.c(), input.c(), out, m) }, mod, input)
}

// Train sets training (true) or eval (false) mode, recursively.
func (mod *Module) Train(training bool) error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_module_train(mod.c(), C.bool(training), m) }, mod)
}

// Eval is Train(false).
func (mod *Module) Eval() error { return mod.Train(false) }

func (mod *Module) IsTraining() (bool, error) {
	var v C.bool
	err := call(func(m cmsg) C.rt_status { return C.go_rt_module_is_training(mod.c(), &v, m) }, mod)
	return bool(v), err
}

// NumTensors is the number of parameters and buffers (the state_dict's size).
func (mod *Module) NumTensors() (int, error) {
	var n C.size_t
	err := call(func(m cmsg) C.rt_status { return C.go_rt_module_num_tensors(mod.c(), &n, m) }, mod)
	return int(n), err
}

// TensorName is the state_dict name of tensor index.
func (mod *Module) TensorName(index int) (string, error) {
	return readName(func(buf *C.char, capacity C.size_t, n *C.size_t, m cmsg) C.rt_status {
		return C.go_rt_module_tensor_name(mod.c(), C.size_t(index), buf, capacity, n, m)
	}, mod)
}

// readName reads a name through an rt_*_name-style call f(buf, cap, &len), growing the buffer
// when the library reports StatusBufferTooSmall.
func readName(f func(buf *C.char, capacity C.size_t, n *C.size_t, m cmsg) C.rt_status, objs ...object) (string, error) {
	buf := make([]byte, 64)
	for {
		var n C.size_t
		err := call(func(m cmsg) C.rt_status {
			return f((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &n, m)
		}, objs...)
		if err == nil {
			return string(buf[:n]), nil
		}
		if !errorIs(err, StatusBufferTooSmall) {
			return "", err
		}
		buf = make([]byte, n+1)
	}
}

// StateDictNames are the names of every parameter and buffer, in PyTorch's state_dict order.
func (mod *Module) StateDictNames() ([]string, error) {
	n, err := mod.NumTensors()
	if err != nil {
		return nil, err
	}
	names := make([]string, n)
	for i := range names {
		if names[i], err = mod.TensorName(i); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// Tensor is a new handle to the module's own tensor name (same storage, grad and version).
func (mod *Module) Tensor(name string) (*Tensor, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_module_get_tensor(mod.c(), cname, out, m) }, mod)
}

// ZeroGrad clears every parameter's gradient.
func (mod *Module) ZeroGrad() error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_module_zero_grad(mod.c(), m) }, mod)
}

// LoadSafetensors copies a safetensors file's tensors into the module's own, in place (versions
// are bumped). Every key, dtype and shape is checked first, so a failed load changes nothing.
// strict: missing and unexpected keys are errors; otherwise the keys both have are loaded.
func (mod *Module) LoadSafetensors(path string, strict bool) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call(func(m cmsg) C.rt_status { return C.go_rt_module_load_safetensors(mod.c(), cpath, C.bool(strict), m) }, mod)
}

// SaveSafetensors writes the module's state_dict (PyTorch's names) to path, atomically.
func (mod *Module) SaveSafetensors(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call(func(m cmsg) C.rt_status { return C.go_rt_module_save_safetensors(mod.c(), cpath, m) }, mod)
}

func errorIs(err error, s Status) bool {
	e, ok := err.(*Error)
	return ok && e.Status == s
}
