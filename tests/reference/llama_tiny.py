"""Trains the small character-level Llama checkpoints the Llama tests and demo load, with Hugging Face
`transformers` and `torch` from PyPI (nothing is fetched from a model hub):

  tests/fixtures/llama/corpus.txt          the training text: a frozen copy of docs/ARCHITECTURE.md
  tests/fixtures/llama/tied/               LlamaForCausalLM with tie_word_embeddings = True
  tests/fixtures/llama/untied/             the same architecture with its own lm_head
     config.json, model.safetensors        written by save_pretrained (safetensors; a tied lm_head is
                                           saved only as model.embed_tokens.weight)
     vocab.txt                             the vocabulary, in id order: one line per id holding the
                                           character's Unicode code point in decimal
     expected.json                         prompt ids, the greedy continuation of generate() and the
                                           prompt's logits (float32, every position)

Run from the repository root:  /path/to/venv/bin/python tests/reference/llama_tiny.py
Seeded: the same torch version writes the same files.
"""

import json
import os
import shutil

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "llama")
PROMPT = "The C ABI never "
NEW_TOKENS = 48
STEPS = int(os.environ.get("LLAMA_TINY_STEPS", "400"))


def corpus():
    path = os.path.join(OUT, "corpus.txt")
    if not os.path.exists(path):
        os.makedirs(OUT, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "docs", "ARCHITECTURE.md"), path)
    with open(path, encoding="utf-8") as f:
        return f.read()


def config(vocab_size, tied):
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=96,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=6,
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
            print(f"  step {step}: loss {loss.item():.3f}")
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
    prompt = torch.tensor([[ids[c] for c in PROMPT]])
    with torch.inference_mode():
        logits = model(input_ids=prompt).logits[0]
        out = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1)
    greedy = out[0, prompt.shape[1] :].tolist()
    print(f"  greedy: {PROMPT!r} + {''.join(vocab[i] for i in greedy)!r}")
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
    torch.set_num_threads(2)
    text = corpus()
    vocab = sorted(set(text))
    for name, tied in (("tied", True), ("untied", False)):
        write(name, tied, text, vocab)


if __name__ == "__main__":
    main()
