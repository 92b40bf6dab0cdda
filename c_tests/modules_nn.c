/* The nn modules of API.md section 4 through the C ABI, against PyTorch: default initialisation,
 * state_dict names/order/dtypes/shapes, a PyTorch CNN loaded from safetensors (eval and train
 * outputs, BatchNorm running statistics, gradients), BatchNorm1d and LayerNorm modules, the
 * parameter-free layers, train/eval recursion and argument errors.
 * References: tests/reference/modules_nn.py writes c_tests/modules_nn_ref.h and
 * tests/fixtures/cnn_weights.safetensors, tests/fixtures/cnn_io.safetensors. */
#include "modules_nn_ref.h"
#include "safetensors_util.h"

/* ---- helpers ---- */

/* Sequential(children); the container keeps its own references, so the children are freed. */
static rt_module *sequential_of(rt_module **children, size_t n) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_sequential(children, n, &m));
    for (size_t i = 0; i < n; i++) CHECK_OK(rt_module_free(children[i]));
    return m;
}

static rt_tensor *module_tensor(const rt_module *m, const char *name) {
    rt_tensor *t = NULL;
    CHECK_OK(rt_module_get_tensor(m, name, &t));
    return t;
}

static rt_tensor *forward(const rt_module *m, const rt_tensor *x) {
    rt_tensor *y = NULL;
    CHECK_OK(rt_module_forward(m, x, &y));
    return y;
}

static size_t numel(const rt_tensor *t) {
    size_t n = 0;
    CHECK_OK(rt_tensor_numel(t, &n));
    return n;
}

/* A copy of an F32 tensor's elements (free it); *n gets their count. */
static float *values(const rt_tensor *t, size_t *n) {
    *n = numel(t);
    float *v = malloc(*n * sizeof(float) + 1);
    CHECK(v != NULL);
    read_f32(t, v, *n);
    return v;
}

static int64_t item_i64(const rt_tensor *t) {
    rt_dtype d;
    CHECK_OK(rt_tensor_dtype(t, &d));
    CHECK(d == RT_DTYPE_I64);
    int64_t v = -1;
    CHECK_OK(rt_tensor_copy_to(t, &v, sizeof v));
    return v;
}

/* got must have want's shape and elements within tol. */
static void check_tensor_near(const rt_tensor *got, const rt_tensor *want, double tol) {
    int64_t dims[RT_MAX_DIMS];
    size_t nd = 0;
    CHECK_OK(rt_tensor_shape(want, dims, RT_MAX_DIMS, &nd));
    check_shape(got, dims, nd);
    size_t n;
    float *w = values(want, &n);
    check_all_near(got, w, n, tol);
    free(w);
}

/* Module tensor `name` must equal `want` within tol. */
static void check_module_tensor(const rt_module *m, const char *name, const float *want, size_t n, double tol) {
    rt_tensor *t = module_tensor(m, name);
    check_all_near(t, want, n, tol);
    CHECK_OK(rt_tensor_free(t));
}

static int64_t module_count(const rt_module *m, const char *name) {
    rt_tensor *t = module_tensor(m, name);
    int64_t v = item_i64(t);
    CHECK_OK(rt_tensor_free(t));
    return v;
}

/* Every element of tensor `name` of m equals v. */
static void check_filled(const rt_module *m, const char *name, float v, size_t n, bool grad) {
    rt_tensor *t = module_tensor(m, name);
    size_t got_n;
    float *got = values(t, &got_n);
    CHECK(got_n == n);
    for (size_t i = 0; i < n; i++) CHECK(got[i] == v);
    CHECK(requires_grad(t) == grad);
    rt_dtype d;
    CHECK_OK(rt_tensor_dtype(t, &d));
    CHECK(d == RT_DTYPE_F32);
    free(got);
    CHECK_OK(rt_tensor_free(t));
}

static void check_name(const rt_module *m, size_t i, const char *want) {
    char buf[64];
    size_t len = 0;
    CHECK_OK(rt_module_tensor_name(m, i, buf, sizeof buf, &len));
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "  tensor %zu is named \"%s\", expected \"%s\"\n", i, buf, want);
        harness_fail(__FILE__, __LINE__, "check_name");
    }
    CHECK(len == strlen(want));
}

static void check_names(const rt_module *m, const char *const *names, size_t n) {
    size_t count = 0;
    CHECK_OK(rt_module_num_tensors(m, &count));
    CHECK(count == n);
    for (size_t i = 0; i < n; i++) check_name(m, i, names[i]);
}

/* Samples of U(-bound, bound): all inside, the extremes close to both bounds, mean ~0, standard
 * deviation bound/sqrt(3), and ten equal bins each holding ~1/10 of the samples (so a normal or
 * a narrower/wider distribution fails). Tolerances are several standard errors for n samples. */
static void check_uniform(const rt_tensor *t, double bound, size_t expected_n) {
    size_t n;
    float *v = values(t, &n);
    CHECK(n == expected_n);
    double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
    size_t bins[10] = {0};
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        CHECK(fabs(x) <= bound * (1 + 1e-6)); /* bound is rounded to float by the library */
        lo = fmin(lo, x), hi = fmax(hi, x);
        sum += x, sq += x * x;
        int b = (int)((x + bound) / (2 * bound) * 10);
        bins[b > 9 ? 9 : b]++;
    }
    double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean);
    double edge = fmax(0.01, 20.0 / (double)n); /* the expected gap to a bound is ~2/n of the range */
    CHECK(lo < -bound * (1 - edge) && hi > bound * (1 - edge));
    double se = bound / sqrt(3.0 * (double)n);
    CHECK_NEAR(mean, 0.0, 6 * se);
    CHECK_NEAR(sd, bound / sqrt(3.0), bound / sqrt(3.0) * 6 * sqrt(0.2 / (double)n));
    for (int b = 0; b < 10; b++) CHECK_NEAR((double)bins[b] / (double)n, 0.1, 6 * sqrt(0.09 / (double)n));
    free(v);
}

