/* Grad modes beyond inference mode: PyTorch's no_grad tests from TestAutograd
 * (test/test_autograd.py: test_no_grad, test_no_grad_modifies_version, test_set_grad_enabled,
 * test_no_grad_assignment), per-thread state, concurrency over one shared module, the thread pool
 * inside inference mode (PyTorch issue 60539), and the memory claim of inference mode. */
#include <pthread.h>

#include "harness.h"

static rt_tensor *filled(const int64_t *shape, size_t ndim, double v, bool rg) {
    rt_tensor *t;
    CHECK_OK(rt_tensor_full(shape, ndim, v, RT_DTYPE_F32, &t));
    if (rg) CHECK_OK(rt_tensor_set_requires_grad(t, true));
    return t;
}

static bool has_grad_fn(const rt_tensor *t) {
    bool b;
    CHECK_OK(rt_tensor_has_grad_fn(t, &b));
    return b;
}

static bool is_inference(const rt_tensor *t) {
    bool b;
    CHECK_OK(rt_tensor_is_inference(t, &b));
    return b;
}

/* test_no_grad (rule I11, first sentence) */
TEST(py_no_grad) {
    int64_t shape[] = {5, 5};
    rt_tensor *x = filled(shape, 2, 1, true);
    rt_tensor *y = filled(shape, 2, 4, false);
    rt_tensor *w;
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_add(x, y, &w));
    CHECK_OK(rt_grad_mode_exit());
    CHECK(!requires_grad(w));
    CHECK(!has_grad_fn(w));
    CHECK(!is_inference(w)); /* no_grad outputs are normal tensors */
    rt_tensor *ones = filled(shape, 2, 1, false);
    CHECK_STATUS(rt_tensor_backward(w, ones, false), RT_ERR_AUTOGRAD);
    rt_tensor *all[] = {x, y, w, ones};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* test_no_grad_modifies_version (rule I8) */
TEST(py_no_grad_modifies_version) {
    int64_t shape[] = {5};
    rt_tensor *x, *y, *xy, *z;
    CHECK_OK(rt_tensor_randn(shape, 1, &x));
    CHECK_OK(rt_tensor_randn(shape, 1, &y));
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(rt_tensor_set_requires_grad(y, true));
    CHECK_OK(rt_tensor_mul(x, y, &xy));
    CHECK_OK(rt_tensor_sum(xy, NULL, 0, false, &z));
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_mul_scalar_inplace(x, 2));
    CHECK_OK(rt_grad_mode_exit());
    CHECK_STATUS(rt_tensor_backward(z, NULL, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("modified in place");
    rt_tensor *g;
    CHECK_OK(rt_tensor_grad(y, &g));
    CHECK(g == NULL); /* nothing was accumulated: the check comes before any gradient */
    rt_tensor *all[] = {x, y, xy, z};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* test_set_grad_enabled: nesting, and an inner enter that overrides the outer frame. */
TEST(py_set_grad_enabled) {
    int64_t shape[] = {1};
    rt_tensor *x = filled(shape, 1, 1, true);
    rt_tensor *y;
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_mul_scalar(x, 2, &y));
    CHECK(!requires_grad(y));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_grad_mode_enter(true));
    CHECK_OK(rt_tensor_mul_scalar(x, 2, &y));
    CHECK(requires_grad(y));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_grad_mode_exit());
    CHECK(!rt_is_grad_enabled());
    CHECK_OK(rt_grad_mode_exit());
    CHECK(rt_is_grad_enabled());
    CHECK_OK(rt_tensor_free(x));
}

/* test_no_grad_assignment: x[0] = y under no_grad on a leaf that requires grad. */
TEST(py_no_grad_assignment) {
    int64_t shape[] = {5, 5}, rshape[] = {5};
    rt_tensor *x, *y, *row;
    CHECK_OK(rt_tensor_randn(shape, 2, &x));
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(rt_tensor_randn(rshape, 1, &y));
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_select(x, 0, 0, &row));
    CHECK_OK(rt_tensor_copy_inplace(row, y));
    CHECK_OK(rt_grad_mode_exit());
    CHECK(requires_grad(x));
    CHECK(!has_grad_fn(x));
    float a[5], b[5];
    read_f32(row, a, 5);
    read_f32(y, b, 5);
    for (int i = 0; i < 5; i++) CHECK(a[i] == b[i]);
    /* the same assignment with grad mode on is refused: a view of a leaf that requires grad */
    CHECK_STATUS(rt_tensor_copy_inplace(row, y), RT_ERR_AUTOGRAD);
    rt_tensor *all[] = {x, y, row};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* I11 second sentence: a view made under no_grad of a tensor that requires grad, modified in
 * place later with grad mode on. */
