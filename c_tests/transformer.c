/* PyTorch's transformer modules (API.md 7.D): SiLU, GELU(tanh), Identity, RMSNorm,
 * MultiheadAttention and TransformerEncoderLayer. Checkpoints of nn.TransformerEncoder and
 * nn.MultiheadAttention (tests/fixtures/transformer_*.safetensors) load strictly and reproduce
 * PyTorch's outputs and input gradient (c_tests/transformer_ref.h); both come from
 * tests/reference/transformer.py. Also: init statistics, state_dict names, dropout in training
 * only, and the status of every bad input of the constructors and forward_n arities. */
#include "ref_checks.h"
#include "safetensors_util.h"
#include "transformer_ref.h"

#define TBOOL(name) tensor_bool(name, name##_shape, LEN(name##_shape))

static rt_tensor *tensor_bool(const uint8_t *data, const int64_t *shape, size_t ndim) {
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) n *= (size_t)shape[i];
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_from_data(data, n, RT_DTYPE_BOOL, shape, ndim, &t));
    return t;
}

static void check_type(const rt_module *m, const char *expected) {
    char buf[64];
    size_t len = 0;
    CHECK_OK(rt_module_type_name(m, buf, sizeof buf, &len));
    CHECK(strcmp(buf, expected) == 0);
}

static void check_names(const rt_module *m, const char *const *expected, size_t n) {
    size_t count = 0;
    CHECK_OK(rt_module_num_tensors(m, &count));
    CHECK(count == n);
    for (size_t i = 0; i < n && i < count; i++) {
        char buf[128];
        size_t len = 0;
        CHECK_OK(rt_module_tensor_name(m, i, buf, sizeof buf, &len));
        CHECK(strcmp(buf, expected[i]) == 0);
    }
}

static rt_tensor *get_tensor(const rt_module *m, const char *path) {
    rt_tensor *t = NULL;
    CHECK_OK(rt_module_get_tensor(m, path, &t));
    return t;
}

/* Max |x| and whether every element is within [-bound, bound]. */
static float max_abs(const rt_tensor *t, size_t n) {
    float *v = malloc(n * sizeof *v);
    read_f32(t, v, n);
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    free(v);
    return m;
}

static rt_tensor *forward_n(const rt_module *m, const rt_tensor *const *in, size_t n) {
    rt_tensor *y = NULL;
    CHECK_OK(rt_module_forward_n(m, in, n, &y));
    return y;
}

static void check_same_values(const rt_tensor *a, const rt_tensor *b, size_t n) {
    float *v = malloc(n * sizeof *v);
    read_f32(b, v, n);
    check_all_near(a, v, n, 1e-6);
    free(v);
}

