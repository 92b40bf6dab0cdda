/* A Llama-family decoder (Hugging Face `LlamaForCausalLM`) built from libinfer's caller-defined
 * modules, loading checkpoints written by `transformers`' save_pretrained under their own names.
 *
 *   LlamaForCausalLM
 *     model: LlamaModel
 *       embed_tokens: Embedding(vocab, hidden)
 *       rotary_emb: LlamaRotaryEmbedding       inv_freq, cos, sin: non-persistent buffers
 *       layers: container of LlamaDecoderLayer "0" .. "n-1"
 *         input_layernorm, post_attention_layernorm: LlamaRMSNorm (weight)
 *         self_attn: LlamaAttention            q_proj, k_proj, v_proj, o_proj: Linear, no bias
 *         mlp: LlamaMLP                        gate_proj, up_proj, down_proj: Linear, no bias
 *       norm: LlamaRMSNorm
 *     lm_head: Linear(hidden, vocab), or embed_tokens itself when the embeddings are tied
 *
 * Tied embeddings register the one Embedding under both names, so the state_dict holds
 * `lm_head.weight` and `model.embed_tokens.weight` as the same tensor (as PyTorch's does), and a
 * strict load accepts the Hugging Face file that stores it once.
 *
 * Generation keeps a KV cache per layer: each LlamaAttention holds `k_cache` and `v_cache`,
 * non-persistent (1, kv_heads, max_position_embeddings, head_dim) buffers allocated once, written
 * through rt_tensor_narrow + rt_tensor_copy_inplace in inference mode, never concatenated. The
 * model's forward takes token ids (1, L) and returns logits (1, L, vocab); with the cache on it
 * continues from the cached positions. Every module's context points at the one llama_state that
 * the root module owns: run the parts only while the root lives.
 *
 * Single-header: include it in one C file. Every function returns an rt_status; on failure the
 * library's last-error message says what went wrong. */
#ifndef LLAMA_MODEL_H
#define LLAMA_MODEL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"

typedef struct llama_config {
    int64_t vocab_size, hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, head_dim;
    int64_t max_positions;
    double rms_norm_eps, rope_theta;
    bool tie_word_embeddings;
} llama_config;

/* What every module of one model shares: the configuration and the generation state. */
typedef struct llama_state {
    llama_config cfg;
    bool use_cache;   /* run against the KV cache (inference mode only) */
    bool last_logits; /* logits of the last position only, as transformers' generate() asks (logits_to_keep=1) */
    int64_t pos;      /* positions already in the cache */
    bool causal;      /* this call's attention: top-left causal (a prompt without a cache) */
    rt_tensor *mask;  /* or this BOOL mask (new queries after cached ones), or neither (one query) */
} llama_state;

#define LL_TRY(call)                  \
    do {                              \
        status = (call);              \
        if (status != RT_OK) goto done; \
    } while (0)

/* ---- config.json: the few numbers the model needs ---- */

/* The text after "key": in json, or NULL. */
static const char *llama_json_value(const char *json, const char *key) {
    char quoted[96];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(json, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') p++;
    return p;
}

static bool llama_json_number(const char *json, const char *key, double *out) {
    const char *v = llama_json_value(json, key);
    if (!v) return false;
    char *end = NULL;
    double d = strtod(v, &end);
    if (end == v) return false;
    *out = d;
    return true;
}

static char *llama_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
            if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else {
                buf[n] = 0;
                if (len) *len = (size_t)n;
            }
        }
    }
    fclose(f);
    return buf;
}

