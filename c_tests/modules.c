/* Modules (API.md section 4): Linear's initialisation and forward, activations, Sequential,
 * state_dict names, tensor access, train/eval, zero_grad, ownership, and concurrent eval. */
#include <pthread.h>

#include "harness.h"
#include "probes.h"

static rt_module *linear(int64_t in, int64_t out, bool bias) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(in, out, bias, &m));
    return m;
}

static rt_tensor *module_tensor(const rt_module *m, const char *name) {
    rt_tensor *t = NULL;
    CHECK_OK(rt_module_get_tensor(m, name, &t));
    return t;
}

static bool is_training(const rt_module *m) {
    bool v = false;
    CHECK_OK(rt_module_is_training(m, &v));
    return v;
}

static size_t num_tensors(const rt_module *m) {
    size_t n = 99;
    CHECK_OK(rt_module_num_tensors(m, &n));
    return n;
}

/* Sequential(Linear(in, hidden), ReLU, Linear(hidden, out)); the child handles are freed here. */
static rt_module *mlp(int64_t in, int64_t hidden, int64_t out) {
    rt_module *kids[3] = {linear(in, hidden, true), NULL, linear(hidden, out, true)};
    CHECK_OK(rt_module_relu(&kids[1]));
    rt_module *seq = NULL;
    CHECK_OK(rt_module_sequential(kids, 3, &seq));
    for (int i = 0; i < 3; i++) CHECK_OK(rt_module_free(kids[i]));
    return seq;
}

/* ---- Linear ---- */

TEST(linear_init_is_uniform_within_one_over_sqrt_in) {
    rt_manual_seed(1);
    rt_module *m = linear(50, 40, true);
    rt_tensor *w = module_tensor(m, "weight"), *b = module_tensor(m, "bias");
    int64_t ws[] = {40, 50}, bs[] = {40};
    check_shape(w, ws, 2);
    check_shape(b, bs, 1);
    double bound = 1.0 / sqrt(50.0);
    static float wv[2000];
    float bv[40];
    read_f32(w, wv, 2000);
    read_f32(b, bv, 40);
    double lo = 1, hi = -1, abs_sum = 0;
    for (int i = 0; i < 2000; i++) {
        CHECK(fabs(wv[i]) <= bound);
        lo = wv[i] < lo ? wv[i] : lo;
        hi = wv[i] > hi ? wv[i] : hi;
        abs_sum += fabs(wv[i]);
    }
    for (int i = 0; i < 40; i++) CHECK(fabs(bv[i]) <= bound);
    /* Uniform on [-bound, bound]: the extremes come close to the bound and E|w| = bound / 2. */
    CHECK(lo < -0.95 * bound && hi > 0.95 * bound);
    CHECK_NEAR(abs_sum / 2000, bound / 2, 0.05 * bound);
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
    CHECK_OK(rt_module_free(m));
}

TEST(linear_parameters_are_f32_leaves_that_require_grad) {
    rt_module *m = linear(3, 2, true);
    const char *names[] = {"weight", "bias"};
    for (int i = 0; i < 2; i++) {
        rt_tensor *t = module_tensor(m, names[i]);
        rt_dtype d = 9;
        CHECK_OK(rt_tensor_dtype(t, &d));
        CHECK(d == RT_DTYPE_F32);
        CHECK(requires_grad(t) && is_leaf(t) && !is_inference(t));
        CHECK(grad_of(t) == NULL);
        CHECK_OK(rt_tensor_free(t));
    }
    CHECK_OK(rt_module_free(m));
}

TEST(linear_init_follows_manual_seed) {
    rt_manual_seed(123);
    rt_module *a = linear(4, 3, true);
    rt_manual_seed(123);
    rt_module *b = linear(4, 3, true);
    rt_module *c = linear(4, 3, true);
    float wa[12], wb[12], wc[12];
    rt_tensor *ta = module_tensor(a, "weight"), *tb = module_tensor(b, "weight"), *tc = module_tensor(c, "weight");
    read_f32(ta, wa, 12);
    read_f32(tb, wb, 12);
    read_f32(tc, wc, 12);
    CHECK(memcmp(wa, wb, sizeof wa) == 0);
    CHECK(memcmp(wa, wc, sizeof wa) != 0);
    rt_tensor *ts[] = {ta, tb, tc};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(a));
    CHECK_OK(rt_module_free(b));
    CHECK_OK(rt_module_free(c));
}

