package infer

// #include "shim.h"
import "C"

// Backward backpropagates from t. With grad nil, t must have one element. It fails with
// StatusInferenceMode inside WithInferenceMode, changing no gradient.
func (t *Tensor) Backward(grad *Tensor, retainGraph bool) error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_tensor_backward(t.c(), grad.c(), C.bool(retainGraph), m) }, t, grad)
}

// Grad is the accumulated gradient (a new handle), or nil when there is none.
func (t *Tensor) Grad() (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status { return C.go_rt_tensor_grad(t.c(), out, m) }, t)
}

// SetGrad sets t's gradient to grad (shared, not copied); nil clears it.
func (t *Tensor) SetGrad(grad *Tensor) error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_tensor_set_grad(t.c(), grad.c(), m) }, t, grad)
}

// RetainGrad keeps the gradient of a non-leaf tensor during backward.
func (t *Tensor) RetainGrad() error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_tensor_retain_grad(t.c(), m) }, t)
}