/* Reads folder/config.json; false (with a message on stderr) when a needed number is missing. */
static bool llama_read_config(const char *folder, llama_config *cfg) {
    char path[1024];
    char *json = snprintf(path, sizeof path, "%s/config.json", folder) < (int)sizeof path ? llama_read_file(path, NULL) : NULL;
    if (!json) {
        fprintf(stderr, "error: cannot read %s\n", path);
        return false;
    }
    struct { const char *key; int64_t *dst; } ints[] = {
        {"vocab_size", &cfg->vocab_size}, {"hidden_size", &cfg->hidden_size},
        {"intermediate_size", &cfg->intermediate_size}, {"num_hidden_layers", &cfg->num_layers},
        {"num_attention_heads", &cfg->num_heads}, {"max_position_embeddings", &cfg->max_positions},
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        double v;
        if (!llama_json_number(json, ints[i].key, &v)) {
            fprintf(stderr, "error: %s has no number \"%s\"\n", path, ints[i].key);
            ok = false;
        } else {
            *ints[i].dst = (int64_t)v;
        }
    }
    double v;
    cfg->num_kv_heads = llama_json_number(json, "num_key_value_heads", &v) ? (int64_t)v : cfg->num_heads;
    cfg->head_dim = llama_json_number(json, "head_dim", &v) ? (int64_t)v : (ok ? cfg->hidden_size / cfg->num_heads : 0);
    cfg->rms_norm_eps = llama_json_number(json, "rms_norm_eps", &v) ? v : 1e-6;
    /* top level in older files, inside "rope_parameters" in newer ones: the key is unique either way */
    cfg->rope_theta = llama_json_number(json, "rope_theta", &v) ? v : 10000.0;
    const char *tie = llama_json_value(json, "tie_word_embeddings");
    cfg->tie_word_embeddings = tie ? strncmp(tie, "true", 4) == 0 : true; /* PretrainedConfig's default */
    free(json);
    return ok;
}

/* ---- module helpers ---- */

static rt_status llama_child_forward(const rt_module *self, const char *path, const rt_tensor *x, rt_tensor **out) {
    rt_module *child = NULL;
    rt_status status = rt_module_get_module(self, path, &child);
    if (status == RT_OK) status = rt_module_forward(child, x, out);
    rt_module_free(child);
    return status;
}

static rt_status llama_register(rt_module *parent, const char *name, rt_module *child) {
    rt_status status = rt_module_register_module(parent, name, child);
    rt_module_free(child); /* the parent holds its own reference (or, on failure, nothing does) */
    return status;
}

/* ---- LlamaRMSNorm: weight * x / sqrt(mean(x^2) + eps) over the hidden size ---- */

typedef struct { int64_t size; double eps; } llama_rms_ctx;

static rt_status llama_rms_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n,
                                   rt_tensor **out) {
    (void)n;
    const llama_rms_ctx *c = ctx;
    rt_tensor *w = NULL;
    rt_status status = rt_module_get_tensor(self, "weight", &w);
    if (status == RT_OK) status = rt_tensor_rms_norm(in[0], &c->size, 1, w, c->eps, out);
    rt_tensor_free(w);
    return status;
}

static rt_status llama_rms_norm(const llama_config *cfg, rt_module **out) {
    llama_rms_ctx *c = malloc(sizeof *c);
    if (!c) return RT_ERR_OUT_OF_MEMORY;
    c->size = cfg->hidden_size;
    c->eps = cfg->rms_norm_eps;
    rt_module *m = NULL;
    rt_tensor *w = NULL;
    rt_status status = rt_module_custom("LlamaRMSNorm", llama_rms_forward, c, free, &m);
    if (status != RT_OK) {
        free(c); /* ctx_free never runs when rt_module_custom fails */
        return status;
    }
    LL_TRY(rt_tensor_ones(&cfg->hidden_size, 1, RT_DTYPE_F32, &w));
    LL_TRY(rt_module_register_parameter(m, "weight", w, true));
    *out = m;
    m = NULL;
done:
    rt_tensor_free(w);
    rt_module_free(m);
    return status;
}

/* ---- LlamaMLP: down_proj(silu(gate_proj(x)) * up_proj(x)) ---- */

/* The intermediate (L x intermediate_size) is the widest activation: each one is freed as soon as
   it is used, and without autograd the product is taken in place. */