/* The CNN of tests/reference/modules_nn.py: Conv2d(1,4,3,padding=1), BatchNorm2d(4), ReLU,
 * MaxPool2d(2), Flatten, Linear(64,3), with the PyTorch weights loaded strictly. */
static rt_module *pytorch_cnn(void) {
    rt_module *c[6];
    CHECK_OK(rt_module_conv2d(1, 4, 3, 1, 1, true, &c[0]));
    CHECK_OK(rt_module_batch_norm2d(4, 1e-5, 0.1, &c[1]));
    CHECK_OK(rt_module_relu(&c[2]));
    CHECK_OK(rt_module_max_pool2d(2, 0, &c[3]));
    CHECK_OK(rt_module_flatten(1, -1, &c[4]));
    CHECK_OK(rt_module_linear(64, 3, true, &c[5]));
    rt_module *m = sequential_of(c, 6);
    CHECK_OK(rt_module_load_safetensors(m, fixture("cnn_weights.safetensors"), true));
    return m;
}

static rt_tensor *cnn_io(const char *name) {
    rt_safetensors *f = NULL;
    rt_tensor *t = NULL;
    CHECK_OK(rt_safetensors_open(fixture("cnn_io.safetensors"), &f));
    CHECK_OK(rt_safetensors_get(f, name, &t));
    CHECK_OK(rt_safetensors_free(f));
    return t;
}

static void check_against_io(const rt_tensor *got, const char *name, double tol) {
    rt_tensor *want = cnn_io(name);
    check_tensor_near(got, want, tol);
    CHECK_OK(rt_tensor_free(want));
}

static void check_module_tensor_against_io(const rt_module *m, const char *name, const char *io_name, double tol) {
    rt_tensor *t = module_tensor(m, name);
    check_against_io(t, io_name, tol);
    CHECK_OK(rt_tensor_free(t));
}

/* ---- default initialisation ---- */

TEST(linear_init_is_uniform_within_one_over_sqrt_fan_in) {
    rt_manual_seed(11);
    rt_module *m;
    /* fan_in 400 (bound 0.05) differs from fan_out 1000 (0.0316): a bias drawn with the wrong
     * fan would miss the bound's neighbourhood. */
    CHECK_OK(rt_module_linear(400, 1000, true, &m));
    check_names(m, (const char *const[]){"weight", "bias"}, 2);
    rt_tensor *w = module_tensor(m, "weight"), *b = module_tensor(m, "bias");
    check_shape(w, (int64_t[]){1000, 400}, 2);
    check_shape(b, (int64_t[]){1000}, 1);
    check_uniform(w, 0.05, 400000);
    check_uniform(b, 0.05, 1000);
    CHECK(requires_grad(w) && requires_grad(b));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
    CHECK_OK(rt_module_free(m));

    CHECK_OK(rt_module_linear(5, 2, false, &m));
    check_names(m, (const char *const[]){"weight"}, 1);
    CHECK_OK(rt_module_free(m));
}

TEST(conv2d_init_is_uniform_within_one_over_sqrt_fan_in) {
    rt_manual_seed(12);
    rt_module *m;
    /* fan_in = 16 * 3 * 3 = 144, bound 1/12; fan_out would be 128 * 9. */
    CHECK_OK(rt_module_conv2d(16, 128, 3, 1, 0, true, &m));
    check_names(m, (const char *const[]){"weight", "bias"}, 2);
    rt_tensor *w = module_tensor(m, "weight"), *b = module_tensor(m, "bias");
    check_shape(w, (int64_t[]){128, 16, 3, 3}, 4);
    check_shape(b, (int64_t[]){128}, 1);
    check_uniform(w, 1.0 / 12.0, 128 * 16 * 9);
    check_uniform(b, 1.0 / 12.0, 128);
    CHECK(requires_grad(w) && requires_grad(b));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
    CHECK_OK(rt_module_free(m));

    CHECK_OK(rt_module_conv2d(2, 3, 1, 1, 0, false, &m));
    check_names(m, (const char *const[]){"weight"}, 1);
    CHECK_OK(rt_module_free(m));
}

