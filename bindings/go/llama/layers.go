package llama

import (
	"math"

	infer "github.com/libinfer/infer-go"
)

// The parts of a decoder layer and the rotary tables, each a module whose forward is a Go function
// (infer.Custom), registered under the names transformers gives them.

// rmsNorm is LlamaRMSNorm: weight * x / sqrt(mean(x^2) + eps) over the hidden size.
func rmsNorm(cfg Config) (*infer.Module, error) {
	m, err := infer.Custom("LlamaRMSNorm", func(self *infer.Module, in []*infer.Tensor) (*infer.Tensor, error) {
		var c chain
		defer c.close()
		return c.result(in[0].RMSNorm([]int64{cfg.HiddenSize}, c.t(self.Tensor("weight")), cfg.RMSNormEps))
	})
	if err != nil {
		return nil, err
	}
	var c chain
	defer c.close()
	c.check(m.RegisterParameter("weight", c.t(infer.Ones(infer.Float32, cfg.HiddenSize)), true))
	return c.module(m)
}

// linears registers Linear(in, out) layers without bias under their names.
func linears(c *chain, m *infer.Module, in, out int64, names ...string) {
	for _, name := range names {
		c.check(m.RegisterModule(name, c.m(infer.Linear(in, out, false))))
	}
}

// mlp is LlamaMLP: down_proj(silu(gate_proj(x)) * up_proj(x)).
func mlp(cfg Config) (*infer.Module, error) {
	m, err := infer.Custom("LlamaMLP", func(self *infer.Module, in []*infer.Tensor) (*infer.Tensor, error) {
		var c chain
		defer c.close()
		gate := c.t(c.t(c.m(self.Module("gate_proj")).Forward(in[0])).Silu())
		up := c.t(c.m(self.Module("up_proj")).Forward(in[0]))
		return c.result(c.m(self.Module("down_proj")).Forward(c.t(gate.Mul(up))))
	})
	if err != nil {
		return nil, err
	}
	var c chain
	defer c.close()
	linears(&c, m, cfg.HiddenSize, cfg.IntermediateSize, "gate_proj", "up_proj")
	linears(&c, m, cfg.IntermediateSize, cfg.HiddenSize, "down_proj")
	return c.module(m)
}

// cacheAppend writes this call's keys or values into the cache buffer name at pos and returns the
// cached ones so far (a view).
func cacheAppend(c *chain, self *infer.Module, name string, fresh *infer.Tensor, pos, n int64) *infer.Tensor {
	cache := c.t(self.Tensor(name))
	c.check(c.t(cache.Narrow(2, pos, n)).CopyFrom(fresh))
	return c.t(cache.Narrow(2, 0, pos+n))
}

// attention is LlamaAttention: rotary q and k, grouped k/v heads through the fused attention, and
// the KV cache, preallocated buffers written in place. Inputs: x (B, L, hidden), cos and sin (L,
// head_dim).
func attention(st *state) (*infer.Module, error) {
	cfg := st.cfg
	m, err := infer.Custom("LlamaAttention", func(self *infer.Module, in []*infer.Tensor) (*infer.Tensor, error) {
		var c chain
		defer c.close()
		x, cos, sin := in[0], in[1], in[2]
		shape, err := x.Shape()
		if err != nil {
			return nil, err
		}
		b, l := shape[0], shape[1]
		// (B, L, n * head_dim) -> (B, n, L, head_dim)
		heads := func(proj string, n int64) *infer.Tensor {
			y := c.t(c.m(self.Module(proj)).Forward(x))
			return c.t(c.t(y.View(b, l, n, cfg.HeadDim)).Transpose(1, 2))
		}
		q := c.t(heads("q_proj", cfg.NumHeads).ApplyRotaryEmb(cos, sin))
		k := c.t(heads("k_proj", cfg.NumKVHeads).ApplyRotaryEmb(cos, sin))
		v := heads("v_proj", cfg.NumKVHeads)
		if st.useCache {
			k = cacheAppend(&c, self, "k_cache", k, st.pos, l)
			v = cacheAppend(&c, self, "v_cache", v, st.pos, l)
		}
		att := c.t(infer.ScaledDotProductAttention(q, k, v,
			infer.Attention{Mask: st.mask, IsCausal: st.causal, EnableGQA: true}))
		merged := c.t(c.t(att.Transpose(1, 2)).Reshape(b, l, cfg.NumHeads*cfg.HeadDim))
		return c.result(c.m(self.Module("o_proj")).Forward(merged))
	})
	if err != nil {
		return nil, err
	}
	var c chain
	defer c.close()
	qOut, kvOut := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	linears(&c, m, cfg.HiddenSize, qOut, "q_proj")
	linears(&c, m, cfg.HiddenSize, kvOut, "k_proj", "v_proj")
	linears(&c, m, qOut, cfg.HiddenSize, "o_proj")
	for _, name := range []string{"k_cache", "v_cache"} {
		c.check(m.RegisterBuffer(name, c.t(infer.Zeros(infer.Float32, 1, cfg.NumKVHeads, cfg.MaxPositions, cfg.HeadDim)), false))
	}
	return c.module(m)
}

// decoderLayer is LlamaDecoderLayer: h = x + attn(norm(x)), then h + mlp(norm(h)). Inputs: x, cos, sin.
func decoderLayer(st *state) (*infer.Module, error) {
	m, err := infer.Custom("LlamaDecoderLayer", func(self *infer.Module, in []*infer.Tensor) (*infer.Tensor, error) {
		var c chain
		defer c.close()
		normed := c.t(c.m(self.Module("input_layernorm")).Forward(in[0]))
		h := c.t(in[0].Add(c.t(c.m(self.Module("self_attn")).ForwardN(normed, in[1], in[2]))))
		normed2 := c.t(c.m(self.Module("post_attention_layernorm")).Forward(h))
		return c.result(h.Add(c.t(c.m(self.Module("mlp")).Forward(normed2))))
	})
	if err != nil {
		return nil, err
	}
	var c chain
	defer c.close()
	c.check(m.RegisterModule("self_attn", c.m(attention(st))))
	c.check(m.RegisterModule("mlp", c.m(mlp(st.cfg))))
	c.check(m.RegisterModule("input_layernorm", c.m(rmsNorm(st.cfg))))
	c.check(m.RegisterModule("post_attention_layernorm", c.m(rmsNorm(st.cfg))))
	return c.module(m)
}

// rotary holds the rotary tables as non-persistent buffers: inv_freq = theta^(-2i/d), and cos and
// sin of positions x cat(inv_freq, inv_freq), one row per position.
func rotary(cfg Config) (*infer.Module, error) {
	m, err := infer.Container("LlamaRotaryEmbedding")
	if err != nil {
		return nil, err
	}
	var c chain
	defer c.close()
	d := float64(cfg.HeadDim)
	idx := c.t(infer.Arange(0, d, 2, infer.Float32))
	invFreq := c.t(c.t(idx.MulScalar(-math.Log(cfg.RopeTheta) / d)).Exp())
	pos := c.t(c.t(infer.Arange(0, float64(cfg.MaxPositions), 1, infer.Float32)).Unsqueeze(1))
	freqs := c.t(pos.Mul(invFreq))
	both := c.t(infer.Cat(1, freqs, freqs))
	c.check(m.RegisterBuffer("inv_freq", invFreq, false))
	c.check(m.RegisterBuffer("cos", c.t(both.Cos()), false))
	c.check(m.RegisterBuffer("sin", c.t(both.Sin()), false))
	return c.module(m)
}
