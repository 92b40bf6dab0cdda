"""Reference trajectories for c_tests/optim.c: torch.optim.SGD and torch.optim.Adam on
loss = sum((p - target)^2 * w), three steps each, printed as C initialisers.
Run: python3 tests/reference/optim.py  (PyTorch 2.15, CPU, float32)."""
import torch

p0 = [0.5, -1.0, 2.0, 0.25]
target = [1.0, 0.0, -1.0, 0.5]
w = [1.0, 2.0, 0.5, 3.0]


def run(make):
    p = torch.tensor(p0, requires_grad=True)
    opt = make([p])
    out = []
    for _ in range(3):
        opt.zero_grad()
        loss = ((p - torch.tensor(target)) ** 2 * torch.tensor(w)).sum()
        loss.backward()
        opt.step()
        out.append(p.detach().clone().tolist())
    return out


def show(name, traj):
    rows = ",\n    ".join("{" + ", ".join(f"{v:.9g}f" for v in row) + "}" for row in traj)
    print(f"static const float {name}[3][4] = {{\n    {rows}}};")


show("SGD_MOMENTUM", run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)))
show("SGD_PLAIN", run(lambda ps: torch.optim.SGD(ps, lr=0.05)))
show("ADAM", run(lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)))