static void check_batch_norm_defaults(rt_module *m, size_t c) {
    check_names(m, (const char *const[]){"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}, 5);
    check_filled(m, "weight", 1.0f, c, true);
    check_filled(m, "bias", 0.0f, c, true);
    check_filled(m, "running_mean", 0.0f, c, false);
    check_filled(m, "running_var", 1.0f, c, false);
    rt_tensor *nbt = module_tensor(m, "num_batches_tracked");
    size_t nd = 99;
    CHECK_OK(rt_tensor_ndim(nbt, &nd));
    CHECK(nd == 0);
    CHECK(item_i64(nbt) == 0);
    CHECK(!requires_grad(nbt));
    CHECK_OK(rt_tensor_free(nbt));
    bool training = false;
    CHECK_OK(rt_module_is_training(m, &training));
    CHECK(training);
}

TEST(batch_norm_defaults_match_pytorch) {
    rt_module *m;
    CHECK_OK(rt_module_batch_norm2d(5, 1e-5, 0.1, &m));
    check_batch_norm_defaults(m, 5);
    CHECK_OK(rt_module_free(m));
    CHECK_OK(rt_module_batch_norm1d(7, 1e-5, 0.1, &m));
    check_batch_norm_defaults(m, 7);
    CHECK_OK(rt_module_free(m));
}

TEST(layer_norm_defaults_are_ones_and_zeros) {
    rt_module *m;
    CHECK_OK(rt_module_layer_norm((int64_t[]){2, 3}, 2, 1e-5, &m));
    check_names(m, (const char *const[]){"weight", "bias"}, 2);
    check_filled(m, "weight", 1.0f, 6, true);
    check_filled(m, "bias", 0.0f, 6, true);
    rt_tensor *w = module_tensor(m, "weight");
    check_shape(w, (int64_t[]){2, 3}, 2);
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_module_free(m));
}

TEST(embedding_init_is_standard_normal) {
    rt_manual_seed(13);
    rt_module *m;
    CHECK_OK(rt_module_embedding(1000, 64, &m));
    check_names(m, (const char *const[]){"weight"}, 1);
    rt_tensor *w = module_tensor(m, "weight");
    check_shape(w, (int64_t[]){1000, 64}, 2);
    CHECK(requires_grad(w));
    size_t n;
    float *v = values(w, &n);
    double sum = 0, sq = 0;
    size_t within_one = 0, within_two = 0;
    for (size_t i = 0; i < n; i++) {
        sum += v[i], sq += (double)v[i] * v[i];
        within_one += fabs(v[i]) < 1.0f;
        within_two += fabs(v[i]) < 2.0f;
    }
    double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean);
    /* standard errors for n = 64000: mean 0.004, sd 0.003, fractions <= 0.002 */
    CHECK_NEAR(mean, 0.0, 0.02);
    CHECK_NEAR(sd, 1.0, 0.02);
    CHECK_NEAR((double)within_one / (double)n, 0.6827, 0.01);
    CHECK_NEAR((double)within_two / (double)n, 0.9545, 0.006);
    free(v);
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_module_free(m));
}

/* ---- state_dict names, order, dtypes, shapes ---- */

/* The model of state_dict_names() in tests/reference/modules_nn.py. */
static rt_module *every_kind(void) {
    rt_module *c[15], *inner[3];
    CHECK_OK(rt_module_conv2d(3, 4, 3, 1, 1, true, &c[0]));
    CHECK_OK(rt_module_batch_norm2d(4, 1e-5, 0.1, &c[1]));
    CHECK_OK(rt_module_relu(&c[2]));
    CHECK_OK(rt_module_max_pool2d(2, 0, &c[3]));
    CHECK_OK(rt_module_flatten(1, -1, &c[4]));
    CHECK_OK(rt_module_linear(64, 8, true, &c[5]));
    CHECK_OK(rt_module_batch_norm1d(8, 1e-5, 0.1, &c[6]));
    CHECK_OK(rt_module_gelu(&c[7]));
    CHECK_OK(rt_module_dropout(0.5, &c[8]));
    CHECK_OK(rt_module_layer_norm((int64_t[]){8}, 1, 1e-5, &c[9]));
    CHECK_OK(rt_module_sigmoid(&c[10]));
    CHECK_OK(rt_module_tanh(&c[11]));
    CHECK_OK(rt_module_softmax(1, &c[12]));
    CHECK_OK(rt_module_linear(8, 3, true, &c[13]));
    CHECK_OK(rt_module_linear(3, 5, false, &inner[0]));
    CHECK_OK(rt_module_embedding(10, 6, &inner[1]));
    CHECK_OK(rt_module_conv2d(2, 3, 1, 1, 0, false, &inner[2]));
    c[14] = sequential_of(inner, 3);
    return sequential_of(c, 15);
}

TEST(state_dict_names_order_dtypes_shapes_match_pytorch) {
    rt_module *m = every_kind();
    check_names(m, sd_names, SD_COUNT);
    for (size_t i = 0; i < SD_COUNT; i++) {
        rt_tensor *t = module_tensor(m, sd_names[i]);
        rt_dtype d;
        CHECK_OK(rt_tensor_dtype(t, &d));
        CHECK(d == sd_dtypes[i]);
        check_shape(t, sd_shapes[i], sd_ndims[i]);
        CHECK_OK(rt_tensor_free(t));
    }
    char buf[8];
    size_t len = 0;
    CHECK_STATUS(rt_module_tensor_name(m, SD_COUNT, buf, sizeof buf, &len), RT_ERR_INVALID_ARGUMENT);
    CHECK_OK(rt_module_free(m));
}

/* ---- the PyTorch CNN ---- */

static void check_cnn_buffers_unchanged(const rt_module *m) {
    rt_safetensors *f;
    CHECK_OK(rt_safetensors_open(fixture("cnn_weights.safetensors"), &f));
    for (size_t i = 0; i < 2; i++) {
        const char *name = i == 0 ? "1.running_mean" : "1.running_var";
        rt_tensor *want, *got = module_tensor(m, name);
        CHECK_OK(rt_safetensors_get(f, name, &want));
        check_tensor_near(got, want, 0.0);
        CHECK_OK(rt_tensor_free(want));
        CHECK_OK(rt_tensor_free(got));
    }
    CHECK_OK(rt_safetensors_free(f));
    CHECK(module_count(m, "1.num_batches_tracked") == 3);
}

