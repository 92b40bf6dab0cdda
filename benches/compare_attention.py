"""Times PyTorch's F.scaled_dot_product_attention on benches/attention.rs's workloads and runs
that bench in the same run, printing libinfer's time as a ratio of PyTorch's.

    python3 benches/compare_attention.py [--quick]

Both use 2 threads (INFER_BENCH_THREADS / torch.set_num_threads), float32, inference mode
(torch.inference_mode) for the forward rows; the training step is forward with grad + backward
of the sum.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

THREADS = int(os.environ.get("INFER_BENCH_THREADS", "2"))
QUICK = "--quick" in sys.argv
BUDGET = 0.3 if QUICK else 2.0


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


def torch_times():
    torch.set_num_threads(THREADS)
    q, k, v = (torch.randn(1, 8, 512, 64) for _ in range(3))
    out = {}
    with torch.inference_mode():
        out[("sdpa_1x8x512x512x64", "inference")] = median_time(lambda: F.scaled_dot_product_attention(q, k, v))
        out[("sdpa_1x8x512x512x64_causal", "inference")] = median_time(
            lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    ql, kl, vl = (t.clone().requires_grad_(True) for t in (q, k, v))

    def step():
        F.scaled_dot_product_attention(ql, kl, vl).sum().backward()

    out[("sdpa_1x8x512x512x64", "train_step")] = median_time(step)
    return out


def libinfer():
    env = dict(os.environ, INFER_BENCH_THREADS=str(THREADS))
    args = ["cargo", "bench", "--quiet", "--bench", "attention", "--", "--json"] + (["--quick"] if QUICK else [])
    res = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {(r["workload"], r["mode"]): r["seconds"] for r in rows}


def fmt(s):
    return f"{s * 1e3:.2f} ms"


def main():
    print(f"# {time.strftime('%Y-%m-%d')}, {THREADS} threads, torch {torch.__version__}")
    ours = libinfer()
    theirs = torch_times()
    print("| workload | mode | libinfer | PyTorch | libinfer / PyTorch |")
    print("|---|---|---|---|---|")
    for key, s in ours.items():
        t = theirs[key]
        print(f"| {key[0]} | {key[1]} | {fmt(s)} | {fmt(t)} | {s / t:.2f}x |")


if __name__ == "__main__":
    main()
