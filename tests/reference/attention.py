"""Reference values for c_tests/attention.c, computed by PyTorch.

Run from the repository root:  /work/venv/bin/python tests/reference/attention.py
(any Python with torch >= 2.5). It writes c_tests/attention_ref.h. Inputs are float32 values
(printed exactly); F.scaled_dot_product_attention, F.rms_norm and the rotary embedding run in
float64 on those same values, so the C test (float32) compares against the exact result with a
small tolerance. Outputs are backpropagated with a fixed upstream gradient `gy`.
"""
import torch
import torch.nn.functional as F
from c_header import case, emit, f32, leaf, lines, write_header

torch.manual_seed(20261207)


def sdpa_case(p, q, k, v, mask=None, mask_grad=False, **kw):
    """Emits p_q, p_k, p_v, [p_mask], p_gy, p_y and the gradients p_gq, p_gk, p_gv, [p_gmask]."""
    ql, kl, vl = leaf(q), leaf(k), leaf(v)
    m = None
    if mask is not None:
        m = mask if mask.dtype == torch.bool else (leaf(mask) if mask_grad else mask.double())
    y = F.scaled_dot_product_attention(ql, kl, vl, attn_mask=m, **kw)
    gy = f32(y.shape)
    y.backward(gy.double())
    for n, t in [("q", q), ("k", k), ("v", v)]:
        emit(f"{p}_{n}", t)
    if mask is not None:
        emit(f"{p}_mask", mask)
    emit(f"{p}_gy", gy), emit(f"{p}_y", y)
    emit(f"{p}_gq", ql.grad), emit(f"{p}_gk", kl.grad), emit(f"{p}_gv", vl.grad)
    if mask_grad:
        emit(f"{p}_gmask", m.grad)


case("plain: q (2,3,5,8), k (2,3,7,8), v (2,3,7,6)")
sdpa_case("plain", f32((2, 3, 5, 8)), f32((2, 3, 7, 8)), f32((2, 3, 7, 6)))

case("explicit scale 0.3, 3-d inputs (heads, L, E)")
sdpa_case("scaled", f32((2, 4, 5)), f32((2, 6, 5)), f32((2, 6, 3)), scale=0.3)

case("causal, L == S: (1,2,6,4)")
sdpa_case("causal", f32((1, 2, 6, 4)), f32((1, 2, 6, 4)), f32((1, 2, 6, 4)), is_causal=True)

case("causal, L < S (top-left aligned): L 4, S 7")
sdpa_case("causal_wide", f32((1, 2, 4, 4)), f32((1, 2, 7, 4)), f32((1, 2, 7, 3)), is_causal=True)

case("causal, L > S: L 7, S 4")
sdpa_case("causal_tall", f32((1, 2, 7, 4)), f32((1, 2, 4, 4)), f32((1, 2, 4, 3)), is_causal=True)

case("float mask (2,1,5,7) broadcast over heads, with -inf entries and a row of -inf (row 2 of batch 1); the mask requires grad")
mask = f32((2, 1, 5, 7))
mask[0, 0, 1, 3] = float("-inf")
mask[1, 0, 4, 0:5] = float("-inf")
mask[1, 0, 2, :] = float("-inf")
sdpa_case("fmask", f32((2, 3, 5, 8)), f32((2, 3, 7, 8)), f32((2, 3, 7, 6)), mask=mask, mask_grad=True)

case("bool mask (5,7), true = may attend, with a fully masked row 3")
bmask = torch.rand(5, 7) > 0.4
bmask[3, :] = False
bmask[0, :] = True
sdpa_case("bmask", f32((2, 2, 5, 4)), f32((2, 2, 7, 4)), f32((2, 2, 7, 4)), mask=bmask)

case("grouped query attention: q (1,4,5,8), k, v (1,2,6,8), enable_gqa")
sdpa_case("gqa", f32((1, 4, 5, 8)), f32((1, 2, 6, 8)), f32((1, 2, 6, 8)), enable_gqa=True)

case("grouped query attention with causal: q (2,6,5,4), k, v (2,2,5,4)")
sdpa_case("gqa_causal", f32((2, 6, 5, 4)), f32((2, 2, 5, 4)), f32((2, 2, 5, 4)), enable_gqa=True, is_causal=True)

case("batch dims broadcast: q (2,2,3,4), k (1,2,5,4), v (2,1,5,4)")
sdpa_case("bcast", f32((2, 2, 3, 4)), f32((1, 2, 5, 4)), f32((2, 1, 5, 4)))

case("non-contiguous: q, k, v given as (B, L, H, E) and transposed to (B, H, L, E) in the test")
qt, kt, vt = f32((2, 5, 3, 4)), f32((2, 6, 3, 4)), f32((2, 6, 3, 4))
ql, kl, vl = leaf(qt), leaf(kt), leaf(vt)
y = F.scaled_dot_product_attention(ql.transpose(1, 2), kl.transpose(1, 2), vl.transpose(1, 2), is_causal=True)
gy = f32(y.shape)
y.backward(gy.double())
emit("strided_q", qt), emit("strided_k", kt), emit("strided_v", vt), emit("strided_gy", gy), emit("strided_y", y)
emit("strided_gq", ql.grad), emit("strided_gk", kl.grad), emit("strided_gv", vl.grad)

case("rms_norm(x (3,4,6), (6,), w, eps 1e-5)")
x, w = f32((3, 4, 6)), f32((6,))
xl, wl = leaf(x), leaf(w)
y = F.rms_norm(xl, (6,), wl, 1e-5)
gy = f32(y.shape)
y.backward(gy.double())
emit("rms_x", x), emit("rms_w", w), emit("rms_gy", gy), emit("rms_y", y), emit("rms_gx", xl.grad), emit("rms_gw", wl.grad)

case("rms_norm(x (2,3,4), (3,4), no weight, eps 1e-6)")
x = f32((2, 3, 4), 3.0)
xl = leaf(x)
y = F.rms_norm(xl, (3, 4), None, 1e-6)
gy = f32(y.shape)
y.backward(gy.double())
emit("rms2_x", x), emit("rms2_gy", gy), emit("rms2_y", y), emit("rms2_gx", xl.grad)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


case("rotary: x (2,3,5,8), cos and sin (5,8) (Hugging Face's apply_rotary_pos_emb), all three require grad")
x = f32((2, 3, 5, 8))
inv_freq = 1.0 / (10000 ** (torch.arange(0, 8, 2).double() / 8))
freqs = torch.outer(torch.arange(5).double(), inv_freq)
emb = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb.cos().float(), emb.sin().float()
xl, cl, sl = leaf(x), leaf(cos), leaf(sin)
y = xl * cl + rotate_half(xl) * sl
gy = f32(y.shape)
y.backward(gy.double())
emit("rot_x", x), emit("rot_cos", cos), emit("rot_sin", sin), emit("rot_gy", gy), emit("rot_y", y)
emit("rot_gx", xl.grad), emit("rot_gcos", cl.grad), emit("rot_gsin", sl.grad)

write_header("attention.py", "attention_ref.h")
print("wrote c_tests/attention_ref.h")
