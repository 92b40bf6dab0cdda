package infer

// #include "shim.h"
import "C"

// In-place ops bump the version counter; the inference-mode and autograd rules of API.md apply.

func (t *Tensor) inplace(f func(p *C.rt_tensor, m cmsg) C.rt_status, objs ...object) error {
	return call(func(m cmsg) C.rt_status { return f(t.c(), m) }, append(objs, t)...)
}

// AddInPlace is t += o (o broadcasts to t).
func (t *Tensor) AddInPlace(o *Tensor) error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_add_inplace(p, o.c(), m) }, o)
}

// SubInPlace is t -= o.
func (t *Tensor) SubInPlace(o *Tensor) error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_sub_inplace(p, o.c(), m) }, o)
}

// MulInPlace is t *= o.
func (t *Tensor) MulInPlace(o *Tensor) error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_mul_inplace(p, o.c(), m) }, o)
}

// AddScalarInPlace is t += s.
func (t *Tensor) AddScalarInPlace(s float64) error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_add_scalar_inplace(p, C.double(s), m) })
}

// MulScalarInPlace is t *= s.
func (t *Tensor) MulScalarInPlace(s float64) error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_mul_scalar_inplace(p, C.double(s), m) })
}

// CopyFrom copies src (broadcast to t's shape, converted to t's dtype) into t.
func (t *Tensor) CopyFrom(src *Tensor) error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_copy_inplace(p, src.c(), m) }, src)
}

// Fill sets every element to value.
func (t *Tensor) Fill(value float64) error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_fill_inplace(p, C.double(value), m) })
}

// Zero sets every element to zero.
func (t *Tensor) Zero() error {
	return t.inplace(func(p *C.rt_tensor, m cmsg) C.rt_status { return C.go_rt_tensor_zero_inplace(p, m) })
}
