#include "harness.h"

#define MAX_TESTS 512

static struct {
    const char *name;
    harness_fn fn;
} tests[MAX_TESTS];
static size_t n_tests;

void harness_register(const char *name, harness_fn fn) {
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "too many tests in one file\n");
        exit(2);
    }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

const char *harness_last_error(void) {
    static char buf[2048];
    rt_last_error_message(buf, sizeof buf);
    return buf;
}

void harness_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "FAILED at %s:%d: %s\n", file, line, what);
    exit(1);
}

rt_tensor *tensor_f32(const float *data, const int64_t *shape, size_t ndim) {
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) n *= (size_t)shape[i];
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_from_data(data, n * sizeof(float), RT_DTYPE_F32, shape, ndim, &t));
    return t;
}

rt_tensor *tensor_i64(const int64_t *data, const int64_t *shape, size_t ndim) {
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) n *= (size_t)shape[i];
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_from_data(data, n * sizeof(int64_t), RT_DTYPE_I64, shape, ndim, &t));
    return t;
}

void read_f32(const rt_tensor *t, float *out, size_t n) {
    size_t numel = 0;
    CHECK_OK(rt_tensor_numel(t, &numel));
    if (numel != n) {
        fprintf(stderr, "  tensor has %zu elements, expected %zu\n", numel, n);
        harness_fail(__FILE__, __LINE__, "read_f32");
    }
    CHECK_OK(rt_tensor_copy_to(t, out, n * sizeof(float)));
}

void check_shape(const rt_tensor *t, const int64_t *expected, size_t ndim) {
    int64_t dims[RT_MAX_DIMS];
    size_t got = 0;
    CHECK_OK(rt_tensor_shape(t, dims, RT_MAX_DIMS, &got));
    CHECK(got == ndim);
    for (size_t i = 0; i < ndim; i++) {
        if (dims[i] != expected[i]) {
            fprintf(stderr, "  dim %zu is %lld, expected %lld\n", i, (long long)dims[i], (long long)expected[i]);
            harness_fail(__FILE__, __LINE__, "check_shape");
        }
    }
}

void check_all_near(const rt_tensor *t, const float *expected, size_t n, double tol) {
    float *got = malloc(n * sizeof(float) + 1);
    read_f32(t, got, n);
    for (size_t i = 0; i < n; i++) {
        if (!(fabs((double)got[i] - (double)expected[i]) <= tol)) {
            fprintf(stderr, "  element %zu is %.9g, expected %.9g (tolerance %g)\n", i, got[i], expected[i], tol);
            free(got);
            harness_fail(__FILE__, __LINE__, "check_all_near");
        }
    }
    free(got);
}

bool requires_grad(const rt_tensor *t) {
    bool r = false;
    CHECK_OK(rt_tensor_requires_grad(t, &r));
    return r;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n_tests; i++) printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s --list | TEST_NAME\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < n_tests; i++) {
        if (strcmp(argv[1], tests[i].name) == 0) {
            tests[i].fn();
            return 0;
        }
    }
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
}
