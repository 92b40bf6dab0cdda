"""Trains the small character-level Llama checkpoints the Llama tests and demo load, with Hugging Face
`transformers` and `torch` from PyPI (nothing is fetched from a model hub):

  tests/fixtures/llama/corpus.txt          the training text: a frozen copy of the prose of README.md,
                                           docs/ARCHITECTURE.md, docs/grad-mode-rules.md and docs/API.md
                                           (code blocks and tables dropped, ASCII only); delete it to
                                           take the docs as they are now
  tests/fixtures/llama/tied/               LlamaForCausalLM with tie_word_embeddings = True
  tests/fixtures/llama/untied/             the same architecture with its own lm_head
     config.json, model.safetensors        written by save_pretrained (safetensors; a tied lm_head is
                                           saved only as model.embed_tokens.weight)
     vocab.txt                             the vocabulary, in id order: one line per id holding the
                                           character's Unicode code point in decimal
     expected.json                         prompt ids, the greedy continuation of generate() and the
                                           prompt's logits (float32, every position)

Run from the repository root:  /path/to/venv/bin/python tests/reference/llama_tiny.py [tied] [untied]
(both by default; LLAMA_TINY_STEPS overrides the 1500 training steps; --expected-only rewrites
expected.json from the saved checkpoints without training). Both side by side took 24 minutes on
a 2-core machine shared with other builds (load average about 12).
Seeded: the same torch version writes the same files.
"""

import json
import os
import re
import shutil
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "llama")
PROMPT = "A tensor "  # a prompt whose greedy continuation reads as a sentence
NEW_TOKENS = 48
STEPS = int(os.environ.get("LLAMA_TINY_STEPS", "1500"))
SOURCES = ("README.md", "docs/ARCHITECTURE.md", "docs/grad-mode-rules.md", "docs/API.md")
# the few non-ASCII characters of the docs, spelled in ASCII so that the demo can print every id
ASCII = {"\u2014": "--", "\u2192": "->", "\u00b7": ".", "\u1d40": "T", "\u00b1": "+-", "\u00d7": "x"}


def prose(markdown):
    """The running text of a Markdown file: code blocks and table rows say little a character model
    can learn to write, so they go."""
    text = re.sub(r"```.*?```\n?", "", markdown, flags=re.S)
    lines = [line for line in text.split("\n") if not line.lstrip().startswith("|")]
    text = "\n".join(lines)
    for c, a in ASCII.items():
        text = text.replace(c, a)
    text = "".join(c for c in text if c == "\n" or " " <= c <= "~")
    return re.sub(r"\n{3,}", "\n\n", text)


def corpus():
    path = os.path.join(OUT, "corpus.txt")
    if not os.path.exists(path):
        os.makedirs(OUT, exist_ok=True)
        parts = []
        for name in SOURCES:
            with open(os.path.join(ROOT, name), encoding="utf-8") as f:
                parts.append(prose(f.read()))
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(parts))
    with open(path, encoding="utf-8") as f:
        return f.read()


def config(vocab_size, tied):
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=tied,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )


def train(model, data, steps, seq=64, batch=16):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    start = time.time()
    for step in range(steps):
        starts = torch.randint(0, len(data) - seq - 1, (batch,))
        x = torch.stack([data[s : s + seq] for s in starts])
        y = torch.stack([data[s + 1 : s + seq + 1] for s in starts])
        loss = torch.nn.functional.cross_entropy(
            model(input_ids=x).logits.flatten(0, 1), y.flatten()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step}: loss {loss.item():.3f} ({time.time() - start:.0f} s)", flush=True)
    model.eval()


def write(name, tied, text, vocab):
    torch.manual_seed(1234 + tied)
    ids = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([ids[c] for c in text], dtype=torch.long)
    model = LlamaForCausalLM(config(len(vocab), tied))
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters")
    train(model, data, STEPS)
    folder = os.path.join(OUT, name)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    model.save_pretrained(folder, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(folder, extra)
        if os.path.exists(p):
            os.remove(p)
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        for c in vocab:
            f.write(f"{ord(c)}\n")
    expected(name)


def expected(name):
    """expected.json from the checkpoint as saved (so it can be rewritten, for another prompt,
    without training again: --expected-only)."""
    folder = os.path.join(OUT, name)
    model = LlamaForCausalLM.from_pretrained(folder).eval()
    with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
        vocab = [chr(int(line)) for line in f]
    ids = {c: i for i, c in enumerate(vocab)}
    prompt = torch.tensor([[ids[c] for c in PROMPT]])
    with torch.inference_mode():
        logits = model(input_ids=prompt).logits[0]
        out = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1)
        # a look at sampled text too (the demo samples with libinfer's own generator)
        torch.manual_seed(0)
        sampled = model.generate(prompt, max_new_tokens=120, do_sample=True, temperature=0.8, top_k=10)
    greedy = out[0, prompt.shape[1] :].tolist()
    print(f"  {name} greedy: {PROMPT!r} + {''.join(vocab[i] for i in greedy)!r}")
    print(f"  {name} sampled: {PROMPT!r} + {''.join(vocab[i] for i in sampled[0, prompt.shape[1] :])!r}")
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(
            {
                "prompt": PROMPT,
                "prompt_ids": prompt[0].tolist(),
                "greedy_ids": greedy,
                "prompt_logits_shape": list(logits.shape),
                "prompt_logits": [float(v) for v in logits.float().flatten().tolist()],
                "made_by": f"torch {torch.__version__}, transformers {__import__('transformers').__version__}",
            },
            f,
        )


def main():
    # one thread: the two checkpoints can train side by side (`... llama_tiny.py tied & ...
    # llama_tiny.py untied`), and torch's threads spin badly on a shared machine
    torch.set_num_threads(1)
    text = corpus()
    vocab = sorted(set(text))
    args = sys.argv[1:]
    names = [a for a in args if not a.startswith("--")] or ["tied", "untied"]
    for name, tied in (("tied", True), ("untied", False)):
        if name in names:
            if "--expected-only" in args:
                expected(name)
            else:
                write(name, tied, text, vocab)


if __name__ == "__main__":
    main()
