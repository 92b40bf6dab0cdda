/* The ABI conventions of API.md section 1: versions, status codes, the per-thread last error, NULL
 * and bad handles, out-parameters on failure, and hostile sizes that must fail without aborting. */
#include <pthread.h>

#include "harness.h"
#include "probes.h"

static rt_tensor *small_tensor(void) {
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t s[] = {2, 3};
    return tensor_f32(d, s, 2);
}

/* ---- versions and status codes ---- */

TEST(abi_version_is_1) {
    CHECK(RT_ABI_VERSION == 1);
    CHECK(rt_abi_version() == RT_ABI_VERSION);
}

TEST(version_string_is_a_nonempty_static_string) {
    const char *v = rt_version_string();
    CHECK(v != NULL);
    CHECK(strlen(v) > 0);
    CHECK(rt_version_string() == v);
}

TEST(status_codes_have_the_values_api_md_fixes) {
    CHECK(RT_OK == 0);
    CHECK(RT_ERR_NULL_ARGUMENT == 1);
    CHECK(RT_ERR_INVALID_ARGUMENT == 2);
    CHECK(RT_ERR_INVALID_HANDLE == 3);
    CHECK(RT_ERR_SHAPE == 4);
    CHECK(RT_ERR_DTYPE == 5);
    CHECK(RT_ERR_AUTOGRAD == 6);
    CHECK(RT_ERR_INFERENCE_MODE == 7);
    CHECK(RT_ERR_INVALID_STATE == 8);
    CHECK(RT_ERR_IO == 9);
    CHECK(RT_ERR_FORMAT == 10);
    CHECK(RT_ERR_OUT_OF_MEMORY == 11);
    CHECK(RT_ERR_UNSUPPORTED == 12);
    CHECK(RT_ERR_BUFFER_TOO_SMALL == 13);
    CHECK(RT_ERR_INTERNAL == 14);
    CHECK(RT_DTYPE_F32 == 0);
    CHECK(RT_DTYPE_I64 == 1);
    CHECK(sizeof(rt_status) == 4);
    CHECK(sizeof(rt_dtype) == 4);
}

static const char *const code_names[] = {
    "RT_OK", "RT_ERR_NULL_ARGUMENT", "RT_ERR_INVALID_ARGUMENT", "RT_ERR_INVALID_HANDLE",
    "RT_ERR_SHAPE", "RT_ERR_DTYPE", "RT_ERR_AUTOGRAD", "RT_ERR_INFERENCE_MODE",
    "RT_ERR_INVALID_STATE", "RT_ERR_IO", "RT_ERR_FORMAT", "RT_ERR_OUT_OF_MEMORY",
    "RT_ERR_UNSUPPORTED", "RT_ERR_BUFFER_TOO_SMALL", "RT_ERR_INTERNAL",
};

TEST(status_str_describes_every_code_by_name) {
    for (rt_status c = 0; c <= RT_ERR_INTERNAL; c++) {
        const char *s = rt_status_str(c);
        CHECK(s != NULL);
        if (strstr(s, code_names[c]) == NULL) {
            fprintf(stderr, "  rt_status_str(%u) = \"%s\" does not name %s\n", (unsigned)c, s, code_names[c]);
            CHECK(0);
        }
        /* "RT_ERR_IO" is a prefix of no other name, but "RT_OK" must not describe an error. */
        for (rt_status d = 0; d <= RT_ERR_INTERNAL; d++) {
            if (d != c) CHECK(strcmp(s, rt_status_str(d)) != 0);
        }
    }
}

TEST(status_str_of_unknown_codes_is_not_null) {
    rt_status unknown[] = {15, 100, 0x7fffffff, 0xffffffffu};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = rt_status_str(unknown[i]);
        CHECK(s != NULL);
        CHECK(strlen(s) > 0);
        for (rt_status c = 0; c <= RT_ERR_INTERNAL; c++) CHECK(strcmp(s, rt_status_str(c)) != 0);
    }
}

