"""Reference data for c_tests/modules_nn.c (the nn modules of API.md section 4), from PyTorch.

Run from anywhere:  python3 tests/reference/modules_nn.py
It writes (deterministically: fixed seeds, float64 references, sorted safetensors headers)

  tests/fixtures/cnn_weights.safetensors  state_dict of
        Sequential(Conv2d(1,4,3,padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), Flatten(), Linear(64,3))
        after torch.manual_seed(0) and three train-mode forwards, so the BatchNorm running
        statistics and num_batches_tracked (3) are not the defaults
  tests/fixtures/cnn_io.safetensors       "input" (2,1,8,8), "targets" (2,) I64,
        "eval_output": the eval-mode output for input, "eval_grad.<name>" the gradients of
        cross_entropy(eval_output, targets) for every parameter (BatchNorm on running statistics);
        then ONE more train-mode forward on input followed by cross_entropy(output, targets).backward():
        "train_output", "loss", "running_mean", "running_var", "num_batches_tracked" (4, 0-d I64)
        after it, and "grad.<name>" for every parameter
  c_tests/modules_nn_ref.h                state_dict names, dtypes and shapes of a Sequential holding
        every module kind, and BatchNorm1d / LayerNorm / strided Conv2d module cases

The references are computed in float64 from the float32 weights and inputs (then stored as float32),
so the C side (float32) is compared with the exact result.
"""

import copy
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

from c_header import case, emit, lines, write_header

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def cnn():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 1, 8, 8) * 2.0 + 0.5)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(FIXTURES, "cnn_weights.safetensors"), metadata={"format": "pt"})

    x = torch.randn(2, 1, 8, 8)
    targets = torch.tensor([2, 0])
    ref = copy.deepcopy(model).double()
    ref.eval()
    eval_out = ref(x.double())
    F.cross_entropy(eval_out, targets).backward()
    eval_grads = {f"eval_grad.{name}": p.grad.float() for name, p in ref.named_parameters()}
    ref.zero_grad()
    ref.train()
    train_out = ref(x.double())
    loss = F.cross_entropy(train_out, targets)
    loss.backward()
    bn = ref[1]
    io = {
        "input": x,
        "targets": targets,
        "eval_output": eval_out.detach().float(),
        "train_output": train_out.detach().float(),
        "loss": loss.detach().float(),
        "running_mean": bn.running_mean.float(),
        "running_var": bn.running_var.float(),
        "num_batches_tracked": bn.num_batches_tracked.clone(),
    }
    for name, p in ref.named_parameters():
        io[f"grad.{name}"] = p.grad.float()
    io.update(eval_grads)
    save_file(io, os.path.join(FIXTURES, "cnn_io.safetensors"), metadata={"format": "pt"})
    print("cnn eval output", eval_out.tolist())
    print("cnn train output", train_out.tolist(), "loss", loss.item())


def state_dict_names():
    """Every module kind in one Sequential (with a nested Sequential and bias-free layers)."""
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64, 8), nn.BatchNorm1d(8), nn.GELU(), nn.Dropout(0.5), nn.LayerNorm(8), nn.Sigmoid(),
        nn.Tanh(), nn.Softmax(1), nn.Linear(8, 3),
        nn.Sequential(nn.Linear(3, 5, bias=False), nn.Embedding(10, 6), nn.Conv2d(2, 3, 1, bias=False)),
    )
    sd = model.state_dict()
    case("state_dict of Sequential(Conv2d(3,4,3,padding=1), BatchNorm2d(4), ReLU, MaxPool2d(2), Flatten, "
         "Linear(64,8), BatchNorm1d(8), GELU, Dropout(0.5), LayerNorm(8), Sigmoid, Tanh, Softmax(1), "
         "Linear(8,3), Sequential(Linear(3,5,bias=False), Embedding(10,6), Conv2d(2,3,1,bias=False)))")
    lines.append(f"#define SD_COUNT {len(sd)}")
    names = ", ".join(f'"{k}"' for k in sd)
    lines.append(f"static const char *const sd_names[SD_COUNT] = {{{names}}};")
    dtypes = ", ".join("RT_DTYPE_I64" if v.dtype == torch.int64 else "RT_DTYPE_F32" for v in sd.values())
    lines.append(f"static const rt_dtype sd_dtypes[SD_COUNT] = {{{dtypes}}};")
    ndims = ", ".join(str(v.dim()) for v in sd.values())
    lines.append(f"static const size_t sd_ndims[SD_COUNT] = {{{ndims}}};")
    shapes = ", ".join("{" + ", ".join(str(d) for d in v.shape) + "}" if v.dim() else "{0}" for v in sd.values())
    lines.append(f"static const int64_t sd_shapes[SD_COUNT][4] = {{{shapes}}};")


