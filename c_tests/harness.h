/* A tiny C test harness: TEST(name) registers a case; each case runs in its own process,
 * started by tests/c_tests.rs (`prog --list`, then `prog NAME` per case). A failed CHECK prints
 * where and why (with the library's last error) and exits non-zero. */
#ifndef INFER_TEST_HARNESS_H
#define INFER_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"

typedef void (*harness_fn)(void);
void harness_register(const char *name, harness_fn fn);
void harness_fail(const char *file, int line, const char *what);
const char *harness_last_error(void);

#define TEST(name)                                                                       \
    static void name(void);                                                              \
    __attribute__((constructor)) static void harness_register_##name(void) {            \
        harness_register(#name, name);                                                   \
    }                                                                                    \
    static void name(void)

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) harness_fail(__FILE__, __LINE__, "CHECK(" #cond ")");              \
    } while (0)

/* The call must succeed. */
#define CHECK_OK(call)                                                                   \
    do {                                                                                 \
        rt_status s_ = (call);                                                           \
        if (s_ != RT_OK) {                                                               \
            fprintf(stderr, "  %s returned %u (%s): %s\n", #call, (unsigned)s_,          \
                    rt_status_str(s_), harness_last_error());                            \
            harness_fail(__FILE__, __LINE__, "CHECK_OK");                                \
        }                                                                                \
    } while (0)

/* The call must return exactly `expected`. */
#define CHECK_STATUS(call, expected)                                                     \
    do {                                                                                 \
        rt_status s_ = (call);                                                           \
        if (s_ != (rt_status)(expected)) {                                               \
            fprintf(stderr, "  %s returned %u (%s), expected %s; last error: %s\n",      \
                    #call, (unsigned)s_, rt_status_str(s_), #expected,                   \
                    harness_last_error());                                               \
            harness_fail(__FILE__, __LINE__, "CHECK_STATUS");                            \
        }                                                                                \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                            \
    do {                                                                                 \
        double a_ = (double)(a), b_ = (double)(b);                                       \
        if (!(fabs(a_ - b_) <= (tol))) {                                                 \
            fprintf(stderr, "  %s = %.9g, %s = %.9g, tolerance %g\n", #a, a_, #b, b_,    \
                    (double)(tol));                                                      \
            harness_fail(__FILE__, __LINE__, "CHECK_NEAR");                              \
        }                                                                                \
    } while (0)

/* The last error message must contain `needle`. */
#define CHECK_ERROR_MENTIONS(needle)                                                     \
    do {                                                                                 \
        if (!strstr(harness_last_error(), (needle))) {                                   \
            fprintf(stderr, "  last error \"%s\" does not mention \"%s\"\n",             \
                    harness_last_error(), (needle));                                     \
            harness_fail(__FILE__, __LINE__, "CHECK_ERROR_MENTIONS");                    \
        }                                                                                \
    } while (0)

/* Helpers shared by the test files (harness.c). */
rt_tensor *tensor_f32(const float *data, const int64_t *shape, size_t ndim);
rt_tensor *tensor_i64(const int64_t *data, const int64_t *shape, size_t ndim);
/* Copies an F32 tensor's elements into out (which holds n floats); checks numel == n. */
void read_f32(const rt_tensor *t, float *out, size_t n);
void check_shape(const rt_tensor *t, const int64_t *expected, size_t ndim);
void check_all_near(const rt_tensor *t, const float *expected, size_t n, double tol);
bool requires_grad(const rt_tensor *t);

#endif