/* ---- the last error message ---- */

/* Fails a call so that the thread has a last error; returns its length. */
static size_t provoke_broadcast_error(void) {
    float d[6] = {0};
    int64_t s23[] = {2, 3}, s4[] = {4};
    rt_tensor *a = tensor_f32(d, s23, 2), *b = tensor_f32(d, s4, 1), *out = NULL;
    CHECK_STATUS(rt_tensor_add(a, b, &out), RT_ERR_SHAPE);
    CHECK_OK(rt_tensor_free(a));
    CHECK_OK(rt_tensor_free(b));
    return rt_last_error_message(NULL, 0);
}

TEST(last_error_is_empty_before_any_failure) {
    char buf[8];
    memset(buf, 'X', sizeof buf);
    CHECK(rt_last_error_message(buf, sizeof buf) == 0);
    CHECK(buf[0] == '\0');
    CHECK(rt_last_error_message(NULL, 0) == 0);
}

TEST(last_error_names_the_function_and_the_shapes) {
    provoke_broadcast_error();
    CHECK_ERROR_MENTIONS("rt_tensor_add");
    CHECK_ERROR_MENTIONS("[2, 3]");
    CHECK_ERROR_MENTIONS("[4]");
}

TEST(last_error_returns_its_full_length_like_snprintf) {
    size_t n = provoke_broadcast_error();
    CHECK(n > 20);
    char buf[1024];
    CHECK(n < sizeof buf);
    CHECK(rt_last_error_message(buf, sizeof buf) == n);
    CHECK(strlen(buf) == n);
    /* Exactly enough room: n characters and the NUL. */
    char *exact = malloc(n + 1);
    CHECK(rt_last_error_message(exact, n + 1) == n);
    CHECK(strcmp(exact, buf) == 0);
    free(exact);
}

TEST(last_error_truncates_and_terminates) {
    size_t n = provoke_broadcast_error();
    char full[1024];
    CHECK(rt_last_error_message(full, sizeof full) == n);
    char buf[16];
    memset(buf, 'X', sizeof buf);
    CHECK(rt_last_error_message(buf, 6) == n);
    CHECK(buf[5] == '\0');
    CHECK(strncmp(buf, full, 5) == 0);
    for (size_t i = 6; i < sizeof buf; i++) CHECK(buf[i] == 'X'); /* nothing written past cap */
    /* cap 1 holds only the NUL. */
    memset(buf, 'X', sizeof buf);
    CHECK(rt_last_error_message(buf, 1) == n);
    CHECK(buf[0] == '\0' && buf[1] == 'X');
    /* n bytes: one character short. */
    char *shorter = malloc(n);
    CHECK(rt_last_error_message(shorter, n) == n);
    CHECK(strlen(shorter) == n - 1);
    free(shorter);
}

TEST(last_error_with_cap_0_writes_nothing) {
    size_t n = provoke_broadcast_error();
    CHECK(rt_last_error_message(NULL, 0) == n);
    char buf[4] = {'X', 'X', 'X', 'X'};
    CHECK(rt_last_error_message(buf, 0) == n);
    CHECK(buf[0] == 'X');
}

TEST(successful_calls_leave_the_last_error_unchanged) {
    provoke_broadcast_error();
    char before[1024], after[1024];
    rt_last_error_message(before, sizeof before);
    rt_tensor *t = small_tensor(), *u = NULL;
    CHECK_OK(rt_tensor_add(t, t, &u));
    CHECK_OK(rt_tensor_free(u));
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_tensor_free(NULL));
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_grad_mode_exit());
    rt_last_error_message(after, sizeof after);
    CHECK(strcmp(before, after) == 0);
}