def batch_norm1d():
    torch.manual_seed(1)
    case("BatchNorm1d(3) (eps 1e-5, momentum 0.1): train forward on bn_x1 (4,3), train forward on "
         "bn_x2 (5,3,2), eval forward on bn_x3 (2,3); outputs and running stats after each")
    x1, x2, x3 = torch.randn(4, 3) * 2 + 1, torch.randn(5, 3, 2) - 0.5, torch.randn(2, 3)
    bn = nn.BatchNorm1d(3).double()
    emit("bn_x1", x1), emit("bn_x2", x2), emit("bn_x3", x3)
    with torch.no_grad():
        emit("bn_y1", bn(x1.double())), emit("bn_rm1", bn.running_mean), emit("bn_rv1", bn.running_var)
        emit("bn_y2", bn(x2.double())), emit("bn_rm2", bn.running_mean), emit("bn_rv2", bn.running_var)
        bn.eval()
        emit("bn_y3", bn(x3.double()))
    case("BatchNorm1d(3, eps=1e-3, momentum=0.5): one train forward on bnq_x (4,3) of small variance, "
         "where eps matters")
    x = torch.randn(4, 3) * 0.05
    bn = nn.BatchNorm1d(3, eps=1e-3, momentum=0.5).double()
    emit("bnq_x", x)
    with torch.no_grad():
        emit("bnq_y", bn(x.double())), emit("bnq_rm", bn.running_mean), emit("bnq_rv", bn.running_var)


def layer_norm():
    torch.manual_seed(2)
    case("LayerNorm([3,4]) (eps 1e-5) with weight ln_w and bias ln_b on ln_x (2,3,4); "
         "ln_gw, ln_gb: gradients of sum(y * ln_gy)")
    x, w, b, gy = torch.randn(2, 3, 4), torch.randn(3, 4), torch.randn(3, 4), torch.randn(2, 3, 4)
    ln = nn.LayerNorm([3, 4]).double()
    with torch.no_grad():
        ln.weight.copy_(w), ln.bias.copy_(b)
    y = ln(x.double())
    y.backward(gy.double())
    emit("ln_x", x), emit("ln_w", w), emit("ln_b", b), emit("ln_gy", gy)
    emit("ln_y", y), emit("ln_gw", ln.weight.grad), emit("ln_gb", ln.bias.grad)


def strided_conv():
    torch.manual_seed(3)
    case("Conv2d(2,3,3,stride=2,padding=1) with weight cv_w, bias cv_b on cv_x (2,2,5,5): cv_y (2,3,3,3)")
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    x = torch.randn(2, 2, 5, 5)
    emit("cv_x", x), emit("cv_w", conv.weight), emit("cv_b", conv.bias)
    with torch.no_grad():
        emit("cv_y", conv.double()(x.double()))


if __name__ == "__main__":
    os.makedirs(FIXTURES, exist_ok=True)
    cnn()
    state_dict_names()
    batch_norm1d()
    layer_norm()
    strided_conv()
    write_header("modules_nn.py", "modules_nn_ref.h", extra='#include "infer.h"')
    print("wrote c_tests/modules_nn_ref.h")
