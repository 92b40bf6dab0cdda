/* Modules defined by the caller (API.md 7.A): forward callbacks, registration, names and dotted
 * paths, weight tying through save / strict load / optimizers, mapped loads, re-entrancy, callback
 * errors, finalizer timing, cycles and depth, every bad input of the new functions, and concurrent
 * eval forwards. Numbers come from tests/reference/custom_modules.py (PyTorch). */
#include <pthread.h>

#include "custom_modules_ref.h"
#include "harness.h"
#include "probes.h"

static rt_module *custom(const char *type, rt_forward_fn fwd, void *ctx, void (*ctx_free)(void *)) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_custom(type, fwd, ctx, ctx_free, &m));
    return m;
}

static rt_module *linear(int64_t in, int64_t out, bool bias) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(in, out, bias, &m));
    return m;
}

static rt_tensor *get_tensor(const rt_module *m, const char *path) {
    rt_tensor *t = NULL;
    CHECK_OK(rt_module_get_tensor(m, path, &t));
    return t;
}

static size_t num_tensors(const rt_module *m) {
    size_t n = 999;
    CHECK_OK(rt_module_num_tensors(m, &n));
    return n;
}

static void check_names(const rt_module *m, const char *const *expected, size_t n) {
    CHECK(num_tensors(m) == n);
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        size_t len = 0;
        CHECK_OK(rt_module_tensor_name(m, i, buf, sizeof buf, &len));
        if (strcmp(buf, expected[i]) != 0) fprintf(stderr, "  name %zu: %s, expected %s\n", i, buf, expected[i]);
        CHECK(strcmp(buf, expected[i]) == 0);
    }
}

static void check_type(const rt_module *m, const char *expected) {
    char buf[64];
    size_t len = 0;
    CHECK_OK(rt_module_type_name(m, buf, sizeof buf, &len));
    CHECK(len == strlen(expected) && strcmp(buf, expected) == 0);
}

/* Copies values into a module's tensor (under no_grad, as loading does). */
static void set_values(const rt_module *m, const char *path, const float *v, const int64_t *shape, size_t ndim) {
    rt_tensor *t = get_tensor(m, path), *src = tensor_f32(v, shape, ndim);
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_copy_inplace(t, src));
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_tensor_free(src));
}

static rt_tensor *forward(const rt_module *m, const rt_tensor *x) {
    rt_tensor *y = NULL;
    CHECK_OK(rt_module_forward(m, x, &y));
    return y;
}

static rt_module *child(const rt_module *m, const char *path) {
    rt_module *c = NULL;
    CHECK_OK(rt_module_get_module(m, path, &c));
    return c;
}

/* ---- a residual block: y = x + fc2(relu(fc1(x))) ---- */

/* Each step's status is returned as it is, so the library's message stays the last error. */
static rt_status residual_forward(void *ctx, const rt_module *self, const rt_tensor *const *inputs, size_t n,
                                  rt_tensor **out) {
    (void)ctx;
    if (n != 1 || inputs[0] == NULL) return RT_ERR_INVALID_ARGUMENT;
    rt_module *fc1 = NULL, *fc2 = NULL;
    rt_tensor *h = NULL, *r = NULL, *z = NULL;
    rt_status s = rt_module_get_module(self, "fc1", &fc1);
    if (s == RT_OK) s = rt_module_get_module(self, "fc2", &fc2);
    if (s == RT_OK) s = rt_module_forward(fc1, inputs[0], &h);
    if (s == RT_OK) s = rt_tensor_relu(h, &r);
    if (s == RT_OK) s = rt_module_forward(fc2, r, &z);
    if (s == RT_OK) s = rt_tensor_add(inputs[0], z, out);
    rt_tensor_free(h);
    rt_tensor_free(r);
    rt_tensor_free(z);
    rt_module_free(fc1);
    rt_module_free(fc2);
    return s;
}

/* A Residual module holding PyTorch's reference weights; the child handles are freed here. */
static rt_module *residual_block(void) {
    rt_module *m = custom("Residual", residual_forward, NULL, NULL);
    rt_module *fc1 = linear(4, 8, true), *fc2 = linear(8, 4, true);
    CHECK_OK(rt_module_register_module(m, "fc1", fc1));
    CHECK_OK(rt_module_register_module(m, "fc2", fc2));
    CHECK_OK(rt_module_free(fc1));
    CHECK_OK(rt_module_free(fc2));
    set_values(m, "fc1.weight", res_w1, res_w1_shape, 2);
    set_values(m, "fc1.bias", res_b1, res_b1_shape, 1);
    set_values(m, "fc2.weight", res_w2, res_w2_shape, 2);
    set_values(m, "fc2.bias", res_b2, res_b2_shape, 1);
    return m;
}

TEST(residual_block_forward_and_backward_match_pytorch) {
    rt_module *m = residual_block();
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2), *gy = tensor_f32(res_gy, res_gy_shape, 2);
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    rt_tensor *y = forward(m, x);
    check_all_near(y, res_y, 12, 1e-5);
    CHECK(has_grad_fn(y));
    CHECK_OK(rt_tensor_backward(y, gy, false));
    rt_tensor *dx = NULL, *w1 = get_tensor(m, "fc1.weight"), *dw1 = NULL;
    CHECK_OK(rt_tensor_grad(x, &dx));
    CHECK_OK(rt_tensor_grad(w1, &dw1));
    check_all_near(dx, res_dx, 12, 1e-5);
    check_all_near(dw1, res_dw1, 32, 1e-5);
    /* zero_grad walks the children of a custom module */
    CHECK_OK(rt_module_zero_grad(m));
    rt_tensor *none = (rt_tensor *)0x1;
    CHECK_OK(rt_tensor_grad(w1, &none));
    CHECK(none == NULL);
    rt_tensor *ts[] = {x, gy, y, dx, w1, dw1};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