TEST(linear_refuses_non_positive_features) {
    rt_module *m = (rt_module *)0x80;
    CHECK_STATUS(rt_module_linear(0, 3, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("in_features");
    CHECK_STATUS(rt_module_linear(3, -1, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("out_features");
    CHECK(m == (rt_module *)0x80);
}

/* y = x W^T + b computed by hand from the module's own parameters. */
static void manual_linear(const float *x, size_t rows, const float *w, const float *b, size_t in, size_t out, float *y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < out; o++) {
            double acc = b ? b[o] : 0;
            for (size_t i = 0; i < in; i++) acc += (double)x[r * in + i] * w[o * in + i];
            y[r * out + o] = (float)acc;
        }
}

TEST(linear_forward_matches_a_manual_computation) {
    rt_manual_seed(5);
    rt_module *m = linear(4, 3, true);
    float w[12], b[3], xd[8], y[6];
    rt_tensor *tw = module_tensor(m, "weight"), *tb = module_tensor(m, "bias");
    read_f32(tw, w, 12);
    read_f32(tb, b, 3);
    for (int i = 0; i < 8; i++) xd[i] = (float)(i % 5) - 1.5f;
    int64_t xs[] = {2, 4}, ys[] = {2, 3};
    rt_tensor *x = tensor_f32(xd, xs, 2), *out = NULL;
    CHECK_OK(rt_module_forward(m, x, &out));
    check_shape(out, ys, 2);
    manual_linear(xd, 2, w, b, 4, 3, y);
    check_all_near(out, y, 6, 1e-5);
    CHECK(requires_grad(out) && has_grad_fn(out)); /* grad mode on, parameters require grad */
    rt_tensor *ts[] = {tw, tb, x, out};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

TEST(linear_without_bias_has_no_bias_tensor) {
    rt_module *m = linear(4, 3, false);
    CHECK(num_tensors(m) == 1);
    rt_tensor *none = (rt_tensor *)0x90;
    CHECK_STATUS(rt_module_get_tensor(m, "bias", &none), RT_ERR_INVALID_ARGUMENT);
    CHECK(none == (rt_tensor *)0x90);
    char name[16];
    size_t len = 0;
    CHECK_OK(rt_module_tensor_name(m, 0, name, sizeof name, &len));
    CHECK(strcmp(name, "weight") == 0 && len == 6);
    float w[12], y[3], xd[4] = {1, -2, 0.5f, 3};
    rt_tensor *tw = module_tensor(m, "weight");
    read_f32(tw, w, 12);
    int64_t xs[] = {4};
    rt_tensor *x = tensor_f32(xd, xs, 1), *out = NULL;
    CHECK_OK(rt_module_forward(m, x, &out));
    manual_linear(xd, 1, w, NULL, 4, 3, y);
    int64_t ys[] = {3};
    check_shape(out, ys, 1);
    check_all_near(out, y, 3, 1e-6);
    rt_tensor *ts[] = {tw, x, out};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

TEST(linear_forward_refuses_bad_inputs) {
    rt_module *m = linear(4, 3, true);
    float d[6] = {0};
    int64_t wrong[] = {2, 3};
    int64_t id[4] = {0};
    int64_t s4[] = {4};
    rt_tensor *x = tensor_f32(d, wrong, 2), *xi = tensor_i64(id, s4, 1), *out = NULL;
    CHECK_STATUS(rt_module_forward(m, x, &out), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("rt_module_forward");
    CHECK_STATUS(rt_module_forward(m, xi, &out), RT_ERR_DTYPE);
    CHECK(out == NULL);
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_tensor_free(xi));
    CHECK_OK(rt_module_free(m));
}

/* ---- activations ---- */

TEST(activation_modules_match_the_functional_ops) {
    rt_status (*make[])(rt_module **) = {rt_module_relu, rt_module_gelu, rt_module_sigmoid, rt_module_tanh};
    rt_status (*op[])(const rt_tensor *, rt_tensor **) = {rt_tensor_relu, rt_tensor_gelu, rt_tensor_sigmoid, rt_tensor_tanh};
    float xd[] = {-2, -0.5f, 0.25f, 1.5f};
    int64_t s[] = {4};
    rt_tensor *x = tensor_f32(xd, s, 1);
    for (int i = 0; i < 4; i++) {
        rt_module *m = NULL;
        CHECK_OK(make[i](&m));
        CHECK(num_tensors(m) == 0);
        CHECK(is_training(m));
        rt_tensor *a = NULL, *b = NULL;
        CHECK_OK(rt_module_forward(m, x, &a));
        CHECK_OK(op[i](x, &b));
        float va[4], vb[4];
        read_f32(a, va, 4);
        read_f32(b, vb, 4);
        CHECK(memcmp(va, vb, sizeof va) == 0);
        CHECK_OK(rt_tensor_free(a));
        CHECK_OK(rt_tensor_free(b));
        CHECK_OK(rt_module_free(m));
    }
    CHECK_OK(rt_tensor_free(x));
}

/* ---- Sequential and the state_dict ---- */

static void check_names(const rt_module *m, const char *const *expected, size_t n) {
    CHECK(num_tensors(m) == n);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        size_t len = 0;
        CHECK_OK(rt_module_tensor_name(m, i, buf, sizeof buf, &len));
        if (strcmp(buf, expected[i]) != 0 || len != strlen(expected[i])) {
            fprintf(stderr, "  name %zu is \"%s\" (len %zu), expected \"%s\"\n", i, buf, len, expected[i]);
            harness_fail(__FILE__, __LINE__, "check_names");
        }
    }
}

TEST(sequential_state_dict_names_follow_pytorch) {
    rt_module *seq = mlp(4, 8, 2);
    const char *names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    check_names(seq, names, 4);
    CHECK_OK(rt_module_free(seq));
}

TEST(nested_sequential_names_nest) {
    rt_module *inner = mlp(3, 5, 4), *last = linear(4, 2, false), *outer = NULL;
    rt_module *kids[] = {inner, last};
    CHECK_OK(rt_module_sequential(kids, 2, &outer));
    const char *names[] = {"0.0.weight", "0.0.bias", "0.2.weight", "0.2.bias", "1.weight"};
    check_names(outer, names, 5);
    CHECK_OK(rt_module_free(inner));
    CHECK_OK(rt_module_free(last));
    CHECK_OK(rt_module_free(outer));
}

TEST(num_tensors_counts_parameters) {
    rt_module *a = linear(2, 3, true), *b = linear(2, 3, false), *r = NULL, *seq = mlp(2, 3, 1);
    CHECK_OK(rt_module_relu(&r));
    CHECK(num_tensors(a) == 2);
    CHECK(num_tensors(b) == 1);
    CHECK(num_tensors(r) == 0);
    CHECK(num_tensors(seq) == 4);
    rt_module *ms[] = {a, b, r, seq};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_module_free(ms[i]));
}

TEST(tensor_name_reports_the_length_when_the_buffer_is_too_small) {
    rt_module *seq = mlp(2, 3, 1);
    char buf[16];
    memset(buf, 'X', sizeof buf);
    size_t len = 0;
    /* "0.weight" is 8 characters: 8 bytes are one too few for its NUL. */
    CHECK_STATUS(rt_module_tensor_name(seq, 0, buf, 8, &len), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 8);
    CHECK(buf[0] == 'X'); /* untouched */
    len = 0;
    CHECK_STATUS(rt_module_tensor_name(seq, 0, NULL, 0, &len), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 8);
    CHECK_OK(rt_module_tensor_name(seq, 0, buf, 9, &len));
    CHECK(len == 8 && strcmp(buf, "0.weight") == 0);
    CHECK_OK(rt_module_free(seq));
}

TEST(tensor_name_index_out_of_range_is_an_invalid_argument) {
    rt_module *seq = mlp(2, 3, 1), *r = NULL;
    char buf[16];
    size_t len = 77;
    CHECK_STATUS(rt_module_tensor_name(seq, 4, buf, sizeof buf, &len), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("4");
    CHECK_STATUS(rt_module_tensor_name(seq, (size_t)-1, buf, sizeof buf, &len), RT_ERR_INVALID_ARGUMENT);
    CHECK_OK(rt_module_relu(&r));
    CHECK_STATUS(rt_module_tensor_name(r, 0, buf, sizeof buf, &len), RT_ERR_INVALID_ARGUMENT);
    CHECK(len == 77);
    CHECK_OK(rt_module_free(seq));
    CHECK_OK(rt_module_free(r));
}

TEST(get_tensor_by_unknown_name_is_an_invalid_argument) {
    rt_module *seq = mlp(2, 3, 1);
    rt_tensor *t = (rt_tensor *)0x70;
    const char *bad[] = {"weight", "1.weight", "0.weight ", "", "0.bias.x", "3.bias"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(rt_module_get_tensor(seq, bad[i], &t), RT_ERR_INVALID_ARGUMENT);
    }
    CHECK_ERROR_MENTIONS("3.bias");
    CHECK(t == (rt_tensor *)0x70);
    CHECK_OK(rt_module_free(seq));
}

TEST(get_tensor_shares_storage_with_the_module) {
    rt_module *m = linear(2, 2, true);
    rt_tensor *w = module_tensor(m, "weight"), *b = module_tensor(m, "bias");
    float *pw = NULL, *pb = NULL;
    CHECK_OK(rt_tensor_data_ptr(w, (const void **)&pw));
    CHECK_OK(rt_tensor_data_ptr(b, (const void **)&pb));
    float set_w[] = {1, 2, 3, 4}, set_b[] = {10, 20};
    memcpy(pw, set_w, sizeof set_w);
    memcpy(pb, set_b, sizeof set_b);
    float xd[] = {1, -1};
    int64_t xs[] = {2};
    rt_tensor *x = tensor_f32(xd, xs, 1), *y = NULL;
    CHECK_OK(rt_module_forward(m, x, &y));
    check_all_near(y, (float[]){1 - 2 + 10, 3 - 4 + 20}, 2, 0);
    /* A second handle is the same tensor: same data and same requires_grad. */
    rt_tensor *w2 = module_tensor(m, "weight");
    const void *pw2 = NULL;
    CHECK_OK(rt_tensor_data_ptr(w2, &pw2));
    CHECK(pw2 == (const void *)pw);
    CHECK_OK(rt_tensor_set_requires_grad(w2, false));
    CHECK(!requires_grad(w));
    CHECK_OK(rt_tensor_set_requires_grad(w2, true));
    rt_tensor *ts[] = {w, b, x, y, w2};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

TEST(get_tensor_handles_outlive_the_module) {
    rt_module *m = linear(2, 2, true);
    rt_tensor *w = module_tensor(m, "weight");
    CHECK_OK(rt_module_free(m));
    CHECK(numel_of(w) == 4);
    CHECK(requires_grad(w));
    CHECK_OK(rt_tensor_free(w));
}

TEST(sequential_forward_matches_a_manual_mlp) {
    rt_manual_seed(9);
    rt_module *seq = mlp(3, 4, 2);
    float w1[12], b1[4], w2[8], b2[2];
    const char *names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    float *dst[] = {w1, b1, w2, b2};
    size_t sizes[] = {12, 4, 8, 2};
    for (int i = 0; i < 4; i++) {
        rt_tensor *t = module_tensor(seq, names[i]);
        read_f32(t, dst[i], sizes[i]);
        CHECK_OK(rt_tensor_free(t));
    }
    float xd[] = {0.5f, -1, 2, 1.5f, 0.25f, -0.75f};
    float h[8], y[4];
    manual_linear(xd, 2, w1, b1, 3, 4, h);
    for (int i = 0; i < 8; i++) h[i] = h[i] > 0 ? h[i] : 0;
    manual_linear(h, 2, w2, b2, 4, 2, y);
    int64_t xs[] = {2, 3}, ys[] = {2, 2};
    rt_tensor *x = tensor_f32(xd, xs, 2), *out = NULL;
    CHECK_OK(rt_module_forward(seq, x, &out));
    check_shape(out, ys, 2);
    check_all_near(out, y, 4, 1e-5);
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(seq));
}

TEST(empty_sequential_is_the_identity) {
    rt_module *seq = NULL;
    CHECK_OK(rt_module_sequential(NULL, 0, &seq));
    CHECK(num_tensors(seq) == 0);
    float xd[] = {1, 2};
    int64_t xs[] = {2};
    rt_tensor *x = tensor_f32(xd, xs, 1), *y = NULL;
    CHECK_OK(rt_module_forward(seq, x, &y));
    check_all_near(y, xd, 2, 0);
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(seq));
}

TEST(sequential_keeps_its_children_alive) {
    rt_module *l1 = linear(2, 3, true), *r = NULL, *l2 = linear(3, 1, true), *seq = NULL;
    CHECK_OK(rt_module_relu(&r));
    rt_module *kids[] = {l1, r, l2};
    CHECK_OK(rt_module_sequential(kids, 3, &seq));
    rt_tensor *w_before = module_tensor(l1, "weight");
    CHECK_OK(rt_module_free(l1));
    CHECK_OK(rt_module_free(r));
    CHECK_OK(rt_module_free(l2));
    size_t n = 0;
    CHECK_STATUS(rt_module_num_tensors(l1, &n), RT_ERR_INVALID_HANDLE); /* the handle is gone */
    float xd[] = {1, 2};
    int64_t xs[] = {1, 2};
    rt_tensor *x = tensor_f32(xd, xs, 2), *y = NULL;
    CHECK_OK(rt_module_forward(seq, x, &y)); /* the children are not */
    rt_tensor *w_after = module_tensor(seq, "0.weight");
    const void *pa = NULL, *pb = NULL;
    CHECK_OK(rt_tensor_data_ptr(w_before, &pa));
    CHECK_OK(rt_tensor_data_ptr(w_after, &pb));
    CHECK(pa == pb);
    rt_tensor *ts[] = {w_before, x, y, w_after};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(seq));
}

/* ---- train / eval ---- */

TEST(modules_start_in_training_mode_and_train_is_recursive) {
    rt_module *l1 = linear(2, 3, true), *r = NULL, *seq = NULL;
    CHECK_OK(rt_module_relu(&r));
    rt_module *kids[] = {l1, r};
    CHECK_OK(rt_module_sequential(kids, 2, &seq));
    CHECK(is_training(seq) && is_training(l1) && is_training(r));
    CHECK_OK(rt_module_train(seq, false));
    CHECK(!is_training(seq) && !is_training(l1) && !is_training(r));
    CHECK_OK(rt_module_train(l1, true)); /* a child alone: the parent keeps its flag */
    CHECK(is_training(l1) && !is_training(seq) && !is_training(r));
    CHECK_OK(rt_module_train(seq, true));
    CHECK(is_training(seq) && is_training(l1) && is_training(r));
    CHECK_OK(rt_module_free(l1));
    CHECK_OK(rt_module_free(r));
    CHECK_OK(rt_module_free(seq));
}

/* ---- gradients ---- */

TEST(backward_through_a_module_reaches_its_parameters_and_zero_grad_clears_them) {
    rt_module *m = linear(3, 2, true);
    float xd[] = {1, 2, 3, -1, 0, 2};
    int64_t xs[] = {2, 3};
    rt_tensor *x = tensor_f32(xd, xs, 2), *y = NULL;
    CHECK_OK(rt_module_forward(m, x, &y));
    backward_sum(y);
    /* d sum(x W^T + b) / dW[o][i] = sum over rows of x[r][i]; / db[o] = rows. */
    rt_tensor *w = module_tensor(m, "weight"), *b = module_tensor(m, "bias");
    check_grad(w, (float[]){0, 2, 5, 0, 2, 5}, 6, 1e-6);
    check_grad(b, (float[]){2, 2}, 2, 0);
    CHECK_OK(rt_module_zero_grad(m));
    CHECK(grad_of(w) == NULL);
    CHECK(grad_of(b) == NULL);
    CHECK_OK(rt_module_zero_grad(m)); /* nothing to clear: still fine */
    rt_tensor *ts[] = {x, y, w, b};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

TEST(zero_grad_on_a_sequential_clears_every_child) {
    rt_module *seq = mlp(3, 4, 2);
    float xd[] = {1, 2, 3};
    int64_t xs[] = {1, 3};
    rt_tensor *x = tensor_f32(xd, xs, 2), *y = NULL;
    CHECK_OK(rt_module_forward(seq, x, &y));
    backward_sum(y);
    rt_tensor *last_bias = module_tensor(seq, "2.bias");
    check_grad(last_bias, (float[]){1, 1}, 2, 0);
    CHECK_OK(rt_module_zero_grad(seq));
    const char *names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    for (int i = 0; i < 4; i++) {
        rt_tensor *t = module_tensor(seq, names[i]);
        CHECK(grad_of(t) == NULL);
        CHECK_OK(rt_tensor_free(t));
    }
    rt_tensor *ts[] = {x, y, last_bias};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(seq));
}

TEST(forward_in_inference_mode_records_nothing) {
    rt_module *seq = mlp(3, 4, 2);
    CHECK_OK(rt_module_train(seq, false));
    float xd[] = {1, 2, 3};
    int64_t xs[] = {1, 3};
    rt_tensor *x = tensor_f32(xd, xs, 2), *y = NULL;
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_module_forward(seq, x, &y));
    CHECK_OK(rt_inference_mode_exit());
    CHECK(is_inference(y) && !requires_grad(y) && !has_grad_fn(y));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(seq));
}

