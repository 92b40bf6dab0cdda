"""Issue 13's performance table: the ~30M Llama of benches/llama_weights.py in libinfer (through
examples_c/llama_model.h, timed by benches/llama_bench.c) against transformers' LlamaForCausalLM
(attn_implementation="eager", torch.inference_mode()) in the same run, 2 threads, batch 1, plus
fused attention against F.scaled_dot_product_attention (benches/compare_attention.py's rows).

    /work/venv/bin/python benches/compare_llama.py [--quick] [folder]    (folder default target/llama30m)

What it does, in order:
  1. writes the checkpoint with benches/llama_weights.py when the folder has none;
  2. `cargo build --release`, then compiles benches/llama_bench.c with cc -O2 against
     target/release/libinfer.so (rpath set, so no install is needed) into target/bench/llama_bench,
     and runs it (JSON lines);
  3. times transformers on the same workloads: prefill = forward of the 256-token prompt with a
     fresh DynamicCache; decode = forward of one token with the DynamicCache of a 256-token prefill,
     timing only that step and cropping the cache back to 256 after it (libinfer sets its cache
     position back to 256 the same way); medians;
  4. PyTorch's peak during generate() (256-token prompt, 32 greedy tokens): the bytes of the
     model's parameters and buffers plus the highest `total_allocated` the profiler's CPU allocator
     events report during the call (torch.profiler with profile_memory=True: tensor storage
     allocated by the call and live at once, the same quantity as rt_memory_stats_get's peak over
     live tensor storage; neither counts allocator caches, the interpreter or code);
  5. runs benches/compare_attention.py's two sides for the (1, 8, 512, 512, 64) rows;
  6. prints a markdown table: libinfer, PyTorch, ratio, target.
Threads: INFER_BENCH_THREADS (default 2) for both.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
import compare_attention  # noqa: E402  (same folder; reused for the SDPA rows)

THREADS = int(os.environ.get("INFER_BENCH_THREADS", "2"))
QUICK = "--quick" in sys.argv
BUDGET = 1.0 if QUICK else 5.0
PROMPT, NEW_TOKENS = 256, 32


def folder():
    rest = [a for a in sys.argv[1:] if not a.startswith("--")]
    return os.path.abspath(rest[0] if rest else os.path.join(ROOT, "target", "llama30m"))


def ensure_weights(path):
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(HERE, "llama_weights.py"), path], check=True)


def libinfer(path):
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    lib = os.path.join(ROOT, "target", "release")
    exe = os.path.join(ROOT, "target", "bench", "llama_bench")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    subprocess.run(["cc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-I", os.path.join(ROOT, "include"), os.path.join(HERE, "llama_bench.c"),
                    "-L", lib, "-linfer", "-lm", f"-Wl,-rpath,{lib}", "-o", exe], check=True)
    env = dict(os.environ, INFER_BENCH_THREADS=str(THREADS))
    res = subprocess.run([exe, path] + (["--quick"] if QUICK else []), capture_output=True, text=True, env=env,
                         check=True)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {r["workload"]: r for r in rows}


def median_of(step, min_runs):
    step()  # warm-up
    samples, start = [], time.perf_counter()
    while len(samples) < min_runs or time.perf_counter() - start < BUDGET:
        samples.append(step())
    return statistics.median(samples)


def transformers_side(path, ids):
    from transformers import DynamicCache, LlamaForCausalLM
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(THREADS)
    model = LlamaForCausalLM.from_pretrained(path, attn_implementation="eager", dtype=torch.float32).eval()
    prompt = torch.tensor([ids], dtype=torch.long)
    out = {}
    with torch.inference_mode():
        def prefill():
            t = time.perf_counter()
            model(input_ids=prompt, cache=DynamicCache(config=model.config), use_cache=True)
            return time.perf_counter() - t

        out["prefill"] = median_of(prefill, 3 if QUICK else 7)
        cache = DynamicCache(config=model.config)
        model(input_ids=prompt, cache=cache, use_cache=True)
        token = prompt[:, -1:]

        def decode():
            t = time.perf_counter()
            model(input_ids=token, cache=cache, use_cache=True)
            t = time.perf_counter() - t
            cache.crop(-1)  # drop the step's position: back to PROMPT
            return t

        out["decode"] = median_of(decode, 11 if QUICK else 31)
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model.generate(prompt, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
    grown = 0
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.tag == _EventType.Allocation:
            grown = max(grown, node.extra_fields.total_allocated)
    resident = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
    out["peak"] = resident + grown
    return out


def prompt_ids(vocab):
    # the LCG of llama_bench.c, so both engines see the same prompt
    ids, rng = [], 12345
    for _ in range(PROMPT):
        rng = (rng * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        ids.append((rng >> 33) % vocab)
    return ids


def ms(s):
    return f"{s * 1e3:.1f} ms"


def mb(b):
    return f"{b / 1e6:.1f} MB"


def main():
    path = folder()
    ensure_weights(path)
    ours = libinfer(path)
    with open(os.path.join(path, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    theirs = transformers_side(path, prompt_ids(vocab))
    compare_attention.QUICK, compare_attention.BUDGET = QUICK, 0.3 if QUICK else 2.0
    sdpa_ours = compare_attention.libinfer()
    sdpa_theirs = compare_attention.torch_times()

    pre, dec = ours[f"llama30m_prefill_{PROMPT}"], ours[f"llama30m_decode_cache_{PROMPT}"]
    mem = ours[f"llama30m_generate_{PROMPT}_plus_{NEW_TOKENS}"]
    gbs = dec["weight_bytes_read"] / dec["seconds"] / 1e9
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {THREADS} threads, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| workload | libinfer | transformers / PyTorch | libinfer / PyTorch | target |")
    print("|---|---|---|---|---|")
    print(f"| Llama 30M prefill, 256 tokens | {ms(pre['seconds'])} | {ms(theirs['prefill'])} | "
          f"{pre['seconds'] / theirs['prefill']:.2f}x | <= 1.0x |")
    print(f"| Llama 30M decode, 1 token, 256 cached (libinfer reads weights at {gbs:.1f} GB/s) | "
          f"{ms(dec['seconds'])} | {ms(theirs['decode'])} | {dec['seconds'] / theirs['decode']:.2f}x | <= 0.5x |")
    for key in [("sdpa_1x8x512x512x64", "inference"), ("sdpa_1x8x512x512x64_causal", "inference")]:
        s, t = sdpa_ours[key], sdpa_theirs[key]
        print(f"| fused attention {key[0][5:]} | {ms(s)} | {ms(t)} | {s / t:.2f}x | <= 1.0x |")
    print(f"| peak memory, generate 256 + 32 tokens | {mb(mem['peak_bytes'])} | {mb(theirs['peak'])} | "
          f"{mem['peak_bytes'] / theirs['peak']:.2f}x | <= {mb(mem['target_bytes'])} (weights {mb(mem['weights_bytes'])}"
          f" + KV cache {mb(mem['kv_cache_bytes'])} + 4 x {mb(mem['widest_activation_bytes'])}) |")


if __name__ == "__main__":
    main()