TEST(a_new_failure_replaces_the_last_error) {
    provoke_broadcast_error();
    CHECK_STATUS(rt_grad_mode_exit(), RT_ERR_INVALID_STATE);
    CHECK_ERROR_MENTIONS("rt_grad_mode_exit");
    CHECK(strstr(harness_last_error(), "rt_tensor_add") == NULL);
}

struct thread_errors {
    size_t initial_len;
    char own[512];
};

static void *fail_on_another_thread(void *arg) {
    struct thread_errors *e = arg;
    e->initial_len = rt_last_error_message(NULL, 0);
    rt_inference_mode_exit(); /* no frame on this thread: RT_ERR_INVALID_STATE */
    rt_last_error_message(e->own, sizeof e->own);
    return NULL;
}

TEST(last_error_is_per_thread) {
    provoke_broadcast_error();
    char mine[1024];
    rt_last_error_message(mine, sizeof mine);
    struct thread_errors e = {99, ""};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, fail_on_another_thread, &e) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(e.initial_len == 0);                             /* the thread did not see my error */
    CHECK(strstr(e.own, "rt_inference_mode_exit") != NULL); /* it had its own */
    char after[1024];
    rt_last_error_message(after, sizeof after);
    CHECK(strcmp(mine, after) == 0); /* and did not overwrite mine */
}

/* ---- NULL required pointers: one representative call per family, plus the message ---- */

