"""Reference values for c_tests/custom_modules.c, computed by PyTorch.

Run from the repository root:  /work/venv/bin/python tests/reference/custom_modules.py
It writes c_tests/custom_modules_ref.h:
- the state_dict key order of a PyTorch module that registers, in this order, a child, a
  parameter, a persistent buffer, a non-persistent buffer and a second child (PyTorch lists own
  parameters, then own persistent buffers, then children);
- a residual block y = x + fc2(relu(fc1(x))) with fixed weights: its output and the gradients of
  sum(y * gy) with respect to x and fc1.weight (float64 from the float32 inputs);
- a tied embedding / lm_head: the state_dict keys and the tied weight after one SGD step
  (lr 0.5) on sum(lm_head(embed(ids)) * gy), which steps the shared tensor once.
"""
import torch
import torch.nn as nn
from c_header import emit, emit_names, lines, write_header

torch.manual_seed(20261207)


class Order(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(2, 2)
        self.scale = nn.Parameter(torch.ones(2))
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("inv_freq", torch.ones(2), persistent=False)
        self.second = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))


emit_names("order_keys", list(Order().state_dict().keys()))

# Residual block, float64 from float32 values.
x = torch.randn(3, 4).float()
w1, b1 = torch.randn(8, 4).float() * 0.5, torch.randn(8).float() * 0.5
w2, b2 = torch.randn(4, 8).float() * 0.5, torch.randn(4).float() * 0.5
gy = torch.randn(3, 4).float()
for n, t in [("res_x", x), ("res_w1", w1), ("res_b1", b1), ("res_w2", w2), ("res_b2", b2), ("res_gy", gy)]:
    emit(n, t)
xd, w1d = x.double().requires_grad_(), w1.double().requires_grad_()
y = xd + torch.relu(xd @ w1d.T + b1.double()) @ w2.double().T + b2.double()
(y * gy.double()).sum().backward()
emit("res_y", y)
emit("res_dx", xd.grad)
emit("res_dw1", w1d.grad)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.lm_head = nn.Linear(3, 5, bias=False)
        self.lm_head.weight = self.embed.weight


tied = Tied()
emit_names("tied_keys", list(tied.state_dict().keys()))
emb = (torch.randn(5, 3) * 0.5).float()
ids = torch.tensor([1, 4, 1])
tgy = torch.randn(3, 5).float()
emit("tied_w", emb)
emit("tied_ids", ids)
emit("tied_gy", tgy)
tied = tied.double()
with torch.no_grad():
    tied.embed.weight.copy_(emb.double())
opt = torch.optim.SGD(tied.parameters(), lr=0.5)
assert len(list(tied.parameters())) == 1
(tied.lm_head(tied.embed(ids)) * tgy.double()).sum().backward()
opt.step()
emit("tied_w_after", tied.embed.weight)

write_header("custom_modules.py", "custom_modules_ref.h")
print("wrote c_tests/custom_modules_ref.h")
