/* A Llama-family decoder (Hugging Face `LlamaForCausalLM`) written in C++ with infer.hpp: every
 * module is an infer::Module, the Llama-specific ones defined by lambdas (Module::custom), so
 * handles free themselves and a failing call throws infer::Error. It loads checkpoints written by
 * `transformers`' save_pretrained under their own names (strict) and generates with a KV cache.
 * The same model as examples_c/llama_model.h, written the way a C++ user would:
 *
 *   LlamaForCausalLM
 *     model.embed_tokens          Embedding(vocab, hidden)
 *     model.rotary_emb            inv_freq, cos, sin: non-persistent buffers
 *     model.layers.<i>            input_layernorm, post_attention_layernorm: LlamaRMSNorm
 *                                 self_attn: q/k/v/o_proj (no bias), k_cache, v_cache buffers
 *                                 mlp: gate/up/down_proj (no bias)
 *     model.norm                  LlamaRMSNorm
 *     lm_head                     Linear(hidden, vocab), or embed_tokens itself when tied
 *
 * The KV cache is one preallocated (1, kv_heads, max_position_embeddings, head_dim) buffer per
 * layer for keys and one for values, written through narrow + copy_ in inference mode. */
#ifndef LLAMA_HPP
#define LLAMA_HPP

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "infer.hpp"