/* The callback runs with the caller's modes: in inference mode nothing is recorded. */
TEST(a_callback_runs_in_the_callers_grad_mode) {
    rt_module *m = residual_block();
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2);
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *y = forward(m, x);
    CHECK_OK(rt_inference_mode_exit());
    CHECK(is_inference(y) && !has_grad_fn(y));
    check_all_near(y, res_y, 12, 1e-5);
    CHECK_OK(rt_grad_mode_enter(false));
    rt_tensor *z = forward(m, x);
    CHECK_OK(rt_grad_mode_exit());
    CHECK(!is_inference(z) && !has_grad_fn(z) && !requires_grad(z));
    rt_tensor *w = forward(m, x);
    CHECK(has_grad_fn(w));
    rt_tensor *ts[] = {x, y, z, w};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

TEST(forward_is_forward_n_with_one_input) {
    rt_module *m = residual_block();
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2), *y = NULL;
    const rt_tensor *in[] = {x};
    CHECK_OK(rt_module_forward_n(m, in, 1, &y));
    check_all_near(y, res_y, 12, 1e-5);
    CHECK_OK(rt_tensor_free(y));
    /* built-ins too */
    rt_module *relu = NULL;
    CHECK_OK(rt_module_relu(&relu));
    CHECK_OK(rt_module_forward_n(relu, in, 1, &y));
    float v[12];
    read_f32(y, v, 12);
    for (int i = 0; i < 12; i++) CHECK(v[i] == (res_x[i] > 0 ? res_x[i] : 0.0f));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(relu));
    CHECK_OK(rt_module_free(m));
}

TEST(a_custom_module_is_a_sequential_stage) {
    rt_module *block = residual_block(), *relu = NULL, *seq = NULL;
    CHECK_OK(rt_module_relu(&relu));
    rt_module *kids[] = {block, relu};
    CHECK_OK(rt_module_sequential(kids, 2, &seq));
    const char *names[] = {"0.fc1.weight", "0.fc1.bias", "0.fc2.weight", "0.fc2.bias"};
    check_names(seq, names, 4);
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2);
    rt_tensor *y = forward(seq, x);
    float expected[12];
    for (int i = 0; i < 12; i++) expected[i] = res_y[i] > 0 ? res_y[i] : 0.0f;
    check_all_near(y, expected, 12, 1e-5);
    /* train(false) on the Sequential reaches the custom stage and its children */
    CHECK_OK(rt_module_train(seq, false));
    rt_module *fc2 = child(block, "fc2");
    bool training = true;
    CHECK_OK(rt_module_is_training(block, &training));
    CHECK(!training);
    training = true;
    CHECK_OK(rt_module_is_training(fc2, &training));
    CHECK(!training);
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_tensor_free(y));
    rt_module *ms[] = {block, relu, seq, fc2};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_module_free(ms[i]));
}

/* ---- names, order, paths ---- */

/* Registers in the order of tests/reference/custom_modules.py's Order module. */
static rt_module *order_module(void) {
    rt_module *m = custom("Order", NULL, NULL, NULL);
    rt_module *first = linear(2, 2, true), *l1 = linear(2, 2, true), *relu = NULL, *l2 = linear(2, 1, true), *second = NULL;
    CHECK_OK(rt_module_relu(&relu));
    rt_module *kids[] = {l1, relu, l2};
    CHECK_OK(rt_module_sequential(kids, 3, &second));
    int64_t two[] = {2};
    rt_tensor *scale = NULL, *step = NULL, *inv_freq = NULL;
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &scale));
    CHECK_OK(rt_tensor_zeros(NULL, 0, RT_DTYPE_I64, &step));
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &inv_freq));
    CHECK_OK(rt_module_register_module(m, "first", first));
    CHECK_OK(rt_module_register_parameter(m, "scale", scale, true));
    CHECK_OK(rt_module_register_buffer(m, "step", step, true));
    CHECK_OK(rt_module_register_buffer(m, "inv_freq", inv_freq, false));
    CHECK_OK(rt_module_register_module(m, "second", second));
    rt_module *ms[] = {first, l1, relu, l2, second};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_module_free(ms[i]));
    rt_tensor *ts[] = {scale, step, inv_freq};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
    return m;
}

