/* Small queries shared by the C tests: each asks the library one question about a tensor and fails
 * the test if the call itself fails, so test bodies read as statements about tensors. */
#ifndef INFER_TEST_PROBES_H
#define INFER_TEST_PROBES_H

#include <stdint.h>

#include "harness.h"

static inline bool is_inference(const rt_tensor *t) {
    bool v = false;
    CHECK_OK(rt_tensor_is_inference(t, &v));
    return v;
}

static inline bool has_grad_fn(const rt_tensor *t) {
    bool v = false;
    CHECK_OK(rt_tensor_has_grad_fn(t, &v));
    return v;
}

static inline bool is_leaf(const rt_tensor *t) {
    bool v = false;
    CHECK_OK(rt_tensor_is_leaf(t, &v));
    return v;
}

static inline bool is_view(const rt_tensor *t) {
    bool v = false;
    CHECK_OK(rt_tensor_is_view(t, &v));
    return v;
}

static inline bool is_contiguous(const rt_tensor *t) {
    bool v = false;
    CHECK_OK(rt_tensor_is_contiguous(t, &v));
    return v;
}

static inline uint64_t version_of(const rt_tensor *t) {
    uint64_t v = 0;
    CHECK_OK(rt_tensor_version(t, &v));
    return v;
}

static inline double item_of(const rt_tensor *t) {
    double v = 0;
    CHECK_OK(rt_tensor_item(t, &v));
    return v;
}

static inline size_t numel_of(const rt_tensor *t) {
    size_t n = 0;
    CHECK_OK(rt_tensor_numel(t, &n));
    return n;
}

/* The tensor's gradient as a new handle, or NULL when it has none. */
static inline rt_tensor *grad_of(const rt_tensor *t) {
    rt_tensor *g = NULL;
    CHECK_OK(rt_tensor_grad(t, &g));
    return g;
}

/* An F32 leaf that requires grad. */
static inline rt_tensor *leaf_f32(const float *data, const int64_t *shape, size_t ndim) {
    rt_tensor *t = tensor_f32(data, shape, ndim);
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    return t;
}

/* Checks t's gradient against expected (n elements) and frees the gradient handle. */
static inline void check_grad(const rt_tensor *t, const float *expected, size_t n, double tol) {
    rt_tensor *g = grad_of(t);
    CHECK(g != NULL);
    check_all_near(g, expected, n, tol);
    CHECK_OK(rt_tensor_free(g));
}

/* Backpropagates sum(t) from a tensor of any shape. */
static inline void backward_sum(const rt_tensor *t) {
    rt_tensor *s = NULL;
    CHECK_OK(rt_tensor_sum(t, NULL, 0, false, &s));
    CHECK_OK(rt_tensor_backward(s, NULL, false));
    CHECK_OK(rt_tensor_free(s));
}

#endif