namespace llama {

using infer::Module;
using infer::Tensor;

/* ---- config.json: the few numbers the model needs ---- */

struct Config {
    int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_layers = 0, num_heads = 0;
    int64_t num_kv_heads = 0, head_dim = 0, max_positions = 0;
    double rms_norm_eps = 1e-6, rope_theta = 10000.0;
    bool tie_word_embeddings = true; /* PretrainedConfig's default */
};

inline std::string read_text(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << f.rdbuf();
    return text.str();
}

/* Where the value of "key" starts in json (keys are unique in the files read here), or npos. */
inline size_t json_value(const std::string &json, const std::string &key) {
    size_t at = json.find("\"" + key + "\"");
    if (at == std::string::npos) return at;
    at += key.size() + 2;
    return json.find_first_not_of(" \t\r\n:", at);
}

inline std::optional<double> json_number(const std::string &json, const std::string &key) {
    size_t at = json_value(json, key);
    if (at == std::string::npos) return std::nullopt;
    const char *start = json.c_str() + at;
    char *end = nullptr;
    double v = std::strtod(start, &end);
    if (end == start) return std::nullopt;
    return v;
}

inline Config read_config(const std::string &folder) {
    std::string path = folder + "/config.json", json = read_text(path);
    auto need = [&](const char *key) {
        std::optional<double> v = json_number(json, key);
        if (!v) throw std::runtime_error(path + " has no number \"" + key + "\"");
        return static_cast<int64_t>(*v);
    };
    Config c;
    c.vocab_size = need("vocab_size");
    c.hidden_size = need("hidden_size");
    c.intermediate_size = need("intermediate_size");
    c.num_layers = need("num_hidden_layers");
    c.num_heads = need("num_attention_heads");
    c.max_positions = need("max_position_embeddings");
    c.num_kv_heads = static_cast<int64_t>(json_number(json, "num_key_value_heads").value_or(c.num_heads));
    c.head_dim = static_cast<int64_t>(json_number(json, "head_dim").value_or(c.hidden_size / c.num_heads));
    c.rms_norm_eps = json_number(json, "rms_norm_eps").value_or(1e-6);
    /* top level in older files, inside "rope_parameters" in newer ones */
    c.rope_theta = json_number(json, "rope_theta").value_or(10000.0);
    size_t tie = json_value(json, "tie_word_embeddings");
    if (tie != std::string::npos) c.tie_word_embeddings = json.compare(tie, 4, "true") == 0;
    return c;
}

/* ---- the model ---- */

/* What the modules' forwards share: the configuration and the generation state. */
struct State {
    Config cfg;
    bool use_cache = false;     /* run against the KV cache (inference mode only) */
    int64_t pos = 0;            /* positions already in the cache */
    bool causal = false;        /* top-left causal attention (a prompt without a cache) */
    std::optional<Tensor> mask; /* or this BOOL mask (new queries after cached ones), or neither */
};

inline Module rms_norm(const Config &c) {
    Module m = Module::custom("LlamaRMSNorm", [size = c.hidden_size, eps = c.rms_norm_eps](const Module &self,
                                                                                          const Module::Inputs &in) {
        Tensor weight = self.get_tensor("weight");
        return in.at(0)->rms_norm({size}, &weight, eps);
    });
    m.register_parameter("weight", Tensor::ones({c.hidden_size}));
    return m;
}

inline Module mlp(const Config &c) {
    Module m = Module::custom("LlamaMLP", [](const Module &self, const Module::Inputs &in) {
        const Tensor &x = *in.at(0);
        Tensor gate = self.get_module("gate_proj")(x).silu();
        return self.get_module("down_proj")(gate * self.get_module("up_proj")(x));
    });
    m.register_module("gate_proj", Module::linear(c.hidden_size, c.intermediate_size, false));
    m.register_module("up_proj", Module::linear(c.hidden_size, c.intermediate_size, false));
    m.register_module("down_proj", Module::linear(c.intermediate_size, c.hidden_size, false));
    return m;
}

/* Writes this call's keys or values into the cache buffer `name` at `pos` and returns the cached
   ones so far (a view). */
inline Tensor cache_append(const Module &self, const char *name, const Tensor &fresh, int64_t pos, int64_t len) {
    Tensor cache = self.get_tensor(name);
    cache.narrow(2, pos, len).copy_(fresh);
    return cache.narrow(2, 0, pos + len);
}

/* inputs: {x (B, L, hidden), cos (L, head_dim), sin (L, head_dim)} */
inline Module attention(const std::shared_ptr<State> &st) {
    const Config &c = st->cfg;
    Module m = Module::custom("LlamaAttention", [st](const Module &self, const Module::Inputs &in) {
        const Config &c = st->cfg;
        const Tensor &x = *in.at(0), &cos = *in.at(1), &sin = *in.at(2);
        std::vector<int64_t> dims = x.shape();
        auto heads = [&](const Tensor &t, int64_t n) { return t.view({dims[0], dims[1], n, c.head_dim}).transpose(1, 2); };
        Tensor q = heads(self.get_module("q_proj")(x), c.num_heads).apply_rotary_emb(cos, sin);
        Tensor k = heads(self.get_module("k_proj")(x), c.num_kv_heads).apply_rotary_emb(cos, sin);
        Tensor v = heads(self.get_module("v_proj")(x), c.num_kv_heads);
        if (st->use_cache) {
            k = cache_append(self, "k_cache", k, st->pos, dims[1]);
            v = cache_append(self, "v_cache", v, st->pos, dims[1]);
        }
        const Tensor *mask = st->mask ? &*st->mask : nullptr;
        Tensor att = infer::scaled_dot_product_attention(q, k, v, mask, 0.0, st->causal, 0.0, true);
        return self.get_module("o_proj")(att.transpose(1, 2).reshape({dims[0], dims[1], c.num_heads * c.head_dim}));
    });
    int64_t q_out = c.num_heads * c.head_dim, kv_out = c.num_kv_heads * c.head_dim;
    m.register_module("q_proj", Module::linear(c.hidden_size, q_out, false));
    m.register_module("k_proj", Module::linear(c.hidden_size, kv_out, false));
    m.register_module("v_proj", Module::linear(c.hidden_size, kv_out, false));
    m.register_module("o_proj", Module::linear(q_out, c.hidden_size, false));
    m.register_buffer("k_cache", Tensor::zeros({1, c.num_kv_heads, c.max_positions, c.head_dim}), false);
    m.register_buffer("v_cache", Tensor::zeros({1, c.num_kv_heads, c.max_positions, c.head_dim}), false);
    return m;
}

/* x + attn(norm(x)), then h + mlp(norm(h)); inputs: {x, cos, sin} */
inline Module decoder_layer(const std::shared_ptr<State> &st) {
    Module m = Module::custom("LlamaDecoderLayer", [](const Module &self, const Module::Inputs &in) {
        const Tensor &x = *in.at(0);
        Tensor normed = self.get_module("input_layernorm")(x);
        Tensor h = x + self.get_module("self_attn").forward_n({&normed, &*in.at(1), &*in.at(2)});
        return h + self.get_module("mlp")(self.get_module("post_attention_layernorm")(h));
    });
    m.register_module("self_attn", attention(st));
    m.register_module("mlp", mlp(st->cfg));
    m.register_module("input_layernorm", rms_norm(st->cfg));
    m.register_module("post_attention_layernorm", rms_norm(st->cfg));
    return m;
}

/* inv_freq = theta^(-2i/d); cos, sin of positions x cat(inv_freq, inv_freq), one row per position */
inline Module rotary(const Config &c) {
    Module m = Module::container("LlamaRotaryEmbedding");
    Tensor idx = infer::arange(0.0, double(c.head_dim), 2.0);
    Tensor inv_freq = (idx * (-std::log(c.rope_theta) / double(c.head_dim))).exp();
    Tensor pos = infer::arange(0.0, double(c.max_positions)).unsqueeze(1);
    Tensor freqs = pos * inv_freq;
    Tensor both = infer::cat({&freqs, &freqs}, 1);
    m.register_buffer("inv_freq", inv_freq, false);
    m.register_buffer("cos", both.cos(), false);
    m.register_buffer("sin", both.sin(), false);
    return m;
}

class Llama {
  public:
    /* A model with PyTorch's initialisation for c. */
    explicit Llama(const Config &c) : st_(std::make_shared<State>()) {
        st_->cfg = c;
        root_ = Module::custom("LlamaForCausalLM", [st = st_](const Module &self, const Module::Inputs &in) {
            return forward(*st, self, *in.at(0));
        });
        Module model = Module::container("LlamaModel"), layers = Module::container("ModuleList");
        Module embed = Module::embedding(c.vocab_size, c.hidden_size);
        for (int64_t i = 0; i < c.num_layers; i++) layers.register_module(std::to_string(i), decoder_layer(st_));
        model.register_module("embed_tokens", embed)
            .register_module("layers", layers)
            .register_module("norm", rms_norm(c))
            .register_module("rotary_emb", rotary(c));
        root_.register_module("model", model);
        /* tied: one Embedding under both names, so `lm_head.weight` is `model.embed_tokens.weight`
           (as in PyTorch) and a strict load accepts the file that stores it once */
        if (c.tie_word_embeddings) {
            root_.register_module("lm_head", embed);
        } else {
            root_.register_module("lm_head", Module::linear(c.hidden_size, c.vocab_size, false));
        }
    }