TEST(state_dict_names_follow_pytorch_order) {
    rt_module *m = order_module();
    check_names(m, order_keys, ORDER_KEYS_N);
    /* the non-persistent buffer is out of the state_dict but reachable by path */
    rt_tensor *inv = get_tensor(m, "inv_freq"), *scale = get_tensor(m, "scale");
    CHECK(!requires_grad(inv) && requires_grad(scale) && is_leaf(scale));
    CHECK_OK(rt_tensor_free(inv));
    CHECK_OK(rt_tensor_free(scale));
    const char *path = "custom_order.safetensors";
    CHECK_OK(rt_module_save_safetensors(m, path));
    rt_safetensors *f = NULL;
    size_t count = 0;
    CHECK_OK(rt_safetensors_open(path, &f));
    CHECK_OK(rt_safetensors_count(f, &count));
    CHECK(count == ORDER_KEYS_N);
    rt_tensor *none = NULL;
    CHECK_STATUS(rt_safetensors_get(f, "inv_freq", &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_OK(rt_safetensors_free(f));
    CHECK_OK(rt_module_load_safetensors(m, path, true));
    remove(path);
    CHECK_OK(rt_module_free(m));
}

TEST(type_names_are_pytorch_class_names) {
    rt_module *m = order_module();
    check_type(m, "Order");
    rt_module *first = child(m, "first"), *second = child(m, "second"), *relu = child(m, "second.1");
    check_type(first, "Linear");
    check_type(second, "Sequential");
    check_type(relu, "ReLU");
    rt_module *ms[] = {first, second, relu, m};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_module_free(ms[i]));

    int64_t shape[] = {3};
    struct {
        rt_status s;
        rt_module *m;
        const char *name;
    } made[15];
    int n = 0;
#define MADE(call, nm)                    \
    do {                                  \
        made[n].m = NULL;                 \
        made[n].s = (call);               \
        made[n].name = (nm);              \
        n++;                              \
    } while (0)
    MADE(rt_module_linear(2, 2, true, &made[n].m), "Linear");
    MADE(rt_module_conv2d(1, 1, 1, 1, 0, true, &made[n].m), "Conv2d");
    MADE(rt_module_batch_norm1d(2, 1e-5, 0.1, &made[n].m), "BatchNorm1d");
    MADE(rt_module_batch_norm2d(2, 1e-5, 0.1, &made[n].m), "BatchNorm2d");
    MADE(rt_module_layer_norm(shape, 1, 1e-5, &made[n].m), "LayerNorm");
    MADE(rt_module_embedding(3, 2, &made[n].m), "Embedding");
    MADE(rt_module_relu(&made[n].m), "ReLU");
    MADE(rt_module_gelu(&made[n].m), "GELU");
    MADE(rt_module_sigmoid(&made[n].m), "Sigmoid");
    MADE(rt_module_tanh(&made[n].m), "Tanh");
    MADE(rt_module_dropout(0.5, &made[n].m), "Dropout");
    MADE(rt_module_max_pool2d(2, 0, &made[n].m), "MaxPool2d");
    MADE(rt_module_flatten(1, -1, &made[n].m), "Flatten");
    MADE(rt_module_softmax(-1, &made[n].m), "Softmax");
    MADE(rt_module_sequential(NULL, 0, &made[n].m), "Sequential");
#undef MADE
    for (int i = 0; i < n; i++) {
        CHECK_OK(made[i].s);
        check_type(made[i].m, made[i].name);
        CHECK_OK(rt_module_free(made[i].m));
    }
}

TEST(type_name_follows_the_buffer_rules) {
    rt_module *m = custom("Residual", NULL, NULL, NULL);
    char buf[8] = "xxxxxxx";
    size_t len = 0;
    CHECK_STATUS(rt_module_type_name(m, buf, 8, &len), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 8 && strcmp(buf, "xxxxxxx") == 0);
    len = 0;
    CHECK_STATUS(rt_module_type_name(m, NULL, 0, &len), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 8);
    CHECK_STATUS(rt_module_type_name(m, buf, 8, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_type_name(NULL, buf, 8, &len), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_type_name(m, NULL, 8, &len), RT_ERR_NULL_ARGUMENT);
    char big[9];
    CHECK_OK(rt_module_type_name(m, big, 9, &len));
    CHECK(strcmp(big, "Residual") == 0);
    CHECK_OK(rt_module_free(m));
    CHECK_STATUS(rt_module_type_name(m, big, 9, &len), RT_ERR_INVALID_HANDLE);
}

TEST(dotted_paths_reach_modules_and_tensors) {
    rt_module *m = order_module();
    /* "" is the module itself: the same object, so the same tensors */
    rt_module *self = child(m, "");
    rt_tensor *a = get_tensor(m, "scale"), *b = get_tensor(self, "scale");
    const void *pa = NULL, *pb = NULL;
    CHECK_OK(rt_tensor_data_ptr(a, &pa));
    CHECK_OK(rt_tensor_data_ptr(b, &pb));
    CHECK(pa == pb);
    rt_module *l2 = child(m, "second.2");
    rt_tensor *w = get_tensor(l2, "weight"), *w2 = get_tensor(m, "second.2.weight");
    CHECK_OK(rt_tensor_data_ptr(w, &pa));
    CHECK_OK(rt_tensor_data_ptr(w2, &pb));
    CHECK(pa == pb);

    rt_module *out = (rt_module *)0x70;
    rt_tensor *t = (rt_tensor *)0x70;
    CHECK_STATUS(rt_module_get_module(m, "second.5", &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("nothing named \"5\"");
    CHECK_ERROR_MENTIONS("\"second\"");
    CHECK_STATUS(rt_module_get_module(m, "nope.0", &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("nothing named \"nope\"");
    CHECK_STATUS(rt_module_get_module(m, "scale", &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("names a tensor");
    CHECK_STATUS(rt_module_get_module(m, "second.", &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_get_module(m, ".second", &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == (rt_module *)0x70);
    CHECK_STATUS(rt_module_get_tensor(m, "second.2.weight.x", &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("\"second.2.weight\" is a tensor");
    CHECK_STATUS(rt_module_get_tensor(m, "second.2", &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("names a module");
    CHECK_STATUS(rt_module_get_tensor(m, "first.gamma", &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("nothing named \"gamma\"");
    CHECK(t == (rt_tensor *)0x70);
    CHECK_STATUS(rt_module_get_module(NULL, "", &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_get_module(m, NULL, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_get_module(m, "", NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_get_module((rt_module *)a, "", &out), RT_ERR_INVALID_HANDLE);
    CHECK(out == (rt_module *)0x70);

    rt_tensor *ts[] = {a, b, w, w2};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    rt_module *ms[] = {self, l2, m};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_module_free(ms[i]));
    CHECK_STATUS(rt_module_get_module(m, "", &out), RT_ERR_INVALID_HANDLE);
}

/* ---- weight tying: an embedding and an lm_head sharing one weight ---- */

static rt_status tied_head_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)ctx;
    (void)n;
    rt_tensor *w = NULL;
    rt_status s = rt_module_get_tensor(self, "weight", &w);
    if (s == RT_OK) s = rt_tensor_linear(in[0], w, NULL, out);
    rt_tensor_free(w);
    return s;
}

static rt_status tied_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)ctx;
    (void)n;
    rt_module *embed = NULL, *head = NULL;
    rt_tensor *h = NULL;
    rt_status s = rt_module_get_module(self, "embed", &embed);
    if (s == RT_OK) s = rt_module_get_module(self, "lm_head", &head);
    if (s == RT_OK) s = rt_module_forward(embed, in[0], &h);
    if (s == RT_OK) s = rt_module_forward(head, h, out);
    rt_tensor_free(h);
    rt_module_free(embed);
    rt_module_free(head);
    return s;
}

/* Tied: embed (Embedding(5, 3)) and lm_head (a custom linear without bias) over one weight. */
static rt_module *tied_model(void) {
    rt_module *m = custom("Tied", tied_forward, NULL, NULL), *embed = NULL;
    rt_module *head = custom("TiedLinear", tied_head_forward, NULL, NULL);
    CHECK_OK(rt_module_embedding(5, 3, &embed));
    rt_tensor *w = get_tensor(embed, "weight");
    CHECK_OK(rt_module_register_parameter(head, "weight", w, true));
    CHECK_OK(rt_module_register_module(m, "embed", embed));
    CHECK_OK(rt_module_register_module(m, "lm_head", head));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_module_free(embed));
    CHECK_OK(rt_module_free(head));
    set_values(m, "embed.weight", tied_w, tied_w_shape, 2);
    return m;
}

TEST(tied_weights_save_under_each_name_and_load_from_either) {
    rt_module *m = tied_model();
    check_names(m, tied_keys, TIED_KEYS_N);
    const char *path = "custom_tied.safetensors";
    CHECK_OK(rt_module_save_safetensors(m, path));
    rt_safetensors *f = NULL;
    size_t count = 0;
    CHECK_OK(rt_safetensors_open(path, &f));
    CHECK_OK(rt_safetensors_count(f, &count));
    CHECK(count == 2);
    for (int i = 0; i < 2; i++) {
        rt_tensor *t = NULL;
        CHECK_OK(rt_safetensors_get(f, tied_keys[i], &t));
        check_all_near(t, tied_w, 15, 0);
        CHECK_OK(rt_tensor_free(t));
    }
    CHECK_OK(rt_safetensors_free(f));

    /* Hugging Face writes a tied lm_head.weight only under the embedding's name: strict loads */
    float other[15];
    for (int i = 0; i < 15; i++) other[i] = (float)i;
    for (int i = 0; i < 2; i++) {
        rt_tensor *t = tensor_f32(other, tied_w_shape, 2);
        const rt_tensor *ts[] = {t};
        const char *names[] = {tied_keys[i]};
        CHECK_OK(rt_safetensors_save(path, names, ts, 1));
        set_values(m, "embed.weight", tied_w, tied_w_shape, 2);
        CHECK_OK(rt_module_load_safetensors(m, path, true));
        rt_tensor *w = get_tensor(m, tied_keys[1 - i]);
        check_all_near(w, other, 15, 0);
        CHECK_OK(rt_tensor_free(w));
        CHECK_OK(rt_tensor_free(t));
    }
    /* a file with neither name is still missing it */
    rt_tensor *t = tensor_f32(other, tied_w_shape, 2);
    const rt_tensor *ts[] = {t};
    const char *names[] = {"unrelated"};
    CHECK_OK(rt_safetensors_save(path, names, ts, 1));
    CHECK_STATUS(rt_module_load_safetensors(m, path, true), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("missing key(s) \"embed.weight\", \"lm_head.weight\"");
    CHECK_OK(rt_tensor_free(t));
    remove(path);
    CHECK_OK(rt_module_free(m));
}

TEST(an_optimizer_steps_a_tied_weight_once) {
    rt_module *m = tied_model();
    rt_optimizer *opt = NULL;
    CHECK_OK(rt_optimizer_sgd(m, 0.5, 0.0, 0.0, &opt));
    rt_tensor *ids = tensor_i64(tied_ids, tied_ids_shape, 1), *gy = tensor_f32(tied_gy, tied_gy_shape, 2);
    rt_tensor *logits = forward(m, ids);
    CHECK_OK(rt_tensor_backward(logits, gy, false));
    CHECK_OK(rt_optimizer_step(opt));
    rt_tensor *w = get_tensor(m, "lm_head.weight");
    check_all_near(w, tied_w_after, 15, 1e-5);
    rt_tensor *ts[] = {ids, gy, logits, w};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_module_free(m));
}

/* ---- loading through a name map ---- */

/* "bert.X" -> "X"; "bert.embeddings.position_ids" skipped; ctx counts the calls. */
static rt_status strip_bert(void *ctx, const char *file_key, char *module_key, size_t cap) {
    (*(int *)ctx)++;
    if (strcmp(file_key, "bert.embeddings.position_ids") == 0) {
        module_key[0] = 0;
        return RT_OK;
    }
    if (strncmp(file_key, "bert.", 5) != 0 || strlen(file_key + 5) >= cap) return RT_ERR_INVALID_ARGUMENT;
    strcpy(module_key, file_key + 5);
    return RT_OK;
}

static rt_status everything_to_one(void *ctx, const char *file_key, char *module_key, size_t cap) {
    (void)ctx;
    (void)file_key;
    (void)cap;
    strcpy(module_key, "dense.weight");
    return RT_OK;
}

/* Fails inside (a real library error), then returns that status. */
static rt_status failing_map(void *ctx, const char *file_key, char *module_key, size_t cap) {
    (void)ctx;
    (void)file_key;
    (void)module_key;
    (void)cap;
    return rt_tensor_free((rt_tensor *)0x10);
}

/* "bert.X" -> "enc.X": names the module does not have. */
static rt_status wrong_prefix(void *ctx, const char *file_key, char *module_key, size_t cap) {
    (void)ctx;
    snprintf(module_key, cap, "enc.%s", file_key + 5);
    return RT_OK;
}

static rt_status no_nul_map(void *ctx, const char *file_key, char *module_key, size_t cap) {
    (void)ctx;
    (void)file_key;
    memset(module_key, 'a', cap);
    return RT_OK;
}

/* Encoder with one child dense = Linear(2, 3); a file with the bert. names and a key to skip. */
static const float dense_w[] = {1, 2, 3, 4, 5, 6}, dense_b[] = {7, 8, 9};

static rt_module *encoder(void) {
    rt_module *m = custom("Encoder", NULL, NULL, NULL), *dense = linear(2, 3, true);
    CHECK_OK(rt_module_register_module(m, "dense", dense));
    CHECK_OK(rt_module_free(dense));
    return m;
}

static void write_bert_file(const char *path, bool with_bias) {
    int64_t ws[] = {3, 2}, bs[] = {3}, ps[] = {4};
    int64_t pos[] = {0, 1, 2, 3};
    rt_tensor *w = tensor_f32(dense_w, ws, 2), *b = tensor_f32(dense_b, bs, 1), *p = tensor_i64(pos, ps, 1);
    const rt_tensor *ts[] = {w, p, b};
    const char *names[] = {"bert.dense.weight", "bert.embeddings.position_ids", "bert.dense.bias"};
    CHECK_OK(rt_safetensors_save(path, names, ts, with_bias ? 3 : 2));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
    CHECK_OK(rt_tensor_free(p));
}

/* The module's values as they were: a failed load must leave them. */
static void check_unchanged(const rt_module *m, const float *w_before, const float *b_before) {
    rt_tensor *w = get_tensor(m, "dense.weight"), *b = get_tensor(m, "dense.bias");
    check_all_near(w, w_before, 6, 0);
    check_all_near(b, b_before, 3, 0);
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
}

TEST(mapped_load_strips_a_prefix_and_skips_keys) {
    rt_module *m = encoder();
    const char *path = "custom_bert.safetensors";
    write_bert_file(path, true);
    /* unmapped, strict: every name is unexpected or missing */
    CHECK_STATUS(rt_module_load_safetensors(m, path, true), RT_ERR_INVALID_ARGUMENT);
    int calls = 0;
    CHECK_OK(rt_module_load_safetensors_mapped(m, path, true, strip_bert, &calls));
    CHECK(calls == 3);
    check_unchanged(m, dense_w, dense_b);
    remove(path);
    CHECK_OK(rt_module_free(m));
}

TEST(mapped_load_refusals_change_nothing) {
    rt_module *m = encoder();
    float w0[6], b0[3];
    rt_tensor *w = get_tensor(m, "dense.weight"), *b = get_tensor(m, "dense.bias");
    read_f32(w, w0, 6);
    read_f32(b, b0, 3);
    uint64_t version = 0, after = 0;
    CHECK_OK(rt_tensor_version(w, &version));
    const char *path = "custom_bert_bad.safetensors";
    int calls = 0;

    /* strict and the file lacks dense.bias: missing, named by its module name */
    write_bert_file(path, false);
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, path, true, strip_bert, &calls), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("missing key(s) \"dense.bias\"");
    check_unchanged(m, w0, b0);
    /* not strict: what both have loads */
    CHECK_OK(rt_module_load_safetensors_mapped(m, path, false, strip_bert, &calls));
    check_unchanged(m, dense_w, b0);
    set_values(m, "dense.weight", w0, (int64_t[]){3, 2}, 2);
    CHECK_OK(rt_tensor_version(w, &version));

    write_bert_file(path, true);
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, path, false, everything_to_one, NULL), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("both map to \"dense.weight\"");
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, path, false, failing_map, NULL), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("rt_module_load_safetensors_mapped: the key map, for file key \"bert.dense.bias\": rt_tensor_free");
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, path, true, wrong_prefix, NULL), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unexpected key(s) \"enc.dense.bias\" (file key \"bert.dense.bias\")");
    CHECK_OK(rt_module_load_safetensors_mapped(m, path, false, wrong_prefix, NULL)); /* loads nothing */
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, path, false, no_nul_map, NULL), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("no NUL");
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, path, false, NULL, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_load_safetensors_mapped(NULL, path, false, strip_bert, &calls), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, NULL, false, strip_bert, &calls), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_load_safetensors_mapped((rt_module *)w, path, false, strip_bert, &calls), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_load_safetensors_mapped(m, "no/such/file", false, strip_bert, &calls), RT_ERR_IO);
    check_unchanged(m, w0, b0);
    CHECK_OK(rt_tensor_version(w, &after));
    CHECK(after == version);
    remove(path);
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
    CHECK_OK(rt_module_free(m));
}

/* ---- re-entrancy ---- */

/* Twice the forward of the module in ctx (not registered: run by handle), plus a registered child. */
static rt_status outer_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)n;
    rt_module *inner = ctx, *relu = NULL;
    rt_tensor *a = NULL, *b = NULL;
    rt_status s = rt_module_forward(inner, in[0], &a);
    if (s == RT_OK) s = rt_module_get_module(self, "act", &relu);
    if (s == RT_OK) s = rt_module_forward(relu, a, &b);
    if (s == RT_OK) s = rt_tensor_mul_scalar(b, 2.0, out);
    rt_tensor_free(a);
    rt_tensor_free(b);
    rt_module_free(relu);
    return s;
}

TEST(a_callback_may_run_other_modules) {
    rt_module *inner = residual_block(), *relu = NULL;
    rt_module *outer = custom("Outer", outer_forward, inner, NULL);
    CHECK_OK(rt_module_relu(&relu));
    CHECK_OK(rt_module_register_module(outer, "act", relu));
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2);
    rt_tensor *y = forward(outer, x);
    float expected[12];
    for (int i = 0; i < 12; i++) expected[i] = 2.0f * (res_y[i] > 0 ? res_y[i] : 0.0f);
    check_all_near(y, expected, 12, 2e-5);
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_module_free(outer));
    CHECK_OK(rt_module_free(relu));
    CHECK_OK(rt_module_free(inner));
}

/* ---- callback errors ---- */

static rt_status shape_error_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)ctx;
    (void)self;
    (void)n;
    return rt_tensor_matmul(in[0], in[0], out); /* (3, 4) @ (3, 4) */
}

