"""Runs the anchor workloads in ONNX Runtime and PyTorch eager (inference_mode) and libinfer's
benches/anchors.rs in the same run, and prints libinfer's time as a ratio of each.

    pip install onnxruntime onnx torch
    python3 benches/compare_ort.py [--quick] [--interleave=ROUNDS] [--only=ROW,...]

Without --interleave, every libinfer row runs first, then every ONNX Runtime row, then every
PyTorch row, and the table shows times. With --interleave=ROUNDS, each row runs back to back in
the three engines and the table shows, per row, the median and the range of the ratios over the
rounds (the host is shared: a slow phase then hits every engine of a row alike). --only=ROW,...
keeps the named rows. The dense rows also show libinfer's and ONNX Runtime's GFLOP/s as a share of
the FMA peak of the same number of threads, measured by anchors.rs in the same process just before
(benches/support/fma_peak.rs).

The ONNX graphs are what PyTorch exports for Linear + ReLU: Gemm(transB=1) followed by Relu.
Every engine uses 2 threads (INFER_BENCH_THREADS / intra_op_num_threads / torch.set_num_threads).
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

THREADS = int(os.environ.get("INFER_BENCH_THREADS", "2"))
QUICK = "--quick" in sys.argv
BUDGET = 0.2 if QUICK else 1.5


def median_time(fn):
    per = 1
    while True:
        t = time.perf_counter()
        for _ in range(per):
            fn()
        if time.perf_counter() - t >= 1e-3 or per >= 1 << 16:
            break
        per *= 2
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < BUDGET or len(samples) < 11:
        t = time.perf_counter()
        for _ in range(per):
            fn()
        samples.append((time.perf_counter() - t) / per)
    return statistics.median(samples)


def mlp_graph(dims):
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i, (n_in, n_out) in enumerate(zip(dims, dims[1:])):
        w = (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
        b = np.zeros(n_out, dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = f"g{i}"
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [out], transB=1))
        prev = out
        if i < len(dims) - 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", dims[0]])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["batch", dims[-1]])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# Elementwise and row-kernel workloads: one op on a [ROWS, COLS] input (see anchors.rs).
ROWS, COLS = 256, 1024
OPS = ["exp", "log", "gelu", "tanh", "sigmoid", "softmax", "layer_norm"]


def op_graph(op):
    """One ONNX node: Gelu needs opset 20, LayerNormalization opset 17."""
    rng = np.random.default_rng(2)
    inputs, inits, attrs = ["x"], [], {}
    if op == "softmax":
        attrs = {"axis": -1}
    if op == "layer_norm":
        inits = [numpy_helper.from_array(rng.standard_normal(COLS).astype(np.float32), n) for n in ("w", "b")]
        inputs += ["w", "b"]
        attrs = {"axis": -1, "epsilon": 1e-5}
    kind = {"exp": "Exp", "log": "Log", "gelu": "Gelu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softmax": "Softmax",
            "layer_norm": "LayerNormalization"}[op]
    node = helper.make_node(kind, inputs, ["y"], **attrs)
    graph = helper.make_graph(
        [node], op,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [ROWS, COLS])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [ROWS, COLS])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


def torch_op(op):
    w, b = torch.randn(COLS), torch.randn(COLS)
    return {"exp": torch.exp, "log": torch.log, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "softmax": lambda x: torch.softmax(x, -1),
            "layer_norm": lambda x: torch.nn.functional.layer_norm(x, (COLS,), w, b, 1e-5)}[op]


def ort_session(model):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def torch_mlp(dims):
    layers = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).eval()


def torch_cnn():
    """examples_c/digits.c's CNN (anchors.rs digits_cnn)."""
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 32, 3, 1, 1), nn.BatchNorm2d(32),
                         nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))


class BasicBlock(torch.nn.Module):
    """torchvision's ResNet basic block without downsampling: relu(bn(conv(relu(bn(conv(x))))) + x)."""

    def __init__(self, c):
        super().__init__()
        nn = torch.nn
        self.c1, self.b1 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(self.b2(self.c2(torch.relu(self.b1(self.c1(x))))) + x)


def inference(fn):
    """fn timed under torch.inference_mode()."""
    def run():
        with torch.inference_mode():
            return median_time(fn)
    return run


