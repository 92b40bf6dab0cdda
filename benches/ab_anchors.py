"""A/B of two builds of benches/anchors.rs on one workload, in alternating runs.

    cargo bench --bench anchors --no-run   # once per build; copy each target/release/deps/anchors-* aside
    python3 benches/ab_anchors.py BIN_A BIN_B WORKLOAD PAIRS

Runs A and B alternately PAIRS times (A first, then B first, and so on), each with `--quick
--only=WORKLOAD`, and prints both medians and the median and quartiles of the per-pair ratios
B / A. The host is shared and changes speed from minute to minute, so one run of each build says
little; pairs measured back to back see the same phase (A against itself: 0.99, quartiles
0.93-1.02 over 10 pairs). INFER_BENCH_THREADS (default 2) sets the threads of both.
"""
import json
import os
import statistics
import subprocess
import sys


def seconds(binary, workload, threads):
    """The workload's inference-mode time (a training step's grad-mode time) from one run."""
    env = dict(os.environ, INFER_BENCH_THREADS=threads)
    out = subprocess.run([binary, "--json", "--quick", f"--only={workload}"], capture_output=True, text=True, env=env, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    by_mode = {r["mode"]: r["seconds"] for r in rows}
    return by_mode.get("inference", by_mode.get("grad"))


def main():
    a, b, workload, pairs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    threads = os.environ.get("INFER_BENCH_THREADS", "2")
    times_a, times_b, ratios = [], [], []
    for i in range(pairs):
        if i % 2 == 0:
            ta = seconds(a, workload, threads)
            tb = seconds(b, workload, threads)
        else:
            tb = seconds(b, workload, threads)
            ta = seconds(a, workload, threads)
        times_a.append(ta)
        times_b.append(tb)
        ratios.append(tb / ta)
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"{workload}, {threads} threads, {pairs} pairs: A {statistics.median(times_a) * 1e6:.1f} us, "
          f"B {statistics.median(times_b) * 1e6:.1f} us (medians); B / A median {statistics.median(ratios):.3f}, "
          f"quartiles {q[0]:.3f}-{q[2]:.3f}")


if __name__ == "__main__":
    main()
