package infer

// #include "shim.h"
import "C"

import (
	"runtime"
	"strconv"
	"unsafe"
)

// DType is a tensor element type.
type DType uint32

const (
	Float32 DType = C.RT_DTYPE_F32
	Int64   DType = C.RT_DTYPE_I64
	// Bool holds one byte per element, 0 or 1 (see masks.go).
	Bool DType = C.RT_DTYPE_BOOL
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	}
	return "DType(" + strconv.FormatUint(uint64(d), 10) + ")"
}

// Tensor is an n-dimensional array of float32, int64 or bool values, with autograd. Close releases it.
type Tensor struct{ handle }

func (t *Tensor) kind() string   { return "Tensor" }
func (t *Tensor) isClosed() bool { return t != nil && t.get() == nil }

func (t *Tensor) c() *C.rt_tensor {
	if t == nil {
		return nil
	}
	return (*C.rt_tensor)(t.get())
}

func wrapTensor(p *C.rt_tensor) *Tensor {
	if p == nil {
		return nil
	}
	t := &Tensor{handle{p: unsafe.Pointer(p)}}
	t.cleanup = runtime.AddCleanup(t, func(p *C.rt_tensor) { C.rt_tensor_free(p) }, p)
	return t
}

// Close releases the tensor's handle. Later calls do nothing and return nil.
func (t *Tensor) Close() error {
	if t == nil {
		return nil
	}
	p := t.take()
	if p == nil {
		return nil
	}
	return call(func(m cmsg) C.rt_status { return C.go_rt_tensor_free((*C.rt_tensor)(p), m) })
}

type cout = **C.rt_tensor

// newTensor runs f, a shim call writing a new handle to its out argument, on the open objects objs.
func newTensor(f func(out cout, m cmsg) C.rt_status, objs ...object) (*Tensor, error) {
	var out *C.rt_tensor
	if err := call(func(m cmsg) C.rt_status { return f(&out, m) }, objs...); err != nil {
		return nil, err
	}
	return wrapTensor(out), nil
}

// dims passes a shape or dim list to C (NULL when empty).
func dims(d []int64) (*C.int64_t, C.size_t) {
	if len(d) == 0 {
		return nil, 0
	}
	return (*C.int64_t)(unsafe.Pointer(&d[0])), C.size_t(len(d))
}

// ---------------------------------------------------------------- factories

// Zeros is a new tensor of the given dtype and shape, filled with zeros.
func Zeros(dtype DType, shape ...int64) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(o cout, m cmsg) C.rt_status { return C.go_rt_tensor_zeros(s, n, C.rt_dtype(dtype), o, m) })
}

// Ones is a new tensor of the given dtype and shape, filled with ones.
func Ones(dtype DType, shape ...int64) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(o cout, m cmsg) C.rt_status { return C.go_rt_tensor_ones(s, n, C.rt_dtype(dtype), o, m) })
}

// Full is a new tensor of the given dtype and shape, filled with value.
func Full(value float64, dtype DType, shape ...int64) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(o cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_full(s, n, C.double(value), C.rt_dtype(dtype), o, m)
	})
}

// Randn is a new float32 tensor of samples of N(0, 1) from the process-wide generator.
func Randn(shape ...int64) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(o cout, m cmsg) C.rt_status { return C.go_rt_tensor_randn(s, n, o, m) })
}

// Rand is a new float32 tensor of samples of U[0, 1) from the process-wide generator.
func Rand(shape ...int64) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(o cout, m cmsg) C.rt_status { return C.go_rt_tensor_rand(s, n, o, m) })
}

// FromFloat32 copies data (row-major) into a new float32 tensor of the given shape.
func FromFloat32(data []float32, shape ...int64) (*Tensor, error) {
	return fromData(unsafe.Pointer(unsafe.SliceData(data)), len(data)*4, Float32, shape)
}

// FromInt64 copies data (row-major) into a new int64 tensor of the given shape.
func FromInt64(data []int64, shape ...int64) (*Tensor, error) {
	return fromData(unsafe.Pointer(unsafe.SliceData(data)), len(data)*8, Int64, shape)
}

func fromData(p unsafe.Pointer, nbytes int, dtype DType, shape []int64) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(o cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_from_data(p, C.size_t(nbytes), C.rt_dtype(dtype), s, n, o, m)
	})
}

// ManualSeed seeds the one process-wide generator (Randn, Rand, initialisation).
func ManualSeed(seed uint64) { C.rt_manual_seed(C.uint64_t(seed)) }

// Share is a second handle to the same tensor (same storage, grad and version), closed separately.
func (t *Tensor) Share() (*Tensor, error) {
	return newTensor(func(o cout, m cmsg) C.rt_status { return C.go_rt_tensor_share(t.c(), o, m) }, t)
}

// ---------------------------------------------------------------- inspection