static rt_status llama_mlp_rows(const rt_module *self, const rt_tensor *x, bool autograd, rt_tensor **out) {
    rt_tensor *gate = NULL, *act = NULL, *up = NULL, *prod = NULL;
    rt_status status;
    LL_TRY(llama_child_forward(self, "gate_proj", x, &gate));
    LL_TRY(rt_tensor_silu(gate, &act));
    rt_tensor_free(gate);
    gate = NULL;
    LL_TRY(llama_child_forward(self, "up_proj", x, &up));
    if (autograd) {
        LL_TRY(rt_tensor_mul(act, up, &prod));
        LL_TRY(llama_child_forward(self, "down_proj", prod, out));
    } else {
        LL_TRY(rt_tensor_mul_inplace(act, up));
        rt_tensor_free(up);
        up = NULL;
        LL_TRY(llama_child_forward(self, "down_proj", act, out));
    }
done:
    rt_tensor_free(gate), rt_tensor_free(act), rt_tensor_free(up), rt_tensor_free(prod);
    return status;
}

/* Positions per MLP pass outside autograd: a long prompt runs in slices of this many rows, so
   its intermediate activations (three live at once in the product) stay those of 128 rows. */
#define LLAMA_MLP_ROWS 128

static rt_status llama_mlp_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n,
                                   rt_tensor **out) {
    (void)ctx, (void)n;
    bool autograd = rt_is_grad_enabled() && !rt_is_inference_mode_enabled();
    int64_t dims[3];
    size_t nd = 0;
    rt_tensor *all = NULL, *piece = NULL, *part = NULL, *slot = NULL;
    rt_status status;
    LL_TRY(rt_tensor_shape(in[0], dims, 3, &nd));
    if (autograd || nd != 3 || dims[1] <= LLAMA_MLP_ROWS) return llama_mlp_rows(self, in[0], autograd, out);
    LL_TRY(rt_tensor_zeros(dims, 3, RT_DTYPE_F32, &all));
    for (int64_t at = 0; at < dims[1]; at += LLAMA_MLP_ROWS) {
        int64_t rows = dims[1] - at < LLAMA_MLP_ROWS ? dims[1] - at : LLAMA_MLP_ROWS;
        LL_TRY(rt_tensor_narrow(in[0], 1, at, rows, &piece));
        LL_TRY(llama_mlp_rows(self, piece, false, &part));
        LL_TRY(rt_tensor_narrow(all, 1, at, rows, &slot));
        LL_TRY(rt_tensor_copy_inplace(slot, part));
        rt_tensor_free(piece), rt_tensor_free(part), rt_tensor_free(slot);
        piece = part = slot = NULL;
    }
    *out = all;
    all = NULL;
done:
    rt_tensor_free(all), rt_tensor_free(piece), rt_tensor_free(part), rt_tensor_free(slot);
    return status;
}

static rt_status llama_linear(rt_module *parent, const char *name, int64_t in, int64_t out) {
    rt_module *l = NULL;
    rt_status status = rt_module_linear(in, out, false, &l);
    return status == RT_OK ? llama_register(parent, name, l) : status;
}

static rt_status llama_mlp(const llama_config *cfg, rt_module **out) {
    rt_module *m = NULL;
    rt_status status;
    LL_TRY(rt_module_custom("LlamaMLP", llama_mlp_forward, NULL, NULL, &m));
    LL_TRY(llama_linear(m, "gate_proj", cfg->hidden_size, cfg->intermediate_size));
    LL_TRY(llama_linear(m, "up_proj", cfg->hidden_size, cfg->intermediate_size));
    LL_TRY(llama_linear(m, "down_proj", cfg->intermediate_size, cfg->hidden_size));
    *out = m;
    m = NULL;
done:
    rt_module_free(m);
    return status;
}

/* ---- LlamaAttention: rotary q and k, grouped k/v heads, fused attention, KV cache ---- */

/* x (1, L, heads * head_dim) -> (1, heads, L, head_dim), a view. */
static rt_status llama_split_heads(const rt_tensor *x, int64_t heads, int64_t head_dim, rt_tensor **out) {
    int64_t shape[4] = {0, 0, heads, head_dim};
    int64_t dims[3];
    size_t nd = 0;
    rt_tensor *v = NULL;
    rt_status status;
    LL_TRY(rt_tensor_shape(x, dims, 3, &nd));
    shape[0] = dims[0], shape[1] = dims[1];
    LL_TRY(rt_tensor_view(x, shape, 4, &v));
    LL_TRY(rt_tensor_transpose(v, 1, 2, out));
done:
    rt_tensor_free(v);
    return status;
}

