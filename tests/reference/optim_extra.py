"""References for c_tests/optim_extra.c: torch.optim.AdamW trajectories (on a tensor list and on a
Linear module) and torch.nn.utils.clip_grad_norm_ (2-norm, inf-norm, 3-norm; clipped and not).
Run: /work/venv/bin/python tests/reference/optim_extra.py  (writes c_tests/optim_extra_ref.h)."""
import torch

from c_header import case, emit, f32, lines, write_header

torch.manual_seed(7)
STEPS = 4


def loss_of(out, target, w):
    return ((out - target) ** 2 * w).sum()


case("AdamW on a tensor list: loss = sum((p - target)^2 * w), lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.05")
p0, target, w = f32([6]), f32([6]), f32([6]).abs()
emit("ADAMW_P0", p0)
emit("ADAMW_TARGET", target)
emit("ADAMW_W", w)
p = p0.clone().requires_grad_(True)
opt = torch.optim.AdamW([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
traj = []
for _ in range(STEPS):
    opt.zero_grad()
    loss_of(p, target, w).backward()
    opt.step()
    traj.append(p.detach().clone())
emit("ADAMW_TRAJ", torch.stack(traj))

case("AdamW on Linear(3, 2): loss = sum((lin(x) - y)^2), lr 0.05, betas (0.8, 0.99), eps 1e-6, wd 0.01")
lin = torch.nn.Linear(3, 2)
x, y = f32([4, 3]), f32([4, 2])
emit("LIN_W0", lin.weight)
emit("LIN_B0", lin.bias)
LIN_W0_VALUES, LIN_B0_VALUES = lin.weight.tolist(), lin.bias.tolist()
emit("LIN_X", x)
emit("LIN_Y", y)
opt = torch.optim.AdamW(lin.parameters(), lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)
ws, bs = [], []
for _ in range(STEPS):
    opt.zero_grad()
    ((lin(x) - y) ** 2).sum().backward()
    opt.step()
    ws.append(lin.weight.detach().clone())
    bs.append(lin.bias.detach().clone())
emit("LIN_W_TRAJ", torch.stack(ws))
emit("LIN_B_TRAJ", torch.stack(bs))

case("clip_grad_norm_: three params, the second without a gradient")
g0, g2 = f32([2, 3], 2.0), f32([5], 2.0)
emit("CLIP_G0", g0)
emit("CLIP_G2", g2)
for name, max_norm, norm_type in [("L2_CLIPPED", 1.0, 2.0), ("L2_KEPT", 100.0, 2.0),
                                  ("INF_CLIPPED", 0.5, float("inf")), ("INF_KEPT", 100.0, float("inf")),
                                  ("L3_CLIPPED", 1.0, 3.0)]:
    a = torch.zeros(2, 3, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    c = torch.zeros(5, requires_grad=True)
    a.grad, c.grad = g0.clone(), g2.clone()
    total = torch.nn.utils.clip_grad_norm_([a, b, c], max_norm, norm_type)
    assert b.grad is None
    emit(f"{name}_TOTAL", total.reshape(1))
    emit(f"{name}_G0", a.grad)
    emit(f"{name}_G2", c.grad)

case("clip_grad_norm_ over Linear(3, 2)'s parameters at LIN_W0, LIN_B0 after one backward, max_norm 0.5")
lin = torch.nn.Linear(3, 2)
with torch.no_grad():
    lin.weight.copy_(torch.tensor(LIN_W0_VALUES))
    lin.bias.copy_(torch.tensor(LIN_B0_VALUES))
((lin(x) - y) ** 2).sum().backward()
total = torch.nn.utils.clip_grad_norm_(lin.parameters(), 0.5)
emit("MODULE_CLIP_TOTAL", total.reshape(1))
emit("MODULE_CLIP_GW", lin.weight.grad)
emit("MODULE_CLIP_GB", lin.bias.grad)

case("clip_grad_norm_ with an infinite gradient (error_if_nonfinite=False): scaled by 0 anyway")
a = torch.zeros(3, requires_grad=True)
a.grad = torch.tensor([1.0, float("inf"), -2.0])
emit("INF_GRAD_IN", a.grad.clone())
total = torch.nn.utils.clip_grad_norm_([a], 1.0)
emit("INF_GRAD_TOTAL", total.reshape(1))
emit("INF_GRAD_OUT", a.grad)

write_header("optim_extra.py", "optim_extra_ref.h")