TEST(pytorch_cnn_eval_output_in_inference_and_grad_mode) {
    rt_module *m = pytorch_cnn();
    check_cnn_buffers_unchanged(m); /* the load brought PyTorch's buffers, count 3 included */
    CHECK_OK(rt_module_train(m, false));
    rt_tensor *x = cnn_io("input");

    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *y = forward(m, x);
    CHECK_OK(rt_inference_mode_exit());
    check_against_io(y, "eval_output", 1e-4);
    bool inference = false;
    CHECK_OK(rt_tensor_is_inference(y, &inference));
    CHECK(inference && !requires_grad(y));
    CHECK_OK(rt_tensor_free(y));

    y = forward(m, x);
    check_against_io(y, "eval_output", 1e-4);
    CHECK_OK(rt_tensor_is_inference(y, &inference));
    CHECK(!inference && requires_grad(y));
    CHECK_OK(rt_tensor_free(y));

    check_cnn_buffers_unchanged(m); /* eval forwards use the running statistics, not update them */
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(m));
}

/* One train-mode forward of the PyTorch CNN, inside inference mode or not: the running
 * statistics are normal tensors, so PyTorch updates them in place in both. */
static void cnn_train_forward(bool inference) {
    rt_module *m = pytorch_cnn();
    bool training = false;
    CHECK_OK(rt_module_is_training(m, &training));
    CHECK(training);
    rt_tensor *x = cnn_io("input");
    if (inference) CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *y = forward(m, x);
    if (inference) CHECK_OK(rt_inference_mode_exit());
    check_against_io(y, "train_output", 1e-4);
    check_module_tensor_against_io(m, "1.running_mean", "running_mean", 1e-5);
    check_module_tensor_against_io(m, "1.running_var", "running_var", 1e-5);
    rt_tensor *nbt = cnn_io("num_batches_tracked");
    CHECK(item_i64(nbt) == 4);
    CHECK(module_count(m, "1.num_batches_tracked") == 4);
    CHECK_OK(rt_tensor_free(nbt));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(m));
}

TEST(pytorch_cnn_train_forward_updates_running_stats) {
    cnn_train_forward(false);
}

TEST(pytorch_cnn_train_forward_in_inference_mode_updates_running_stats) {
    cnn_train_forward(true);
}

/* Gradients of cross_entropy(cnn(input), targets) for every parameter, against PyTorch's
 * "<prefix><name>"; the buffers get none; rt_module_zero_grad clears them all. */
static void check_cnn_gradients(bool training, const char *prefix) {
    rt_module *m = pytorch_cnn();
    CHECK_OK(rt_module_train(m, training));
    rt_tensor *x = cnn_io("input"), *targets = cnn_io("targets");
    rt_tensor *y = forward(m, x), *loss = NULL;
    CHECK_OK(rt_tensor_cross_entropy(y, targets, &loss));
    if (training) check_against_io(loss, "loss", 1e-5);
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    static const char *const params[] = {"0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"};
    for (size_t i = 0; i < 6; i++) {
        rt_tensor *p = module_tensor(m, params[i]), *g = NULL;
        CHECK_OK(rt_tensor_grad(p, &g));
        CHECK(g != NULL);
        char io_name[32];
        snprintf(io_name, sizeof io_name, "%s%s", prefix, params[i]);
        check_against_io(g, io_name, 1e-4);
        CHECK_OK(rt_tensor_free(g));
        CHECK_OK(rt_tensor_free(p));
    }
    static const char *const buffers[] = {"1.running_mean", "1.running_var", "1.num_batches_tracked"};
    for (size_t i = 0; i < 3; i++) {
        rt_tensor *b = module_tensor(m, buffers[i]), *g = NULL;
        CHECK_OK(rt_tensor_grad(b, &g));
        CHECK(g == NULL);
        CHECK_OK(rt_tensor_free(b));
    }
    CHECK_OK(rt_module_zero_grad(m));
    for (size_t i = 0; i < 6; i++) {
        rt_tensor *p = module_tensor(m, params[i]), *g = NULL;
        CHECK_OK(rt_tensor_grad(p, &g));
        CHECK(g == NULL);
        CHECK_OK(rt_tensor_free(p));
    }
    CHECK_OK(rt_tensor_free(loss));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(targets));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(m));
}

TEST(pytorch_cnn_train_mode_gradients_of_cross_entropy_match) {
    check_cnn_gradients(true, "grad.");
}

/* BatchNorm normalising with its running statistics has a different backward. */
TEST(pytorch_cnn_eval_mode_gradients_of_cross_entropy_match) {
    check_cnn_gradients(false, "eval_grad.");
}

/* ---- BatchNorm1d and LayerNorm modules ---- */

static void check_forward(const rt_module *m, const float *x, const int64_t *shape, size_t ndim, const float *want, double tol) {
    rt_tensor *t = tensor_f32(x, shape, ndim);
    rt_tensor *y = forward(m, t);
    check_shape(y, shape, ndim);
    check_all_near(y, want, numel(t), tol);
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(t));
}

TEST(batch_norm1d_module_matches_pytorch) {
    rt_module *m;
    CHECK_OK(rt_module_batch_norm1d(3, 1e-5, 0.1, &m));
    check_forward(m, bn_x1, bn_x1_shape, 2, bn_y1, 1e-4);
    check_module_tensor(m, "running_mean", bn_rm1, 3, 1e-5);
    check_module_tensor(m, "running_var", bn_rv1, 3, 1e-5);
    CHECK(module_count(m, "num_batches_tracked") == 1);
    check_forward(m, bn_x2, bn_x2_shape, 3, bn_y2, 1e-4); /* (N, C, L) */
    check_module_tensor(m, "running_mean", bn_rm2, 3, 1e-5);
    check_module_tensor(m, "running_var", bn_rv2, 3, 1e-5);
    CHECK(module_count(m, "num_batches_tracked") == 2);
    float rm[3], rv[3];
    rt_tensor *t = module_tensor(m, "running_mean");
    read_f32(t, rm, 3);
    CHECK_OK(rt_tensor_free(t));
    t = module_tensor(m, "running_var");
    read_f32(t, rv, 3);
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_module_train(m, false));
    check_forward(m, bn_x3, bn_x3_shape, 2, bn_y3, 1e-4);
    check_module_tensor(m, "running_mean", rm, 3, 0.0); /* eval leaves them as they were */
    check_module_tensor(m, "running_var", rv, 3, 0.0);
    CHECK(module_count(m, "num_batches_tracked") == 2);
    CHECK_OK(rt_module_free(m));

    /* eps and momentum are the module's own, not defaults */
    CHECK_OK(rt_module_batch_norm1d(3, 1e-3, 0.5, &m));
    check_forward(m, bnq_x, bnq_x_shape, 2, bnq_y, 1e-4);
    check_module_tensor(m, "running_mean", bnq_rm, 3, 1e-6);
    check_module_tensor(m, "running_var", bnq_rv, 3, 1e-5);
    CHECK_OK(rt_module_free(m));
}