def torch_conv_and_training(runners):
    """The convolution workloads (inference_mode, eval) and the training steps of anchors.rs."""
    cnn, x = torch_cnn().eval(), torch.randn(64, 1, 8, 8)
    runners[("cnn_digits_b64", "torch")] = inference(lambda: cnn(x))
    block, xr = BasicBlock(64).eval(), torch.randn(8, 64, 56, 56)
    runners[("resnet_block_64c_56_b8", "torch")] = inference(lambda: block(xr))
    stem, xs = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False), torch.randn(1, 3, 224, 224)
    runners[("stem_7x7s2_3to64_224_b1", "torch")] = inference(lambda: stem(xs))
    y = torch.arange(64) * 7 % 10
    for key, model, xt, make_opt in [
        ("train_mlp_784_256_10_sgd_b64", torch_mlp([784, 256, 10]), torch.randn(64, 784), lambda p: torch.optim.SGD(p, lr=0.01)),
        ("train_cnn_digits_adam_b64", torch_cnn(), torch.randn(64, 1, 8, 8), lambda p: torch.optim.Adam(p, lr=1e-3)),
    ]:
        model.train()
        opt = make_opt(model.parameters())

        def step(model=model, opt=opt, xt=xt):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt), y).backward()
            opt.step()
        runners[(key, "torch")] = lambda step=step: median_time(step)


def baseline_runners():
    """{(workload, engine): a function that times it}, built up front (sessions, models, inputs),
    every ONNX Runtime workload first, then every PyTorch one."""
    torch.set_num_threads(THREADS)
    runners = {}
    mlps = [("mlp_784_256_10", [784, 256, 10], [1, 64, 1024]), ("deep_8x1024", [1024] * 9, [256])]
    inputs = {b: np.random.default_rng(1).standard_normal((b, dims[0]), dtype=np.float32) for _, dims, bs in mlps for b in bs}
    x = np.random.default_rng(1).standard_normal((ROWS, COLS), dtype=np.float32)
    # log takes uniform [0, 1) values, as in anchors.rs: negative ones would time its NaN path.
    op_inputs = {op: np.random.default_rng(1).random((ROWS, COLS), dtype=np.float32) if op == "log" else x for op in OPS}
    for name, dims, batches in mlps:
        for b in batches:
            # A session per batch size: after batch 1, the same session ran batch 64 at 189 us
            # instead of 133 us (ORT 1.32 here), and a server would keep its shapes anyway.
            sess, xb = ort_session(mlp_graph(dims)), inputs[b]
            runners[(f"{name}_b{b}", "ort")] = lambda sess=sess, xb=xb: median_time(lambda: sess.run(None, {"x": xb}))
    for op in OPS:
        sess, xo = ort_session(op_graph(op)), op_inputs[op]
        runners[(f"{op}_{ROWS}x{COLS}", "ort")] = lambda sess=sess, xo=xo: median_time(lambda: sess.run(None, {"x": xo}))
    for name, dims, batches in mlps:
        model = torch_mlp(dims)
        for b in batches:
            xt = torch.from_numpy(inputs[b])
            runners[(f"{name}_b{b}", "torch")] = inference(lambda model=model, xt=xt: model(xt))
    for op in OPS:
        f, xt = torch_op(op), torch.from_numpy(op_inputs[op])
        runners[(f"{op}_{ROWS}x{COLS}", "torch")] = inference(lambda f=f, xt=xt: f(xt))
    a, b = torch.randn(4), torch.randn(4)
    runners[("tiny_add_4", "torch")] = inference(lambda: torch.add(a, b))
    torch_conv_and_training(runners)
    return runners


def libinfer(only=None):
    """anchors.rs's rows (all, or the workloads in `only`), keyed by (workload, mode)."""
    env = dict(os.environ, INFER_BENCH_THREADS=str(THREADS))
    args = ["cargo", "bench", "--quiet", "--bench", "anchors", "--", "--json"] + (["--quick"] if QUICK else [])
    args += [f"--only={','.join(only)}"] if only else []
    res = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {(r["workload"], r["mode"]): r for r in rows}


def fmt(s):
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


KEYS = ["mlp_784_256_10_b1", "mlp_784_256_10_b64", "mlp_784_256_10_b1024", "deep_8x1024_b256"]
KEYS += [f"{op}_{ROWS}x{COLS}" for op in OPS] + ["tiny_add_4"]
KEYS += ["cnn_digits_b64", "resnet_block_64c_56_b8", "stem_7x7s2_3to64_224_b1", "train_mlp_784_256_10_sgd_b64",
         "train_cnn_digits_adam_b64"]


# The dense rows, also read against the FMA peak of THREADS threads that anchors.rs measures in
# the same process, just before them.
DENSE = ["mlp_784_256_10_b64", "mlp_784_256_10_b1024", "deep_8x1024_b256"]
PEAK = f"fma_peak_{THREADS}t"
ONLY = next((a.split("=", 1)[1].split(",") for a in sys.argv[1:] if a.startswith("--only=")), None)
if ONLY:
    KEYS = [k for k in KEYS if k in ONLY]