TEST(activations_and_identity) {
    const float xs[] = {-3.0f, -0.5f, 0.0f, 0.7f, 2.5f, 10.0f};
    const int64_t shape[] = {2, 3};
    rt_tensor *x = tensor_f32(xs, shape, 2);
    rt_module *silu = NULL, *gelu = NULL, *id = NULL;
    CHECK_OK(rt_module_silu(&silu));
    CHECK_OK(rt_module_gelu_tanh(&gelu));
    CHECK_OK(rt_module_identity(&id));
    check_type(silu, "SiLU");
    check_type(gelu, "GELU");
    check_type(id, "Identity");
    rt_tensor *y = NULL, *ref = NULL;
    /* The modules compute the ops (whose values c_tests/attention.c and ops.c pin against PyTorch). */
    CHECK_OK(rt_module_forward(silu, x, &y));
    CHECK_OK(rt_tensor_silu(x, &ref));
    check_same_values(y, ref, 6);
    rt_tensor_free(y), rt_tensor_free(ref);
    CHECK_OK(rt_module_forward(gelu, x, &y));
    CHECK_OK(rt_tensor_gelu_tanh(x, &ref));
    check_same_values(y, ref, 6);
    rt_tensor_free(y), rt_tensor_free(ref);
    /* Identity returns the input itself: the same storage. */
    CHECK_OK(rt_module_forward(id, x, &y));
    const void *px = NULL, *py = NULL;
    CHECK_OK(rt_tensor_data_ptr(x, &px));
    CHECK_OK(rt_tensor_data_ptr(y, &py));
    CHECK(px == py);
    size_t n = 9;
    CHECK_OK(rt_module_num_tensors(id, &n));
    CHECK(n == 0);
    rt_tensor_free(y);
    const rt_tensor *two[] = {x, x};
    CHECK_STATUS(rt_module_forward_n(id, two, 2, &y), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_silu(NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_gelu_tanh(NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_identity(NULL), RT_ERR_NULL_ARGUMENT);
    rt_module_free(silu), rt_module_free(gelu), rt_module_free(id);
    rt_tensor_free(x);
}

TEST(rms_norm_module) {
    const int64_t shape[] = {4};
    rt_module *m = NULL;
    CHECK_OK(rt_module_rms_norm(shape, 1, 1e-6, &m));
    check_type(m, "RMSNorm");
    const char *names[] = {"weight"};
    check_names(m, names, 1);
    rt_tensor *w = get_tensor(m, "weight");
    const float ones[] = {1, 1, 1, 1};
    check_all_near(w, ones, 4, 0.0);
    CHECK(requires_grad(w));
    /* A changed weight is used: forward equals rt_tensor_rms_norm with it. */
    const float wv[] = {0.5f, -1.0f, 2.0f, 3.0f};
    rt_tensor *w2 = tensor_f32(wv, shape, 1);
    CHECK_OK(rt_tensor_set_requires_grad(w, false));
    CHECK_OK(rt_tensor_copy_inplace(w, w2));
    const float xs[] = {1, 2, 3, 4, -1, 0.5f, 0, 2};
    const int64_t xshape[] = {2, 4};
    rt_tensor *x = tensor_f32(xs, xshape, 2), *y = NULL, *ref = NULL;
    CHECK_OK(rt_module_forward(m, x, &y));
    CHECK_OK(rt_tensor_rms_norm(x, shape, 1, w2, 1e-6, &ref));
    check_same_values(y, ref, 8);
    rt_tensor_free(y), rt_tensor_free(ref), rt_tensor_free(x), rt_tensor_free(w), rt_tensor_free(w2);
    rt_module_free(m);

    rt_module *none = NULL;
    CHECK_STATUS(rt_module_rms_norm(shape, 0, 1e-6, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_rms_norm(NULL, 1, 1e-6, &none), RT_ERR_NULL_ARGUMENT);
    const int64_t bad[] = {-3};
    CHECK_STATUS(rt_module_rms_norm(bad, 1, 1e-6, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_rms_norm(shape, 1, -1e-6, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_rms_norm(shape, 1, NAN, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_rms_norm(shape, 1, 1e-6, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK(none == NULL);
}

static rt_module *mha_from_fixture(void) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_multihead_attention(8, 2, true, false, &m));
    CHECK_OK(rt_module_load_safetensors(m, fixture("transformer_mha.safetensors"), true));
    CHECK_OK(rt_module_train(m, false));
    return m;
}

TEST(mha_matches_pytorch) {
    rt_module *m = mha_from_fixture();
    check_type(m, "MultiheadAttention");
    const char *names[] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
    check_names(m, names, 4);
    rt_tensor *q = T32(mha_q), *k = T32(mha_k), *v = T32(mha_v);
    rt_tensor *kpm = TBOOL(mha_kpm), *ab = TBOOL(mha_attn_bool), *af = T32(mha_attn_f32);

    const rt_tensor *self_in[] = {q};
    rt_tensor *y = forward_n(m, self_in, 1);
    EXPECT_VALUES(y, mha_y_self);
    rt_tensor_free(y);
    /* Absent key and value (NULL) are self-attention too. */
    const rt_tensor *self_null[] = {q, NULL, NULL, NULL, NULL};
    y = forward_n(m, self_null, 5);
    EXPECT_VALUES(y, mha_y_self);
    rt_tensor_free(y);
    const rt_tensor *cross[] = {q, k, v};
    y = forward_n(m, cross, 3);
    EXPECT_VALUES(y, mha_y_cross);
    rt_tensor_free(y);
    const rt_tensor *with_bool[] = {q, k, v, kpm, ab};
    y = forward_n(m, with_bool, 5);
    EXPECT_VALUES(y, mha_y_bool);
    rt_tensor_free(y);
    const rt_tensor *with_f32[] = {q, k, v, kpm, af};
    y = forward_n(m, with_f32, 5);
    EXPECT_VALUES(y, mha_y_f32);
    rt_tensor_free(y);

    rt_tensor_free(q), rt_tensor_free(k), rt_tensor_free(v);
    rt_tensor_free(kpm), rt_tensor_free(ab), rt_tensor_free(af);
    rt_module_free(m);
}

TEST(mha_init_is_pytorchs) {
    rt_manual_seed(7);
    rt_module *m = NULL;
    CHECK_OK(rt_module_multihead_attention(64, 4, true, true, &m));
    rt_tensor *w = get_tensor(m, "in_proj_weight"), *b = get_tensor(m, "in_proj_bias");
    rt_tensor *ow = get_tensor(m, "out_proj.weight"), *ob = get_tensor(m, "out_proj.bias");
    const int64_t wshape[] = {192, 64}, bshape[] = {192};
    check_shape(w, wshape, 2);
    check_shape(b, bshape, 1);
    /* xavier_uniform_: U(-sqrt(6 / (64 + 192)), +); 12288 samples reach close to the bound. */
    float xavier = sqrtf(6.0f / 256.0f), mw = max_abs(w, 192 * 64);
    CHECK(mw <= xavier && mw > 0.99f * xavier);
    CHECK(max_abs(b, 192) == 0.0f);
    /* out_proj: Linear's U(-1/sqrt(64), +) weight and a zeroed bias. */
    float mo = max_abs(ow, 64 * 64);
    CHECK(mo <= 0.125f && mo > 0.99f * 0.125f);
    CHECK(max_abs(ob, 64) == 0.0f);
    CHECK(requires_grad(w) && requires_grad(b) && requires_grad(ow) && requires_grad(ob));
    rt_tensor_free(w), rt_tensor_free(b), rt_tensor_free(ow), rt_tensor_free(ob);
    rt_module_free(m);

    CHECK_OK(rt_module_multihead_attention(8, 2, false, false, &m));
    const char *names[] = {"in_proj_weight", "out_proj.weight"};
    check_names(m, names, 2);
    rt_module_free(m);
}

TEST(mha_bad_inputs) {
    rt_module *none = NULL;
    CHECK_STATUS(rt_module_multihead_attention(0, 1, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_multihead_attention(8, 0, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_multihead_attention(8, -2, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_multihead_attention(8, 3, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("multiple of num_heads");
    CHECK_STATUS(rt_module_multihead_attention(8, 2, true, false, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK(none == NULL);

    rt_module *m = mha_from_fixture();
    rt_tensor *q = T32(mha_q), *k = T32(mha_k), *v = T32(mha_v), *kpm = TBOOL(mha_kpm), *y = NULL;
    const rt_tensor *six[] = {q, k, v, kpm, NULL, NULL};
    CHECK_STATUS(rt_module_forward_n(m, six, 6, &y), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_forward_n(m, six, 0, &y), RT_ERR_INVALID_ARGUMENT);
    const rt_tensor *no_query[] = {NULL, k, v};
    CHECK_STATUS(rt_module_forward_n(m, no_query, 3, &y), RT_ERR_NULL_ARGUMENT);
    const rt_tensor *key_only[] = {q, k, NULL};
    CHECK_STATUS(rt_module_forward_n(m, key_only, 3, &y), RT_ERR_NULL_ARGUMENT);
    const rt_tensor *value_only[] = {q, NULL, v};
    CHECK_STATUS(rt_module_forward_n(m, value_only, 3, &y), RT_ERR_NULL_ARGUMENT);
    /* query's last dim must be embed_dim; key and value one shape with query's batch. */
    const float small[12] = {0};
    const int64_t s34[] = {3, 2, 2}, s4_1[] = {4, 1, 8};
    rt_tensor *bad_q = tensor_f32(small, s34, 3), *bad_k = tensor_f32(mha_k, s4_1, 3);
    const rt_tensor *wrong_q[] = {bad_q};
    CHECK_STATUS(rt_module_forward_n(m, wrong_q, 1, &y), RT_ERR_SHAPE);
    const rt_tensor *kv_mismatch[] = {q, bad_k, v};
    CHECK_STATUS(rt_module_forward_n(m, kv_mismatch, 3, &y), RT_ERR_SHAPE);
    /* Masks: (N, S) padding, (L, S) or (N * H, L, S) attn_mask, BOOL or F32 only. */
    const rt_tensor *kpm_wrong[] = {q, q, q, kpm};  /* S is 3 here, kpm is (2, 4) */
    CHECK_STATUS(rt_module_forward_n(m, kpm_wrong, 4, &y), RT_ERR_SHAPE);
    rt_tensor *am = TBOOL(mha_attn_bool);
    const rt_tensor *attn_wrong[] = {q, NULL, NULL, NULL, am};  /* (3, 4) for S = 3 */
    CHECK_STATUS(rt_module_forward_n(m, attn_wrong, 5, &y), RT_ERR_SHAPE);
    const int64_t idx[] = {0, 0, 0, 1, 0, 0, 0, 0};
    const int64_t kshape[] = {2, 4};
    rt_tensor *kpm_i64 = tensor_i64(idx, kshape, 2);
    const rt_tensor *i64_mask[] = {q, k, v, kpm_i64};
    CHECK_STATUS(rt_module_forward_n(m, i64_mask, 4, &y), RT_ERR_DTYPE);
    CHECK(y == NULL);
    rt_tensor_free(q), rt_tensor_free(k), rt_tensor_free(v), rt_tensor_free(kpm), rt_tensor_free(am);
    rt_tensor_free(bad_q), rt_tensor_free(bad_k), rt_tensor_free(kpm_i64);
    rt_module_free(m);
}

static rt_module *encoder_layer(bool gelu, bool norm_first) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_transformer_encoder_layer(8, 2, 16, 0.1, gelu, 1e-5, true, norm_first, &m));
    return m;
}

/* nn.TransformerEncoder's state_dict ("layers.0.self_attn.in_proj_weight", ...) loaded into two
 * built-in layers held by a custom container `layers`; the test runs the layers in order. */
static rt_module *encoder(const char *file, bool gelu, bool norm_first, rt_module **layers) {
    rt_module *root = NULL, *list = NULL;
    CHECK_OK(rt_module_custom("TransformerEncoder", NULL, NULL, NULL, &root));
    CHECK_OK(rt_module_custom("ModuleList", NULL, NULL, NULL, &list));
    for (int i = 0; i < 2; i++) {
        layers[i] = encoder_layer(gelu, norm_first);
        CHECK_OK(rt_module_register_module(list, i == 0 ? "0" : "1", layers[i]));
    }
    CHECK_OK(rt_module_register_module(root, "layers", list));
    rt_module_free(list);
    CHECK_OK(rt_module_load_safetensors(root, fixture(file), true));
    CHECK_OK(rt_module_train(root, false));
    return root;
}

static rt_tensor *run_encoder(rt_module **layers, rt_tensor *x, const rt_tensor *mask, const rt_tensor *kpm) {
    rt_tensor *h = x;
    for (int i = 0; i < 2; i++) {
        const rt_tensor *in[] = {h, mask, kpm};
        rt_tensor *next = forward_n(layers[i], in, mask || kpm ? 3 : 1);
        if (h != x) rt_tensor_free(h);
        h = next;
    }
    return h;
}

TEST(encoder_post_norm_relu_matches_pytorch) {
    rt_module *layers[2];
    rt_module *root = encoder("transformer_post_relu.safetensors", false, false, layers);
    check_type(layers[0], "TransformerEncoderLayer");
    rt_tensor *x = T32(post_relu_x), *mask = TBOOL(enc_causal_bool), *kpm = TBOOL(enc_padding);
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    rt_tensor *y = run_encoder(layers, x, NULL, NULL);
    EXPECT_VALUES(y, post_relu_y_plain);
    rt_tensor_free(y);
    y = run_encoder(layers, x, mask, kpm);
    EXPECT_VALUES(y, post_relu_y);
    rt_tensor *gy = T32(post_relu_gy), *gx = NULL;
    CHECK_OK(rt_tensor_backward(y, gy, false));
    CHECK_OK(rt_tensor_grad(x, &gx));
    check_all_near(gx, post_relu_gx, LEN(post_relu_gx), TOL);
    rt_tensor_free(gx), rt_tensor_free(gy), rt_tensor_free(y);
    rt_tensor_free(x), rt_tensor_free(mask), rt_tensor_free(kpm);
    rt_module_free(layers[0]), rt_module_free(layers[1]), rt_module_free(root);
}

TEST(encoder_pre_norm_gelu_matches_pytorch) {
    rt_module *layers[2];
    rt_module *root = encoder("transformer_pre_gelu.safetensors", true, true, layers);
    rt_tensor *x = T32(pre_gelu_x), *mask = T32(enc_causal_f32), *kpm = TBOOL(enc_padding);
    rt_tensor *y = run_encoder(layers, x, NULL, NULL);
    EXPECT_VALUES(y, pre_gelu_y_plain);
    rt_tensor_free(y);
    y = run_encoder(layers, x, mask, kpm);
    EXPECT_VALUES(y, pre_gelu_y);
    rt_tensor_free(y);
    /* src_mask alone, key padding mask absent (NULL), as {src, src_mask}. */
    const rt_tensor *two[] = {x, mask};
    y = forward_n(layers[0], two, 2);
    rt_tensor_free(y);
    rt_tensor_free(x), rt_tensor_free(mask), rt_tensor_free(kpm);
    rt_module_free(layers[0]), rt_module_free(layers[1]), rt_module_free(root);
}

TEST(encoder_layer_names_and_dropout) {
    rt_module *m = encoder_layer(false, false);
    const char *names[] = {"self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                           "self_attn.out_proj.bias",  "linear1.weight",         "linear1.bias",
                           "linear2.weight",           "linear2.bias",           "norm1.weight",
                           "norm1.bias",               "norm2.weight",           "norm2.bias"};
    check_names(m, names, LEN(names));
    rt_module *attn = NULL;
    CHECK_OK(rt_module_get_module(m, "self_attn", &attn));
    check_type(attn, "MultiheadAttention");
    rt_module_free(attn);
    /* Dropout acts in training only: two training runs differ from each other and from eval. */
    rt_tensor *x = T32(post_relu_x);
    const rt_tensor *in[] = {x};
    rt_tensor *t1 = forward_n(m, in, 1), *t2 = forward_n(m, in, 1);
    float a[80], b[80], c[80];
    read_f32(t1, a, 80), read_f32(t2, b, 80);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK_OK(rt_module_train(m, false));
    rt_tensor *e1 = forward_n(m, in, 1), *e2 = forward_n(m, in, 1);
    read_f32(e1, a, 80), read_f32(e2, c, 80);
    CHECK(memcmp(a, c, sizeof a) == 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    rt_tensor_free(t1), rt_tensor_free(t2), rt_tensor_free(e1), rt_tensor_free(e2), rt_tensor_free(x);
    rt_module_free(m);
}

TEST(encoder_layer_bad_inputs) {
    rt_module *none = NULL;
    CHECK_STATUS(rt_module_transformer_encoder_layer(0, 2, 16, 0.1, false, 1e-5, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 0, 16, 0.1, false, 1e-5, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 3, 16, 0.1, false, 1e-5, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 2, 0, 0.1, false, 1e-5, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 2, 16, 1.0, false, 1e-5, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 2, 16, -0.1, false, 1e-5, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 2, 16, NAN, false, 1e-5, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 2, 16, 0.1, false, 0.0, true, false, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_transformer_encoder_layer(8, 2, 16, 0.1, false, 1e-5, true, false, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK(none == NULL);

    rt_module *m = encoder_layer(false, false);
    rt_tensor *x = T32(post_relu_x), *y = NULL;
    const rt_tensor *four[] = {x, NULL, NULL, NULL};
    CHECK_STATUS(rt_module_forward_n(m, four, 4, &y), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_forward_n(m, four, 0, &y), RT_ERR_INVALID_ARGUMENT);
    const rt_tensor *no_src[] = {NULL, NULL};
    CHECK_STATUS(rt_module_forward_n(m, no_src, 2, &y), RT_ERR_NULL_ARGUMENT);
    rt_tensor *kpm = TBOOL(mha_kpm);  /* (2, 4) where S is 5 */
    const rt_tensor *bad_kpm[] = {x, NULL, kpm};
    CHECK_STATUS(rt_module_forward_n(m, bad_kpm, 3, &y), RT_ERR_SHAPE);
    CHECK(y == NULL);
    rt_tensor_free(x), rt_tensor_free(kpm);
    rt_module_free(m);
}

/* The modules follow the grad modes: under no_grad and in inference mode the output records
 * nothing and has PyTorch's values. */
TEST(mha_in_no_grad_and_inference_mode) {
    rt_module *m = mha_from_fixture();
    rt_tensor *q = T32(mha_q), *k = T32(mha_k), *v = T32(mha_v), *kpm = TBOOL(mha_kpm), *ab = TBOOL(mha_attn_bool);
    const rt_tensor *in[] = {q, k, v, kpm, ab};
    rt_tensor *y = forward_n(m, in, 5);
    CHECK(requires_grad(y));
    rt_tensor_free(y);
    CHECK_OK(rt_grad_mode_enter(false));
    y = forward_n(m, in, 5);
    CHECK(!requires_grad(y));
    EXPECT_VALUES(y, mha_y_bool);
    rt_tensor_free(y);
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_inference_mode_enter(true));
    y = forward_n(m, in, 5);
    CHECK(!requires_grad(y));
    EXPECT_VALUES(y, mha_y_bool);
    rt_tensor_free(y);
    CHECK_OK(rt_inference_mode_exit());
    rt_tensor_free(q), rt_tensor_free(k), rt_tensor_free(v), rt_tensor_free(kpm), rt_tensor_free(ab);
    rt_module_free(m);
}

/* An unbatched (L, E) query, with an (S) padding mask, is a batch of one, as in PyTorch. */
TEST(mha_unbatched_input_is_a_batch_of_one) {
    rt_module *m = mha_from_fixture();
    rt_tensor *q = T32(mha_q), *k = T32(mha_k), *v = T32(mha_v), *kpm = TBOOL(mha_kpm);
    rt_tensor *q0 = NULL, *k0 = NULL, *v0 = NULL, *kpm0 = NULL, *ref = NULL, *ref0 = NULL;
    CHECK_OK(rt_tensor_select(q, 1, 0, &q0));
    CHECK_OK(rt_tensor_select(k, 1, 0, &k0));
    CHECK_OK(rt_tensor_select(v, 1, 0, &v0));
    CHECK_OK(rt_tensor_select(kpm, 0, 0, &kpm0));
    const rt_tensor *batched[] = {q, k, v, kpm};
    ref = forward_n(m, batched, 4);
    CHECK_OK(rt_tensor_select(ref, 1, 0, &ref0));
    const rt_tensor *one[] = {q0, k0, v0, kpm0};
    rt_tensor *y = forward_n(m, one, 4);
    const int64_t shape[] = {3, 8};
    check_shape(y, shape, 2);
    check_same_values(y, ref0, 24);
    rt_tensor *t[] = {q, k, v, kpm, q0, k0, v0, kpm0, ref, ref0, y};
    for (size_t i = 0; i < LEN(t); i++) rt_tensor_free(t[i]);
    rt_module_free(m);
}
