package infer

// #include "shim.h"
import "C"

// Functional ops: each returns a new tensor (broadcasting as in PyTorch).

func (t *Tensor) binary(o *Tensor, f func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return f(t.c(), o.c(), out, m) }, t, o)
}

func (t *Tensor) unary(f func(a *C.rt_tensor, out cout, m cmsg) C.rt_status) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return f(t.c(), out, m) }, t)
}

func (t *Tensor) scalar(s float64, f func(a *C.rt_tensor, s C.double, out cout, m cmsg) C.rt_status) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return f(t.c(), C.double(s), out, m) }, t)
}

func (t *Tensor) Add(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_add(a, b, out, m) })
}

func (t *Tensor) Sub(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_sub(a, b, out, m) })
}

func (t *Tensor) Mul(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_mul(a, b, out, m) })
}

func (t *Tensor) Div(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_div(a, b, out, m) })
}

// Matmul follows torch.matmul: 1-D operands, matrix products and broadcast batches.
func (t *Tensor) Matmul(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_matmul(a, b, out, m) })
}

func (t *Tensor) AddScalar(s float64) (*Tensor, error) {
	return t.scalar(s, func(a *C.rt_tensor, s C.double, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_add_scalar(a, s, out, m)
	})
}

func (t *Tensor) MulScalar(s float64) (*Tensor, error) {
	return t.scalar(s, func(a *C.rt_tensor, s C.double, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_mul_scalar(a, s, out, m)
	})
}

func (t *Tensor) Pow(s float64) (*Tensor, error) {
	return t.scalar(s, func(a *C.rt_tensor, s C.double, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_pow_scalar(a, s, out, m)
	})
}

func (t *Tensor) Relu() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_relu(a, out, m) })
}

func (t *Tensor) Neg() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_neg(a, out, m) })
}

func (t *Tensor) Exp() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_exp(a, out, m) })
}

func (t *Tensor) Log() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_log(a, out, m) })
}

func (t *Tensor) Sqrt() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_sqrt(a, out, m) })
}

func (t *Tensor) Sigmoid() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_sigmoid(a, out, m) })
}

func (t *Tensor) Tanh() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_tanh(a, out, m) })
}

// Gelu is the exact erf form (PyTorch's default).
func (t *Tensor) Gelu() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_gelu(a, out, m) })
}

// Linear is t w^T + b; b may be nil.
func (t *Tensor) Linear(w, b *Tensor) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_linear(t.c(), w.c(), b.c(), out, m) }, t, w, b)
}

// Sum reduces over dims (all dims, giving a 0-d tensor, when none are given).
func (t *Tensor) Sum(keepdim bool, dim ...int64) (*Tensor, error) {
	d, n := dims(dim)
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_sum(t.c(), d, n, C.bool(keepdim), out, m) }, t)
}

// Mean reduces over dims (all dims, giving a 0-d tensor, when none are given).
func (t *Tensor) Mean(keepdim bool, dim ...int64) (*Tensor, error) {
	d, n := dims(dim)
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_mean(t.c(), d, n, C.bool(keepdim), out, m) }, t)
}

// Argmax is the index of the first maximum along dim, as an int64 tensor.
func (t *Tensor) Argmax(dim int64, keepdim bool) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_argmax(t.c(), C.int64_t(dim), C.bool(keepdim), out, m)
	}, t)
}

func (t *Tensor) Clone() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_clone(a, out, m) })
}

func (t *Tensor) Detach() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_detach(a, out, m) })
}

func (t *Tensor) Contiguous() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_contiguous(a, out, m) })
}

// To converts to another dtype (float32 to int64 truncates toward zero).
func (t *Tensor) To(dtype DType) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_to(t.c(), C.rt_dtype(dtype), out, m) }, t)
}

// Cat concatenates tensors along dim.
func Cat(dim int64, ts ...*Tensor) (*Tensor, error) {
	objs := make([]object, len(ts))
	hs := make([]*C.rt_tensor, len(ts))
	for i, t := range ts {
		objs[i], hs[i] = t, t.c()
	}
	var p **C.rt_tensor
	if len(hs) > 0 {
		p = &hs[0]
	}
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_cat(p, C.size_t(len(hs)), C.int64_t(dim), out, m)
	}, objs...)
}

// ---------------------------------------------------------------- views (share storage)

func (t *Tensor) shaped(shape []int64, f func(a *C.rt_tensor, s *C.int64_t, n C.size_t, out cout, m cmsg) C.rt_status) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(out cout, m cmsg) C.rt_status { return f(t.c(), s, n, out, m) }, t)
}

// View is a view with a new shape (one -1 allowed); StatusShape when the layout needs a copy.
func (t *Tensor) View(shape ...int64) (*Tensor, error) {
	return t.shaped(shape, func(a *C.rt_tensor, s *C.int64_t, n C.size_t, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_view(a, s, n, out, m)
	})
}

// Reshape is a view when possible, otherwise a copy (one -1 allowed).
func (t *Tensor) Reshape(shape ...int64) (*Tensor, error) {
	return t.shaped(shape, func(a *C.rt_tensor, s *C.int64_t, n C.size_t, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_reshape(a, s, n, out, m)
	})
}

func (t *Tensor) Permute(dim ...int64) (*Tensor, error) {
	return t.shaped(dim, func(a *C.rt_tensor, s *C.int64_t, n C.size_t, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_permute(a, s, n, out, m)
	})
}

// Expand broadcasts to shape (-1 keeps a size) without copying.
func (t *Tensor) Expand(shape ...int64) (*Tensor, error) {
	return t.shaped(shape, func(a *C.rt_tensor, s *C.int64_t, n C.size_t, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_expand(a, s, n, out, m)
	})
}

func (t *Tensor) Transpose(d0, d1 int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_transpose(t.c(), C.int64_t(d0), C.int64_t(d1), out, m)
	}, t)
}

func (t *Tensor) Narrow(dim, start, length int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_narrow(t.c(), C.int64_t(dim), C.int64_t(start), C.int64_t(length), out, m)
	}, t)
}

func (t *Tensor) Select(dim, index int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_select(t.c(), C.int64_t(dim), C.int64_t(index), out, m)
	}, t)
}

func (t *Tensor) Unsqueeze(dim int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_unsqueeze(t.c(), C.int64_t(dim), out, m) }, t)
}

// Squeeze removes dim when its size is 1 (otherwise it is a view of the same shape).
func (t *Tensor) Squeeze(dim int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_squeeze(t.c(), C.int64_t(dim), out, m) }, t)
}

func (t *Tensor) Flatten(startDim, endDim int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_flatten(t.c(), C.int64_t(startDim), C.int64_t(endDim), out, m)
	}, t)
}