def share_of_peak(ours, key, seconds=None):
    """The GFLOP/s of a dense row done in `seconds` (libinfer's own time when None) as a share
    of the FMA peak measured by anchors.rs, or None: the same share for ONNX Runtime's time says
    how much of the machine a ratio below 1 would have to find."""
    row, peak = ours.get((key, "inference")), ours.get((PEAK, "inference"))
    if key not in DENSE or not row or not peak:
        return None
    return (row["flops"] / (seconds or row["seconds"])) / (peak["flops"] / peak["seconds"])


def headline(ours, key):
    """libinfer's inference-mode time of a row (a training step's grad-mode time)."""
    return ours.get((key, "inference"), ours.get((key, "grad")))["seconds"]


def one_pass():
    """Every libinfer row, then every ONNX Runtime row, then every PyTorch row."""
    ours = libinfer()
    base = {k: run() for k, run in baseline_runners().items()}
    print("| workload | libinfer inference | no_grad | grad | ONNX Runtime | PyTorch eager | libinfer / ORT | libinfer / PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    for key in KEYS:
        # Training steps have only a grad-mode time; it goes in the first column.
        inf = headline(ours, key)
        ng = ours.get((key, "no_grad"), {}).get("seconds")
        gr = ours.get((key, "grad"), {}).get("seconds") if (key, "inference") in ours else None
        o = base.get((key, "ort"))
        t = base.get((key, "torch"))
        print(f"| {key} | {fmt(inf)} | {fmt(ng) if ng else '-'} | {fmt(gr) if gr else '-'} | {fmt(o) if o else '-'} | {fmt(t) if t else '-'} | "
              f"{f'{inf / o:.2f}x' if o else '-'} | {f'{inf / t:.2f}x' if t else '-'} |")
    peak = ours.get((PEAK, "inference"))
    if peak:
        shares = ", ".join(f"{k} {100 * share_of_peak(ours, k):.0f}% (ORT {100 * share_of_peak(ours, k, base[(k, 'ort')]):.0f}%)"
                           for k in KEYS if share_of_peak(ours, k) is not None and (k, "ort") in base)
        print(f"\nFMA peak of {THREADS} threads, measured in the same run: {peak['flops'] / peak['seconds'] / 1e9:.0f} GFLOP/s; {shares}")


def interleaved(rounds):
    """Each row back to back in the three engines (libinfer, ONNX Runtime, PyTorch), the whole
    table `rounds` times: a slow phase of a shared host then lands on all engines of a row, and
    the spread of a row's ratio over the rounds shows whether it is steady."""
    runners = baseline_runners()
    ratios = {}
    shares = {}
    for r in range(rounds):
        for key in KEYS:
            rows = libinfer([key, PEAK])
            ours = headline(rows, key)
            if share_of_peak(rows, key) is not None:
                shares.setdefault(key, []).append(share_of_peak(rows, key))
            for engine in ("ort", "torch"):
                if (key, engine) in runners:
                    time.sleep(0.3)  # let the previous engine's threads go idle (OpenMP spins)
                    theirs = runners[(key, engine)]()
                    ratios.setdefault((key, engine), []).append(ours / theirs)
                    if engine == "ort" and share_of_peak(rows, key, theirs) is not None:
                        shares.setdefault((key, "ort"), []).append(share_of_peak(rows, key, theirs))
        print(f"# round {r + 1} of {rounds} done, {time.strftime('%H:%M:%S')}", file=sys.stderr)

    def cell(key, engine):
        v = ratios.get((key, engine))
        return f"{statistics.median(v):.2f}x ({min(v):.2f}-{max(v):.2f})" if v else "-"
    def peak_cell(key):
        v = shares.get(key)
        return f"{100 * statistics.median(v):.0f}% ({100 * min(v):.0f}-{100 * max(v):.0f})" if v else "-"
    print(f"| workload | libinfer / ORT, median (range) of {rounds} rounds | libinfer / PyTorch | share of the {THREADS}-thread FMA peak: libinfer | ONNX Runtime |")
    print("|---|---|---|---|---|")
    for key in KEYS:
        print(f"| {key} | {cell(key, 'ort')} | {cell(key, 'torch')} | {peak_cell(key)} | {peak_cell((key, 'ort'))} |")


def main():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    load = os.getloadavg()[0]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {cpu}, {THREADS} threads; onnxruntime {ort.__version__}, torch {torch.__version__}; load average {load:.2f}")
    rounds = next((int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--interleave=")), 0)
    if rounds:
        interleaved(rounds)
    else:
        one_pass()


if __name__ == "__main__":
    main()
