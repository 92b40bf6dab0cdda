package infer

// AdamW and gradient-norm clipping (API.md section 8). The go_ twins live here rather than in
// shim.h, one GO_WRAP line each as there.

/*
#include "shim.h"

GO_WRAP(rt_optimizer_adamw, (M *m, double lr, double b1, double b2, double eps, double wd, O **out, char **msg), (m, lr, b1, b2, eps, wd, out))
GO_WRAP(rt_optimizer_adamw_tensors, (T *const *p, size_t n, double lr, double b1, double b2, double eps, double wd, O **out, char **msg), (p, n, lr, b1, b2, eps, wd, out))
GO_WRAP(rt_clip_grad_norm, (T *const *p, size_t n, double max_norm, double norm_type, double *total, char **msg), (p, n, max_norm, norm_type, total))
GO_WRAP(rt_module_clip_grad_norm, (M *m, double max_norm, double norm_type, double *total, char **msg), (m, max_norm, norm_type, total))
*/
import "C"

// AdamW over the module's parameters that require grad (torch.optim.AdamW: decoupled weight
// decay; PyTorch's defaults are lr 1e-3, betas 0.9 / 0.999, eps 1e-8, weight decay 0.01).
func AdamW(mod *Module, lr, beta1, beta2, eps, weightDecay float64) (*Optimizer, error) {
	return newOptimizer(func(out oout, m cmsg) C.rt_status {
		return C.go_rt_optimizer_adamw(mod.c(), C.double(lr), C.double(beta1), C.double(beta2), C.double(eps), C.double(weightDecay), out, m)
	}, mod)
}

// AdamWTensors is AdamW over the listed tensors that require grad.
func AdamWTensors(params []*Tensor, lr, beta1, beta2, eps, weightDecay float64) (*Optimizer, error) {
	objs, p, n := tensorHandles(params)
	return newOptimizer(func(out oout, m cmsg) C.rt_status {
		return C.go_rt_optimizer_adamw_tensors(p, n, C.double(lr), C.double(beta1), C.double(beta2), C.double(eps), C.double(weightDecay), out, m)
	}, objs...)
}

// ClipGradNorm scales the gradients of params in place so that their total normType-norm (p > 0,
// or math.Inf(1)) is at most maxNorm, as torch.nn.utils.clip_grad_norm_, and returns the total
// norm before clipping.
func ClipGradNorm(params []*Tensor, maxNorm, normType float64) (float64, error) {
	objs, p, n := tensorHandles(params)
	var total C.double
	err := call(func(m cmsg) C.rt_status {
		return C.go_rt_clip_grad_norm(p, n, C.double(maxNorm), C.double(normType), &total, m)
	}, objs...)
	return float64(total), err
}

// ClipGradNorm is ClipGradNorm over the module's parameters (each once).
func (mod *Module) ClipGradNorm(maxNorm, normType float64) (float64, error) {
	var total C.double
	err := call(func(m cmsg) C.rt_status {
		return C.go_rt_module_clip_grad_norm(mod.c(), C.double(maxNorm), C.double(normType), &total, m)
	}, mod)
	return float64(total), err
}