/* Writes this call's keys or values into the cache buffer `name` at the current position and
   returns the cached ones so far (a view). */
static rt_status llama_cache_append(const rt_module *self, const char *name, const rt_tensor *fresh, int64_t pos,
                                    int64_t len, rt_tensor **all) {
    rt_tensor *cache = NULL, *slot = NULL;
    rt_status status;
    LL_TRY(rt_module_get_tensor(self, name, &cache));
    LL_TRY(rt_tensor_narrow(cache, 2, pos, len, &slot));
    LL_TRY(rt_tensor_copy_inplace(slot, fresh));
    LL_TRY(rt_tensor_narrow(cache, 2, 0, pos + len, all));
done:
    rt_tensor_free(cache), rt_tensor_free(slot);
    return status;
}

/* inputs: {x (1, L, hidden), cos (L, head_dim), sin (L, head_dim)} */
static rt_status llama_attn_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n,
                                    rt_tensor **out) {
    (void)n;
    const llama_state *st = ctx;
    const llama_config *cfg = &st->cfg;
    rt_tensor *q = NULL, *k = NULL, *v = NULL, *qh = NULL, *kh = NULL, *vh = NULL, *qr = NULL, *kr = NULL;
    rt_tensor *k_all = NULL, *v_all = NULL, *att = NULL, *att_t = NULL, *merged = NULL;
    int64_t dims[3];
    size_t nd = 0;
    rt_status status;
    LL_TRY(llama_child_forward(self, "q_proj", in[0], &q));
    LL_TRY(llama_child_forward(self, "k_proj", in[0], &k));
    LL_TRY(llama_child_forward(self, "v_proj", in[0], &v));
    LL_TRY(llama_split_heads(q, cfg->num_heads, cfg->head_dim, &qh));
    LL_TRY(llama_split_heads(k, cfg->num_kv_heads, cfg->head_dim, &kh));
    LL_TRY(llama_split_heads(v, cfg->num_kv_heads, cfg->head_dim, &vh));
    LL_TRY(rt_tensor_apply_rotary_emb(qh, in[1], in[2], &qr));
    LL_TRY(rt_tensor_apply_rotary_emb(kh, in[1], in[2], &kr));
    /* the rotated copies replace the projections: let their storage go before attention runs */
    rt_tensor_free(q), rt_tensor_free(qh), rt_tensor_free(k), rt_tensor_free(kh);
    q = qh = k = kh = NULL;
    LL_TRY(rt_tensor_shape(in[0], dims, 3, &nd));
    if (st->use_cache) {
        LL_TRY(llama_cache_append(self, "k_cache", kr, st->pos, dims[1], &k_all));
        LL_TRY(llama_cache_append(self, "v_cache", vh, st->pos, dims[1], &v_all));
    } else {
        LL_TRY(rt_tensor_share(kr, &k_all));
        LL_TRY(rt_tensor_share(vh, &v_all));
    }
    LL_TRY(rt_tensor_scaled_dot_product_attention(qr, k_all, v_all, st->mask, 0.0, st->causal, 0.0, true, &att));
    LL_TRY(rt_tensor_transpose(att, 1, 2, &att_t));
    {
        int64_t shape[3] = {dims[0], dims[1], cfg->num_heads * cfg->head_dim};
        LL_TRY(rt_tensor_reshape(att_t, shape, 3, &merged));
    }
    LL_TRY(llama_child_forward(self, "o_proj", merged, out));
done:
    rt_tensor_free(q), rt_tensor_free(k), rt_tensor_free(v), rt_tensor_free(qh), rt_tensor_free(kh);
    rt_tensor_free(vh), rt_tensor_free(qr), rt_tensor_free(kr), rt_tensor_free(k_all), rt_tensor_free(v_all);
    rt_tensor_free(att), rt_tensor_free(att_t), rt_tensor_free(merged);
    return status;
}