TEST(null_out_pointers_are_refused) {
    rt_tensor *t = small_tensor();
    int64_t s[] = {2};
    CHECK_STATUS(rt_tensor_zeros(s, 1, RT_DTYPE_F32, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("rt_tensor_zeros");
    CHECK_ERROR_MENTIONS("out");
    CHECK_STATUS(rt_tensor_randn(s, 1, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_share(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_ndim(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_shape(t, NULL, 0, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_numel(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_dtype(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_is_inference(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_version(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_data_ptr(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_item(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_add(t, t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_relu(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_sum(t, NULL, 0, false, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_transpose(t, 0, 1, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_grad(t, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_linear(2, 3, true, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_relu(NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_memory_stats_get(NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_OK(rt_tensor_free(t));
}

TEST(null_tensor_arguments_are_refused) {
    rt_tensor *t = small_tensor(), *out = NULL;
    size_t n = 0;
    bool b = false;
    float buf[6];
    CHECK_STATUS(rt_tensor_ndim(NULL, &n), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_numel(NULL, &n), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_requires_grad(NULL, &b), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_set_requires_grad(NULL, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_copy_to(NULL, buf, sizeof buf), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_share(NULL, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_add(NULL, t, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("`a`");
    CHECK_STATUS(rt_tensor_mul(t, NULL, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("`b`");
    CHECK_STATUS(rt_tensor_exp(NULL, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_add_scalar(NULL, 1.0, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_matmul(NULL, t, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_linear(t, NULL, NULL, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_mean(NULL, NULL, 0, false, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_argmax(NULL, 0, false, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_clone(NULL, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_to(NULL, RT_DTYPE_I64, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_view(NULL, NULL, 0, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_select(NULL, 0, 0, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_backward(NULL, NULL, false), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_set_grad(NULL, t), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_retain_grad(NULL), RT_ERR_NULL_ARGUMENT);
    CHECK(out == NULL);
    CHECK_OK(rt_tensor_free(t));
}

TEST(null_arrays_with_a_length_are_refused) {
    rt_tensor *t = small_tensor(), *out = NULL;
    CHECK_STATUS(rt_tensor_zeros(NULL, 2, RT_DTYPE_F32, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("shape");
    CHECK_STATUS(rt_tensor_from_data(NULL, 8, RT_DTYPE_F32, (int64_t[]){2}, 1, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_blob(NULL, 8, RT_DTYPE_F32, (int64_t[]){2}, 1, NULL, NULL, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_view(t, NULL, 1, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_permute(t, NULL, 2, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_expand(t, NULL, 2, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_sum(t, NULL, 1, false, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_cat(NULL, 2, 0, &out), RT_ERR_NULL_ARGUMENT);
    const rt_tensor *with_hole[] = {t, NULL};
    CHECK_STATUS(rt_tensor_cat(with_hole, 2, 0, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("ts[1]");
    CHECK_STATUS(rt_tensor_copy_to(t, NULL, 6 * sizeof(float)), RT_ERR_NULL_ARGUMENT);
    CHECK(out == NULL);
    /* Length 0: NULL is fine (a 0-d tensor). */
    CHECK_OK(rt_tensor_zeros(NULL, 0, RT_DTYPE_F32, &out));
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_free(t));
}

static rt_status return_ok(void *ctx) {
    (void)ctx;
    return RT_OK;
}

TEST(null_module_and_mode_arguments_are_refused) {
    rt_module *m = NULL, *out = NULL;
    CHECK_OK(rt_module_linear(3, 2, true, &m));
    rt_tensor *x = small_tensor(), *y = NULL;
    bool b = false;
    size_t n = 0;
    char buf[32];
    CHECK_STATUS(rt_module_forward(NULL, x, &y), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_forward(m, NULL, &y), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("input");
    CHECK_STATUS(rt_module_forward(m, x, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_train(NULL, true), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_is_training(m, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_num_tensors(NULL, &n), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_tensor_name(m, 0, buf, sizeof buf, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_get_tensor(m, NULL, &y), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_zero_grad(NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_sequential(NULL, 2, &out), RT_ERR_NULL_ARGUMENT);
    rt_module *with_hole[] = {m, NULL};
    CHECK_STATUS(rt_module_sequential(with_hole, 2, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("children[1]");
    CHECK_STATUS(rt_with_inference_mode(NULL, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_OK(rt_with_inference_mode(return_ok, NULL)); /* a NULL ctx is passed through */
    CHECK(y == NULL && out == NULL && !b);
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(m));
}

/* ---- bad handles ---- */

TEST(freed_tensor_handle_is_invalid) {
    rt_tensor *t = small_tensor(), *out = NULL;
    CHECK_OK(rt_tensor_free(t));
    size_t n = 0;
    CHECK_STATUS(rt_tensor_numel(t, &n), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("freed");
    CHECK_STATUS(rt_tensor_add(t, t, &out), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_relu(t, &out), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_view(t, NULL, 0, &out), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_backward(t, NULL, false), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_set_requires_grad(t, true), RT_ERR_INVALID_HANDLE);
    CHECK(out == NULL && n == 0);
}

TEST(double_free_is_invalid_handle_not_a_crash) {
    rt_tensor *t = small_tensor();
    CHECK_OK(rt_tensor_free(t));
    CHECK_STATUS(rt_tensor_free(t), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("rt_tensor_free");
    rt_module *m = NULL;
    CHECK_OK(rt_module_relu(&m));
    CHECK_OK(rt_module_free(m));
    CHECK_STATUS(rt_module_free(m), RT_ERR_INVALID_HANDLE);
}

TEST(second_handle_outlives_the_first_free) {
    rt_tensor *t = small_tensor(), *u = NULL;
    CHECK_OK(rt_tensor_share(t, &u));
    CHECK(u != t);
    CHECK_OK(rt_tensor_free(t));
    CHECK(numel_of(u) == 6);
    CHECK_STATUS(rt_tensor_free(t), RT_ERR_INVALID_HANDLE);
    CHECK_OK(rt_tensor_free(u));
}

TEST(foreign_pointers_are_invalid_handles) {
    int local = 42;
    void *heap = malloc(64);
    memset(heap, 0, 64);
    rt_tensor *foreign[] = {(rt_tensor *)&local, (rt_tensor *)0x1000, (rt_tensor *)heap,
                            (rt_tensor *)(uintptr_t)0xdeadbeef0ull, (rt_tensor *)(uintptr_t)-8};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        size_t n = 7;
        rt_tensor *out = NULL;
        CHECK_STATUS(rt_tensor_numel(foreign[i], &n), RT_ERR_INVALID_HANDLE);
        CHECK_STATUS(rt_tensor_add(foreign[i], foreign[i], &out), RT_ERR_INVALID_HANDLE);
        CHECK_STATUS(rt_tensor_free(foreign[i]), RT_ERR_INVALID_HANDLE);
        CHECK_STATUS(rt_module_free((rt_module *)foreign[i]), RT_ERR_INVALID_HANDLE);
        CHECK(n == 7 && out == NULL);
    }
    CHECK(local == 42);
    for (int i = 0; i < 64; i++) CHECK(((unsigned char *)heap)[i] == 0);
    free(heap);
}

TEST(wrong_kind_handles_are_invalid) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(3, 2, true, &m));
    rt_tensor *t = small_tensor(), *out = NULL;
    size_t n = 0;
    CHECK_STATUS(rt_tensor_numel((rt_tensor *)m, &n), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("module");
    CHECK_STATUS(rt_tensor_add(t, (rt_tensor *)m, &out), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_free((rt_tensor *)m), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_forward((rt_module *)t, t, &out), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_forward(m, (rt_tensor *)m, &out), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_free((rt_module *)t), RT_ERR_INVALID_HANDLE);
    rt_module *kids[] = {(rt_module *)t};
    rt_module *seq = NULL;
    CHECK_STATUS(rt_module_sequential(kids, 1, &seq), RT_ERR_INVALID_HANDLE);
    CHECK(out == NULL && seq == NULL && n == 0);
    /* Both objects survived the misuse. */
    CHECK(numel_of(t) == 6);
    CHECK_OK(rt_module_forward(m, t, &out));
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_module_free(m));
}

TEST(free_of_null_is_ok) {
    CHECK_OK(rt_tensor_free(NULL));
    CHECK_OK(rt_module_free(NULL));
}

/* ---- out-parameters are untouched on failure ---- */

#define SENTINEL_T ((rt_tensor *)(uintptr_t)0x5e5e5e50)

TEST(out_tensor_untouched_on_failure) {
    rt_tensor *t = small_tensor(), *out = SENTINEL_T;
    int64_t bad[] = {5};
    CHECK_STATUS(rt_tensor_view(t, bad, 1, &out), RT_ERR_SHAPE);
    CHECK_STATUS(rt_tensor_matmul(t, t, &out), RT_ERR_SHAPE);
    CHECK_STATUS(rt_tensor_to(t, 9, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_select(t, 0, 2, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_zeros((int64_t[]){-1}, 1, RT_DTYPE_F32, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_T);
    CHECK_OK(rt_tensor_free(t));
}

TEST(out_scalars_untouched_on_failure) {
    rt_tensor *t = small_tensor(), *tt = NULL, *inf = NULL;
    double d = 12.5;
    CHECK_STATUS(rt_tensor_item(t, &d), RT_ERR_SHAPE);
    CHECK(d == 12.5);
    const void *p = (const void *)0x77;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    CHECK_STATUS(rt_tensor_data_ptr(tt, &p), RT_ERR_INVALID_ARGUMENT);
    CHECK(p == (const void *)0x77);
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_tensor_zeros((int64_t[]){2}, 1, RT_DTYPE_F32, &inf));
    CHECK_OK(rt_inference_mode_exit());
    uint64_t v = 1234;
    CHECK_STATUS(rt_tensor_version(inf, &v), RT_ERR_INFERENCE_MODE);
    CHECK(v == 1234);
    CHECK_OK(rt_tensor_free(t));
    size_t n = 99;
    bool b = true;
    rt_dtype dt = 77;
    CHECK_STATUS(rt_tensor_numel(t, &n), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_is_contiguous(t, &b), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_dtype(t, &dt), RT_ERR_INVALID_HANDLE);
    CHECK(n == 99 && b && dt == 77);
    CHECK_OK(rt_tensor_free(tt));
    CHECK_OK(rt_tensor_free(inf));
}

/* Only RT_ERR_BUFFER_TOO_SMALL may write the size out-parameter. */
TEST(size_out_parameters_untouched_on_other_failures) {
    rt_tensor *t = small_tensor();
    size_t nd = 99;
    int64_t dims[4] = {-7, -7, -7, -7};
    CHECK_STATUS(rt_tensor_shape(t, NULL, 4, &nd), RT_ERR_NULL_ARGUMENT);
    CHECK(nd == 99);
    CHECK_OK(rt_tensor_free(t));
    CHECK_STATUS(rt_tensor_shape(t, dims, 4, &nd), RT_ERR_INVALID_HANDLE);
    CHECK(nd == 99 && dims[0] == -7);

    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(3, 2, true, &m));
    size_t len = 99;
    char name[16];
    CHECK_STATUS(rt_module_tensor_name(m, 0, NULL, 16, &len), RT_ERR_NULL_ARGUMENT);
    CHECK(len == 99);
    CHECK_STATUS(rt_module_tensor_name(m, 5, name, sizeof name, &len), RT_ERR_INVALID_ARGUMENT);
    CHECK(len == 99);
    CHECK_OK(rt_module_free(m));
}

/* When several errors apply, NULL comes first (API.md section 1). */
TEST(null_is_reported_before_a_bad_handle) {
    rt_tensor *t = small_tensor();
    CHECK_OK(rt_tensor_free(t));
    size_t nd = 0;
    CHECK_STATUS(rt_tensor_copy_to(t, NULL, 8), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_shape(t, NULL, 2, &nd), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_add(t, NULL, &t), RT_ERR_NULL_ARGUMENT);
}

/* ---- dtypes and sizes ---- */

TEST(unknown_dtype_values_are_invalid_arguments) {
    int64_t s[] = {2};
    float d[2] = {1, 2};
    rt_tensor *out = NULL, *t = small_tensor();
    CHECK_STATUS(rt_tensor_zeros(s, 1, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("dtype");
    CHECK_STATUS(rt_tensor_ones(s, 1, 0xffffffffu, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_full(s, 1, 1.0, 7, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_data(d, sizeof d, 3, s, 1, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_blob(d, sizeof d, 100, s, 1, NULL, NULL, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_to(t, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK_OK(rt_tensor_free(t));
}

TEST(negative_dimensions_are_invalid_arguments) {
    rt_tensor *out = NULL;
    int64_t s[] = {2, -3};
    CHECK_STATUS(rt_tensor_zeros(s, 2, RT_DTYPE_F32, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("-3");
    CHECK_STATUS(rt_tensor_randn(s, 2, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_data(NULL, 0, RT_DTYPE_F32, s, 2, &out), RT_ERR_INVALID_ARGUMENT);
    int64_t min[] = {INT64_MIN};
    CHECK_STATUS(rt_tensor_ones(min, 1, RT_DTYPE_I64, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
}

TEST(too_many_dimensions_are_invalid_arguments) {
    int64_t s[RT_MAX_DIMS + 1];
    for (size_t i = 0; i <= RT_MAX_DIMS; i++) s[i] = 1;
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_zeros(s, RT_MAX_DIMS + 1, RT_DTYPE_F32, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_rand(s, RT_MAX_DIMS + 1, &out), RT_ERR_INVALID_ARGUMENT);
    /* A huge ndim is refused before the array is read. */
    CHECK_STATUS(rt_tensor_zeros(s, (size_t)1 << 40, RT_DTYPE_F32, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    /* Exactly RT_MAX_DIMS is allowed. */
    CHECK_OK(rt_tensor_zeros(s, RT_MAX_DIMS, RT_DTYPE_F32, &out));
    size_t nd = 0;
    CHECK_OK(rt_tensor_ndim(out, &nd));
    CHECK(nd == RT_MAX_DIMS);
    CHECK_OK(rt_tensor_free(out));
}

static bool oom_or_invalid(rt_status s) {
    return s == RT_ERR_OUT_OF_MEMORY || s == RT_ERR_INVALID_ARGUMENT;
}

TEST(overflowing_shapes_fail_without_aborting) {
    int64_t s[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    rt_tensor *out = NULL;
    CHECK(oom_or_invalid(rt_tensor_zeros(s, 2, RT_DTYPE_F32, &out)));
    CHECK(oom_or_invalid(rt_tensor_ones(s, 2, RT_DTYPE_I64, &out)));
    CHECK(oom_or_invalid(rt_tensor_full(s, 2, 3.0, RT_DTYPE_F32, &out)));
    CHECK(oom_or_invalid(rt_tensor_randn(s, 2, &out)));
    CHECK(oom_or_invalid(rt_tensor_rand(s, 2, &out)));
    CHECK(oom_or_invalid(rt_tensor_from_data(NULL, 0, RT_DTYPE_F32, s, 2, &out)));
    int64_t max[] = {INT64_MAX, 2};
    CHECK(oom_or_invalid(rt_tensor_zeros(max, 2, RT_DTYPE_F32, &out)));
    CHECK(oom_or_invalid(rt_module_linear((int64_t)1 << 40, (int64_t)1 << 40, true, (rt_module **)&out)));
    CHECK(out == NULL);
}

/* 2^45 F32 elements are 128 TiB: more than a 47-bit address space can hold, whatever the
 * overcommit policy, so these allocations must fail with RT_ERR_OUT_OF_MEMORY. */
TEST(unallocatable_shapes_are_out_of_memory) {
    int64_t s[] = {(int64_t)1 << 45};
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_zeros(s, 1, RT_DTYPE_F32, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_ERROR_MENTIONS("rt_tensor_zeros");
    CHECK_STATUS(rt_tensor_full(s, 1, 2.0, RT_DTYPE_I64, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_randn(s, 1, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_rand(s, 1, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_module_linear((int64_t)1 << 23, (int64_t)1 << 22, false, (rt_module **)&out), RT_ERR_OUT_OF_MEMORY);
    CHECK(out == NULL);
}

/* Ops whose output is too large to allocate fail the same way (expand itself allocates nothing). */
TEST(ops_with_unallocatable_outputs_are_out_of_memory) {
    float one = 1.0f;
    int64_t s11[] = {1, 1};
    rt_tensor *t = tensor_f32(&one, s11, 2), *big = NULL, *out = NULL;
    int64_t huge[] = {(int64_t)1 << 23, (int64_t)1 << 22};
    CHECK_OK(rt_tensor_expand(t, huge, 2, &big));
    CHECK_STATUS(rt_tensor_contiguous(big, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_add(big, t, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_exp(big, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_mul_scalar(big, 2.0, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_clone(big, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_to(big, RT_DTYPE_I64, &out), RT_ERR_OUT_OF_MEMORY);
    int64_t col[] = {(int64_t)1 << 23, 1}, row[] = {1, (int64_t)1 << 22};
    rt_tensor *a = NULL, *b = NULL;
    CHECK_OK(rt_tensor_expand(t, col, 2, &a));
    CHECK_OK(rt_tensor_expand(t, row, 2, &b));
    CHECK_STATUS(rt_tensor_matmul(a, b, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK(out == NULL);
    int64_t overflow[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(oom_or_invalid(rt_tensor_expand(t, overflow, 2, &out)));
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, big, a, b};
    for (size_t i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- handles across many allocations and threads ---- */

TEST(stale_handles_stay_invalid_after_many_allocations) {
    rt_tensor *old = small_tensor();
    CHECK_OK(rt_tensor_free(old));
    enum { N = 3000 };
    static rt_tensor *live[N];
    for (int i = 0; i < N; i++) {
        rt_tensor *t = small_tensor();
        CHECK_OK(rt_tensor_free(t));
        live[i] = small_tensor();
        CHECK(live[i] != old);
    }
    size_t n = 0;
    CHECK_STATUS(rt_tensor_numel(old, &n), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_tensor_free(old), RT_ERR_INVALID_HANDLE);
    for (int i = 0; i < N; i++) CHECK_OK(rt_tensor_free(live[i]));
}

struct handle_worker {
    const rt_tensor *shared;
    int failures;
};

static void *churn_handles(void *arg) {
    struct handle_worker *w = arg;
    for (int i = 0; i < 2000; i++) {
        int64_t s[] = {(int64_t)(i % 7) + 1};
        rt_tensor *mine = NULL, *copy = NULL;
        size_t n = 0;
        if (rt_tensor_zeros(s, 1, RT_DTYPE_F32, &mine) != RT_OK) w->failures++;
        if (rt_tensor_share(w->shared, &copy) != RT_OK) w->failures++;
        if (rt_tensor_numel(mine, &n) != RT_OK || n != (size_t)(i % 7) + 1) w->failures++;
        if (rt_tensor_numel(copy, &n) != RT_OK || n != 6) w->failures++;
        if (rt_tensor_free(mine) != RT_OK || rt_tensor_free(copy) != RT_OK) w->failures++;
        if (rt_tensor_free(mine) != RT_ERR_INVALID_HANDLE) w->failures++;
    }
    return NULL;
}

TEST(handles_can_be_made_used_and_freed_on_several_threads) {
    rt_tensor *shared = small_tensor();
    struct handle_worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct handle_worker){shared, 0};
        CHECK(pthread_create(&th[i], NULL, churn_handles, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECK(w[i].failures == 0);
    }
    CHECK(numel_of(shared) == 6);
    CHECK_OK(rt_tensor_free(shared));
}

/* Making a handle once needed a 160 KiB stack frame (a chunk of the handle table built on the
 * stack, probed page by page on every call), so any call returning a handle crashed on a thread
 * with a smaller stack. 128 KiB is what musl gives a new thread. */
static void *use_handles(void *arg) {
    int *failures = arg;
    float d[] = {1, 2, 3, 4};
    int64_t s[] = {4};
    for (int i = 0; i < 100; i++) {
        rt_tensor *a = NULL, *b = NULL;
        size_t n = 0;
        if (rt_tensor_from_data(d, sizeof d, RT_DTYPE_F32, s, 1, &a) != RT_OK) (*failures)++;
        if (rt_tensor_add(a, a, &b) != RT_OK || rt_tensor_numel(b, &n) != RT_OK || n != 4) (*failures)++;
        if (rt_tensor_free(a) != RT_OK || rt_tensor_free(b) != RT_OK) (*failures)++;
    }
    return NULL;
}

TEST(handles_work_on_a_thread_with_a_small_stack) {
    pthread_attr_t attr;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, 128 * 1024) == 0);
    pthread_t th;
    int failures = 0;
    CHECK(pthread_create(&th, &attr, use_handles, &failures) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(failures == 0);
    CHECK(pthread_attr_destroy(&attr) == 0);
}

static void *free_it(void *arg) {
    return (void *)(uintptr_t)rt_tensor_free(arg);
}

TEST(a_handle_made_on_one_thread_can_be_freed_on_another) {
    rt_tensor *t = small_tensor();
    pthread_t th;
    void *status = (void *)(uintptr_t)99;
    CHECK(pthread_create(&th, NULL, free_it, t) == 0);
    CHECK(pthread_join(th, &status) == 0);
    CHECK((rt_status)(uintptr_t)status == RT_OK);
    size_t n = 0;
    CHECK_STATUS(rt_tensor_numel(t, &n), RT_ERR_INVALID_HANDLE);
}