static rt_status plain_error_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)ctx;
    (void)self;
    (void)in;
    (void)n;
    (void)out;
    return RT_ERR_IO;
}

static rt_status no_out_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)ctx;
    (void)self;
    (void)in;
    (void)n;
    (void)out;
    return RT_OK;
}

static rt_status unknown_status_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)ctx;
    (void)self;
    (void)in;
    (void)n;
    (void)out;
    return 777;
}

/* Records what it was given: n_inputs and which entries were NULL; returns a new handle to in[1]. */
struct seen {
    size_t n;
    bool null0, null2;
};

static rt_status recording_forward(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)self;
    struct seen *s = ctx;
    s->n = n;
    s->null0 = in[0] == NULL;
    s->null2 = in[2] == NULL;
    rt_tensor_free((rt_tensor *)0x10); /* fails, and the forward goes on */
    return rt_tensor_share(in[1], out);
}

TEST(callback_errors_keep_their_status_and_message) {
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2), *y = (rt_tensor *)0x70;
    rt_module *m = custom("Broken", shape_error_forward, NULL, NULL);
    CHECK_STATUS(rt_module_forward(m, x, &y), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("rt_module_forward: the forward of Broken: rt_tensor_matmul:");
    CHECK_OK(rt_module_free(m));

    m = custom("Quiet", plain_error_forward, NULL, NULL);
    CHECK_STATUS(rt_module_forward(m, x, &y), RT_ERR_IO);
    CHECK_ERROR_MENTIONS("the forward of Quiet returned RT_ERR_IO without any call inside it failing");
    CHECK_OK(rt_module_free(m));

    m = custom("Lazy", no_out_forward, NULL, NULL);
    CHECK_STATUS(rt_module_forward(m, x, &y), RT_ERR_INVALID_STATE);
    CHECK_ERROR_MENTIONS("returned RT_OK without writing");
    CHECK_OK(rt_module_free(m));

    m = custom("Odd", unknown_status_forward, NULL, NULL);
    CHECK_STATUS(rt_module_forward(m, x, &y), RT_ERR_INVALID_STATE);
    CHECK_ERROR_MENTIONS("returned 777");
    CHECK_OK(rt_module_free(m));

    m = custom("ModuleList", NULL, NULL, NULL);
    CHECK_STATUS(rt_module_forward(m, x, &y), RT_ERR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("ModuleList");
    CHECK(y == (rt_tensor *)0x70);

    /* inside a Sequential the message still names the module */
    rt_module *broken = custom("Broken", shape_error_forward, NULL, NULL), *seq = NULL;
    CHECK_OK(rt_module_sequential(&broken, 1, &seq));
    CHECK_STATUS(rt_module_forward(seq, x, &y), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("the forward of Broken: rt_tensor_matmul:");
    CHECK(y == (rt_tensor *)0x70);

    /* entries may be NULL and reach the callback as NULL; a successful forward leaves the last
     * error as it was, although a call inside it failed */
    rt_module *ok = residual_block();
    rt_tensor *z = forward(ok, x);
    struct seen s = {0, false, false};
    rt_module *rec = custom("Recorder", recording_forward, &s, NULL);
    const rt_tensor *in[] = {NULL, x, NULL};
    char before[512], after[512];
    rt_last_error_message(before, sizeof before);
    CHECK_OK(rt_module_forward_n(rec, in, 3, &y));
    rt_last_error_message(after, sizeof after);
    CHECK(strcmp(before, after) == 0 && strstr(before, "Broken") != NULL);
    CHECK(s.n == 3 && s.null0 && s.null2);
    const void *px = NULL, *py = NULL;
    CHECK_OK(rt_tensor_data_ptr(x, &px));
    CHECK_OK(rt_tensor_data_ptr(y, &py));
    CHECK(px == py);
    CHECK_OK(rt_tensor_free(y));

    rt_module *ms[] = {m, broken, seq, ok, rec};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_module_free(ms[i]));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_tensor_free(z));
}