static rt_status llama_attention(llama_state *st, rt_module **out) {
    const llama_config *cfg = &st->cfg;
    rt_module *m = NULL;
    rt_tensor *k_cache = NULL, *v_cache = NULL;
    rt_status status;
    LL_TRY(rt_module_custom("LlamaAttention", llama_attn_forward, st, NULL, &m));
    int64_t q_out = cfg->num_heads * cfg->head_dim, kv_out = cfg->num_kv_heads * cfg->head_dim;
    LL_TRY(llama_linear(m, "q_proj", cfg->hidden_size, q_out));
    LL_TRY(llama_linear(m, "k_proj", cfg->hidden_size, kv_out));
    LL_TRY(llama_linear(m, "v_proj", cfg->hidden_size, kv_out));
    LL_TRY(llama_linear(m, "o_proj", q_out, cfg->hidden_size));
    {
        int64_t shape[4] = {1, cfg->num_kv_heads, cfg->max_positions, cfg->head_dim};
        LL_TRY(rt_tensor_zeros(shape, 4, RT_DTYPE_F32, &k_cache));
        LL_TRY(rt_tensor_zeros(shape, 4, RT_DTYPE_F32, &v_cache));
    }
    LL_TRY(rt_module_register_buffer(m, "k_cache", k_cache, false));
    LL_TRY(rt_module_register_buffer(m, "v_cache", v_cache, false));
    *out = m;
    m = NULL;
done:
    rt_module_free(m);
    rt_tensor_free(k_cache), rt_tensor_free(v_cache);
    return status;
}

/* ---- LlamaDecoderLayer: x + attn(norm(x)), then h + mlp(norm(h)) ---- */

/* inputs: {x, cos, sin} */
static rt_status llama_layer_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n,
                                     rt_tensor **out) {
    (void)ctx, (void)n;
    rt_module *attn = NULL;
    rt_tensor *normed = NULL, *attended = NULL, *h = NULL, *normed2 = NULL, *mlp = NULL;
    rt_status status;
    LL_TRY(llama_child_forward(self, "input_layernorm", in[0], &normed));
    LL_TRY(rt_module_get_module(self, "self_attn", &attn));
    {
        const rt_tensor *args[3] = {normed, in[1], in[2]};
        LL_TRY(rt_module_forward_n(attn, args, 3, &attended));
    }
    LL_TRY(rt_tensor_add(in[0], attended, &h));
    rt_tensor_free(normed), rt_tensor_free(attended); /* done with: free before the MLP's activations */
    normed = attended = NULL;
    LL_TRY(llama_child_forward(self, "post_attention_layernorm", h, &normed2));
    LL_TRY(llama_child_forward(self, "mlp", normed2, &mlp));
    LL_TRY(rt_tensor_add(h, mlp, out));
done:
    rt_module_free(attn);
    rt_tensor_free(normed), rt_tensor_free(attended), rt_tensor_free(h), rt_tensor_free(normed2), rt_tensor_free(mlp);
    return status;
}

static rt_status llama_layer(llama_state *st, rt_module **out) {
    rt_module *m = NULL, *child = NULL;
    rt_status status;
    LL_TRY(rt_module_custom("LlamaDecoderLayer", llama_layer_forward, NULL, NULL, &m));
    LL_TRY(llama_attention(st, &child));
    LL_TRY(llama_register(m, "self_attn", child));
    LL_TRY(llama_mlp(&st->cfg, &child));
    LL_TRY(llama_register(m, "mlp", child));
    LL_TRY(llama_rms_norm(&st->cfg, &child));
    LL_TRY(llama_register(m, "input_layernorm", child));
    LL_TRY(llama_rms_norm(&st->cfg, &child));
    LL_TRY(llama_register(m, "post_attention_layernorm", child));
    *out = m;
    m = NULL;
done:
    rt_module_free(m);
    return status;
}

/* ---- rotary tables: inv_freq = theta^(-2i/d); cos, sin = cos/sin of positions x cat(f, f) ---- */

