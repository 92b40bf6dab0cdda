/* A Hugging Face BERT checkpoint (tests/fixtures/bert_tiny, written by save_pretrained from
 * BertForSequenceClassification in tests/reference/bert_tiny.py) loads strictly through a name
 * map into an encoder built from built-in layers held by caller-defined modules: the map strips
 * the "bert." prefix, skips the pooler and the classifier head, and renames old-style LayerNorm
 * keys (".gamma", ".beta"). The encoder then reproduces transformers' last_hidden_state
 * (c_tests/bert_ref.h) to 1e-4. */
#include "ref_checks.h"
#include "bert_ref.h"

static const char *bert_fixture(const char *name) {
    static char buf[1024];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    snprintf(buf, sizeof buf, "%.*s/../tests/fixtures/bert_tiny/%s", slash ? (int)(slash - here) : 1, slash ? here : ".", name);
    return buf;
}

/* Registers child under name in parent and drops the caller's handle to it. */
static void adopt(rt_module *parent, const char *name, rt_module *child) {
    CHECK_OK(rt_module_register_module(parent, name, child));
    CHECK_OK(rt_module_free(child));
}

static rt_module *container(const char *type) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_custom(type, NULL, NULL, NULL, &m));
    return m;
}

static rt_module *linear(int64_t in, int64_t out) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(in, out, true, &m));
    return m;
}

static rt_module *layer_norm(void) {
    const int64_t shape[] = {BERT_HIDDEN};
    rt_module *m = NULL;
    CHECK_OK(rt_module_layer_norm(shape, 1, BERT_EPS, &m));
    return m;
}

static rt_module *embedding(int64_t n) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_embedding(n, BERT_HIDDEN, &m));
    return m;
}

/* Runs the child at path on x (NULL when a call failed, its status in *status). */
static rt_tensor *run(const rt_module *self, const char *path, const rt_tensor *x, rt_status *status) {
    rt_module *child = NULL;
    rt_tensor *y = NULL;
    if (*status == RT_OK) *status = rt_module_get_module(self, path, &child);
    if (*status == RT_OK) *status = rt_module_forward(child, x, &y);
    rt_module_free(child);
    return y;
}

/* (1, L, hidden) -> (1, heads, L, head_dim), a view */
static rt_tensor *heads(const rt_tensor *x, rt_status *status) {
    rt_tensor *v = NULL, *t = NULL;
    int64_t dims[3];
    size_t nd = 0;
    if (*status == RT_OK) *status = rt_tensor_shape(x, dims, 3, &nd);
    int64_t shape[4] = {dims[0], dims[1], BERT_HEADS, BERT_HIDDEN / BERT_HEADS};
    if (*status == RT_OK) *status = rt_tensor_view(x, shape, 4, &v);
    if (*status == RT_OK) *status = rt_tensor_transpose(v, 1, 2, &t);
    rt_tensor_free(v);
    return t;
}

/* BertLayer: attention, add & norm, GELU feed-forward, add & norm (post-norm). */
static rt_status bert_layer_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n,
                                    rt_tensor **out) {
    (void)ctx, (void)n;
    rt_status s = RT_OK;
    const rt_tensor *x = in[0];
    rt_tensor *q = run(self, "attention.self.query", x, &s), *k = run(self, "attention.self.key", x, &s);
    rt_tensor *v = run(self, "attention.self.value", x, &s);
    rt_tensor *qh = heads(q, &s), *kh = heads(k, &s), *vh = heads(v, &s);
    rt_tensor *att = NULL, *att_t = NULL, *merged = NULL, *sum1 = NULL, *sum2 = NULL, *act = NULL;
    int64_t dims[3];
    size_t nd = 0;
    if (s == RT_OK) s = rt_tensor_scaled_dot_product_attention(qh, kh, vh, NULL, 0.0, false, 0.0, false, &att);
    if (s == RT_OK) s = rt_tensor_transpose(att, 1, 2, &att_t);
    if (s == RT_OK) s = rt_tensor_shape(x, dims, 3, &nd);
    if (s == RT_OK) s = rt_tensor_reshape(att_t, dims, 3, &merged);
    rt_tensor *dense = run(self, "attention.output.dense", merged, &s);
    if (s == RT_OK) s = rt_tensor_add(dense, x, &sum1);
    rt_tensor *h = run(self, "attention.output.LayerNorm", sum1, &s);
    rt_tensor *inter = run(self, "intermediate.dense", h, &s);
    if (s == RT_OK) s = rt_tensor_gelu(inter, &act);
    rt_tensor *o = run(self, "output.dense", act, &s);
    if (s == RT_OK) s = rt_tensor_add(o, h, &sum2);
    rt_tensor *y = run(self, "output.LayerNorm", sum2, &s);
    if (s == RT_OK) *out = y;
    rt_tensor *all[] = {q, k, v, qh, kh, vh, att, att_t, merged, dense, sum1, h, inter, act, o, sum2};
    for (size_t i = 0; i < LEN(all); i++) rt_tensor_free(all[i]);
    return s;
}