/* Copies `values` (of `shape`) into m's tensor `name`, as a no-grad in-place write. */
static void set_module_tensor(const rt_module *m, const char *name, const float *values, const int64_t *shape, size_t ndim) {
    rt_tensor *t = module_tensor(m, name), *v = tensor_f32(values, shape, ndim);
    CHECK_OK(rt_grad_mode_enter(false)); /* writing into a leaf that requires grad */
    CHECK_OK(rt_tensor_copy_inplace(t, v));
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_tensor_free(v));
    CHECK_OK(rt_tensor_free(t));
}

TEST(layer_norm_module_matches_pytorch) {
    rt_module *m;
    CHECK_OK(rt_module_layer_norm((int64_t[]){3, 4}, 2, 1e-5, &m));
    set_module_tensor(m, "weight", ln_w, ln_w_shape, 2);
    set_module_tensor(m, "bias", ln_b, ln_b_shape, 2);
    rt_tensor *w = module_tensor(m, "weight"), *b = module_tensor(m, "bias");
    rt_tensor *x = tensor_f32(ln_x, ln_x_shape, 3), *gy = tensor_f32(ln_gy, ln_gy_shape, 3);
    rt_tensor *y = forward(m, x);
    check_shape(y, ln_x_shape, 3);
    check_all_near(y, ln_y, 24, 1e-4);
    CHECK_OK(rt_tensor_backward(y, gy, false));
    rt_tensor *gw = NULL, *gb = NULL;
    CHECK_OK(rt_tensor_grad(w, &gw));
    CHECK_OK(rt_tensor_grad(b, &gb));
    CHECK(gw != NULL && gb != NULL);
    check_all_near(gw, ln_gw, 12, 1e-4);
    check_all_near(gb, ln_gb, 12, 1e-4);
    rt_tensor *ts[] = {w, b, x, gy, y, gw, gb};
    for (size_t i = 0; i < 7; i++) CHECK_OK(rt_tensor_free(ts[i]));
    CHECK_OK(rt_module_free(m));
}

/* The module passes its own stride and padding (the CNN's stride 1, padding 1 would not tell
 * them apart). */
TEST(strided_conv2d_module_matches_pytorch) {
    rt_module *m;
    CHECK_OK(rt_module_conv2d(2, 3, 3, 2, 1, true, &m));
    set_module_tensor(m, "weight", cv_w, cv_w_shape, 4);
    set_module_tensor(m, "bias", cv_b, cv_b_shape, 1);
    rt_tensor *x = tensor_f32(cv_x, cv_x_shape, 4), *y = forward(m, x);
    check_shape(y, cv_y_shape, 4);
    check_all_near(y, cv_y, 54, 1e-4);
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(m));
}

/* ---- parameter-free layers and Embedding ---- */

/* Dropout(p) in training on n ones: the fraction of zeros and the value of the rest. */
static void dropout_counts(const rt_module *m, size_t n, double *zero_fraction, float *kept_min, float *kept_max) {
    rt_tensor *x;
    CHECK_OK(rt_tensor_ones((int64_t[]){(int64_t)n / 100, 100}, 2, RT_DTYPE_F32, &x));
    rt_tensor *y = forward(m, x);
    size_t got_n;
    float *v = values(y, &got_n);
    CHECK(got_n == n);
    size_t zeros = 0;
    *kept_min = INFINITY, *kept_max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == 0.0f) {
            zeros++;
        } else {
            *kept_min = fminf(*kept_min, v[i]);
            *kept_max = fmaxf(*kept_max, v[i]);
        }
    }
    *zero_fraction = (double)zeros / (double)n;
    free(v);
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
}

TEST(dropout_module_zeroes_p_and_scales_in_training_only) {
    rt_manual_seed(14);
    rt_module *m;
    CHECK_OK(rt_module_dropout(0.3, &m));
    double zf;
    float lo, hi;
    dropout_counts(m, 100000, &zf, &lo, &hi);
    CHECK_NEAR(zf, 0.3, 0.01); /* standard error 0.0015 */
    CHECK_NEAR(lo, 1.0 / 0.7, 1e-6);
    CHECK_NEAR(hi, 1.0 / 0.7, 1e-6);

    CHECK_OK(rt_module_train(m, false));
    float data[6] = {1, -2, 3, -4, 5, -6};
    check_forward(m, data, (int64_t[]){2, 3}, 2, data, 0.0);
    CHECK_OK(rt_module_free(m));

    CHECK_OK(rt_module_dropout(0.0, &m));
    check_forward(m, data, (int64_t[]){2, 3}, 2, data, 0.0);
    CHECK_OK(rt_module_free(m));

    CHECK_OK(rt_module_dropout(1.0, &m));
    dropout_counts(m, 1000, &zf, &lo, &hi);
    CHECK(zf == 1.0);
    CHECK_OK(rt_module_free(m));
}

