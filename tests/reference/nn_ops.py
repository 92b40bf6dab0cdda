"""Reference values for c_tests/nn_ops.c, computed by PyTorch.

Run from the repository root:  python3 tests/reference/nn_ops.py
It writes c_tests/nn_ops_ref.h. Inputs are float32 values (printed exactly); forward outputs and
gradients are computed in float64 from those same values, so the C test (float32) is compared
against the exact result with a 1e-4 tolerance. Non-scalar outputs are backpropagated with a fixed
upstream gradient `gy`; the losses with the default gradient 1.
"""
import torch
import torch.nn.functional as F
from c_header import case, emit, f32, leaf, lines, write_header

torch.manual_seed(20240611)


case("softmax(x, dim=1), x (2,3,4)")
x, gy = f32((2, 3, 4)), f32((2, 3, 4))
xl = leaf(x)
y = F.softmax(xl, 1)
y.backward(gy.double())
emit("softmax_x", x), emit("softmax_gy", gy), emit("softmax_y", y), emit("softmax_gx", xl.grad)

case("log_softmax(x, dim=-1), x (3,5) with large logits")
x, gy = f32((3, 5), 30.0), f32((3, 5))
xl = leaf(x)
y = F.log_softmax(xl, -1)
y.backward(gy.double())
emit("logsm_x", x), emit("logsm_gy", gy), emit("logsm_y", y), emit("logsm_gx", xl.grad)

case("cross_entropy(logits (4,5), targets (4)), mean")
x = f32((4, 5), 2.0)
t = torch.tensor([3, 0, 4, 3])
xl = leaf(x)
y = F.cross_entropy(xl, t)
y.backward()
emit("ce_logits", x), emit("ce_targets", t), emit("ce_loss", y), emit("ce_glogits", xl.grad)

case("mse_loss(a, b), (2,3), mean")
a, b = f32((2, 3)), f32((2, 3))
al, bl = leaf(a), leaf(b)
y = F.mse_loss(al, bl)
y.backward()
emit("mse_a", a), emit("mse_b", b), emit("mse_loss", y), emit("mse_ga", al.grad), emit("mse_gb", bl.grad)

case("conv2d(x (2,3,5,5), w (4,3,3,3), b (4), stride=2, padding=1)")
x, w, b = f32((2, 3, 5, 5)), f32((4, 3, 3, 3)), f32((4,))
xl, wl, bl = leaf(x), leaf(w), leaf(b)
y = F.conv2d(xl, wl, bl, stride=2, padding=1)
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("conv_x", x), emit("conv_w", w), emit("conv_b", b), emit("conv_gy", gy)
emit("conv_y", y), emit("conv_gx", xl.grad), emit("conv_gw", wl.grad), emit("conv_gb", bl.grad)

case("conv2d(x (1,2,4,5), w (3,2,2,3), no bias, stride=1, padding=0)")
x, w = f32((1, 2, 4, 5)), f32((3, 2, 2, 3))
xl, wl = leaf(x), leaf(w)
y = F.conv2d(xl, wl, None, stride=1, padding=0)
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("conv2_x", x), emit("conv2_w", w), emit("conv2_gy", gy)
emit("conv2_y", y), emit("conv2_gx", xl.grad), emit("conv2_gw", wl.grad)

case("max_pool2d(x (1,2,5,5), kernel_size=2), default stride = 2")
x = f32((1, 2, 5, 5))
xl = leaf(x)
y = F.max_pool2d(xl, 2)
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("pool_x", x), emit("pool_gy", gy), emit("pool_y", y), emit("pool_gx", xl.grad)

case("max_pool2d(x (1,1,5,5), kernel_size=3, stride=1): overlapping windows")
x = f32((1, 1, 5, 5))
xl = leaf(x)
y = F.max_pool2d(xl, 3, 1)
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("pool3_x", x), emit("pool3_gy", gy), emit("pool3_y", y), emit("pool3_gx", xl.grad)

case("max_pool2d with ties, kernel_size=2: the gradient goes to the first maximum")
x = torch.tensor([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 3.0]]]])
xl = leaf(x)
y = F.max_pool2d(xl, 2)
gy = torch.tensor([[[[1.0, 2.0]]]])
y.backward(gy.double())
emit("ties_x", x), emit("ties_gy", gy), emit("ties_y", y), emit("ties_gx", xl.grad)

case("layer_norm(x (2,3,4), [4], w, b, eps=1e-5)")
x, w, b, gy = f32((2, 3, 4)), f32((4,)), f32((4,)), f32((2, 3, 4))
xl, wl, bl = leaf(x), leaf(w), leaf(b)
y = F.layer_norm(xl, [4], wl, bl, 1e-5)
y.backward(gy.double())
emit("ln_x", x), emit("ln_w", w), emit("ln_b", b), emit("ln_gy", gy)
emit("ln_y", y), emit("ln_gx", xl.grad), emit("ln_gw", wl.grad), emit("ln_gb", bl.grad)

case("layer_norm(x (2,3,4), [3,4], no affine, eps=1e-5)")
x, gy = f32((2, 3, 4), 3.0), f32((2, 3, 4))
xl = leaf(x)
y = F.layer_norm(xl, [3, 4], None, None, 1e-5)
y.backward(gy.double())
emit("ln2_x", x), emit("ln2_gy", gy), emit("ln2_y", y), emit("ln2_gx", xl.grad)


def batch_norm_case(prefix, shape, training):
    c = shape[1]
    x, w, b, gy = f32(shape, 2.0), f32((c,)), f32((c,)), f32(shape)
    rm, rv = f32((c,), 0.5), (torch.rand(c) + 0.5).float()
    xl, wl, bl = leaf(x), leaf(w), leaf(b)
    rm_after, rv_after = rm.double().clone(), rv.double().clone()
    y = F.batch_norm(xl, rm_after, rv_after, wl, bl, training=training, momentum=0.1, eps=1e-5)
    y.backward(gy.double())
    emit(f"{prefix}_x", x), emit(f"{prefix}_w", w), emit(f"{prefix}_b", b), emit(f"{prefix}_gy", gy)
    emit(f"{prefix}_rm", rm), emit(f"{prefix}_rv", rv)
    emit(f"{prefix}_y", y), emit(f"{prefix}_gx", xl.grad), emit(f"{prefix}_gw", wl.grad), emit(f"{prefix}_gb", bl.grad)
    emit(f"{prefix}_rm_after", rm_after), emit(f"{prefix}_rv_after", rv_after)


case("batch_norm training, x (4,3), momentum 0.1, eps 1e-5; running stats updated")
batch_norm_case("bn2", (4, 3), True)
case("batch_norm training, x (2,3,2,2), momentum 0.1, eps 1e-5; running stats updated")
batch_norm_case("bn4", (2, 3, 2, 2), True)
case("batch_norm eval, x (2,3,2,2), running stats used and unchanged")
batch_norm_case("bne", (2, 3, 2, 2), False)

case("embedding(indices (2,3) with repeats, weight (5,4))")
idx = torch.tensor([[1, 4, 1], [0, 4, 4]])
w, gy = f32((5, 4)), f32((2, 3, 4))
wl = leaf(w)
y = F.embedding(idx, wl)
y.backward(gy.double())
emit("emb_idx", idx), emit("emb_w", w), emit("emb_gy", gy), emit("emb_y", y), emit("emb_gw", wl.grad)

write_header("nn_ops.py", "nn_ops_ref.h")
print("wrote c_tests/nn_ops_ref.h")