static rt_status llama_rotary(const llama_config *cfg, rt_module **out) {
    rt_module *m = NULL;
    rt_tensor *idx = NULL, *expo = NULL, *inv_freq = NULL, *pos = NULL, *pos_col = NULL, *freqs = NULL;
    rt_tensor *both = NULL, *cos = NULL, *sin = NULL;
    rt_status status;
    LL_TRY(rt_module_custom("LlamaRotaryEmbedding", NULL, NULL, NULL, &m));
    /* inv_freq = exp(-(2i/d) * ln(theta)), i = 0 .. d/2 - 1 */
    LL_TRY(rt_tensor_arange(0, (double)cfg->head_dim, 2, RT_DTYPE_F32, &idx));
    LL_TRY(rt_tensor_mul_scalar(idx, -log(cfg->rope_theta) / (double)cfg->head_dim, &expo));
    LL_TRY(rt_tensor_exp(expo, &inv_freq));
    LL_TRY(rt_tensor_arange(0, (double)cfg->max_positions, 1, RT_DTYPE_F32, &pos));
    LL_TRY(rt_tensor_unsqueeze(pos, 1, &pos_col));
    LL_TRY(rt_tensor_mul(pos_col, inv_freq, &freqs)); /* (max_positions, d/2) */
    {
        const rt_tensor *halves[2] = {freqs, freqs};
        LL_TRY(rt_tensor_cat(halves, 2, 1, &both));
    }
    LL_TRY(rt_tensor_cos(both, &cos));
    LL_TRY(rt_tensor_sin(both, &sin));
    LL_TRY(rt_module_register_buffer(m, "inv_freq", inv_freq, false));
    LL_TRY(rt_module_register_buffer(m, "cos", cos, false));
    LL_TRY(rt_module_register_buffer(m, "sin", sin, false));
    *out = m;
    m = NULL;
done:
    rt_module_free(m);
    rt_tensor_free(idx), rt_tensor_free(expo), rt_tensor_free(inv_freq), rt_tensor_free(pos), rt_tensor_free(pos_col);
    rt_tensor_free(freqs), rt_tensor_free(both), rt_tensor_free(cos), rt_tensor_free(sin);
    return status;
}

/* ---- LlamaForCausalLM ---- */

/* The layers, one after the other: {x, cos, sin} -> x */
static rt_status llama_run_layers(const rt_module *self, const llama_config *cfg, rt_tensor **h,
                                  const rt_tensor *cos, const rt_tensor *sin) {
    rt_status status = RT_OK;
    for (int64_t i = 0; i < cfg->num_layers && status == RT_OK; i++) {
        char path[64];
        snprintf(path, sizeof path, "model.layers.%lld", (long long)i);
        rt_module *layer = NULL;
        rt_tensor *next = NULL;
        const rt_tensor *args[3] = {*h, cos, sin};
        status = rt_module_get_module(self, path, &layer);
        if (status == RT_OK) status = rt_module_forward_n(layer, args, 3, &next);
        rt_module_free(layer);
        if (status == RT_OK) {
            rt_tensor_free(*h);
            *h = next;
        }
    }
    return status;
}

/* ids (1, L) I64 -> logits (1, L, vocab), or (1, 1, vocab) for the last position when
   st->last_logits is set */