TEST(softmax_module_sums_to_one_along_its_dim) {
    rt_manual_seed(15);
    rt_tensor *x;
    CHECK_OK(rt_tensor_randn((int64_t[]){3, 4, 5}, 3, &x));
    for (int64_t dim = -1; dim < 3; dim++) {
        rt_module *m;
        CHECK_OK(rt_module_softmax(dim, &m));
        rt_tensor *y = forward(m, x), *s = NULL;
        CHECK_OK(rt_tensor_sum(y, &dim, 1, false, &s));
        size_t n;
        float *v = values(s, &n);
        int64_t size = dim == 0 ? 3 : dim == 1 ? 4 : 5;
        CHECK(n == 60 / (size_t)size);
        for (size_t i = 0; i < n; i++) CHECK_NEAR(v[i], 1.0, 1e-6);
        free(v);
        v = values(y, &n);
        for (size_t i = 0; i < n; i++) CHECK(v[i] > 0.0f && v[i] < 1.0f);
        free(v);
        CHECK_OK(rt_tensor_free(s));
        CHECK_OK(rt_tensor_free(y));
        CHECK_OK(rt_module_free(m));
    }
    CHECK_OK(rt_tensor_free(x));
}

TEST(embedding_module_returns_rows_of_its_weight) {
    rt_module *m;
    CHECK_OK(rt_module_embedding(7, 4, &m));
    rt_tensor *w = module_tensor(m, "weight");
    float wv[28];
    read_f32(w, wv, 28);
    const int64_t idx[6] = {6, 0, 3, 3, 1, 6};
    rt_tensor *i = tensor_i64(idx, (int64_t[]){2, 3}, 2);
    rt_tensor *y = forward(m, i);
    check_shape(y, (int64_t[]){2, 3, 4}, 3);
    float yv[24];
    read_f32(y, yv, 24);
    for (size_t k = 0; k < 6; k++) CHECK(memcmp(&yv[k * 4], &wv[idx[k] * 4], 4 * sizeof(float)) == 0);
    CHECK(requires_grad(y));

    rt_tensor *bad = tensor_i64((int64_t[]){7}, (int64_t[]){1}, 1), *out = NULL;
    CHECK_STATUS(rt_module_forward(m, bad, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    rt_tensor *f = tensor_f32((float[]){1.0f}, (int64_t[]){1}, 1);
    CHECK_STATUS(rt_module_forward(m, f, &out), RT_ERR_DTYPE);
    rt_tensor *ts[] = {w, i, y, bad, f};
    for (size_t k = 0; k < 5; k++) CHECK_OK(rt_tensor_free(ts[k]));
    CHECK_OK(rt_module_free(m));
}

TEST(flatten_module_shapes) {
    float data[120];
    for (int i = 0; i < 120; i++) data[i] = (float)i;
    rt_tensor *x = tensor_f32(data, (int64_t[]){2, 3, 4, 5}, 4);
    static const struct {
        int64_t start, end;
        size_t ndim;
        int64_t shape[4];
    } cases[] = {
        {1, -1, 2, {2, 60}}, {0, -1, 1, {120}}, {1, 2, 3, {2, 12, 5}}, {-3, -2, 3, {2, 12, 5}}, {2, 2, 4, {2, 3, 4, 5}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rt_module *m;
        CHECK_OK(rt_module_flatten(cases[c].start, cases[c].end, &m));
        rt_tensor *y = forward(m, x);
        check_shape(y, cases[c].shape, cases[c].ndim);
        check_all_near(y, data, 120, 0.0); /* row-major order kept */
        CHECK_OK(rt_tensor_free(y));
        CHECK_OK(rt_module_free(m));
    }
    rt_module *m;
    rt_tensor *y = NULL;
    CHECK_OK(rt_module_flatten(2, 1, &m));
    CHECK_STATUS(rt_module_forward(m, x, &y), RT_ERR_INVALID_ARGUMENT);
    CHECK_OK(rt_module_free(m));
    CHECK_OK(rt_tensor_free(x));
}

TEST(max_pool2d_module_stride_zero_means_kernel_size) {
    float data[16];
    for (int i = 0; i < 16; i++) data[i] = (float)i;
    rt_tensor *x = tensor_f32(data, (int64_t[]){1, 1, 4, 4}, 4);
    static const struct {
        int64_t k, stride, side;
        float want[9];
    } cases[] = {
        {2, 0, 2, {5, 7, 13, 15}},
        {2, 2, 2, {5, 7, 13, 15}},
        {2, 1, 3, {5, 6, 7, 9, 10, 11, 13, 14, 15}},
        {3, 0, 1, {10}},
    };
    for (size_t c = 0; c < 4; c++) {
        rt_module *m;
        CHECK_OK(rt_module_max_pool2d(cases[c].k, cases[c].stride, &m));
        rt_tensor *y = forward(m, x);
        check_shape(y, (int64_t[]){1, 1, cases[c].side, cases[c].side}, 4);
        check_all_near(y, cases[c].want, (size_t)(cases[c].side * cases[c].side), 0.0);
        CHECK_OK(rt_tensor_free(y));
        CHECK_OK(rt_module_free(m));
    }
    CHECK_OK(rt_tensor_free(x));
}

TEST(activation_modules_apply_their_function) {
    const float x[4] = {-2.0f, -0.5f, 0.0f, 1.5f};
    float relu[4], sig[4], th[4], gelu[4];
    for (int i = 0; i < 4; i++) {
        relu[i] = x[i] > 0 ? x[i] : 0;
        sig[i] = 1.0f / (1.0f + expf(-x[i]));
        th[i] = tanhf(x[i]);
        gelu[i] = 0.5f * x[i] * (1.0f + erff(x[i] / sqrtf(2.0f))); /* PyTorch's exact GELU */
    }
    rt_status (*ctors[4])(rt_module **) = {rt_module_relu, rt_module_sigmoid, rt_module_tanh, rt_module_gelu};
    const float *want[4] = {relu, sig, th, gelu};
    for (int k = 0; k < 4; k++) {
        rt_module *m;
        CHECK_OK(ctors[k](&m));
        size_t n = 99;
        CHECK_OK(rt_module_num_tensors(m, &n));
        CHECK(n == 0);
        check_forward(m, x, (int64_t[]){2, 2}, 2, want[k], 1e-6);
        CHECK_OK(rt_module_free(m));
    }
}

/* ---- train / eval ---- */

TEST(train_and_eval_recurse_into_children) {
    rt_manual_seed(16);
    rt_module *lin, *drop, *inner_drop, *inner, *seq;
    CHECK_OK(rt_module_linear(50, 400, true, &lin));
    CHECK_OK(rt_module_dropout(0.5, &drop));
    CHECK_OK(rt_module_dropout(0.5, &inner_drop));
    CHECK_OK(rt_module_sequential(&inner_drop, 1, &inner));
    rt_module *children[] = {lin, drop, inner};
    CHECK_OK(rt_module_sequential(children, 3, &seq));
    rt_module *all[] = {seq, lin, drop, inner, inner_drop};

    rt_tensor *x;
    CHECK_OK(rt_tensor_randn((int64_t[]){4, 50}, 2, &x));
    rt_tensor *plain = forward(lin, x);
    float want[1600];
    read_f32(plain, want, 1600);

    /* training (the default): the two dropouts zero about 3/4 of the outputs */
    rt_tensor *y = forward(seq, x);
    float got[1600];
    read_f32(y, got, 1600);
    size_t zeros = 0;
    for (size_t i = 0; i < 1600; i++) zeros += got[i] == 0.0f;
    CHECK(zeros > 1000 && zeros < 1400);
    CHECK_OK(rt_tensor_free(y));

    CHECK_OK(rt_module_train(seq, false));
    for (size_t i = 0; i < 5; i++) {
        bool t = true;
        CHECK_OK(rt_module_is_training(all[i], &t));
        CHECK(!t);
    }
    y = forward(seq, x);
    check_all_near(y, want, 1600, 0.0);
    CHECK_OK(rt_tensor_free(y));

    CHECK_OK(rt_module_train(seq, true));
    for (size_t i = 0; i < 5; i++) {
        bool t = false;
        CHECK_OK(rt_module_is_training(all[i], &t));
        CHECK(t);
    }
    /* a child's own flag is set through its own handle too, without touching the parent */
    CHECK_OK(rt_module_train(inner, false));
    bool t = false;
    CHECK_OK(rt_module_is_training(seq, &t));
    CHECK(t);
    CHECK_OK(rt_module_is_training(inner_drop, &t));
    CHECK(!t);

    CHECK_OK(rt_tensor_free(plain));
    CHECK_OK(rt_tensor_free(x));
    for (size_t i = 0; i < 5; i++) CHECK_OK(rt_module_free(all[i]));
}

TEST(eval_makes_dropout_in_a_freed_nested_child_the_identity) {
    rt_module *drop, *inner, *seq;
    CHECK_OK(rt_module_dropout(0.9, &drop));
    inner = sequential_of(&drop, 1);
    seq = sequential_of(&inner, 1);
    float data[200];
    for (int i = 0; i < 200; i++) data[i] = (float)i + 1.0f;
    CHECK_OK(rt_module_train(seq, false));
    check_forward(seq, data, (int64_t[]){200}, 1, data, 0.0);
    CHECK_OK(rt_module_train(seq, true));
    rt_tensor *x = tensor_f32(data, (int64_t[]){200}, 1), *y = forward(seq, x);
    float got[200];
    read_f32(y, got, 200);
    size_t zeros = 0;
    for (int i = 0; i < 200; i++) zeros += got[i] == 0.0f;
    CHECK(zeros > 150);
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(seq));
}

/* ---- errors ---- */

TEST(bad_constructor_arguments_are_invalid) {
    rt_module *m = NULL;
    CHECK_STATUS(rt_module_linear(0, 3, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("in_features");
    CHECK_STATUS(rt_module_linear(3, -1, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("out_features");
    CHECK_STATUS(rt_module_conv2d(0, 2, 3, 1, 0, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_conv2d(1, 0, 3, 1, 0, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_conv2d(1, 2, 0, 1, 0, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("kernel_size");
    CHECK_STATUS(rt_module_conv2d(1, 2, 3, 0, 0, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("stride");
    CHECK_STATUS(rt_module_conv2d(1, 2, 3, 1, -1, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("padding");
    rt_status (*bns[2])(int64_t, double, double, rt_module **) = {rt_module_batch_norm1d, rt_module_batch_norm2d};
    for (int k = 0; k < 2; k++) {
        CHECK_STATUS(bns[k](0, 1e-5, 0.1, &m), RT_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("num_features");
        CHECK_STATUS(bns[k](-3, 1e-5, 0.1, &m), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(bns[k](3, 0.0, 0.1, &m), RT_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("eps");
        CHECK_STATUS(bns[k](3, -1e-5, 0.1, &m), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(bns[k](3, NAN, 0.1, &m), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(bns[k](3, 1e-5, -0.1, &m), RT_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("momentum");
        CHECK_STATUS(bns[k](3, 1e-5, 1.5, &m), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(bns[k](3, 1e-5, NAN, &m), RT_ERR_INVALID_ARGUMENT);
        /* the boundaries are valid */
        CHECK_OK(bns[k](3, 1e-5, 0.0, &m));
        CHECK_OK(rt_module_free(m));
        CHECK_OK(bns[k](3, 1e-5, 1.0, &m));
        CHECK_OK(rt_module_free(m));
        m = NULL;
    }
    CHECK_STATUS(rt_module_layer_norm((int64_t[]){4}, 1, 0.0, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("eps");
    CHECK_STATUS(rt_module_layer_norm((int64_t[]){4}, 1, -1.0, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_layer_norm((int64_t[]){4}, 0, 1e-5, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_layer_norm((int64_t[]){-4}, 1, 1e-5, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_dropout(-0.1, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("`p`");
    CHECK_STATUS(rt_module_dropout(1.01, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_dropout(NAN, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_max_pool2d(0, 0, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("kernel_size");
    CHECK_STATUS(rt_module_max_pool2d(2, -1, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("stride");
    CHECK_STATUS(rt_module_embedding(0, 4, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("num_embeddings");
    CHECK_STATUS(rt_module_embedding(4, -2, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("dim");
    CHECK(m == NULL);
}

/* forward(m, zeros(shape)) must fail with `expected` and leave *out NULL. */
static void check_forward_fails(const rt_module *m, const int64_t *shape, size_t ndim, rt_status expected) {
    rt_tensor *x, *y = NULL;
    CHECK_OK(rt_tensor_zeros(shape, ndim, RT_DTYPE_F32, &x));
    CHECK_STATUS(rt_module_forward(m, x, &y), expected);
    CHECK(y == NULL);
    CHECK_OK(rt_tensor_free(x));
}

TEST(wrong_input_rank_or_channels_is_a_shape_error) {
    rt_module *bn2, *bn1, *conv, *lin, *ln, *pool;
    CHECK_OK(rt_module_batch_norm2d(3, 1e-5, 0.1, &bn2));
    CHECK_OK(rt_module_batch_norm1d(3, 1e-5, 0.1, &bn1));
    CHECK_OK(rt_module_conv2d(3, 2, 3, 1, 1, true, &conv));
    CHECK_OK(rt_module_linear(4, 2, true, &lin));
    CHECK_OK(rt_module_layer_norm((int64_t[]){3, 4}, 2, 1e-5, &ln));
    CHECK_OK(rt_module_max_pool2d(2, 0, &pool));

    check_forward_fails(bn2, (int64_t[]){2, 3, 4}, 3, RT_ERR_SHAPE);
    check_forward_fails(bn2, (int64_t[]){2, 3}, 2, RT_ERR_SHAPE);
    check_forward_fails(bn2, (int64_t[]){2, 3, 4, 4, 1}, 5, RT_ERR_SHAPE);
    check_forward_fails(bn2, (int64_t[]){2, 4, 4, 4}, 4, RT_ERR_SHAPE); /* channels */
    check_forward_fails(bn1, (int64_t[]){2, 3, 4, 4}, 4, RT_ERR_SHAPE);
    check_forward_fails(bn1, (int64_t[]){3}, 1, RT_ERR_SHAPE);
    check_forward_fails(bn1, (int64_t[]){2, 5}, 2, RT_ERR_SHAPE); /* channels */
    check_forward_fails(bn1, (int64_t[]){2, 2, 6}, 3, RT_ERR_SHAPE);
    check_forward_fails(conv, (int64_t[]){3, 8, 8}, 3, RT_ERR_SHAPE);
    check_forward_fails(conv, (int64_t[]){8, 8}, 2, RT_ERR_SHAPE);
    check_forward_fails(conv, (int64_t[]){1, 2, 8, 8}, 4, RT_ERR_SHAPE); /* channels */
    check_forward_fails(lin, (int64_t[]){2, 3}, 2, RT_ERR_SHAPE);
    check_forward_fails(ln, (int64_t[]){2, 4, 3}, 3, RT_ERR_SHAPE);
    check_forward_fails(ln, (int64_t[]){4}, 1, RT_ERR_SHAPE);
    check_forward_fails(pool, (int64_t[]){1, 4, 4}, 3, RT_ERR_SHAPE);

    /* refused BatchNorm forwards changed nothing */
    CHECK(module_count(bn2, "num_batches_tracked") == 0);
    CHECK(module_count(bn1, "num_batches_tracked") == 0);
    check_filled(bn2, "running_mean", 0.0f, 3, false);
    check_filled(bn1, "running_var", 1.0f, 3, false);

    rt_module *ms[] = {bn2, bn1, conv, lin, ln, pool};
    for (size_t i = 0; i < 6; i++) CHECK_OK(rt_module_free(ms[i]));
}

TEST(channel_mismatch_inside_a_sequential_is_a_shape_error) {
    rt_module *c[3];
    CHECK_OK(rt_module_conv2d(1, 4, 3, 1, 1, true, &c[0]));
    CHECK_OK(rt_module_batch_norm2d(5, 1e-5, 0.1, &c[1])); /* conv gives 4 channels */
    CHECK_OK(rt_module_relu(&c[2]));
    rt_module *m = sequential_of(c, 3);
    check_forward_fails(m, (int64_t[]){2, 1, 6, 6}, 4, RT_ERR_SHAPE);
    CHECK(module_count(m, "1.num_batches_tracked") == 0);
    CHECK_OK(rt_module_free(m));
}