TEST(no_grad_view_modified_with_grad_on_is_refused) {
    int64_t shape[] = {2, 3};
    rt_tensor *s = filled(shape, 2, 1, true);
    rt_tensor *a, *v;
    CHECK_OK(rt_tensor_mul_scalar(s, 3, &a)); /* non-leaf that requires grad */
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_narrow(a, 1, 0, 2, &v));
    CHECK_OK(rt_grad_mode_exit());
    CHECK(!requires_grad(v));
    CHECK_STATUS(rt_tensor_add_scalar_inplace(v, 1), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("no_grad");
    float expect[6] = {3, 3, 3, 3, 3, 3};
    check_all_near(a, expect, 6, 0);
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_add_scalar_inplace(v, 1)); /* fine under no_grad */
    CHECK_OK(rt_grad_mode_exit());
    rt_tensor *all[] = {s, a, v};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* I12: in-place ops on a non-leaf that requires grad are recorded; gradients match the
 * out-of-place computation (d/dx sum((x*3 + 1) * w) = 3w, d/dw = 3x + 1). */
TEST(inplace_on_non_leaf_is_recorded) {
    float xv[] = {1, 2, 3}, wv[] = {0.5f, -1, 2};
    int64_t shape[] = {3};
    rt_tensor *x = tensor_f32(xv, shape, 1), *w = tensor_f32(wv, shape, 1);
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(rt_tensor_set_requires_grad(w, true));
    rt_tensor *h, *loss;
    CHECK_OK(rt_tensor_mul_scalar(x, 3, &h));
    CHECK_OK(rt_tensor_add_scalar_inplace(h, 1));
    CHECK_OK(rt_tensor_mul_inplace(h, w));
    CHECK(has_grad_fn(h));
    CHECK_OK(rt_tensor_sum(h, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    rt_tensor *gx, *gw;
    CHECK_OK(rt_tensor_grad(x, &gx));
    CHECK_OK(rt_tensor_grad(w, &gw));
    float ex[] = {1.5f, -3, 6}, ew[] = {4, 7, 10};
    check_all_near(gx, ex, 3, 1e-6);
    check_all_near(gw, ew, 3, 1e-6);
    /* a leaf that requires grad is refused in grad mode, with its data untouched */
    CHECK_STATUS(rt_tensor_add_scalar_inplace(x, 1), RT_ERR_AUTOGRAD);
    check_all_near(x, xv, 3, 0);
    rt_tensor *all[] = {x, w, h, loss, gx, gw};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* I12 second sentence: an in-place op on a view whose base requires grad is refused (this build
 * does not rebase), leaving data unchanged, never wrong gradients. */
TEST(inplace_on_view_in_graph_is_refused) {
    int64_t shape[] = {2, 3};
    rt_tensor *s = filled(shape, 2, 1, true), *a, *v;
    CHECK_OK(rt_tensor_mul_scalar(s, 2, &a));
    CHECK_OK(rt_tensor_select(a, 0, 1, &v));
    CHECK_STATUS(rt_tensor_add_scalar_inplace(v, 1), RT_ERR_UNSUPPORTED);
    float expect[6] = {2, 2, 2, 2, 2, 2};
    check_all_near(a, expect, 6, 0);
    rt_tensor *all[] = {s, a, v};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* ---- threads ---- */

static void *report_state(void *p) {
    bool *out = p;
    out[0] = rt_is_grad_enabled();
    out[1] = rt_is_inference_mode_enabled();
    /* exiting a frame this thread never entered */
    out[2] = rt_inference_mode_exit() == RT_ERR_INVALID_STATE;
    return NULL;
}

TEST(new_thread_starts_with_default_state) {
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_grad_mode_enter(false));
    bool seen[3] = {false, true, false};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, report_state, seen) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(seen[0]);  /* grad on */
    CHECK(!seen[1]); /* inference off */
    CHECK(seen[2]);
    CHECK(rt_is_inference_mode_enabled()); /* the creator's state is untouched */
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_inference_mode_exit());
}

enum { MODE_INFERENCE, MODE_NO_GRAD, MODE_GRAD };

struct worker {
    rt_module *model;
    rt_tensor *x;
    const float *expected; /* 16 x 4 outputs */
    int mode;
    int iterations;
    bool ok;
};

static void *run_worker(void *p) {
    struct worker *w = p;
    w->ok = false;
    for (int it = 0; it < w->iterations; it++) {
        if (w->mode == MODE_INFERENCE && rt_inference_mode_enter(true) != RT_OK) return NULL;
        if (w->mode == MODE_NO_GRAD && rt_grad_mode_enter(false) != RT_OK) return NULL;
        rt_tensor *out = NULL;
        if (rt_module_forward(w->model, w->x, &out) != RT_OK) return NULL;
        bool inf = true, rg = true;
        rt_tensor_is_inference(out, &inf);
        rt_tensor_requires_grad(out, &rg);
        if (inf != (w->mode == MODE_INFERENCE) || rg != (w->mode == MODE_GRAD)) return NULL;
        float got[64];
        if (rt_tensor_copy_to(out, got, sizeof got) != RT_OK) return NULL;
        for (int i = 0; i < 64; i++)
            if (got[i] != w->expected[i]) return NULL;
        if (w->mode == MODE_GRAD) {
            rt_tensor *loss = NULL;
            if (rt_tensor_sum(out, NULL, 0, false, &loss) != RT_OK) return NULL;
            if (rt_tensor_backward(loss, NULL, false) != RT_OK) return NULL;
            rt_tensor_free(loss);
        }
        rt_tensor_free(out);
        if (w->mode == MODE_INFERENCE && rt_inference_mode_exit() != RT_OK) return NULL;
        if (w->mode == MODE_NO_GRAD && rt_grad_mode_exit() != RT_OK) return NULL;
        if (rt_is_inference_mode_enabled() || !rt_is_grad_enabled()) return NULL;
    }
    w->ok = true;
    return NULL;
}

/* Six threads in three modes at once over one shared eval-mode module: outputs match the
 * single-threaded reference bit for bit, each thread sees only its own mode, and the grad-mode
 * threads' backward passes accumulate exactly into the shared parameters. */
TEST(threads_in_different_modes_share_one_module) {
    rt_manual_seed(7);
    rt_module *l1, *relu, *l2, *model;
    CHECK_OK(rt_module_linear(8, 32, true, &l1));
    CHECK_OK(rt_module_relu(&relu));
    CHECK_OK(rt_module_linear(32, 4, true, &l2));
    rt_module *kids[] = {l1, relu, l2};
    CHECK_OK(rt_module_sequential(kids, 3, &model));
    CHECK_OK(rt_module_train(model, false));
    int64_t xs[] = {16, 8};
    rt_tensor *x;
    CHECK_OK(rt_tensor_randn(xs, 2, &x));

    float expected[64];
    rt_tensor *ref;
    CHECK_OK(rt_module_forward(model, x, &ref));
    read_f32(ref, expected, 64);
    rt_tensor *loss;
    CHECK_OK(rt_tensor_sum(ref, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    rt_tensor *w0;
    CHECK_OK(rt_module_get_tensor(model, "0.weight", &w0));
    rt_tensor *g1;
    CHECK_OK(rt_tensor_grad(w0, &g1));
    float one_grad[256];
    read_f32(g1, one_grad, 256);
    CHECK_OK(rt_module_zero_grad(model));

    enum { N = 6, ITERS = 50 };
    struct worker ws[N];
    pthread_t th[N];
    int grad_threads = 0;
    for (int i = 0; i < N; i++) {
        ws[i] = (struct worker){model, x, expected, i % 3, ITERS, false};
        if (ws[i].mode == MODE_GRAD) grad_threads++;
        CHECK(pthread_create(&th[i], NULL, run_worker, &ws[i]) == 0);
    }
    for (int i = 0; i < N; i++) CHECK(pthread_join(th[i], NULL) == 0);
    for (int i = 0; i < N; i++) CHECK(ws[i].ok);

    rt_tensor *g;
    CHECK_OK(rt_tensor_grad(w0, &g));
    float total[256];
    read_f32(g, total, 256);
    for (int i = 0; i < 256; i++) CHECK_NEAR(total[i], one_grad[i] * grad_threads * ITERS, 1e-3 * (1 + fabs(one_grad[i] * grad_threads * ITERS)));

    rt_tensor *ts[] = {x, ref, loss, w0, g1, g};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(ts[i]));
    rt_module *ms[] = {l1, relu, l2, model};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_module_free(ms[i]));
}

/* PyTorch issue 60539: work split across the pool must not read the caller's grad state. A large
 * matmul (run on the pool) gives identical values in inference mode and grad mode, with 1 and 2
 * threads, and the output kind follows the caller's mode only. */
TEST(thread_pool_kernels_behave_the_same_in_inference_mode) {
    int64_t shape[] = {384, 384};
    rt_tensor *a, *b;
    CHECK_OK(rt_tensor_randn(shape, 2, &a));
    CHECK_OK(rt_tensor_randn(shape, 2, &b));
    CHECK_OK(rt_tensor_set_requires_grad(a, true));
    size_t n = 384 * 384;
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    rt_tensor *out;
    CHECK_OK(rt_set_num_threads(1));
    CHECK_OK(rt_tensor_matmul(a, b, &out));
    CHECK(requires_grad(out));
    read_f32(out, ref, n);
    CHECK_OK(rt_tensor_free(out));
    for (size_t threads = 1; threads <= 2; threads++) {
        CHECK_OK(rt_set_num_threads(threads));
        CHECK(rt_get_num_threads() == threads);
        CHECK_OK(rt_inference_mode_enter(true));
        CHECK_OK(rt_tensor_matmul(a, b, &out));
        CHECK_OK(rt_inference_mode_exit());
        CHECK(is_inference(out));
        CHECK(!requires_grad(out));
        CHECK(!has_grad_fn(out));
        read_f32(out, got, n);
        CHECK(memcmp(ref, got, n * sizeof(float)) == 0);
        CHECK_OK(rt_tensor_free(out));
    }
    CHECK_OK(rt_set_num_threads(0));
    free(ref);
    free(got);
    CHECK_OK(rt_tensor_free(a));
    CHECK_OK(rt_tensor_free(b));
}

/* ---- memory: 8 x (Linear(256,256) + ReLU) at batch 512 ---- */

static rt_module *deep_mlp(void) {
    rt_module *kids[16];
    for (int i = 0; i < 8; i++) {
        CHECK_OK(rt_module_linear(256, 256, true, &kids[2 * i]));
        CHECK_OK(rt_module_relu(&kids[2 * i + 1]));
    }
    rt_module *model;
    CHECK_OK(rt_module_sequential(kids, 16, &model));
    for (int i = 0; i < 16; i++) CHECK_OK(rt_module_free(kids[i]));
    return model;
}

static rt_memory_stats stats(void) {
    rt_memory_stats s;
    CHECK_OK(rt_memory_stats_get(&s));
    for (int i = 0; i < 5; i++) CHECK(s.reserved[i] == 0);
    return s;
}

TEST(memory_grad_mode_keeps_activations_for_backward) {
    rt_module *model = deep_mlp();
    int64_t shape[] = {512, 256};
    rt_tensor *x;
    CHECK_OK(rt_tensor_randn(shape, 2, &x));
    const double act = 512.0 * 256 * sizeof(float);
    rt_memory_stats before = stats();
    rt_tensor *out;
    CHECK_OK(rt_module_forward(model, x, &out));
    rt_memory_stats after = stats();
    double alive = (double)(after.live_bytes - before.live_bytes);
    printf("grad mode: %.1f activations alive after forward\n", alive / act);
    CHECK(alive >= 8 * act);
    CHECK_OK(rt_tensor_free(out));
    CHECK(stats().live_bytes == before.live_bytes); /* freeing the output frees the graph */
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(model));
}

TEST(memory_inference_mode_peak_is_about_two_activations) {
    rt_module *model = deep_mlp();
    CHECK_OK(rt_module_train(model, false));
    int64_t shape[] = {512, 256};
    const double act = 512.0 * 256 * sizeof(float);
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *x;
    CHECK_OK(rt_tensor_randn(shape, 2, &x));
    rt_memory_stats before = stats();
    rt_memory_reset_peak();
    CHECK(stats().peak_bytes == before.live_bytes);
    rt_tensor *out;
    CHECK_OK(rt_module_forward(model, x, &out));
    rt_memory_stats after = stats();
    CHECK_OK(rt_inference_mode_exit());
    double peak = (double)(after.peak_bytes - before.live_bytes);
    double alive = (double)(after.live_bytes - before.live_bytes);
    printf("inference mode: peak %.2f activations above the input, %.2f alive after\n", peak / act, alive / act);
    CHECK(peak <= 2.5 * act);
    CHECK(alive == act); /* only the output */
    CHECK(after.alloc_count > before.alloc_count);
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(model));
}
