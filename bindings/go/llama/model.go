// Package llama is a Llama-family decoder (Hugging Face LlamaForCausalLM) built from modules whose
// forwards are Go functions (infer.Custom): RMSNorm, rotary attention with grouped k/v heads through
// the fused attention, a SwiGLU MLP, and a tied or untied lm_head. It loads config.json and
// model.safetensors as transformers' save_pretrained writes them, under their own names (strict),
// and generates with a KV cache: a preallocated buffer per layer for keys and one for values,
// written through Narrow + CopyFrom in inference mode. The same model as examples_c/llama_model.h
// (C) and examples_cpp/llama.hpp (C++); the program in ../examples/llama prints text with it.
//
// The model is character-level in the repository's fixtures, but nothing here knows about
// characters: a real checkpoint pairs it with its tokenizer (ids in, ids out).
package llama

import (
	"fmt"
	"path/filepath"
	"strconv"

	infer "github.com/libinfer/infer-go"
)

// state is what the modules' forwards share: the configuration and the generation state.
type state struct {
	cfg      Config
	useCache bool          // run against the KV cache (inference mode only)
	pos      int64         // positions already in the cache
	causal   bool          // this call's attention is top-left causal (a prompt without a cache)
	mask     *infer.Tensor // or this Bool mask (new queries after cached ones), or neither
}

// Model is a LlamaForCausalLM. Close releases it.
type Model struct {
	Module *infer.Module // the root module: its state_dict has transformers' names
	st     *state
}

// New is a model for cfg with PyTorch's initialisation.
func New(cfg Config) (*Model, error) {
	st := &state{cfg: cfg}
	root, err := infer.Custom("LlamaForCausalLM", st.forward)
	if err != nil {
		return nil, err
	}
	var c chain
	defer c.close()
	model := c.m(infer.Container("LlamaModel"))
	layers := c.m(infer.Container("ModuleList"))
	embed := c.m(infer.Embedding(cfg.VocabSize, cfg.HiddenSize))
	c.check(root.RegisterModule("model", model))
	c.check(model.RegisterModule("embed_tokens", embed))
	c.check(model.RegisterModule("layers", layers))
	for i := int64(0); i < cfg.NumLayers && c.err == nil; i++ {
		c.check(layers.RegisterModule(strconv.FormatInt(i, 10), c.m(decoderLayer(st))))
	}
	c.check(model.RegisterModule("norm", c.m(rmsNorm(cfg))))
	c.check(model.RegisterModule("rotary_emb", c.m(rotary(cfg))))
	// tied: the one Embedding under both names, so lm_head.weight is model.embed_tokens.weight (as
	// in PyTorch) and a strict load accepts the file that stores it once
	head := embed
	if !cfg.TieWordEmbeddings {
		head = c.m(infer.Linear(cfg.HiddenSize, cfg.VocabSize, false))
	}
	c.check(root.RegisterModule("lm_head", head))
	if root, err = c.module(root); err != nil {
		return nil, err
	}
	return &Model{Module: root, st: st}, nil
}

