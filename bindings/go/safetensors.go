package infer

// #include "shim.h"
import "C"

import (
	"maps"
	"runtime"
	"slices"
	"unsafe"
)

// SafeTensors is an opened safetensors file: read and validated whole by OpenSafetensors, held
// in memory until Close. Tensors returned by Get are independent of it and outlive it.
type SafeTensors struct{ handle }

func (f *SafeTensors) kind() string   { return "SafeTensors" }
func (f *SafeTensors) isClosed() bool { return f != nil && f.get() == nil }

func (f *SafeTensors) c() *C.rt_safetensors {
	if f == nil {
		return nil
	}
	return (*C.rt_safetensors)(f.get())
}

// OpenSafetensors reads the file at path. StatusIO when it cannot be read, StatusFormat when it
// is malformed.
func OpenSafetensors(path string) (*SafeTensors, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var out *C.rt_safetensors
	if err := call(func(m cmsg) C.rt_status { return C.go_rt_safetensors_open(cpath, &out, m) }); err != nil {
		return nil, err
	}
	f := &SafeTensors{handle{p: unsafe.Pointer(out)}}
	f.cleanup = runtime.AddCleanup(f, func(p *C.rt_safetensors) { C.rt_safetensors_free(p) }, out)
	return f, nil
}

// Close releases the file's memory. Later calls do nothing and return nil.
func (f *SafeTensors) Close() error {
	if f == nil {
		return nil
	}
	p := f.take()
	if p == nil {
		return nil
	}
	return call(func(m cmsg) C.rt_status { return C.go_rt_safetensors_free((*C.rt_safetensors)(p), m) })
}

// Count is the number of tensors in the file (the metadata is not one).
func (f *SafeTensors) Count() (int, error) {
	var n C.size_t
	err := call(func(m cmsg) C.rt_status { return C.go_rt_safetensors_count(f.c(), &n, m) }, f)
	return int(n), err
}

// Name is the name of tensor index; names are sorted byte-wise.
func (f *SafeTensors) Name(index int) (string, error) {
	return readName(func(buf *C.char, capacity C.size_t, n *C.size_t, m cmsg) C.rt_status {
		return C.go_rt_safetensors_name(f.c(), C.size_t(index), buf, capacity, n, m)
	}, f)
}

// Names are the names of every tensor in the file, sorted byte-wise.
func (f *SafeTensors) Names() ([]string, error) {
	n, err := f.Count()
	if err != nil {
		return nil, err
	}
	names := make([]string, n)
	for i := range names {
		if names[i], err = f.Name(i); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// Get is a new tensor with the values stored under name: float32 and int64 as such, the other
// integer types as int64, the other float types as float32. Inside WithInferenceMode it is an
// inference tensor.
func (f *SafeTensors) Get(name string) (*Tensor, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_safetensors_get(f.c(), cname, out, m) }, f)
}

// SaveSafetensors writes tensors under their map keys to path, row-major whatever their strides.
// The file is written under a temporary name and renamed into place, so path never holds a
// partial file.
func SaveSafetensors(path string, tensors map[string]*Tensor) error {
	keys := slices.Sorted(maps.Keys(tensors)) // a reproducible file
	names := make([]*C.char, len(keys))
	for i, k := range keys {
		names[i] = C.CString(k)
		defer C.free(unsafe.Pointer(names[i]))
	}
	ts := make([]*Tensor, len(keys))
	for i, k := range keys {
		ts[i] = tensors[k]
	}
	objs, hs, n := tensorHandles(ts)
	var pn **C.char
	if len(names) > 0 {
		pn = &names[0]
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call(func(m cmsg) C.rt_status { return C.go_rt_safetensors_save(cpath, pn, hs, n, m) }, objs...)
}