static rt_module *bert_layer(void) {
    rt_module *layer = NULL, *attention = container("BertAttention"), *self = container("BertSelfAttention");
    rt_module *self_out = container("BertSelfOutput"), *inter = container("BertIntermediate"), *output = container("BertOutput");
    CHECK_OK(rt_module_custom("BertLayer", bert_layer_forward, NULL, NULL, &layer));
    adopt(self, "query", linear(BERT_HIDDEN, BERT_HIDDEN));
    adopt(self, "key", linear(BERT_HIDDEN, BERT_HIDDEN));
    adopt(self, "value", linear(BERT_HIDDEN, BERT_HIDDEN));
    adopt(self_out, "dense", linear(BERT_HIDDEN, BERT_HIDDEN));
    adopt(self_out, "LayerNorm", layer_norm());
    adopt(attention, "self", self);
    adopt(attention, "output", self_out);
    adopt(inter, "dense", linear(BERT_HIDDEN, BERT_INTERMEDIATE));
    adopt(output, "dense", linear(BERT_INTERMEDIATE, BERT_HIDDEN));
    adopt(output, "LayerNorm", layer_norm());
    adopt(layer, "attention", attention);
    adopt(layer, "intermediate", inter);
    adopt(layer, "output", output);
    return layer;
}

/* BertModel without its pooler: embeddings and encoder.layer.N, named as transformers names them. */
static rt_module *bert_encoder(void) {
    rt_module *model = container("BertModel"), *emb = container("BertEmbeddings"), *encoder = container("BertEncoder");
    rt_module *layers = container("ModuleList");
    adopt(emb, "word_embeddings", embedding(BERT_VOCAB));
    adopt(emb, "position_embeddings", embedding(BERT_POSITIONS));
    adopt(emb, "token_type_embeddings", embedding(2));
    adopt(emb, "LayerNorm", layer_norm());
    for (int i = 0; i < BERT_LAYERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        adopt(layers, name, bert_layer());
    }
    adopt(encoder, "layer", layers);
    adopt(model, "embeddings", emb);
    adopt(model, "encoder", encoder);
    return model;
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* "bert.X" -> "X", old "gamma"/"beta" -> "weight"/"bias"; the pooler and the classifier are skipped. */
static rt_status bert_names(void *ctx, const char *file_key, char *module_key, size_t cap) {
    (void)ctx;
    if (starts_with(file_key, "bert.pooler.") || starts_with(file_key, "classifier.")) {
        module_key[0] = 0;
        return RT_OK;
    }
    if (!starts_with(file_key, "bert.")) return RT_ERR_INVALID_ARGUMENT;
    const char *rest = file_key + 5;
    size_t len = strlen(rest);
    const char *suffix = NULL;
    if (len > 6 && strcmp(rest + len - 6, ".gamma") == 0) suffix = ".weight", len -= 6;
    else if (len > 5 && strcmp(rest + len - 5, ".beta") == 0) suffix = ".bias", len -= 5;
    int written = snprintf(module_key, cap, "%.*s%s", (int)len, rest, suffix ? suffix : "");
    return written >= 0 && (size_t)written < cap ? RT_OK : RT_ERR_BUFFER_TOO_SMALL;
}

/* last_hidden_state of the loaded encoder for bert_ids / bert_types */
static void check_hidden_state(const rt_module *model) {
    const int64_t len = (int64_t)LEN(bert_ids), ids_shape[] = {1, len};
    rt_tensor *ids = tensor_i64(bert_ids, ids_shape, 2), *types = tensor_i64(bert_types, ids_shape, 2);
    rt_tensor *positions = NULL, *pos2 = NULL;
    CHECK_OK(rt_tensor_arange(0, (double)len, 1, RT_DTYPE_I64, &positions));
    CHECK_OK(rt_tensor_unsqueeze(positions, 0, &pos2));
    CHECK_OK(rt_inference_mode_enter(true));
    rt_status s = RT_OK;
    rt_tensor *w = run(model, "embeddings.word_embeddings", ids, &s);
    rt_tensor *p = run(model, "embeddings.position_embeddings", pos2, &s);
    rt_tensor *t = run(model, "embeddings.token_type_embeddings", types, &s);
    rt_tensor *wp = NULL, *sum = NULL;
    if (s == RT_OK) s = rt_tensor_add(w, p, &wp);
    if (s == RT_OK) s = rt_tensor_add(wp, t, &sum);
    rt_tensor *h = run(model, "embeddings.LayerNorm", sum, &s);
    for (int i = 0; i < BERT_LAYERS; i++) {
        char path[32];
        snprintf(path, sizeof path, "encoder.layer.%d", i);
        rt_tensor *next = run(model, path, h, &s);
        rt_tensor_free(h);
        h = next;
    }
    CHECK_OK(s);
    CHECK_OK(rt_inference_mode_exit());
    const int64_t hidden_shape[] = {1, len, BERT_HIDDEN};
    check_shape(h, hidden_shape, 3);
    check_all_near(h, bert_hidden, LEN(bert_hidden), TOL);
    rt_tensor *all[] = {ids, types, positions, pos2, w, p, t, wp, sum, h};
    for (size_t i = 0; i < LEN(all); i++) CHECK_OK(rt_tensor_free(all[i]));
}

TEST(transformers_bert_checkpoint_loads_through_the_name_map_and_matches) {
    rt_module *model = bert_encoder();
    CHECK_OK(rt_module_train(model, false));
    /* without the map the names do not match: a strict load refuses and changes nothing */
    CHECK_STATUS(rt_module_load_safetensors(model, bert_fixture("model.safetensors"), true), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("bert.embeddings.word_embeddings.weight");
    CHECK_OK(rt_module_load_safetensors_mapped(model, bert_fixture("model.safetensors"), true, bert_names, NULL));
    check_hidden_state(model);
    CHECK_OK(rt_module_free(model));
}

TEST(old_style_gamma_and_beta_names_load_through_the_same_map) {
    rt_module *model = bert_encoder();
    CHECK_OK(rt_module_train(model, false));
    CHECK_OK(rt_module_load_safetensors_mapped(model, bert_fixture("gamma_beta.safetensors"), true, bert_names, NULL));
    check_hidden_state(model);
    CHECK_OK(rt_module_free(model));
}