// Load reads folder/config.json and loads folder/model.safetensors strictly, in eval mode.
func Load(folder string) (*Model, error) {
	cfg, err := ReadConfig(folder)
	if err != nil {
		return nil, err
	}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err = m.Module.LoadSafetensors(filepath.Join(folder, "model.safetensors"), true); err == nil {
		err = m.Module.Eval()
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Model) Close() error { return m.Module.Close() }

func (m *Model) Config() Config { return m.st.cfg }

// forward: ids (1, L) -> logits (1, L, vocab); with the cache on it continues from the cached
// positions.
func (st *state) forward(self *infer.Module, in []*infer.Tensor) (*infer.Tensor, error) {
	cfg := st.cfg
	shape, err := in[0].Shape()
	if err != nil {
		return nil, err
	}
	n, start := shape[len(shape)-1], int64(0)
	if st.useCache {
		start = st.pos
	}
	if start+n > cfg.MaxPositions {
		return nil, &infer.Error{Status: infer.StatusInvalidArgument, Message: fmt.Sprintf(
			"%d positions are more than max_position_embeddings (%d)", start+n, cfg.MaxPositions)}
	}
	var c chain
	defer c.close()
	// one query sees every cached key; a prompt without a cache is top-left causal; new queries
	// after cached ones need the lower-right causal mask
	st.causal = n > 1 && start == 0
	st.mask = nil
	if n > 1 && start > 0 {
		st.mask = c.t(c.t(infer.Ones(infer.Bool, n, start+n)).Tril(start))
	}
	defer func() { st.mask = nil }()
	h := c.t(c.m(self.Module("model.embed_tokens")).Forward(in[0]))
	cos := c.t(c.t(self.Tensor("model.rotary_emb.cos")).Narrow(0, start, n))
	sin := c.t(c.t(self.Tensor("model.rotary_emb.sin")).Narrow(0, start, n))
	for i := int64(0); i < cfg.NumLayers; i++ {
		h = c.t(c.m(self.Module("model.layers."+strconv.FormatInt(i, 10))).ForwardN(h, cos, sin))
	}
	normed := c.t(c.m(self.Module("model.norm")).Forward(h))
	logits, err := c.result(normed.Linear(c.t(self.Tensor("lm_head.weight")), nil))
	if err == nil && st.useCache {
		st.pos += n
	}
	return logits, err
}

func (m *Model) run(ids []int64) (*infer.Tensor, error) {
	x, err := infer.FromInt64(ids, 1, int64(len(ids)))
	if err != nil {
		return nil, err
	}
	defer x.Close()
	return m.Module.Forward(x)
}

// Logits runs ids as one sequence, without the cache: logits (1, len(ids), vocab).
func (m *Model) Logits(ids []int64) (*infer.Tensor, error) { return m.run(ids) }

// Generate returns n tokens after prompt, generated in inference mode with the KV cache (the
// prompt in one call, then one token per call): the most likely one when temperature is 0, else a
// draw from softmax(logits / temperature) over the topK most likely (all when topK is 0) with the
// generator of infer.ManualSeed.
func (m *Model) Generate(prompt []int64, n int, temperature float64, topK int64) ([]int64, error) {
	out := make([]int64, 0, n)
	err := infer.WithInferenceMode(func() error {
		m.st.useCache, m.st.pos = true, 0
		defer func() { m.st.useCache, m.st.pos = false, 0 }()
		logits, err := m.run(prompt)
		for err == nil && len(out) < n {
			var next int64
			next, err = pick(logits, temperature, topK)
			logits.Close()
			logits = nil
			if err == nil {
				out = append(out, next)
				if len(out) < n {
					logits, err = m.run([]int64{next})
				}
			}
		}
		logits.Close()
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pick chooses the next token from the last position of logits (1, L, vocab).
func pick(logits *infer.Tensor, temperature float64, topK int64) (int64, error) {
	shape, err := logits.Shape()
	if err != nil {
		return 0, err
	}
	var c chain
	defer c.close()
	last := c.t(logits.Select(1, shape[1]-1)) // (1, vocab)
	var chosen *infer.Tensor
	if temperature <= 0 {
		chosen = c.t(last.Argmax(1, false))
	} else {
		k := shape[2]
		if topK > 0 && topK < k {
			k = topK
		}
		values, indices, err := c.t(last.MulScalar(1/temperature)).Topk(k, 1, true)
		c.t(values, err)
		c.t(indices, nil)
		drawn := c.t(c.t(values.Softmax(1)).Multinomial(1, false)) // (1, 1): a place in the top k
		chosen = c.t(indices.Gather(1, drawn))
	}
	if c.err != nil {
		return 0, c.err
	}
	v, err := chosen.Item()
	return int64(v), err
}
