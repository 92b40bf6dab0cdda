"""ONNX Runtime's elementwise and row kernels (benches/compare_ort.py's graphs, 256x1024) on one
thread, timed in CPU time of the calling thread, against libinfer's `cargo bench --bench vmath`
in the same run: CPU time per element holds on a loaded machine where wall-clock ratios swing.

    python3 benches/compare_vmath.py
    python3 benches/compare_vmath.py OLD_BENCH_BINARY NEW_BENCH_BINARY --rounds 3
The second form runs the given `vmath` bench binaries (kept copies of target/release/deps/vmath-*)
instead of cargo, alternating them with ONNX Runtime for each round, to A/B two builds on a
shared machine. With intra_op_num_threads = 1, ONNX Runtime runs its kernels on the calling thread, so
time.thread_time() counts all of their work (and the session's per-run overhead, small at 256k
elements).
"""
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(__file__))
from compare_ort import COLS, OPS, ROWS, op_graph  # noqa: E402


def cpu_ns_per_element(fn):
    fn()
    samples = []
    for _ in range(15):
        t = time.thread_time()
        for _ in range(10):
            fn()
        samples.append((time.thread_time() - t) / 10)
    return statistics.median(samples) * 1e9 / (ROWS * COLS)


def ort_times():
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    x = np.random.default_rng(1).standard_normal((ROWS, COLS), dtype=np.float32)
    u = np.random.default_rng(1).random((ROWS, COLS), dtype=np.float32)
    out = {}
    for op in OPS:
        sess = ort.InferenceSession(op_graph(op).SerializeToString(), opts, providers=["CPUExecutionProvider"])
        feed = {"x": u if op == "log" else x}
        out[op] = cpu_ns_per_element(lambda: sess.run(None, feed))
    return out


def libinfer_times(binary=None):
    cmd = [binary, "--bench"] if binary else ["cargo", "bench", "--quiet", "--bench", "vmath"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in OPS:
            out[parts[0]] = min(float(v) for v in parts[1:])
    return res.stdout.splitlines()[0], out


def main():
    args = sys.argv[1:]
    rounds = 1
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i : i + 2]
    binaries = args or [None]
    for r in range(rounds):
        theirs = ort_times()
        for b in binaries:
            header, ours = libinfer_times(b)
            print(f"{header}; load average {os.getloadavg()[0]:.2f}" + (f"; round {r + 1}, {b}" if b else ""))
            print(f"{'op':<12} {'libinfer':>9} {'ORT':>9} {'ratio':>7}")
            for op in OPS:
                print(f"{op:<12} {ours[op]:9.3f} {theirs[op]:9.3f} {ours[op] / theirs[op]:6.2f}x")


if __name__ == "__main__":
    main()