TEST(forward_n_bad_inputs) {
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2), *y = (rt_tensor *)0x70;
    rt_module *lin = linear(4, 2, true);
    const rt_tensor *two[] = {x, x}, *null_one[] = {NULL};
    CHECK_STATUS(rt_module_forward_n(lin, two, 2, &y), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("a Linear module takes exactly one input, but n_inputs is 2");
    CHECK_STATUS(rt_module_forward_n(lin, NULL, 0, &y), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_forward_n(lin, null_one, 1, &y), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("inputs[0]");
    CHECK_STATUS(rt_module_forward_n(lin, NULL, 1, &y), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_forward_n(NULL, two, 1, &y), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_forward_n(lin, two, 1, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_forward_n((rt_module *)x, two, 1, &y), RT_ERR_INVALID_HANDLE);
    const rt_tensor *wrong[] = {(rt_tensor *)lin};
    CHECK_STATUS(rt_module_forward_n(lin, wrong, 1, &y), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("inputs[0]");
    CHECK(y == (rt_tensor *)0x70);
    CHECK_OK(rt_module_free(lin));
    CHECK_STATUS(rt_module_forward_n(lin, two, 1, &y), RT_ERR_INVALID_HANDLE);
    CHECK_OK(rt_tensor_free(x));
}

/* ---- finalizer timing ---- */

static void count_free(void *ctx) {
    (*(int *)ctx)++;
}

TEST(ctx_free_runs_once_after_the_last_reference) {
    int freed = 0;
    rt_module *m = custom("Leaf", NULL, &freed, count_free);
    rt_module *parent = custom("Parent", NULL, NULL, NULL), *other = custom("Other", NULL, NULL, NULL);
    CHECK_OK(rt_module_register_module(parent, "a", m));
    CHECK_OK(rt_module_register_module(parent, "b", m));
    CHECK_OK(rt_module_register_module(other, "c", m));
    rt_module *again = child(parent, "a");
    CHECK_OK(rt_module_free(m));
    CHECK(freed == 0);
    CHECK_OK(rt_module_free(parent));
    CHECK(freed == 0);
    CHECK_OK(rt_module_free(again));
    CHECK(freed == 0);
    CHECK_OK(rt_module_free(other));
    CHECK(freed == 1);
    CHECK_STATUS(rt_module_free(m), RT_ERR_INVALID_HANDLE);
    CHECK(freed == 1);

    /* parent freed first, handle last; and a Sequential holding it */
    m = custom("Leaf", NULL, &freed, count_free);
    parent = custom("Parent", NULL, NULL, NULL);
    rt_module *seq = NULL;
    CHECK_OK(rt_module_register_module(parent, "a", m));
    CHECK_OK(rt_module_sequential(&m, 1, &seq));
    CHECK_OK(rt_module_free(parent));
    CHECK_OK(rt_module_free(seq));
    CHECK(freed == 1);
    CHECK_OK(rt_module_free(m));
    CHECK(freed == 2);

    /* never when rt_module_custom fails */
    rt_module *none = (rt_module *)0x70;
    CHECK_STATUS(rt_module_custom("", NULL, &freed, count_free, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_custom(NULL, NULL, &freed, count_free, &none), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_custom("X", NULL, &freed, count_free, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_custom("\xff", NULL, &freed, count_free, &none), RT_ERR_INVALID_ARGUMENT);
    CHECK(none == (rt_module *)0x70);
    CHECK(freed == 2);
}

static rt_status free_self_later(void *ctx, const rt_module *self, const rt_tensor *const *in, size_t n, rt_tensor **out) {
    (void)self;
    (void)n;
    /* the caller's only handle, freed during its own forward: the module lives until the call ends */
    rt_module **handle = ctx;
    rt_status s = rt_module_free(*handle);
    *handle = NULL;
    if (s == RT_OK) s = rt_tensor_share(in[0], out);
    return s;
}

struct ctx_with_count {
    rt_module *handle;
    int freed;
};

static void count_free_in(void *ctx) {
    ((struct ctx_with_count *)ctx)->freed++;
}

TEST(a_module_freed_during_its_forward_lives_until_the_call_returns) {
    struct ctx_with_count c = {NULL, 0};
    CHECK_OK(rt_module_custom("Selfish", free_self_later, &c, count_free_in, &c.handle));
    rt_module *h = c.handle;
    rt_tensor *x = tensor_f32(res_x, res_x_shape, 2), *y = NULL;
    CHECK_OK(rt_module_forward(h, x, &y));
    CHECK(c.freed == 1 && c.handle == NULL);
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_tensor_free(y));
}

/* ---- cycles and depth ---- */

TEST(cycles_are_refused) {
    rt_module *a = custom("A", NULL, NULL, NULL), *b = custom("B", NULL, NULL, NULL), *c = custom("C", NULL, NULL, NULL);
    CHECK_STATUS(rt_module_register_module(a, "self", a), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("cycle");
    CHECK_OK(rt_module_register_module(a, "b", b));
    CHECK_OK(rt_module_register_module(b, "c", c));
    CHECK_STATUS(rt_module_register_module(c, "a", a), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("cycle");
    CHECK_STATUS(rt_module_register_module(b, "a", a), RT_ERR_INVALID_ARGUMENT);
    /* a shared child (a DAG) is fine */
    CHECK_OK(rt_module_register_module(a, "c", c));
    rt_module *out = (rt_module *)0x70;
    CHECK_STATUS(rt_module_get_module(c, "a", &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == (rt_module *)0x70);
    rt_module *ms[] = {a, b, c};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_module_free(ms[i]));
}

TEST(registration_deeper_than_the_limit_is_refused) {
    /* a chain of RT_MAX_MODULE_DEPTH customs: root at the top, bottom at the end */
    rt_module *chain[RT_MAX_MODULE_DEPTH];
    for (int i = 0; i < RT_MAX_MODULE_DEPTH; i++) {
        chain[i] = custom("Level", NULL, NULL, NULL);
        if (i > 0) CHECK_OK(rt_module_register_module(chain[i - 1], "next", chain[i]));
    }
    /* one more below the bottom makes the root RT_MAX_MODULE_DEPTH + 1 deep */
    rt_module *extra = custom("Extra", NULL, NULL, NULL);
    CHECK_STATUS(rt_module_register_module(chain[RT_MAX_MODULE_DEPTH - 1], "next", extra), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("RT_MAX_MODULE_DEPTH");
    /* and so does putting the root under anything */
    CHECK_STATUS(rt_module_register_module(extra, "root", chain[0]), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("RT_MAX_MODULE_DEPTH");
    /* a Sequential counts as a level too */
    rt_module *seq = NULL;
    CHECK_STATUS(rt_module_sequential(&chain[0], 1, &seq), RT_ERR_INVALID_ARGUMENT);
    size_t n = 99;
    CHECK_OK(rt_module_num_tensors(chain[RT_MAX_MODULE_DEPTH - 1], &n));
    CHECK(n == 0);
    /* once the root is gone, the rest of the chain has room for one more level */
    CHECK_OK(rt_module_free(chain[0]));
    CHECK_OK(rt_module_register_module(chain[RT_MAX_MODULE_DEPTH - 1], "next", extra));
    for (int i = 1; i < RT_MAX_MODULE_DEPTH; i++) CHECK_OK(rt_module_free(chain[i]));
    CHECK_OK(rt_module_free(extra));
}

/* ---- registration bad inputs ---- */

TEST(register_bad_inputs_are_refused_and_change_nothing) {
    rt_module *m = order_module(), *lin = linear(2, 2, true), *kid = custom("Kid", NULL, NULL, NULL);
    int64_t two[] = {2};
    rt_tensor *t = NULL, *i64 = NULL, *nonleaf = NULL;
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &t));
    CHECK_OK(rt_tensor_zeros(two, 1, RT_DTYPE_I64, &i64));
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    CHECK_OK(rt_tensor_mul_scalar(t, 2.0, &nonleaf));
    CHECK_OK(rt_tensor_set_requires_grad(t, false));

    /* names: empty, with a dot, clashing with a parameter, a buffer (persistent or not), a child */
    const char *bad[] = {"", "a.b", ".", "scale", "step", "inv_freq", "first"};
    const char *clash[] = {NULL, NULL, NULL, "already a parameter", "already a buffer", "already a buffer", "already a child module"};
    for (int i = 0; i < 7; i++) {
        CHECK_STATUS(rt_module_register_module(m, bad[i], kid), RT_ERR_INVALID_ARGUMENT);
        if (clash[i]) CHECK_ERROR_MENTIONS(clash[i]);
        CHECK_STATUS(rt_module_register_parameter(m, bad[i], t, true), RT_ERR_INVALID_ARGUMENT);
        if (clash[i]) CHECK_ERROR_MENTIONS(clash[i]);
        CHECK_STATUS(rt_module_register_buffer(m, bad[i], t, true), RT_ERR_INVALID_ARGUMENT);
        if (clash[i]) CHECK_ERROR_MENTIONS(clash[i]);
    }
    CHECK(!requires_grad(t)); /* a refused registration sets nothing */
    /* parameters: F32 leaves only */
    CHECK_STATUS(rt_module_register_parameter(m, "p", i64, false), RT_ERR_DTYPE);
    CHECK_STATUS(rt_module_register_parameter(m, "p", nonleaf, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("leaf");
    /* an inference tensor cannot start requiring grad outside inference mode (I5) */
    rt_tensor *inf = NULL;
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &inf));
    CHECK_OK(rt_inference_mode_exit());
    CHECK_STATUS(rt_module_register_parameter(m, "p", inf, true), RT_ERR_INFERENCE_MODE);
    CHECK(!requires_grad(inf));
    /* built-ins are fixed */
    CHECK_STATUS(rt_module_register_module(lin, "x", kid), RT_ERR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("built-in Linear");
    CHECK_STATUS(rt_module_register_parameter(lin, "x", t, true), RT_ERR_UNSUPPORTED);
    CHECK_STATUS(rt_module_register_buffer(lin, "x", t, true), RT_ERR_UNSUPPORTED);
    /* NULLs, freed and wrong-kind handles */
    CHECK_STATUS(rt_module_register_module(NULL, "x", kid), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_module(m, NULL, kid), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_module(m, "x", NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_parameter(NULL, "x", t, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_parameter(m, NULL, t, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_parameter(m, "x", NULL, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_buffer(NULL, "x", t, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_buffer(m, NULL, t, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_buffer(m, "x", NULL, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_register_module(m, "x", (rt_module *)t), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_register_module((rt_module *)t, "x", kid), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_register_parameter(m, "x", (rt_tensor *)kid, true), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_register_buffer(m, "x", (rt_tensor *)kid, true), RT_ERR_INVALID_HANDLE);
    rt_module *gone = custom("Gone", NULL, NULL, NULL);
    CHECK_OK(rt_module_free(gone));
    CHECK_STATUS(rt_module_register_module(m, "x", gone), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_register_module(gone, "x", kid), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_register_parameter(gone, "x", t, true), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_register_buffer(gone, "x", t, true), RT_ERR_INVALID_HANDLE);

    check_names(m, order_keys, ORDER_KEYS_N);
    rt_module *none = (rt_module *)0x70;
    CHECK_STATUS(rt_module_get_module(m, "x", &none), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_get_module(m, "p", &none), RT_ERR_INVALID_ARGUMENT);
    /* a buffer may be any dtype and need not be a leaf */
    CHECK_OK(rt_module_register_buffer(m, "ids", i64, true));
    CHECK_OK(rt_module_register_buffer(m, "cache", nonleaf, false));
    CHECK(num_tensors(m) == ORDER_KEYS_N + 1);

    rt_tensor *ts[] = {t, i64, nonleaf, inf};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    rt_module *ms[] = {m, lin, kid};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_module_free(ms[i]));
}

TEST(register_parameter_applies_requires_grad) {
    rt_module *m = custom("P", NULL, NULL, NULL);
    int64_t two[] = {2};
    rt_tensor *a = NULL, *b = NULL;
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &a));
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &b));
    CHECK_OK(rt_tensor_set_requires_grad(b, true));
    CHECK_OK(rt_module_register_parameter(m, "a", a, true));
    CHECK_OK(rt_module_register_parameter(m, "frozen", b, false));
    CHECK(requires_grad(a) && !requires_grad(b)); /* the caller's handles see the very same tensors */
    /* an optimizer holds only those that require grad */
    rt_optimizer *opt = NULL;
    CHECK_OK(rt_optimizer_adam(m, 0.1, 0.9, 0.999, 1e-8, 0.0, &opt));
    rt_tensor *g = NULL;
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &g));
    CHECK_OK(rt_tensor_set_grad(a, g));
    CHECK_OK(rt_tensor_set_grad(b, g));
    CHECK_OK(rt_optimizer_step(opt));
    float va[2], vb[2];
    read_f32(a, va, 2);
    read_f32(b, vb, 2);
    CHECK_NEAR(va[0], 0.9, 1e-5);
    CHECK(vb[0] == 1.0f);
    CHECK_OK(rt_optimizer_free(opt));
    rt_tensor *ts[] = {a, b, g};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

/* ---- concurrent eval forwards ---- */

struct worker {
    const rt_module *m;
    int failures;
};

static void *run_forwards(void *arg) {
    struct worker *w = arg;
    for (int it = 0; it < 50; it++) {
        rt_tensor *x = NULL, *y = NULL;
        float v[12];
        if (rt_tensor_from_data(res_x, sizeof res_x, RT_DTYPE_F32, res_x_shape, 2, &x) != RT_OK ||
            rt_module_forward(w->m, x, &y) != RT_OK || rt_tensor_copy_to(y, v, sizeof v) != RT_OK) {
            w->failures++;
        } else {
            for (int i = 0; i < 12; i++) w->failures += fabsf(v[i] - res_y[i]) > 1e-5f;
        }
        rt_tensor_free(x);
        rt_tensor_free(y);
    }
    return NULL;
}

TEST(eval_forward_of_a_custom_module_runs_on_several_threads) {
    rt_module *m = residual_block();
    CHECK_OK(rt_module_train(m, false));
    struct worker ws[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        ws[i] = (struct worker){m, 0};
        CHECK(pthread_create(&th[i], NULL, run_forwards, &ws[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECK(ws[i].failures == 0);
    }
    CHECK_OK(rt_module_free(m));
}
