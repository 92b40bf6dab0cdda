package infer

// #include "shim.h"
import "C"

import "errors"

// The ops of API.md 7.C: the functions modern blocks (attention, SwiGLU, sampling) need.

// Silu is x * sigmoid(x) (nn.SiLU).
func (t *Tensor) Silu() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_silu(a, out, m) })
}

// Rsqrt is 1 / sqrt(x).
func (t *Tensor) Rsqrt() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_rsqrt(a, out, m) })
}

func (t *Tensor) Sin() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_sin(a, out, m) })
}

func (t *Tensor) Cos() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_cos(a, out, m) })
}

func (t *Tensor) Abs() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_abs(a, out, m) })
}

// GeluTanh is F.gelu(x, approximate="tanh").
func (t *Tensor) GeluTanh() (*Tensor, error) {
	return t.unary(func(a *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_gelu_tanh(a, out, m) })
}

// newTensorPair runs f, a shim call writing two new handles (values and indices).
func newTensorPair(f func(a, b cout, m cmsg) C.rt_status, objs ...object) (*Tensor, *Tensor, error) {
	var a, b *C.rt_tensor
	if err := call(func(m cmsg) C.rt_status { return f(&a, &b, m) }, objs...); err != nil {
		return nil, nil, err
	}
	return wrapTensor(a), wrapTensor(b), nil
}

// MaxDim is torch.max(t, dim): the values and the int64 indices of the first maximum.
func (t *Tensor) MaxDim(dim int64, keepdim bool) (values, indices *Tensor, err error) {
	return newTensorPair(func(v, i cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_max_dim(t.c(), C.int64_t(dim), C.bool(keepdim), v, i, m)
	}, t)
}

// MinDim is torch.min(t, dim): the values and the int64 indices of the first minimum.
func (t *Tensor) MinDim(dim int64, keepdim bool) (values, indices *Tensor, err error) {
	return newTensorPair(func(v, i cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_min_dim(t.c(), C.int64_t(dim), C.bool(keepdim), v, i, m)
	}, t)
}

// Amax is the maximum over dims (all dims when none are given).
func (t *Tensor) Amax(keepdim bool, dim ...int64) (*Tensor, error) {
	d, n := dims(dim)
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_amax(t.c(), d, n, C.bool(keepdim), out, m) }, t)
}

// Topk is torch.topk(t, k, dim, largest, sorted=True).
func (t *Tensor) Topk(k, dim int64, largest bool) (values, indices *Tensor, err error) {
	return newTensorPair(func(v, i cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_topk(t.c(), C.int64_t(k), C.int64_t(dim), C.bool(largest), v, i, m)
	}, t)
}

// IndexSelect is torch.index_select(t, dim, index) with a 1-D int64 index.
func (t *Tensor) IndexSelect(dim int64, index *Tensor) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_index_select(t.c(), C.int64_t(dim), index.c(), out, m)
	}, t, index)
}

// Gather is torch.gather(t, dim, index) with an int64 index of t's rank.
func (t *Tensor) Gather(dim int64, index *Tensor) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_gather(t.c(), C.int64_t(dim), index.c(), out, m)
	}, t, index)
}

// Arange is torch.arange(start, end, step) as a 1-D tensor of dtype.
func Arange(start, end, step float64, dtype DType) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_arange(C.double(start), C.double(end), C.double(step), C.rt_dtype(dtype), out, m)
	})
}

// Triu keeps the elements on and above the diagonal-th diagonal of the last two dims.
func (t *Tensor) Triu(diagonal int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_triu(t.c(), C.int64_t(diagonal), out, m) }, t)
}

// Tril keeps the elements on and below the diagonal-th diagonal of the last two dims.
func (t *Tensor) Tril(diagonal int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_tril(t.c(), C.int64_t(diagonal), out, m) }, t)
}

// Stack joins tensors of one shape along a new dim.
func Stack(dim int64, ts ...*Tensor) (*Tensor, error) {
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
		return C.go_rt_tensor_stack(p, C.size_t(len(hs)), C.int64_t(dim), out, m)
	}, objs...)
}

// Chunk splits t into views along dim as torch.chunk (possibly fewer than chunks).
func (t *Tensor) Chunk(chunks uint64, dim int64) ([]*Tensor, error) {
	// First the count (the library reports it with RT_ERR_BUFFER_TOO_SMALL), then the views.
	var n C.size_t
	err := call(func(m cmsg) C.rt_status {
		return C.go_rt_tensor_chunk(t.c(), C.size_t(chunks), C.int64_t(dim), nil, 0, &n, m)
	}, t)
	if err != nil && !errors.Is(err, StatusBufferTooSmall) {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	hs := make([]*C.rt_tensor, n)
	err = call(func(m cmsg) C.rt_status {
		return C.go_rt_tensor_chunk(t.c(), C.size_t(chunks), C.int64_t(dim), &hs[0], n, &n, m)
	}, t)
	if err != nil {
		return nil, err
	}
	out := make([]*Tensor, n)
	for i, h := range hs {
		out[i] = wrapTensor(h)
	}
	return out, nil
}

// Multinomial draws num_samples int64 category indices per row of probs (1-D or 2-D weights)
// from the process-wide generator (ManualSeed).
func (t *Tensor) Multinomial(numSamples int64, replacement bool) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_multinomial(t.c(), C.int64_t(numSamples), C.bool(replacement), out, m)
	}, t)
}
