/* Checking values against PyTorch references: the generated *_ref.h headers give each array
 * `name` with its shape `name_shape`, and these macros and helpers read them. TOL is the
 * tolerance (the includer may define its own before including this header). */
#ifndef INFER_REF_CHECKS_H
#define INFER_REF_CHECKS_H

#include "harness.h"

#ifndef TOL
#define TOL 1e-4
#endif
#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define T32(name) tensor_f32(name, name##_shape, LEN(name##_shape))
#define T64(name) tensor_i64(name, name##_shape, LEN(name##_shape))
#define LEAF(name) leaf(name, name##_shape, LEN(name##_shape))
#define BACKWARD(y, name) backward_with(y, name, name##_shape, LEN(name##_shape))
#define EXPECT_VALUES(t, name)                                                            \
    do {                                                                                  \
        check_shape(t, name##_shape, LEN(name##_shape));                                  \
        check_all_near(t, name, LEN(name), TOL);                                          \
    } while (0)
#define EXPECT_GRAD(t, name) expect_grad(t, name, LEN(name))

/* An F32 tensor of the data that requires grad. */
static inline rt_tensor *leaf(const float *data, const int64_t *shape, size_t ndim) {
    rt_tensor *t = tensor_f32(data, shape, ndim);
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    return t;
}

/* Backward from y with the upstream gradient g. */
static inline void backward_with(rt_tensor *y, const float *g, const int64_t *shape, size_t ndim) {
    rt_tensor *gt = tensor_f32(g, shape, ndim);
    CHECK_OK(rt_tensor_backward(y, gt, false));
    CHECK_OK(rt_tensor_free(gt));
}

/* t's gradient exists and matches `expected` within TOL. */
static inline void expect_grad(const rt_tensor *t, const float *expected, size_t n) {
    rt_tensor *g = NULL;
    CHECK_OK(rt_tensor_grad(t, &g));
    CHECK(g != NULL);
    check_all_near(g, expected, n, TOL);
    CHECK_OK(rt_tensor_free(g));
}

#endif
