"""Writes the ~30M-parameter Llama of issue 13's performance section, with seeded random weights,
as transformers' save_pretrained writes it (config.json + model.safetensors):

    /work/venv/bin/python benches/llama_weights.py [folder]     (default target/llama30m)

hidden 512, intermediate 1376, 8 layers, 8 query heads, 2 k/v heads (head_dim 64), vocabulary
8000, untied lm_head, default rope. max_position_embeddings is 512: the benches use 256 prompt
positions plus decode steps, and llama_model.h preallocates its KV cache for every position, so a
larger value would only inflate the cache. The folder (about 120 MB) is not committed.
"""
import os
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def config():
    return LlamaConfig(
        vocab_size=8000,
        hidden_size=512,
        intermediate_size=1376,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "llama30m")
    torch.manual_seed(0)
    model = LlamaForCausalLM(config()).eval()
    model.save_pretrained(out, safe_serialization=True)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: {params / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