/* ---- one module, four threads ---- */

enum { WORKERS = 4, CALLS = 50, BATCH = 8, IN = 16, OUT = 5 };

struct worker {
    const rt_module *model;
    const rt_tensor *x;
    const float *expected;
    int mismatches;
    rt_status failure;
};

static void *eval_worker(void *arg) {
    struct worker *w = arg;
    if ((w->failure = rt_inference_mode_enter(true)) != RT_OK) return NULL;
    for (int c = 0; c < CALLS; c++) {
        rt_tensor *y = NULL;
        float got[BATCH * OUT];
        bool inf = false;
        if ((w->failure = rt_module_forward(w->model, w->x, &y)) != RT_OK) break;
        if ((w->failure = rt_tensor_copy_to(y, got, sizeof got)) != RT_OK) break;
        if ((w->failure = rt_tensor_is_inference(y, &inf)) != RT_OK) break;
        if (!inf || memcmp(got, w->expected, sizeof got) != 0) w->mismatches++;
        rt_tensor_free(y);
    }
    rt_status s = rt_inference_mode_exit();
    if (w->failure == RT_OK) w->failure = s;
    return NULL;
}

TEST(one_module_in_eval_and_inference_mode_on_four_threads_gives_identical_outputs) {
    rt_manual_seed(3);
    rt_module *seq = mlp(IN, 32, OUT);
    CHECK_OK(rt_module_train(seq, false));
    int64_t xs[] = {BATCH, IN};
    rt_tensor *x = NULL, *ref = NULL;
    CHECK_OK(rt_tensor_randn(xs, 2, &x));
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_module_forward(seq, x, &ref));
    CHECK_OK(rt_inference_mode_exit());
    float expected[BATCH * OUT];
    read_f32(ref, expected, BATCH * OUT);
    struct worker w[WORKERS];
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){seq, x, expected, 0, RT_OK};
        CHECK(pthread_create(&th[i], NULL, eval_worker, &w[i]) == 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECK(w[i].failure == RT_OK);
        CHECK(w[i].mismatches == 0);
    }
    /* This thread's state was never touched by the workers. */
    CHECK(rt_is_grad_enabled() && !rt_is_inference_mode_enabled());
    CHECK_OK(rt_tensor_free(ref));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(seq));
}
