"""Reference values for c_tests/ops_models.c (the ops of API.md 7.C), computed by PyTorch.

Run from the repository root:  python3 tests/reference/ops_models.py
It writes c_tests/ops_models_ref.h. As tests/reference/nn_ops.py: inputs are float32 values
(printed exactly); outputs and gradients are computed in float64 from those same values, and
non-scalar outputs are backpropagated with a fixed upstream gradient `gy`.
"""
import torch
import torch.nn.functional as F
from c_header import case, emit, f32, leaf, lines, write_header

torch.manual_seed(20261207)


def unary(prefix, f, x):
    gy = f32(tuple(x.shape))
    xl = leaf(x)
    y = f(xl)
    y.backward(gy.double())
    emit(f"{prefix}_x", x), emit(f"{prefix}_gy", gy), emit(f"{prefix}_y", y), emit(f"{prefix}_gx", xl.grad)


case("unary functions of x (3,4), x ~ 3 N(0,1) (rsqrt: x in [0.1, 2.1))")
unary("silu", F.silu, f32((3, 4), 3.0))
unary("gelut", lambda x: F.gelu(x, approximate="tanh"), f32((3, 4), 3.0))
unary("sin", torch.sin, f32((3, 4), 3.0))
unary("cos", torch.cos, f32((3, 4), 3.0))
unary("abs", torch.abs, f32((3, 4), 3.0))
unary("rsqrt", torch.rsqrt, (torch.rand(3, 4) * 2 + 0.1).float())

case("max(x, dim=1) and min(x, dim=0, keepdim=True), x (3,4,5)")
x = f32((3, 4, 5))
xl = leaf(x)
v, i = torch.max(xl, 1)
gy = f32(tuple(v.shape))
v.backward(gy.double())
emit("max_x", x), emit("max_gy", gy), emit("max_v", v), emit("max_i", i), emit("max_gx", xl.grad)
xl = leaf(x)
v, i = torch.min(xl, 0, keepdim=True)
gy = f32(tuple(v.shape))
v.backward(gy.double())
emit("min_gy", gy), emit("min_v", v), emit("min_i", i), emit("min_gx", xl.grad)

case("ties and NaN along dim 1: indices of max and min")
x = torch.tensor([[1.0, 3.0, 3.0, 0.0], [float("nan"), 2.0, float("nan"), 5.0], [2.0, 2.0, 2.0, 2.0]])
emit("ties_max_i", torch.max(x, 1)[1]), emit("ties_min_i", torch.min(x, 1)[1])

case("amax(x, dims=[0, 2]) of x (3,4,5); amax(t, 1) with ties: the gradient is split")
x = f32((3, 4, 5))
xl = leaf(x)
y = torch.amax(xl, (0, 2))
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("amax_x", x), emit("amax_gy", gy), emit("amax_y", y), emit("amax_gx", xl.grad)
x = torch.tensor([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0], [7.0, 7.0, 7.0]])
xl = leaf(x)
y = torch.amax(xl, 1, keepdim=True)
gy = torch.tensor([[1.0], [2.0], [3.0]])
y.backward(gy.double())
emit("amaxt_x", x), emit("amaxt_gy", gy), emit("amaxt_y", y), emit("amaxt_gx", xl.grad)

case("topk(x (3,6), k=3, dim=1), largest and smallest")
x = f32((3, 6))
for prefix, largest in (("topl", True), ("tops", False)):
    xl = leaf(x)
    v, i = torch.topk(xl, 3, 1, largest=largest)
    gy = f32(tuple(v.shape))
    v.backward(gy.double())
    emit(f"{prefix}_gy", gy), emit(f"{prefix}_v", v), emit(f"{prefix}_i", i), emit(f"{prefix}_gx", xl.grad)
emit("top_x", x)

case("index_select(x (3,4), dim 1, [3, 0, 3]); gather(x (3,4), dim 1, index (3,2))")
x = f32((3, 4))
idx = torch.tensor([3, 0, 3])
xl = leaf(x)
y = torch.index_select(xl, 1, idx)
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("isel_x", x), emit("isel_idx", idx), emit("isel_gy", gy), emit("isel_y", y), emit("isel_gx", xl.grad)
idx = torch.tensor([[0, 0], [3, 1], [2, 2]])
xl = leaf(x)
y = torch.gather(xl, 1, idx)
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("gat_idx", idx), emit("gat_gy", gy), emit("gat_y", y), emit("gat_gx", xl.grad)

case("triu(x (2,3,4), 1) and tril(x, -1); triu of an I64 matrix")
x = f32((2, 3, 4))
for prefix, f in (("triu", lambda t: torch.triu(t, 1)), ("tril", lambda t: torch.tril(t, -1))):
    xl = leaf(x)
    y = f(xl)
    gy = f32(tuple(y.shape))
    y.backward(gy.double())
    emit(f"{prefix}_gy", gy), emit(f"{prefix}_y", y), emit(f"{prefix}_gx", xl.grad)
emit("tri_x", x)
emit("triu64_y", torch.triu(torch.arange(12).view(3, 4)))

case("stack([a, b] (2,3), dim 1)")
a, b = f32((2, 3)), f32((2, 3))
al, bl = leaf(a), leaf(b)
y = torch.stack([al, bl], 1)
gy = f32(tuple(y.shape))
y.backward(gy.double())
emit("stk_a", a), emit("stk_b", b), emit("stk_gy", gy), emit("stk_y", y), emit("stk_ga", al.grad), emit("stk_gb", bl.grad)

case("arange: F32 (-1, 2, 0.3), (0, 1, 0.1); I64 (10, -3, -4)")
emit("ar1", torch.arange(-1, 2, 0.3, dtype=torch.float32))
emit("ar2", torch.arange(0, 1, 0.1, dtype=torch.float32))
emit("ar3", torch.arange(10, -3, -4, dtype=torch.int64))

case("chunk sizes along dim 0: (7, 3 chunks), (6, 4 chunks), (5, 5 chunks)")
emit("chunk7_3", torch.tensor([c.shape[0] for c in torch.arange(7).chunk(3)]))
emit("chunk6_4", torch.tensor([c.shape[0] for c in torch.arange(6).chunk(4)]))
emit("chunk5_5", torch.tensor([c.shape[0] for c in torch.arange(5).chunk(5)]))

write_header("ops_models.py", "ops_models_ref.h")
print("wrote c_tests/ops_models_ref.h")