static rt_status llama_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n,
                               rt_tensor **out) {
    (void)n;
    llama_state *st = ctx;
    const llama_config *cfg = &st->cfg;
    rt_tensor *h = NULL, *cos_all = NULL, *sin_all = NULL, *cos = NULL, *sin = NULL, *normed = NULL;
    rt_tensor *head = NULL, *ones = NULL, *last = NULL;
    int64_t dims[2];
    size_t nd = 0;
    rt_status status;
    LL_TRY(rt_tensor_shape(in[0], dims, 2, &nd));
    int64_t len = dims[nd - 1], start = st->use_cache ? st->pos : 0;
    if (start + len > cfg->max_positions) {
        fprintf(stderr, "llama: %lld positions are more than max_position_embeddings (%lld)\n",
                (long long)(start + len), (long long)cfg->max_positions);
        return RT_ERR_INVALID_ARGUMENT;
    }
    /* one query sees every cached key; a prompt without a cache is top-left causal; new queries after
       cached ones need the lower-right causal mask */
    st->causal = len > 1 && start == 0;
    st->mask = NULL;
    if (len > 1 && start > 0) {
        int64_t shape[2] = {len, start + len};
        LL_TRY(rt_tensor_ones(shape, 2, RT_DTYPE_BOOL, &ones));
        LL_TRY(rt_tensor_tril(ones, start, &st->mask));
    }
    LL_TRY(llama_child_forward(self, "model.embed_tokens", in[0], &h));
    LL_TRY(rt_module_get_tensor(self, "model.rotary_emb.cos", &cos_all));
    LL_TRY(rt_module_get_tensor(self, "model.rotary_emb.sin", &sin_all));
    LL_TRY(rt_tensor_narrow(cos_all, 0, start, len, &cos));
    LL_TRY(rt_tensor_narrow(sin_all, 0, start, len, &sin));
    LL_TRY(llama_run_layers(self, cfg, &h, cos, sin));
    if (st->last_logits && len > 1) { /* the (L, vocab) logits would be the largest tensor of a prompt */
        LL_TRY(rt_tensor_narrow(h, 1, len - 1, 1, &last));
        rt_tensor_free(h);
        h = last;
        last = NULL;
    }
    LL_TRY(llama_child_forward(self, "model.norm", h, &normed));
    LL_TRY(rt_module_get_tensor(self, "lm_head.weight", &head));
    LL_TRY(rt_tensor_linear(normed, head, NULL, out));
    if (st->use_cache) st->pos += len;
done:
    rt_tensor_free(st->mask);
    st->mask = NULL;
    rt_tensor_free(h), rt_tensor_free(cos_all), rt_tensor_free(sin_all), rt_tensor_free(cos), rt_tensor_free(sin);
    rt_tensor_free(normed), rt_tensor_free(head), rt_tensor_free(ones), rt_tensor_free(last);
    return status;
}

/* A model with PyTorch's initialisation for cfg; *state_out lives as long as the module (its
   finalizer frees it). */
static rt_status llama_build(const llama_config *cfg, rt_module **out, llama_state **state_out) {
    llama_state *st = calloc(1, sizeof *st);
    if (!st) return RT_ERR_OUT_OF_MEMORY;
    st->cfg = *cfg;
    rt_module *root = NULL, *model = NULL, *layers = NULL, *child = NULL, *embed = NULL;
    rt_status status = rt_module_custom("LlamaForCausalLM", llama_forward, st, free, &root);
    if (status != RT_OK) {
        free(st);
        return status;
    }
    LL_TRY(rt_module_custom("LlamaModel", NULL, NULL, NULL, &model));
    LL_TRY(rt_module_register_module(root, "model", model));
    LL_TRY(rt_module_embedding(cfg->vocab_size, cfg->hidden_size, &embed));
    LL_TRY(rt_module_register_module(model, "embed_tokens", embed));
    LL_TRY(rt_module_custom("ModuleList", NULL, NULL, NULL, &layers));
    LL_TRY(rt_module_register_module(model, "layers", layers));
    for (int64_t i = 0; i < cfg->num_layers; i++) {
        char name[32];
        snprintf(name, sizeof name, "%lld", (long long)i);
        LL_TRY(llama_layer(st, &child));
        LL_TRY(llama_register(layers, name, child));
    }
    LL_TRY(llama_rms_norm(cfg, &child));
    LL_TRY(llama_register(model, "norm", child));
    LL_TRY(llama_rotary(cfg, &child));
    LL_TRY(llama_register(model, "rotary_emb", child));
    if (cfg->tie_word_embeddings) {
        LL_TRY(rt_module_register_module(root, "lm_head", embed));
    } else {
        LL_TRY(llama_linear(root, "lm_head", cfg->hidden_size, cfg->vocab_size));
    }
    *out = root;
    *state_out = st;
    root = NULL;
done:
    rt_module_free(root), rt_module_free(model), rt_module_free(layers), rt_module_free(embed);
    return status;
}

/* Loads folder/model.safetensors strictly (every name of the model, nothing else). */
static rt_status llama_load(rt_module *m, const char *folder) {
    char path[1024];
    if (snprintf(path, sizeof path, "%s/model.safetensors", folder) >= (int)sizeof path) return RT_ERR_INVALID_ARGUMENT;
    return rt_module_load_safetensors(m, path, true);
}