func (t *Tensor) boolProp(f func(*C.rt_tensor, *C.bool, cmsg) C.rt_status) (bool, error) {
	var v C.bool
	err := call(func(m cmsg) C.rt_status { return f(t.c(), &v, m) }, t)
	return bool(v), err
}

// Shape is the size of each dimension.
func (t *Tensor) Shape() ([]int64, error) {
	d := make([]int64, C.RT_MAX_DIMS)
	var n C.size_t
	err := call(func(m cmsg) C.rt_status {
		return C.go_rt_tensor_shape(t.c(), (*C.int64_t)(unsafe.Pointer(&d[0])), C.size_t(len(d)), &n, m)
	}, t)
	if err != nil {
		return nil, err
	}
	return d[:n], nil
}

// Dim is the number of dimensions.
func (t *Tensor) Dim() (int, error) {
	var n C.size_t
	err := call(func(m cmsg) C.rt_status { return C.go_rt_tensor_ndim(t.c(), &n, m) }, t)
	return int(n), err
}

// Numel is the number of elements.
func (t *Tensor) Numel() (int, error) {
	var n C.size_t
	err := call(func(m cmsg) C.rt_status { return C.go_rt_tensor_numel(t.c(), &n, m) }, t)
	return int(n), err
}

// DType is the element type.
func (t *Tensor) DType() (DType, error) {
	var d C.rt_dtype
	err := call(func(m cmsg) C.rt_status { return C.go_rt_tensor_dtype(t.c(), &d, m) }, t)
	return DType(d), err
}

func (t *Tensor) IsContiguous() (bool, error) {
	return t.boolProp(func(p *C.rt_tensor, v *C.bool, m cmsg) C.rt_status { return C.go_rt_tensor_is_contiguous(p, v, m) })
}

func (t *Tensor) RequiresGrad() (bool, error) {
	return t.boolProp(func(p *C.rt_tensor, v *C.bool, m cmsg) C.rt_status { return C.go_rt_tensor_requires_grad(p, v, m) })
}

// IsInference reports whether the tensor was allocated in inference mode.
func (t *Tensor) IsInference() (bool, error) {
	return t.boolProp(func(p *C.rt_tensor, v *C.bool, m cmsg) C.rt_status { return C.go_rt_tensor_is_inference(p, v, m) })
}

func (t *Tensor) IsLeaf() (bool, error) {
	return t.boolProp(func(p *C.rt_tensor, v *C.bool, m cmsg) C.rt_status { return C.go_rt_tensor_is_leaf(p, v, m) })
}

func (t *Tensor) HasGradFn() (bool, error) {
	return t.boolProp(func(p *C.rt_tensor, v *C.bool, m cmsg) C.rt_status { return C.go_rt_tensor_has_grad_fn(p, v, m) })
}

func (t *Tensor) IsView() (bool, error) {
	return t.boolProp(func(p *C.rt_tensor, v *C.bool, m cmsg) C.rt_status { return C.go_rt_tensor_is_view(p, v, m) })
}

// SetRequiresGrad marks a leaf tensor as requiring (or not) gradients.
func (t *Tensor) SetRequiresGrad(requiresGrad bool) error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_tensor_set_requires_grad(t.c(), C.bool(requiresGrad), m) }, t)
}

// Version is the in-place modification counter (inference tensors have none).
func (t *Tensor) Version() (uint64, error) {
	var v C.uint64_t
	err := call(func(m cmsg) C.rt_status { return C.go_rt_tensor_version(t.c(), &v, m) }, t)
	return uint64(v), err
}

// Item is the single element of a one-element tensor.
func (t *Tensor) Item() (float64, error) {
	var v C.double
	err := call(func(m cmsg) C.rt_status { return C.go_rt_tensor_item(t.c(), &v, m) }, t)
	return float64(v), err
}

// Float32s copies the elements of a float32 tensor, row-major.
func (t *Tensor) Float32s() ([]float32, error) {
	n, err := t.checkedNumel(Float32)
	if err != nil {
		return nil, err
	}
	v := make([]float32, n)
	return v, t.copyTo(unsafe.Pointer(unsafe.SliceData(v)), n*4)
}

// Int64s copies the elements of an int64 tensor, row-major.
func (t *Tensor) Int64s() ([]int64, error) {
	n, err := t.checkedNumel(Int64)
	if err != nil {
		return nil, err
	}
	v := make([]int64, n)
	return v, t.copyTo(unsafe.Pointer(unsafe.SliceData(v)), n*8)
}

func (t *Tensor) checkedNumel(want DType) (int, error) {
	d, err := t.DType()
	if err != nil {
		return 0, err
	}
	if d != want {
		return 0, &Error{Status: StatusDType, Message: "the tensor holds " + d.String() + " values, not " +
			want.String() + "; convert it with To first"}
	}
	return t.Numel()
}

func (t *Tensor) copyTo(dst unsafe.Pointer, nbytes int) error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_tensor_copy_to(t.c(), dst, C.size_t(nbytes), m) }, t)
}
