"""Reference values for c_tests/bool_masks.c, computed by PyTorch.

Run from the repository root:  /work/venv/bin/python tests/reference/bool_masks.py
It writes c_tests/bool_masks_ref.h: comparisons (NaN included) with broadcasting, scalar
comparisons, logical ops, dtype conversions to and from bool, and where / masked_fill with their
gradients (computed in float64 from the same float32 inputs, backpropagated with a fixed `gy`).
BOOL values are written as uint8_t 0/1 arrays.
"""
import torch
from c_header import case, emit, f32, leaf, lines, write_header

torch.manual_seed(20261207)
OPS = ["eq", "ne", "lt", "le", "gt", "ge"]  # the order of RT_CMP_EQ .. RT_CMP_GE


def emit_ops(prefix, f):
    """One array per comparison, named prefix_eq .. prefix_ge."""
    for op in OPS:
        emit(f"{prefix}_{op}", f(op))


case("compare F32 a (2,3) with b (3), NaNs on both sides, ties")
a = torch.tensor([[1.0, float("nan"), -2.0], [0.5, 3.0, float("inf")]])
b = torch.tensor([1.0, 0.0, float("nan")])
emit("cmpf_a", a), emit("cmpf_b", b)
emit_ops("cmpf", lambda op: getattr(torch, op)(a, b))

case("compare I64 a (2,3) with b (2,1)")
a = torch.tensor([[5, -1, 7], [2, 2, -9]])
b = torch.tensor([[5], [2]])
emit("cmpi_a", a), emit("cmpi_b", b)
emit_ops("cmpi", lambda op: getattr(torch, op)(a, b))

case("compare BOOL a (2,2) with b (2): false < true")
a = torch.tensor([[True, False], [False, True]])
b = torch.tensor([True, False])
emit("cmpb_a", a), emit("cmpb_b", b)
emit_ops("cmpb", lambda op: getattr(torch, op)(a, b))

case("compare_scalar F32 x with 0.1: the scalar is rounded to float32 (x[0] == 0.1 is true)")
x = torch.tensor([0.1, 0.2, float("nan"), -float("inf"), 0.0])
emit("cmpsf_x", x)
emit_ops("cmpsf", lambda op: getattr(torch, op)(x, 0.1))

case("compare_scalar I64 x with the integer 16777217 (exact) and the float 2.5")
x = torch.tensor([16777217, 16777216, 2, 3, -5])
emit("cmpsi_x", x)
emit_ops("cmpsi_int", lambda op: getattr(torch, op)(x, 16777217))
emit_ops("cmpsi_frac", lambda op: getattr(torch, op)(x, 2.5))

case("compare_scalar BOOL x with 1 and with 0.5")
x = torch.tensor([True, False])
emit("cmpsb_x", x)
emit_ops("cmpsb_one", lambda op: getattr(torch, op)(x, 1))
emit_ops("cmpsb_half", lambda op: getattr(torch, op)(x, 0.5))

case("logical_and / logical_or of a (2,3) and b (3); logical_not of a")
a = torch.tensor([[True, False, True], [False, False, True]])
b = torch.tensor([True, True, False])
emit("log_a", a), emit("log_b", b)
emit("log_and", torch.logical_and(a, b)), emit("log_or", torch.logical_or(a, b)), emit("log_not", torch.logical_not(a))

case("to: F32 and I64 to BOOL (nonzero, NaN included, is true), BOOL to F32 and I64")
x = torch.tensor([0.0, -0.0, 0.5, float("nan"), float("inf"), -2.0])
i = torch.tensor([0, 3, -1, 0])
bb = torch.tensor([True, False, True])
emit("to_f", x), emit("to_f_bool", x.bool()), emit("to_i", i), emit("to_i_bool", i.bool())
emit("to_b", bb), emit("to_b_f32", bb.float()), emit("to_b_i64", bb.long())

case("where(cond (2,3), a (3), b (2,1)), F32, with gradients")
cond = torch.tensor([[True, False, True], [False, False, True]])
a, b, gy = f32((3,)), f32((2, 1)), f32((2, 3))
al, bl = leaf(a), leaf(b)
y = torch.where(cond, al, bl)
y.backward(gy.double())
emit("wh_cond", cond), emit("wh_a", a), emit("wh_b", b), emit("wh_gy", gy)
emit("wh_y", y), emit("wh_ga", al.grad), emit("wh_gb", bl.grad)

case("where(cond (3), a (2,3) I64, b 0-d I64)")
cond = torch.tensor([False, True, True])
a = torch.tensor([[1, 2, 3], [4, 5, 6]])
b = torch.tensor(-7)
emit("whi_cond", cond), emit("whi_a", a), emit("whi_b", b), emit("whi_y", torch.where(cond, a, b))

case("masked_fill(t (2,3), mask (3), -1e9), F32, with the gradient of t")
t, gy = f32((2, 3)), f32((2, 3))
mask = torch.tensor([False, True, False])
tl = leaf(t)
y = tl.masked_fill(mask, -1e9)
y.backward(gy.double())
emit("mf_t", t), emit("mf_mask", mask), emit("mf_gy", gy), emit("mf_y", y), emit("mf_gt", tl.grad)

case("masked_fill(t (2,2) I64, mask (2,1), 2.7): the value is truncated")
t = torch.tensor([[1, 2], [3, 4]])
mask = torch.tensor([[True], [False]])
emit("mfi_t", t), emit("mfi_mask", mask), emit("mfi_y", t.masked_fill(mask, 2.7))

write_header("bool_masks.py", "bool_masks_ref.h")
print("wrote c_tests/bool_masks_ref.h")
