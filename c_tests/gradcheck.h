/* Central finite differences against the library's autograd, through the C ABI only.
 *
 * For y = f(x_1, ..., x_n) and the scalar L = sum_i W_i y_i (W fixed, mixed signs, never 0):
 *   analytic:  dL/dx from rt_tensor_backward(y, W) on leaves that require grad;
 *   numerical: (L(x + h e_j) - L(x - h e_j)) / ((x_j + h) - (x_j - h)) for every element j of every
 *              input, where the perturbed values are computed in double and stored as float32 (the
 *              denominator is the difference actually stored), and L is summed in double over f's
 *              float32 output. f runs under no_grad for the numerical side.
 * An element mismatches when |analytic - numerical| > tol * (1 + |numerical|); every mismatch is
 * printed and counted, so a test asserts `gradcheck(...) == 0`.
 */
#ifndef INFER_TEST_GRADCHECK_H
#define INFER_TEST_GRADCHECK_H

#include "harness.h"

#define GC_STEP 1e-3
#define GC_TOL 1e-2

/* A float32 input: row-major data and its shape (up to 4 dims). */
typedef struct {
    const float *data;
    int64_t shape[4];
    size_t ndim;
} gc_tensor;

/* The function under test: reads inputs[0..n), writes a new F32 tensor to *out. */
typedef rt_status (*gc_fn)(rt_tensor *const *inputs, rt_tensor **out, void *ctx);

static inline size_t gc_numel(const gc_tensor *t) {
    size_t n = 1;
    for (size_t i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

/* The fixed upstream weight of output element i. */
static inline float gc_weight(size_t i) {
    return (float)(((double)((i * 7) % 11) - 5.5) / 4.0);
}

/* Runs f on tensors made from data[k] (shapes from in[k]) and returns its output handle. */
static inline rt_tensor *gc_run(gc_fn f, void *ctx, const gc_tensor *in, float *const *data, size_t n, bool leaves, rt_tensor **made) {
    for (size_t k = 0; k < n; k++) {
        made[k] = tensor_f32(data[k], in[k].shape, in[k].ndim);
        if (leaves) CHECK_OK(rt_tensor_set_requires_grad(made[k], true));
    }
    rt_tensor *y = NULL;
    CHECK_OK(f(made, &y, ctx));
    return y;
}

/* L = sum_i W_i y_i in double, y read as float32. */
static inline double gc_loss(gc_fn f, void *ctx, const gc_tensor *in, float *const *data, size_t n) {
    rt_tensor *made[8];
    CHECK_OK(rt_grad_mode_enter(false));
    rt_tensor *y = gc_run(f, ctx, in, data, n, false, made);
    CHECK_OK(rt_grad_mode_exit());
    size_t m = 0;
    CHECK_OK(rt_tensor_numel(y, &m));
    float *v = malloc(m * sizeof(float) + 1);
    read_f32(y, v, m);
    double loss = 0;
    for (size_t i = 0; i < m; i++) loss += (double)gc_weight(i) * (double)v[i];
    free(v);
    CHECK_OK(rt_tensor_free(y));
    for (size_t k = 0; k < n; k++) CHECK_OK(rt_tensor_free(made[k]));
    return loss;
}

/* Compares count gradient elements; prints and counts each mismatch. */
static inline size_t gc_compare(const char *what, const double *numerical, const float *analytic, size_t count, double tol) {
    size_t bad = 0;
    for (size_t j = 0; j < count; j++) {
        double diff = fabs((double)analytic[j] - numerical[j]);
        if (!(diff <= tol * (1.0 + fabs(numerical[j])))) {
            fprintf(stderr, "  gradcheck %s[%zu]: analytic %.7g, numerical %.7g\n", what, j, (double)analytic[j], numerical[j]);
            bad++;
        }
    }
    return bad;
}

/* Number of gradient elements (over all n <= 8 inputs) where autograd and finite differences
 * disagree; 0 when the op's derivative is right. */
static inline size_t gradcheck(gc_fn f, void *ctx, const gc_tensor *in, size_t n) {
    CHECK(n <= 8);
    float *data[8];
    for (size_t k = 0; k < n; k++) {
        size_t m = gc_numel(&in[k]);
        data[k] = malloc(m * sizeof(float) + 1);
        memcpy(data[k], in[k].data, m * sizeof(float));
    }

    /* Analytic: backward(y, W). */
    rt_tensor *leaves[8];
    rt_tensor *y = gc_run(f, ctx, in, data, n, true, leaves);
    size_t ny = 0;
    CHECK_OK(rt_tensor_numel(y, &ny));
    int64_t yshape[RT_MAX_DIMS];
    size_t yndim = 0;
    CHECK_OK(rt_tensor_shape(y, yshape, RT_MAX_DIMS, &yndim));
    float *w = malloc(ny * sizeof(float) + 1);
    for (size_t i = 0; i < ny; i++) w[i] = gc_weight(i);
    rt_tensor *wt = tensor_f32(w, yshape, yndim);
    CHECK_OK(rt_tensor_backward(y, wt, false));
    CHECK_OK(rt_tensor_free(wt));
    CHECK_OK(rt_tensor_free(y));
    free(w);

    size_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        size_t m = gc_numel(&in[k]);
        float *analytic = malloc(m * sizeof(float) + 1);
        rt_tensor *g = NULL;
        CHECK_OK(rt_tensor_grad(leaves[k], &g));
        if (g == NULL) {
            memset(analytic, 0, m * sizeof(float)); /* no gradient reached it: the derivative is 0 */
        } else {
            read_f32(g, analytic, m);
            CHECK_OK(rt_tensor_free(g));
        }
        CHECK_OK(rt_tensor_free(leaves[k]));

        double *numerical = malloc(m * sizeof(double) + 1);
        for (size_t j = 0; j < m; j++) {
            float x = data[k][j];
            float plus = (float)((double)x + GC_STEP), minus = (float)((double)x - GC_STEP);
            data[k][j] = plus;
            double lp = gc_loss(f, ctx, in, data, n);
            data[k][j] = minus;
            double lm = gc_loss(f, ctx, in, data, n);
            data[k][j] = x;
            numerical[j] = (lp - lm) / ((double)plus - (double)minus);
        }
        char what[32];
        snprintf(what, sizeof what, "input%zu", k);
        bad += gc_compare(what, numerical, analytic, m, GC_TOL);
        free(numerical);
        free(analytic);
    }
    for (size_t k = 0; k < n; k++) free(data[k]);
    return bad;
}

#endif
