package infer

// #include "shim.h"
import "C"

import "unsafe"

// BOOL tensors, comparisons and masks (API.md 7.B).

// Compare selects the comparison of Tensor.Compare and Tensor.CompareScalar.
type Compare uint32

const (
	Eq Compare = C.RT_CMP_EQ
	Ne Compare = C.RT_CMP_NE
	Lt Compare = C.RT_CMP_LT
	Le Compare = C.RT_CMP_LE
	Gt Compare = C.RT_CMP_GT
	Ge Compare = C.RT_CMP_GE
)

// FromBool copies data (row-major) into a new bool tensor of the given shape.
func FromBool(data []bool, shape ...int64) (*Tensor, error) {
	b := make([]byte, len(data))
	for i, v := range data {
		if v {
			b[i] = 1
		}
	}
	return fromData(unsafe.Pointer(unsafe.SliceData(b)), len(b), Bool, shape)
}

// Bools copies the elements of a bool tensor, row-major.
func (t *Tensor) Bools() ([]bool, error) {
	n, err := t.checkedNumel(Bool)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if err := t.copyTo(unsafe.Pointer(unsafe.SliceData(b)), n); err != nil {
		return nil, err
	}
	v := make([]bool, n)
	for i, x := range b {
		v[i] = x != 0
	}
	return v, nil
}

// Compare is t (op) o elementwise with broadcasting, a bool tensor. Both operands have one dtype.
func (t *Tensor) Compare(o *Tensor, op Compare) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_compare(a, b, C.rt_compare(op), out, m)
	})
}

// CompareScalar is t (op) s elementwise, a bool tensor.
func (t *Tensor) CompareScalar(s float64, op Compare) (*Tensor, error) {
	return t.scalar(s, func(a *C.rt_tensor, s C.double, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_compare_scalar(a, s, C.rt_compare(op), out, m)
	})
}

// LogicalAnd is t && o for bool tensors, with broadcasting.
func (t *Tensor) LogicalAnd(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_logical_and(a, b, out, m) })
}

// LogicalOr is t || o for bool tensors, with broadcasting.
func (t *Tensor) LogicalOr(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_logical_or(a, b, out, m) })
}

// LogicalNot is !t for a bool tensor.
func (t *Tensor) LogicalNot() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_logical_not(a, out, m) })
}

// Where is torch.where(cond, a, b): a where cond (a bool tensor) is true, b elsewhere, all three
// broadcast. Differentiable in a and b.
func Where(cond, a, b *Tensor) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_where(cond.c(), a.c(), b.c(), out, m)
	}, cond, a, b)
}

// MaskedFill is t with value where mask (a bool tensor broadcast to t's shape) is true.
// Differentiable in t (zero gradient where filled).
func (t *Tensor) MaskedFill(mask *Tensor, value float64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_masked_fill(t.c(), mask.c(), C.double(value), out, m)
	}, t, mask)
}