/* Starts generation from an empty KV cache (call inside inference mode, then run the prompt). */
static void llama_cache_reset(llama_state *st) {
    st->use_cache = true;
    st->pos = 0;
}

/* Runs without the cache again (full sequences, as in training or scoring), every position's logits. */
static void llama_cache_off(llama_state *st) {
    st->use_cache = false;
    st->pos = 0;
    st->last_logits = false;
}

/* The next token from the logits of the last position of `logits` (1, L, vocab): the most likely
   one when temperature is 0, else a sample from softmax(logits / temperature) over the top_k most
   likely (all when top_k is 0), drawn with the generator of rt_manual_seed. */
static rt_status llama_pick(const rt_tensor *logits, double temperature, int64_t top_k, int64_t *token) {
    rt_tensor *last = NULL, *pick = NULL, *scaled = NULL, *top = NULL, *top_idx = NULL, *probs = NULL;
    rt_tensor *drawn = NULL;
    int64_t dims[3];
    size_t nd = 0;
    rt_status status;
    LL_TRY(rt_tensor_shape(logits, dims, 3, &nd));
    LL_TRY(rt_tensor_select(logits, 1, dims[1] - 1, &last)); /* (1, vocab) */
    if (temperature <= 0) {
        LL_TRY(rt_tensor_argmax(last, 1, false, &pick));
    } else {
        int64_t k = top_k > 0 && top_k < dims[2] ? top_k : dims[2];
        LL_TRY(rt_tensor_mul_scalar(last, 1.0 / temperature, &scaled));
        LL_TRY(rt_tensor_topk(scaled, k, 1, true, &top, &top_idx));
        LL_TRY(rt_tensor_softmax(top, 1, &probs));
        LL_TRY(rt_tensor_multinomial(probs, 1, false, &drawn)); /* (1, 1): a position in the top k */
        LL_TRY(rt_tensor_gather(top_idx, 1, drawn, &pick));
    }
    {
        double v = 0;
        LL_TRY(rt_tensor_item(pick, &v));
        *token = (int64_t)v;
    }
done:
    rt_tensor_free(last), rt_tensor_free(pick), rt_tensor_free(scaled), rt_tensor_free(top);
    rt_tensor_free(top_idx), rt_tensor_free(probs), rt_tensor_free(drawn);
    return status;
}

/* Runs ids[0 .. n) through the model (with the cache when it is on); *logits is (1, n, vocab). */
static rt_status llama_run(const rt_module *m, const int64_t *ids, int64_t n, rt_tensor **logits) {
    int64_t shape[2] = {1, n};
    rt_tensor *x = NULL;
    rt_status status = rt_tensor_from_data(ids, (size_t)n * sizeof *ids, RT_DTYPE_I64, shape, 2, &x);
    if (status == RT_OK) status = rt_module_forward(m, x, logits);
    rt_tensor_free(x);
    return status;
}

/* Generates n_new tokens after prompt[0 .. n_prompt) into out[0 .. n_new) in inference mode, with
   the KV cache: the prompt in one call, then one token per call. */
static rt_status llama_generate(const rt_module *m, llama_state *st, const int64_t *prompt, int64_t n_prompt,
                                int64_t n_new, double temperature, int64_t top_k, int64_t *out) {
    rt_tensor *logits = NULL;
    rt_status status = rt_inference_mode_enter(true);
    if (status != RT_OK) return status;
    llama_cache_reset(st);
    st->last_logits = true; /* only the last position's logits pick the next token */
    LL_TRY(llama_run(m, prompt, n_prompt, &logits));
    for (int64_t i = 0; i < n_new; i++) {
        LL_TRY(llama_pick(logits, temperature, top_k, &out[i]));
        rt_tensor_free(logits);
        logits = NULL;
        if (i + 1 < n_new) LL_TRY(llama_run(m, &out[i], 1, &logits));
    }
done:
    rt_tensor_free(logits);
    llama_cache_off(st);
    rt_inference_mode_exit();
    return status;
}

#endif
