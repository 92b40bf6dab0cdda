package infer

// #include "shim.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// Optimizer updates a fixed set of parameters (those that required grad when it was made) in
// place. It outlives the module it was made from.
type Optimizer struct{ handle }

func (o *Optimizer) kind() string   { return "Optimizer" }
func (o *Optimizer) isClosed() bool { return o != nil && o.get() == nil }

func (o *Optimizer) c() *C.rt_optimizer {
	if o == nil {
		return nil
	}
	return (*C.rt_optimizer)(o.get())
}

func wrapOptimizer(p *C.rt_optimizer) *Optimizer {
	o := &Optimizer{handle{p: unsafe.Pointer(p)}}
	o.cleanup = runtime.AddCleanup(o, func(p *C.rt_optimizer) { C.rt_optimizer_free(p) }, p)
	return o
}

// Close releases the optimizer's handle. Later calls do nothing and return nil.
func (o *Optimizer) Close() error {
	if o == nil {
		return nil
	}
	p := o.take()
	if p == nil {
		return nil
	}
	return call(func(m cmsg) C.rt_status { return C.go_rt_optimizer_free((*C.rt_optimizer)(p), m) })
}

type oout = **C.rt_optimizer

func newOptimizer(f func(out oout, m cmsg) C.rt_status, objs ...object) (*Optimizer, error) {
	var out *C.rt_optimizer
	if err := call(func(m cmsg) C.rt_status { return f(&out, m) }, objs...); err != nil {
		return nil, err
	}
	return wrapOptimizer(out), nil
}

func tensorHandles(params []*Tensor) ([]object, **C.rt_tensor, C.size_t) {
	objs := make([]object, len(params))
	hs := make([]*C.rt_tensor, len(params))
	for i, t := range params {
		objs[i], hs[i] = t, t.c()
	}
	if len(hs) == 0 {
		return objs, nil, 0
	}
	return objs, &hs[0], C.size_t(len(hs))
}

// SGD over the module's parameters that require grad (torch.optim.SGD).
func SGD(mod *Module, lr, momentum, weightDecay float64) (*Optimizer, error) {
	return newOptimizer(func(out oout, m cmsg) C.rt_status {
		return C.go_rt_optimizer_sgd(mod.c(), C.double(lr), C.double(momentum), C.double(weightDecay), out, m)
	}, mod)
}

// Adam over the module's parameters that require grad (torch.optim.Adam).
func Adam(mod *Module, lr, beta1, beta2, eps, weightDecay float64) (*Optimizer, error) {
	return newOptimizer(func(out oout, m cmsg) C.rt_status {
		return C.go_rt_optimizer_adam(mod.c(), C.double(lr), C.double(beta1), C.double(beta2), C.double(eps), C.double(weightDecay), out, m)
	}, mod)
}

// SGDTensors is SGD over the listed tensors that require grad.
func SGDTensors(params []*Tensor, lr, momentum, weightDecay float64) (*Optimizer, error) {
	objs, p, n := tensorHandles(params)
	return newOptimizer(func(out oout, m cmsg) C.rt_status {
		return C.go_rt_optimizer_sgd_tensors(p, n, C.double(lr), C.double(momentum), C.double(weightDecay), out, m)
	}, objs...)
}

// AdamTensors is Adam over the listed tensors that require grad.
func AdamTensors(params []*Tensor, lr, beta1, beta2, eps, weightDecay float64) (*Optimizer, error) {
	objs, p, n := tensorHandles(params)
	return newOptimizer(func(out oout, m cmsg) C.rt_status {
		return C.go_rt_optimizer_adam_tensors(p, n, C.double(lr), C.double(beta1), C.double(beta2), C.double(eps), C.double(weightDecay), out, m)
	}, objs...)
}

// Step updates every parameter that has a gradient, in place, without recording.
func (o *Optimizer) Step() error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_optimizer_step(o.c(), m) }, o)
}

// ZeroGrad sets every parameter's gradient to none.
func (o *Optimizer) ZeroGrad() error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_optimizer_zero_grad(o.c(), m) }, o)
}

// SetLR changes the learning rate (for schedules).
func (o *Optimizer) SetLR(lr float64) error {
	return call(func(m cmsg) C.rt_status { return C.go_rt_optimizer_set_lr(o.c(), C.double(lr), m) }, o)
}
