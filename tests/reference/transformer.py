"""Reference values for c_tests/transformer.c, computed by PyTorch.

Run from the repository root:  /work/venv/bin/python tests/reference/transformer.py
It writes c_tests/transformer_ref.h (inputs, masks, outputs, gradients as float literals) and the
checkpoints tests/fixtures/transformer_post_relu.safetensors, transformer_pre_gelu.safetensors
(state_dicts of nn.TransformerEncoder with 2 layers, batch_first) and transformer_mha.safetensors
(an nn.MultiheadAttention, batch_first=False). Weights are PyTorch's float32 init; the outputs are
computed in float64 on those same float32 values, in eval mode, with grad enabled so PyTorch takes
its reference path (not the fused inference fast path, which zeroes padded positions).
"""
import os
import torch
import torch.nn as nn
from safetensors.torch import save_file
from c_header import case, emit, lines, write_header

torch.manual_seed(20261207)
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
D, H, FF, N, S = 8, 2, 16, 2, 5


def save(module, name):
    sd = {k: v.detach().float().contiguous() for k, v in module.state_dict().items()}
    save_file(sd, os.path.join(ROOT, "tests", "fixtures", name))


causal_bool = torch.ones(S, S, dtype=torch.bool).triu(1)  # true = masked out
causal_f32 = torch.zeros(S, S).masked_fill(causal_bool, float("-inf"))
padding = torch.zeros(N, S, dtype=torch.bool)
padding[1, 3:] = True  # the second sequence has 3 tokens
emit("enc_causal_bool", causal_bool), emit("enc_causal_f32", causal_f32), emit("enc_padding", padding)


def encoder_case(p, norm_first, activation, src_mask, grad):
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.1, activation=activation, layer_norm_eps=1e-5,
                                       batch_first=True, norm_first=norm_first)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    save(enc, f"transformer_{p}.safetensors")
    enc = enc.double().eval()
    x = torch.randn(N, S, D).float()
    xl = x.double().requires_grad_(True)
    y = enc(xl, mask=src_mask.double() if src_mask.dtype != torch.bool else src_mask,
            src_key_padding_mask=padding)
    y_plain = enc(x.double())
    emit(f"{p}_x", x), emit(f"{p}_y", y), emit(f"{p}_y_plain", y_plain)
    if grad:
        gy = torch.randn(N, S, D).float()
        y.backward(gy.double())
        emit(f"{p}_gy", gy), emit(f"{p}_gx", xl.grad)


case("post-norm relu encoder of 2 layers, causal BOOL src_mask and a key padding mask; gradient of x")
encoder_case("post_relu", False, "relu", causal_bool, True)
case("pre-norm gelu encoder of 2 layers, causal F32 src_mask and a key padding mask")
encoder_case("pre_gelu", True, "gelu", causal_f32, False)

case("MultiheadAttention(8, 2, batch_first=False): query (3, 2, 8), key and value (4, 2, 8)")
L, SK = 3, 4
mha = nn.MultiheadAttention(D, H, batch_first=False)
with torch.no_grad():  # PyTorch's init zeroes the biases: give them values so they are checked
    mha.in_proj_bias.normal_()
    mha.out_proj.bias.normal_()
save(mha, "transformer_mha.safetensors")
mha = mha.double().eval()
q, k, v = torch.randn(L, N, D).float(), torch.randn(SK, N, D).float(), torch.randn(SK, N, D).float()
attn_bool = torch.tensor([[False, True, False, True], [True, False, False, False], [False, False, True, True]])
attn_f32 = torch.randn(N * H, L, SK).float()
kpm = torch.tensor([[False, False, False, True], [False, False, False, False]])
emit("mha_q", q), emit("mha_k", k), emit("mha_v", v)
emit("mha_attn_bool", attn_bool), emit("mha_attn_f32", attn_f32), emit("mha_kpm", kpm)
d = lambda t: t.double()
emit("mha_y_self", mha(d(q), d(q), d(q), need_weights=False)[0])
emit("mha_y_cross", mha(d(q), d(k), d(v), need_weights=False)[0])
emit("mha_y_bool", mha(d(q), d(k), d(v), key_padding_mask=kpm, attn_mask=attn_bool, need_weights=False)[0])
emit("mha_y_f32", mha(d(q), d(k), d(v), key_padding_mask=kpm, attn_mask=d(attn_f32), need_weights=False)[0])

write_header("transformer.py", "transformer_ref.h")
print("wrote c_tests/transformer_ref.h and tests/fixtures/transformer_*.safetensors")
