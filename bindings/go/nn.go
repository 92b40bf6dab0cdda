package infer

// #include "shim.h"
import "C"

// nn functions (torch.nn.functional): each returns a new tensor. Optional tensors may be nil.

// Softmax along dim (negative counts from the end).
func (t *Tensor) Softmax(dim int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_softmax(t.c(), C.int64_t(dim), out, m) }, t)
}

// LogSoftmax along dim, computed as x - logsumexp(x).
func (t *Tensor) LogSoftmax(dim int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_log_softmax(t.c(), C.int64_t(dim), out, m) }, t)
}

// CrossEntropy is the mean cross-entropy of logits t (N, C) against int64 class indices (N); a 0-d tensor.
func (t *Tensor) CrossEntropy(targets *Tensor) (*Tensor, error) {
	return t.binary(targets, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_cross_entropy(a, b, out, m)
	})
}

// MSELoss is the mean squared error of t and o (same shape); a 0-d tensor.
func (t *Tensor) MSELoss(o *Tensor) (*Tensor, error) {
	return t.binary(o, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_mse_loss(a, b, out, m) })
}

// Conv2d convolves t (N, C, H, W) with w (O, C, kh, kw), adding b (O) unless nil; padding is
// zeros on every side.
func (t *Tensor) Conv2d(w, b *Tensor, stride, padding int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_conv2d(t.c(), w.c(), b.c(), C.int64_t(stride), C.int64_t(padding), out, m)
	}, t, w, b)
}

// MaxPool2d pools t (N, C, H, W) with a square window, no padding; stride 0 means kernelSize.
func (t *Tensor) MaxPool2d(kernelSize, stride int64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_max_pool2d(t.c(), C.int64_t(kernelSize), C.int64_t(stride), out, m)
	}, t)
}

// LayerNorm normalises over the trailing dims shape, then applies w and b (each of that shape)
// unless nil.
func (t *Tensor) LayerNorm(shape []int64, w, b *Tensor, eps float64) (*Tensor, error) {
	s, n := dims(shape)
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_layer_norm(t.c(), s, n, w.c(), b.c(), C.double(eps), out, m)
	}, t, w, b)
}

// BatchNorm normalises over channel dim 1 of t (N, C, ...), as F.batch_norm. Training: with the
// batch statistics, updating runningMean and runningVar (each (C), or nil) in place. Not
// training: with the running statistics, which must then be given. w, b: (C) or nil.
func (t *Tensor) BatchNorm(runningMean, runningVar, w, b *Tensor, training bool, momentum, eps float64) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_batch_norm(t.c(), runningMean.c(), runningVar.c(), w.c(), b.c(), C.bool(training),
			C.double(momentum), C.double(eps), out, m)
	}, t, runningMean, runningVar, w, b)
}

// Dropout zeroes each element with probability p when training and scales the rest by
// 1 / (1 - p); not training (or p == 0) it returns a new handle to t itself.
func (t *Tensor) Dropout(p float64, training bool) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_dropout(t.c(), C.double(p), C.bool(training), out, m)
	}, t)
}

// Embedding picks the rows of weight (V, D) at the int64 indices t (any shape): shape t.shape + [D].
func (t *Tensor) Embedding(weight *Tensor) (*Tensor, error) {
	return t.binary(weight, func(a, b *C.rt_tensor, out cout, m cmsg) C.rt_status { return C.go_rt_tensor_embedding(a, b, out, m) })
}
