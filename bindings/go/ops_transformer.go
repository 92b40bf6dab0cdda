package infer

// The transformer ops of API.md 7.C that a Llama-family model needs beyond ops_models.go: RMS
// normalisation, rotary position embeddings and the fused attention.

/*
#include "shim.h"

GO_WRAP(rt_tensor_rms_norm, (CT *x, const int64_t *s, size_t nd, CT *w, double eps, T **out, char **msg), (x, s, nd, w, eps, out))
GO_WRAP(rt_tensor_apply_rotary_emb, (CT *x, CT *cos, CT *sin, T **out, char **msg), (x, cos, sin, out))
GO_WRAP(rt_tensor_scaled_dot_product_attention,
        (CT *q, CT *k, CT *v, CT *mask, double p, bool causal, double scale, bool gqa, T **out, char **msg),
        (q, k, v, mask, p, causal, scale, gqa, out))
*/
import "C"

// RMSNorm is F.rms_norm(t, normalizedShape, weight, eps): t / sqrt(mean(t^2) + eps) * weight, the
// mean over the trailing dims normalizedShape; weight (of that shape) may be nil.
func (t *Tensor) RMSNorm(normalizedShape []int64, weight *Tensor, eps float64) (*Tensor, error) {
	d, n := dims(normalizedShape)
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_rms_norm(t.c(), d, n, weight.c(), C.double(eps), out, m)
	}, t, weight)
}

// ApplyRotaryEmb is t * cos + rotate_half(t) * sin, rotate_half(t) = cat(-t2, t1) of the halves of
// t's last dim (Hugging Face's apply_rotary_pos_emb); cos and sin broadcast to t.
func (t *Tensor) ApplyRotaryEmb(cos, sin *Tensor) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_apply_rotary_emb(t.c(), cos.c(), sin.c(), out, m)
	}, t, cos, sin)
}

// Attention holds the options of ScaledDotProductAttention; the zero value is PyTorch's defaults.
type Attention struct {
	Mask      *Tensor // nil, an F32 mask added to the scores, or a Bool one (true = may attend)
	DropoutP  float64 // dropout on the attention weights, with the seeded generator
	IsCausal  bool    // mask as torch.ones(L, S).tril(); excludes Mask
	Scale     float64 // 0 is 1/sqrt(E)
	EnableGQA bool    // the query heads may be a multiple of the key/value heads
}

// ScaledDotProductAttention is F.scaled_dot_product_attention: q (..., Hq, L, E), k (..., Hk, S,
// E), v (..., Hk, S, Ev) -> (..., Hq, L, Ev).
func ScaledDotProductAttention(q, k, v *Tensor, opt Attention) (*Tensor, error) {
	return newTensor(func(out cout, m cmsg) C.rt_status {
		return C.go_rt_tensor_scaled_dot_product_attention(q.c(), k.c(), v.c(), opt.Mask.c(), C.double(opt.DropoutP),
			C.bool(opt.IsCausal), C.double(opt.Scale), C.bool(opt.EnableGQA), out, m)
	}, q, k, v, opt.Mask)
}