    /* folder/config.json and folder/model.safetensors, loaded strictly, in eval mode. */
    static Llama from_pretrained(const std::string &folder) {
        Llama m(read_config(folder));
        m.root_.load_safetensors(folder + "/model.safetensors", true);
        m.root_.eval();
        return m;
    }

    const Config &config() const { return st_->cfg; }
    const Module &module() const { return root_; }

    /* ids (1, L) -> logits (1, L, vocab), the whole sequence without the cache. */
    Tensor logits(const std::vector<int64_t> &ids) const { return root_(ids_tensor(ids)); }

    /* n_new tokens after prompt, in inference mode with the KV cache: the prompt in one call, then
       one token per call; greedy when temperature is 0, else sampled from softmax(logits /
       temperature) over the top_k most likely (all when top_k is 0) with rt_manual_seed's generator. */
    std::vector<int64_t> generate(const std::vector<int64_t> &prompt, int64_t n_new, double temperature = 0,
                                  int64_t top_k = 0) {
        if (prompt.empty() || int64_t(prompt.size()) + n_new > st_->cfg.max_positions)
            throw std::invalid_argument("the prompt and the new tokens must fit in max_position_embeddings (" +
                                        std::to_string(st_->cfg.max_positions) + ") positions");
        infer::InferenceModeGuard inference;
        struct CacheOff {
            State &st;
            ~CacheOff() { st.use_cache = false, st.pos = 0; }
        } cache_off{*st_};
        st_->use_cache = true, st_->pos = 0;
        std::vector<int64_t> out;
        Tensor next = root_(ids_tensor(prompt));
        for (int64_t i = 0; i < n_new; i++) {
            out.push_back(pick(next, temperature, top_k));
            if (i + 1 < n_new) next = root_(ids_tensor({out.back()}));
        }
        return out;
    }

  private:
    static Tensor ids_tensor(const std::vector<int64_t> &ids) {
        return Tensor::from_data(ids, {1, static_cast<int64_t>(ids.size())});
    }

    static Tensor forward(State &st, const Module &self, const Tensor &ids) {
        const Config &c = st.cfg;
        int64_t len = ids.shape().back(), start = st.use_cache ? st.pos : 0;
        if (start + len > c.max_positions)
            throw infer::Error(RT_ERR_INVALID_ARGUMENT, std::to_string(start + len) +
                                                            " positions are more than max_position_embeddings (" +
                                                            std::to_string(c.max_positions) + ")");
        /* one query sees every cached key; a prompt without a cache is top-left causal; new queries
           after cached ones need the lower-right causal mask */
        st.causal = len > 1 && start == 0;
        st.mask.reset();
        if (len > 1 && start > 0)
            st.mask = Tensor::ones({len, start + len}, infer::Dtype::BOOL).tril(start);
        Tensor h = self.get_module("model.embed_tokens")(ids);
        Tensor cos = self.get_tensor("model.rotary_emb.cos").narrow(0, start, len);
        Tensor sin = self.get_tensor("model.rotary_emb.sin").narrow(0, start, len);
        for (int64_t i = 0; i < c.num_layers; i++)
            h = self.get_module("model.layers." + std::to_string(i)).forward_n({&h, &cos, &sin});
        Tensor out = infer::linear(self.get_module("model.norm")(h), self.get_tensor("lm_head.weight"));
        st.mask.reset();
        if (st.use_cache) st.pos += len;
        return out;
    }

    /* The next token from the last position of logits (1, L, vocab). */
    static int64_t pick(const Tensor &logits, double temperature, int64_t top_k) {
        std::vector<int64_t> dims = logits.shape();
        Tensor last = logits.select(1, dims[1] - 1); /* (1, vocab) */
        if (temperature <= 0) return static_cast<int64_t>(last.argmax(1).item());
        int64_t k = top_k > 0 && top_k < dims[2] ? top_k : dims[2];
        auto [top, top_idx] = (last * (1.0 / temperature)).topk(k, 1);
        Tensor drawn = top.softmax(1).multinomial(1); /* a place in the top k */
        return static_cast<int64_t>(top_idx.gather(1, drawn).item());
    }

    std::shared_ptr<State> st_;
    Module root_;
};

} // namespace llama

#endif
