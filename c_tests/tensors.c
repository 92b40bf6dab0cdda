/* Tensor factories, lifecycle, inspection and the copying ops (API.md section 3): values, kinds
 * (rule I1), the requires_grad rules, versions, data access, dtype conversion and cat. */
#include "harness.h"
#include "probes.h"

static void check_f32_values(const rt_tensor *t, const float *expected, size_t n) {
    check_all_near(t, expected, n, 0);
}

static void check_i64_values(const rt_tensor *t, const int64_t *expected, size_t n) {
    int64_t got[64];
    CHECK(n <= 64);
    CHECK_OK(rt_tensor_copy_to(t, got, n * sizeof(int64_t)));
    for (size_t i = 0; i < n; i++) {
        if (got[i] != expected[i]) {
            fprintf(stderr, "  element %zu is %lld, expected %lld\n", i, (long long)got[i], (long long)expected[i]);
            harness_fail(__FILE__, __LINE__, "check_i64_values");
        }
    }
}

static rt_dtype dtype_of(const rt_tensor *t) {
    rt_dtype d = 99;
    CHECK_OK(rt_tensor_dtype(t, &d));
    return d;
}

static rt_tensor *inference_tensor(void) {
    float d[] = {1, 2, 3, 4};
    int64_t s[] = {4};
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *t = tensor_f32(d, s, 1);
    CHECK_OK(rt_inference_mode_exit());
    return t;
}

/* A fresh normal leaf: contiguous, no grad, version 0, not a view. */
static void check_fresh_normal(const rt_tensor *t) {
    CHECK(!is_inference(t));
    CHECK(is_leaf(t));
    CHECK(!has_grad_fn(t));
    CHECK(!requires_grad(t));
    CHECK(!is_view(t));
    CHECK(is_contiguous(t));
    CHECK(version_of(t) == 0);
}

/* ---- factories ---- */

TEST(zeros_ones_full_have_their_values_shapes_and_dtypes) {
    int64_t s[] = {2, 3};
    rt_tensor *z = NULL, *o = NULL, *f = NULL, *zi = NULL, *fi = NULL;
    CHECK_OK(rt_tensor_zeros(s, 2, RT_DTYPE_F32, &z));
    CHECK_OK(rt_tensor_ones(s, 2, RT_DTYPE_F32, &o));
    CHECK_OK(rt_tensor_full(s, 2, -2.5, RT_DTYPE_F32, &f));
    CHECK_OK(rt_tensor_zeros(s, 2, RT_DTYPE_I64, &zi));
    CHECK_OK(rt_tensor_full(s, 2, -7, RT_DTYPE_I64, &fi));
    rt_tensor *all[] = {z, o, f, zi, fi};
    for (size_t i = 0; i < 5; i++) {
        check_shape(all[i], s, 2);
        CHECK(numel_of(all[i]) == 6);
        check_fresh_normal(all[i]);
    }
    CHECK(dtype_of(z) == RT_DTYPE_F32 && dtype_of(zi) == RT_DTYPE_I64 && dtype_of(fi) == RT_DTYPE_I64);
    check_f32_values(z, (float[]){0, 0, 0, 0, 0, 0}, 6);
    check_f32_values(o, (float[]){1, 1, 1, 1, 1, 1}, 6);
    check_f32_values(f, (float[]){-2.5f, -2.5f, -2.5f, -2.5f, -2.5f, -2.5f}, 6);
    check_i64_values(zi, (int64_t[]){0, 0, 0, 0, 0, 0}, 6);
    check_i64_values(fi, (int64_t[]){-7, -7, -7, -7, -7, -7}, 6);
    for (size_t i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(all[i]));
}

TEST(full_i64_refuses_values_it_cannot_hold) {
    int64_t s[] = {2};
    rt_tensor *t = NULL;
    CHECK_STATUS(rt_tensor_full(s, 1, NAN, RT_DTYPE_I64, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_full(s, 1, INFINITY, RT_DTYPE_I64, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_full(s, 1, 1e30, RT_DTYPE_I64, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK_OK(rt_tensor_full(s, 1, 1e30, RT_DTYPE_F32, &t)); /* F32 holds it */
    CHECK_OK(rt_tensor_free(t));
}

TEST(zero_dim_and_empty_tensors) {
    rt_tensor *s0 = NULL, *e = NULL;
    CHECK_OK(rt_tensor_full(NULL, 0, 4.5, RT_DTYPE_F32, &s0));
    size_t nd = 9;
    CHECK_OK(rt_tensor_ndim(s0, &nd));
    CHECK(nd == 0);
    CHECK(numel_of(s0) == 1);
    CHECK(item_of(s0) == 4.5);
    int64_t es[] = {0, 3};
    CHECK_OK(rt_tensor_zeros(es, 2, RT_DTYPE_F32, &e));
    CHECK(numel_of(e) == 0);
    check_shape(e, es, 2);
    CHECK_OK(rt_tensor_copy_to(e, NULL, 0));
    double d = 3;
    CHECK_STATUS(rt_tensor_item(e, &d), RT_ERR_SHAPE);
    CHECK_OK(rt_tensor_free(s0));
    CHECK_OK(rt_tensor_free(e));
}

static void sample(rt_status (*f)(const int64_t *, size_t, rt_tensor **), float *out, size_t n) {
    int64_t s[] = {(int64_t)n};
    rt_tensor *t = NULL;
    CHECK_OK(f(s, 1, &t));
    CHECK(dtype_of(t) == RT_DTYPE_F32);
    check_fresh_normal(t);
    read_f32(t, out, n);
    CHECK_OK(rt_tensor_free(t));
}

TEST(manual_seed_makes_randn_and_rand_reproducible) {
    float a[64], b[64], c[64], r1[64], r2[64];
    rt_manual_seed(42);
    sample(rt_tensor_randn, a, 64);
    sample(rt_tensor_rand, r1, 64);
    rt_manual_seed(42);
    sample(rt_tensor_randn, b, 64);
    sample(rt_tensor_rand, r2, 64);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(r1, r2, sizeof r1) == 0);
    rt_manual_seed(43);
    sample(rt_tensor_randn, c, 64);
    CHECK(memcmp(a, c, sizeof a) != 0);
    /* The generator advances: a second draw after the same seed differs from the first. */
    rt_manual_seed(42);
    sample(rt_tensor_randn, b, 64);
    sample(rt_tensor_randn, c, 64);
    CHECK(memcmp(b, c, sizeof b) != 0);
}

TEST(randn_is_standard_normal) {
    enum { N = 20000 };
    static float v[N];
    rt_manual_seed(7);
    sample(rt_tensor_randn, v, N);
    double sum = 0, sq = 0;
    int beyond3 = 0;
    for (int i = 0; i < N; i++) {
        sum += v[i];
        sq += (double)v[i] * v[i];
        if (fabs(v[i]) > 3) beyond3++;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    CHECK_NEAR(mean, 0, 0.05);
    CHECK_NEAR(var, 1, 0.05);
    CHECK(beyond3 > 20 && beyond3 < 110); /* 0.27% of 20000 = 54 */
}

TEST(rand_is_uniform_in_0_1) {
    enum { N = 20000 };
    static float v[N];
    rt_manual_seed(8);
    sample(rt_tensor_rand, v, N);
    double sum = 0;
    int low = 0;
    for (int i = 0; i < N; i++) {
        CHECK(v[i] >= 0 && v[i] < 1);
        sum += v[i];
        if (v[i] < 0.25) low++;
    }
    CHECK_NEAR(sum / N, 0.5, 0.02);
    CHECK_NEAR((double)low / N, 0.25, 0.02);
}

TEST(from_data_copies_its_input) {
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t s[] = {3, 2};
    rt_tensor *t = tensor_f32(d, s, 2);
    d[0] = 100;
    check_f32_values(t, (float[]){1, 2, 3, 4, 5, 6}, 6);
    check_fresh_normal(t);
    const void *p = NULL;
    CHECK_OK(rt_tensor_data_ptr(t, &p));
    CHECK(p != (const void *)d);
    int64_t di[] = {INT64_MIN, -1, 0, INT64_MAX};
    int64_t s4[] = {4};
    rt_tensor *ti = tensor_i64(di, s4, 1);
    check_i64_values(ti, di, 4);
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_tensor_free(ti));
}

TEST(from_data_refuses_a_wrong_byte_count) {
    float d[6] = {0};
    int64_t s[] = {2, 3};
    rt_tensor *t = (rt_tensor *)0x10;
    CHECK_STATUS(rt_tensor_from_data(d, 5 * sizeof(float), RT_DTYPE_F32, s, 2, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("nbytes");
    CHECK_STATUS(rt_tensor_from_data(d, 7 * sizeof(float), RT_DTYPE_F32, s, 2, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_data(d, 6 * sizeof(float), RT_DTYPE_I64, s, 2, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK(t == (rt_tensor *)0x10);
}

/* ---- from_blob and its deleter ---- */

struct blob {
    float data[6];
    int deleted;
    void *deleted_data;
};

static void count_delete(void *data, void *ctx) {
    struct blob *b = ctx;
    b->deleted++;
    b->deleted_data = data;
}

static rt_tensor *wrap(struct blob *b) {
    int64_t s[] = {2, 3};
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_from_blob(b->data, sizeof b->data, RT_DTYPE_F32, s, 2, count_delete, b, &t));
    return t;
}

TEST(from_blob_aliases_caller_memory) {
    struct blob b = {{1, 2, 3, 4, 5, 6}, 0, NULL};
    rt_tensor *t = wrap(&b);
    const void *p = NULL;
    CHECK_OK(rt_tensor_data_ptr(t, &p));
    CHECK(p == (const void *)b.data);
    b.data[4] = -9;
    check_f32_values(t, (float[]){1, 2, 3, 4, -9, 6}, 6);
    check_fresh_normal(t);
    CHECK_OK(rt_tensor_free(t));
    CHECK(b.deleted == 1);
    CHECK(b.deleted_data == (void *)b.data);
}

TEST(from_blob_deleter_runs_once_after_the_last_handle_and_view) {
    struct blob b = {{1, 2, 3, 4, 5, 6}, 0, NULL};
    rt_tensor *t = wrap(&b), *shared = NULL, *view = NULL, *sum = NULL;
    CHECK_OK(rt_tensor_share(t, &shared));
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &view));
    CHECK_OK(rt_tensor_add(t, t, &sum)); /* a fresh tensor: does not keep the blob */
    CHECK_OK(rt_tensor_free(t));
    CHECK(b.deleted == 0);
    CHECK_OK(rt_tensor_free(shared));
    CHECK(b.deleted == 0);
    check_f32_values(view, (float[]){1, 4, 2, 5, 3, 6}, 6);
    CHECK_OK(rt_tensor_free(view));
    CHECK(b.deleted == 1); /* before rt_tensor_free returned */
    CHECK_OK(rt_tensor_free(sum));
    CHECK(b.deleted == 1);
}

TEST(from_blob_saved_for_backward_lives_until_the_graph_goes) {
    struct blob b = {{1, 2, 3, 4, 5, 6}, 0, NULL};
    rt_tensor *x = wrap(&b), *w = NULL, *y = NULL;
    int64_t s[] = {2, 3};
    CHECK_OK(rt_tensor_ones(s, 2, RT_DTYPE_F32, &w));
    CHECK_OK(rt_tensor_set_requires_grad(w, true));
    CHECK_OK(rt_tensor_mul(x, w, &y)); /* saves x for w's gradient */
    CHECK_OK(rt_tensor_free(x));
    CHECK(b.deleted == 0);
    rt_tensor *g = NULL;
    CHECK_OK(rt_tensor_ones(s, 2, RT_DTYPE_F32, &g));
    CHECK_OK(rt_tensor_backward(y, g, false));
    check_grad(w, b.data, 6, 0); /* read through the saved alias of the blob */
    CHECK_OK(rt_tensor_free(y));
    CHECK(b.deleted == 1);
    CHECK_OK(rt_tensor_free(g));
    CHECK_OK(rt_tensor_free(w));
}

TEST(from_blob_deleter_does_not_run_when_the_call_fails) {
    struct blob b = {{0}, 0, NULL};
    int64_t s[] = {2, 3}, neg[] = {-2, 3};
    rt_tensor *t = NULL;
    CHECK_STATUS(rt_tensor_from_blob(b.data, 5 * sizeof(float), RT_DTYPE_F32, s, 2, count_delete, &b, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_blob(b.data, sizeof b.data, 7, s, 2, count_delete, &b, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_blob(b.data, sizeof b.data, RT_DTYPE_F32, neg, 2, count_delete, &b, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_blob(b.data, sizeof b.data, RT_DTYPE_F32, s, 2, count_delete, &b, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_tensor_from_blob(b.data, sizeof b.data, RT_DTYPE_F32, NULL, 2, count_delete, &b, &t), RT_ERR_NULL_ARGUMENT);
    CHECK(t == NULL);
    CHECK(b.deleted == 0);
}

TEST(from_blob_refuses_misaligned_data) {
    static int64_t storage[8];
    struct blob b = {{0}, 0, NULL};
    char *base = (char *)storage;
    int64_t s[] = {3};
    rt_tensor *t = NULL;
    CHECK_STATUS(rt_tensor_from_blob(base + 1, 3 * sizeof(float), RT_DTYPE_F32, s, 1, count_delete, &b, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("aligned");
    CHECK_STATUS(rt_tensor_from_blob(base + 4, 3 * sizeof(int64_t), RT_DTYPE_I64, s, 1, count_delete, &b, &t), RT_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL && b.deleted == 0);
    /* 4-byte alignment is enough for F32. */
    CHECK_OK(rt_tensor_from_blob(base + 4, 3 * sizeof(float), RT_DTYPE_F32, s, 1, count_delete, &b, &t));
    CHECK_OK(rt_tensor_free(t));
    CHECK(b.deleted == 1);
}

TEST(from_blob_without_deleter_leaves_memory_to_the_caller) {
    int64_t data[] = {5, 6, 7};
    int64_t s[] = {3};
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_from_blob(data, sizeof data, RT_DTYPE_I64, s, 1, NULL, NULL, &t));
    CHECK(dtype_of(t) == RT_DTYPE_I64);
    data[1] = 60;
    check_i64_values(t, (int64_t[]){5, 60, 7}, 3);
    CHECK_OK(rt_tensor_free(t));
    CHECK(data[2] == 7);
}

/* Library storage is counted in the memory statistics; blob memory is the caller's. */
TEST(memory_stats_count_library_storage_but_not_blobs) {
    rt_memory_stats before, mid, after;
    CHECK_OK(rt_memory_stats_get(&before));
    int64_t s[] = {1000};
    rt_tensor *t = NULL, *b = NULL;
    CHECK_OK(rt_tensor_zeros(s, 1, RT_DTYPE_F32, &t));
    static float blob[1000];
    CHECK_OK(rt_tensor_from_blob(blob, sizeof blob, RT_DTYPE_F32, s, 1, NULL, NULL, &b));
    CHECK_OK(rt_memory_stats_get(&mid));
    CHECK(mid.live_bytes == before.live_bytes + 4000);
    CHECK(mid.alloc_count == before.alloc_count + 1);
    CHECK(mid.peak_bytes >= mid.live_bytes);
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_tensor_free(b));
    CHECK_OK(rt_memory_stats_get(&after));
    CHECK(after.live_bytes == before.live_bytes);
    CHECK(after.peak_bytes >= before.live_bytes + 4000);
    rt_memory_reset_peak();
    CHECK_OK(rt_memory_stats_get(&after));
    CHECK(after.peak_bytes == after.live_bytes);
    for (int i = 0; i < 5; i++) CHECK(after.reserved[i] == 0);
}

/* ---- handles ---- */

TEST(share_gives_a_second_handle_to_the_same_tensor) {
    float d[] = {1, 2};
    int64_t s[] = {2};
    rt_tensor *t = tensor_f32(d, s, 1), *u = NULL;
    CHECK_OK(rt_tensor_share(t, &u));
    CHECK(u != t);
    CHECK_OK(rt_tensor_set_requires_grad(u, true));
    CHECK(requires_grad(t)); /* same tensor, not a copy */
    const void *pt = NULL, *pu = NULL;
    CHECK_OK(rt_tensor_data_ptr(t, &pt));
    CHECK_OK(rt_tensor_data_ptr(u, &pu));
    CHECK(pt == pu);
    CHECK_OK(rt_tensor_free(t));
    CHECK(numel_of(u) == 2);
    CHECK_OK(rt_tensor_free(u));
}

/* ---- inspection ---- */

TEST(shape_reports_the_count_when_the_buffer_is_too_small) {
    int64_t s[] = {2, 3, 4};
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_zeros(s, 3, RT_DTYPE_F32, &t));
    size_t nd = 0;
    int64_t dims[3] = {-1, -1, -1};
    CHECK_STATUS(rt_tensor_shape(t, dims, 2, &nd), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(nd == 3);
    CHECK(dims[0] == -1 && dims[1] == -1); /* the buffer is untouched */
    nd = 0;
    CHECK_STATUS(rt_tensor_shape(t, NULL, 0, &nd), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(nd == 3);
    CHECK_OK(rt_tensor_shape(t, dims, 3, &nd));
    CHECK(nd == 3 && dims[0] == 2 && dims[1] == 3 && dims[2] == 4);
    CHECK_OK(rt_tensor_ndim(t, &nd));
    CHECK(nd == 3);
    CHECK(numel_of(t) == 24);
    /* A 0-d tensor's shape fits in no buffer at all. */
    rt_tensor *z = NULL;
    CHECK_OK(rt_tensor_zeros(NULL, 0, RT_DTYPE_F32, &z));
    nd = 7;
    CHECK_OK(rt_tensor_shape(z, NULL, 0, &nd));
    CHECK(nd == 0);
    CHECK_OK(rt_tensor_free(z));
    CHECK_OK(rt_tensor_free(t));
}

TEST(is_contiguous_follows_the_layout) {
    int64_t s[] = {2, 3};
    rt_tensor *t = NULL, *tt = NULL, *row = NULL, *col = NULL;
    CHECK_OK(rt_tensor_zeros(s, 2, RT_DTYPE_F32, &t));
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    CHECK_OK(rt_tensor_select(t, 0, 1, &row));
    CHECK_OK(rt_tensor_select(t, 1, 1, &col));
    CHECK(is_contiguous(t));
    CHECK(!is_contiguous(tt));
    CHECK(is_contiguous(row));
    CHECK(!is_contiguous(col));
    rt_tensor *ts[] = {t, tt, row, col};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(set_requires_grad_on_a_leaf) {
    float d[] = {1, 2};
    int64_t s[] = {2};
    rt_tensor *t = tensor_f32(d, s, 1);
    CHECK(!requires_grad(t));
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    CHECK(requires_grad(t));
    CHECK(is_leaf(t));
    CHECK_OK(rt_tensor_set_requires_grad(t, false));
    CHECK(!requires_grad(t));
    CHECK_OK(rt_tensor_free(t));
}

TEST(set_requires_grad_on_i64_is_a_dtype_error) {
    int64_t d[] = {1, 2};
    int64_t s[] = {2};
    rt_tensor *t = tensor_i64(d, s, 1);
    CHECK_STATUS(rt_tensor_set_requires_grad(t, true), RT_ERR_DTYPE);
    CHECK_ERROR_MENTIONS("I64");
    CHECK(!requires_grad(t));
    CHECK_OK(rt_tensor_set_requires_grad(t, false));
    CHECK_OK(rt_tensor_free(t));
}

TEST(set_requires_grad_on_a_non_leaf_is_an_autograd_error) {
    float d[] = {1, 2};
    int64_t s[] = {2};
    rt_tensor *x = leaf_f32(d, s, 1), *y = NULL;
    CHECK_OK(rt_tensor_mul_scalar(x, 3, &y));
    CHECK_STATUS(rt_tensor_set_requires_grad(y, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("leaf");
    CHECK(requires_grad(y));
    CHECK_STATUS(rt_tensor_set_requires_grad(y, true), RT_ERR_AUTOGRAD);
    CHECK(has_grad_fn(y));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
}

TEST(set_requires_grad_on_an_inference_tensor_outside_the_mode_is_refused) {
    rt_tensor *t = inference_tensor();
    CHECK_STATUS(rt_tensor_set_requires_grad(t, true), RT_ERR_INFERENCE_MODE);
    CHECK_ERROR_MENTIONS("I5");
    CHECK(!requires_grad(t));
    CHECK_OK(rt_tensor_set_requires_grad(t, false)); /* false is allowed */
    /* Under no_grad it is still outside inference mode. */
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_STATUS(rt_tensor_set_requires_grad(t, true), RT_ERR_INFERENCE_MODE);
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_tensor_free(t));
}

TEST(set_requires_grad_on_an_inference_tensor_inside_the_mode_is_allowed) {
    rt_tensor *t = inference_tensor();
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    CHECK(requires_grad(t));
    CHECK_OK(rt_inference_mode_exit());
    CHECK(requires_grad(t));
    CHECK(is_inference(t) && is_leaf(t));
    CHECK_OK(rt_tensor_set_requires_grad(t, false));
    CHECK_OK(rt_tensor_free(t));
}

/* Rule I1: every newly allocated tensor made in inference mode is an inference tensor. */
TEST(everything_allocated_in_inference_mode_is_an_inference_tensor) {
    float d[] = {1, 2, 3, 4};
    int64_t s[] = {4}, s22[] = {2, 2};
    static float blob[4];
    rt_tensor *normal = tensor_f32(d, s, 1);
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *made[10] = {NULL};
    CHECK_OK(rt_tensor_zeros(s, 1, RT_DTYPE_F32, &made[0]));
    CHECK_OK(rt_tensor_randn(s, 1, &made[1]));
    CHECK_OK(rt_tensor_from_data(d, sizeof d, RT_DTYPE_F32, s, 1, &made[2]));
    CHECK_OK(rt_tensor_from_blob(blob, sizeof blob, RT_DTYPE_F32, s, 1, NULL, NULL, &made[3]));
    CHECK_OK(rt_tensor_clone(normal, &made[4]));
    CHECK_OK(rt_tensor_exp(normal, &made[5]));
    CHECK_OK(rt_tensor_to(normal, RT_DTYPE_I64, &made[6]));
    const rt_tensor *parts[] = {normal, normal};
    CHECK_OK(rt_tensor_cat(parts, 2, 0, &made[7]));
    CHECK_OK(rt_tensor_sum(normal, NULL, 0, false, &made[8]));
    CHECK_OK(rt_tensor_reshape(normal, s22, 2, &made[9])); /* aliases a normal tensor: stays normal (I2) */
    CHECK_OK(rt_inference_mode_exit());
    for (int i = 0; i < 9; i++) {
        if (!is_inference(made[i])) {
            fprintf(stderr, "  tensor %d is not an inference tensor\n", i);
            CHECK(0);
        }
        uint64_t v = 0;
        CHECK_STATUS(rt_tensor_version(made[i], &v), RT_ERR_INFERENCE_MODE); /* rule I3 */
        CHECK(is_leaf(made[i]));
    }
    CHECK(!is_inference(made[9]));
    CHECK(!is_inference(normal));
    for (int i = 0; i < 10; i++) CHECK_OK(rt_tensor_free(made[i]));
    CHECK_OK(rt_tensor_free(normal));
}

TEST(clone_of_an_inference_tensor_outside_the_mode_is_normal) {
    rt_tensor *t = inference_tensor(), *c = NULL, *e = NULL;
    CHECK_OK(rt_tensor_clone(t, &c));
    check_fresh_normal(c);
    check_f32_values(c, (float[]){1, 2, 3, 4}, 4);
    CHECK_OK(rt_tensor_set_requires_grad(c, true)); /* the documented way out of rule I5 */
    CHECK_OK(rt_tensor_exp(t, &e)); /* op outputs outside the mode are normal too */
    CHECK(!is_inference(e));
    CHECK_OK(rt_tensor_free(e));
    CHECK_OK(rt_tensor_free(c));
    CHECK_OK(rt_tensor_free(t));
}

TEST(leaf_and_grad_fn_are_complementary) {
    float d[] = {1, 2};
    int64_t s[] = {2};
    rt_tensor *x = leaf_f32(d, s, 1), *c = tensor_f32(d, s, 1), *y = NULL, *z = NULL;
    CHECK_OK(rt_tensor_add(x, c, &y));
    CHECK_OK(rt_tensor_add(c, c, &z));
    CHECK(is_leaf(x) && !has_grad_fn(x));
    CHECK(!is_leaf(y) && has_grad_fn(y));
    CHECK(is_leaf(z) && !has_grad_fn(z) && !requires_grad(z));
    rt_tensor *ts[] = {x, c, y, z};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(is_view_is_true_only_for_views) {
    float d[] = {1, 2, 3, 4};
    int64_t s[] = {2, 2};
    rt_tensor *t = tensor_f32(d, s, 2), *v = NULL, *det = NULL, *cl = NULL, *ct = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &v));
    CHECK_OK(rt_tensor_detach(t, &det));
    CHECK_OK(rt_tensor_clone(t, &cl));
    CHECK_OK(rt_tensor_contiguous(v, &ct));
    CHECK(!is_view(t));
    CHECK(is_view(v));
    CHECK(!is_view(det)); /* detach aliases without being a view, as in PyTorch */
    CHECK(!is_view(cl));
    CHECK(!is_view(ct));
    rt_tensor *ts[] = {t, v, det, cl, ct};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(version_is_zero_for_new_normal_tensors_and_absent_for_inference_tensors) {
    float d[] = {1, 2};
    int64_t s[] = {2};
    rt_tensor *t = tensor_f32(d, s, 1), *y = NULL;
    CHECK(version_of(t) == 0);
    CHECK_OK(rt_tensor_exp(t, &y));
    CHECK(version_of(y) == 0);
    rt_tensor *inf = inference_tensor();
    uint64_t v = 5;
    CHECK_STATUS(rt_tensor_version(inf, &v), RT_ERR_INFERENCE_MODE);
    CHECK_ERROR_MENTIONS("I3");
    CHECK(v == 5);
    /* Also asked inside inference mode. */
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_STATUS(rt_tensor_version(inf, &v), RT_ERR_INFERENCE_MODE);
    CHECK(version_of(t) == 0);
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_tensor_free(inf));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(t));
}

/* ---- data access ---- */

TEST(copy_to_writes_row_major_and_checks_the_size) {
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t s[] = {2, 3};
    rt_tensor *t = tensor_f32(d, s, 2), *tt = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    float out[8];
    for (int i = 0; i < 8; i++) out[i] = -1;
    CHECK_OK(rt_tensor_copy_to(tt, out, 6 * sizeof(float)));
    float expected[] = {1, 4, 2, 5, 3, 6};
    CHECK(memcmp(out, expected, sizeof expected) == 0);
    CHECK(out[6] == -1);
    for (int i = 0; i < 8; i++) out[i] = -1;
    CHECK_STATUS(rt_tensor_copy_to(t, out, 5 * sizeof(float)), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("nbytes");
    CHECK_STATUS(rt_tensor_copy_to(t, out, 8 * sizeof(float)), RT_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 8; i++) CHECK(out[i] == -1); /* nothing written on failure */
    CHECK_OK(rt_tensor_free(tt));
    CHECK_OK(rt_tensor_free(t));
}

TEST(data_ptr_points_at_the_first_element_of_contiguous_tensors) {
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t s[] = {2, 3};
    rt_tensor *t = tensor_f32(d, s, 2), *row = NULL, *tt = NULL;
    const float *p = NULL, *pr = NULL;
    CHECK_OK(rt_tensor_data_ptr(t, (const void **)&p));
    CHECK(p[0] == 1 && p[5] == 6);
    CHECK_OK(rt_tensor_select(t, 0, 1, &row));
    CHECK_OK(rt_tensor_data_ptr(row, (const void **)&pr));
    CHECK(pr == p + 3); /* the view's offset is applied */
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    const void *pt = (const void *)0x1;
    CHECK_STATUS(rt_tensor_data_ptr(tt, &pt), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("contiguous");
    CHECK(pt == (const void *)0x1);
    CHECK_OK(rt_tensor_free(tt));
    CHECK_OK(rt_tensor_free(row));
    CHECK_OK(rt_tensor_free(t));
}

TEST(item_reads_the_single_element) {
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t s[] = {2, 3}, s11[] = {1, 1};
    rt_tensor *t = tensor_f32(d, s, 2), *one = NULL, *sel = NULL, *sel2 = NULL;
    double v = 0;
    CHECK_STATUS(rt_tensor_item(t, &v), RT_ERR_SHAPE);
    CHECK(v == 0);
    CHECK_OK(rt_tensor_full(s11, 2, 0.25, RT_DTYPE_F32, &one));
    CHECK(item_of(one) == 0.25);
    CHECK_OK(rt_tensor_select(t, 1, 2, &sel));   /* [3, 6] */
    CHECK_OK(rt_tensor_select(sel, 0, 1, &sel2)); /* 6, at offset 5 */
    CHECK(item_of(sel2) == 6);
    int64_t big[] = {(int64_t)1 << 52};
    int64_t s1[] = {1};
    rt_tensor *ti = tensor_i64(big, s1, 1);
    CHECK(item_of(ti) == (double)((int64_t)1 << 52));
    rt_tensor *ts[] = {t, one, sel, sel2, ti};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- dtype conversion ---- */

TEST(to_i64_truncates_toward_zero) {
    float d[] = {2.7f, -2.7f, -0.5f, 0.5f, 3.0f, -1e6f};
    int64_t s[] = {2, 3};
    rt_tensor *t = tensor_f32(d, s, 2), *i = NULL;
    CHECK_OK(rt_tensor_to(t, RT_DTYPE_I64, &i));
    CHECK(dtype_of(i) == RT_DTYPE_I64);
    check_shape(i, s, 2);
    check_i64_values(i, (int64_t[]){2, -2, 0, 0, 3, -1000000}, 6);
    CHECK_OK(rt_tensor_free(i));
    CHECK_OK(rt_tensor_free(t));
}

TEST(to_f32_converts_i64_values) {
    int64_t d[] = {-3, 0, 7, (int64_t)1 << 40};
    int64_t s[] = {4};
    rt_tensor *t = tensor_i64(d, s, 1), *f = NULL, *back = NULL;
    CHECK_OK(rt_tensor_to(t, RT_DTYPE_F32, &f));
    CHECK(dtype_of(f) == RT_DTYPE_F32);
    check_f32_values(f, (float[]){-3, 0, 7, 1099511627776.0f}, 4);
    CHECK_OK(rt_tensor_to(f, RT_DTYPE_I64, &back));
    check_i64_values(back, d, 4);
    CHECK_OK(rt_tensor_free(back));
    CHECK_OK(rt_tensor_free(f));
    CHECK_OK(rt_tensor_free(t));
}

TEST(to_of_a_strided_tensor_converts_in_row_major_order) {
    float d[] = {1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f};
    int64_t s[] = {2, 3};
    rt_tensor *t = tensor_f32(d, s, 2), *tt = NULL, *i = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    CHECK_OK(rt_tensor_to(tt, RT_DTYPE_I64, &i));
    int64_t s32[] = {3, 2};
    check_shape(i, s32, 2);
    check_i64_values(i, (int64_t[]){1, 4, 2, 5, 3, 6}, 6);
    CHECK_OK(rt_tensor_free(i));
    CHECK_OK(rt_tensor_free(tt));
    CHECK_OK(rt_tensor_free(t));
}

TEST(to_i64_of_a_requires_grad_tensor_does_not_require_grad) {
    float d[] = {1.5f, -2.5f};
    int64_t s[] = {2};
    rt_tensor *t = leaf_f32(d, s, 1), *i = NULL;
    CHECK_OK(rt_tensor_to(t, RT_DTYPE_I64, &i));
    CHECK(!requires_grad(i));
    CHECK(!has_grad_fn(i));
    CHECK_OK(rt_tensor_free(i));
    CHECK_OK(rt_tensor_free(t));
}

/* ---- cat ---- */

TEST(cat_along_each_dim) {
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {7, 8, 9};
    int64_t sa[] = {2, 3}, sb[] = {1, 3}, sc[] = {2, 1};
    rt_tensor *ta = tensor_f32(a, sa, 2), *tb = tensor_f32(b, sb, 2), *tc = tensor_f32(b, sc, 2);
    rt_tensor *r0 = NULL, *r1 = NULL, *rn = NULL;
    const rt_tensor *rows[] = {ta, tb, ta};
    CHECK_OK(rt_tensor_cat(rows, 3, 0, &r0));
    int64_t s0[] = {5, 3};
    check_shape(r0, s0, 2);
    check_f32_values(r0, (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6}, 15);
    const rt_tensor *cols[] = {tc, ta};
    CHECK_OK(rt_tensor_cat(cols, 2, 1, &r1));
    int64_t s1[] = {2, 4};
    check_shape(r1, s1, 2);
    check_f32_values(r1, (float[]){7, 1, 2, 3, 8, 4, 5, 6}, 8);
    CHECK_OK(rt_tensor_cat(cols, 2, -1, &rn));
    check_f32_values(rn, (float[]){7, 1, 2, 3, 8, 4, 5, 6}, 8);
    check_fresh_normal(r0);
    rt_tensor *ts[] = {ta, tb, tc, r0, r1, rn};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(cat_of_i64_and_strided_inputs) {
    int64_t a[] = {1, 2, 3, 4};
    int64_t s[] = {2, 2};
    rt_tensor *ta = tensor_i64(a, s, 2), *tt = NULL, *r = NULL;
    CHECK_OK(rt_tensor_transpose(ta, 0, 1, &tt));
    const rt_tensor *parts[] = {ta, tt};
    CHECK_OK(rt_tensor_cat(parts, 2, 1, &r));
    CHECK(dtype_of(r) == RT_DTYPE_I64);
    check_i64_values(r, (int64_t[]){1, 2, 1, 3, 3, 4, 2, 4}, 8);
    CHECK_OK(rt_tensor_free(r));
    CHECK_OK(rt_tensor_free(tt));
    CHECK_OK(rt_tensor_free(ta));
}

TEST(cat_refuses_mismatched_shapes) {
    float d[12] = {0};
    int64_t s23[] = {2, 3}, s24[] = {2, 4}, s6[] = {6};
    rt_tensor *a = tensor_f32(d, s23, 2), *b = tensor_f32(d, s24, 2), *c = tensor_f32(d, s6, 1), *out = NULL;
    const rt_tensor *ab[] = {a, b}, *ac[] = {a, c};
    CHECK_STATUS(rt_tensor_cat(ab, 2, 0, &out), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("[2, 4]");
    CHECK_OK(rt_tensor_cat(ab, 2, 1, &out)); /* only the cat dim may differ */
    CHECK_OK(rt_tensor_free(out));
    out = NULL;
    CHECK_STATUS(rt_tensor_cat(ac, 2, 0, &out), RT_ERR_SHAPE);
    CHECK_STATUS(rt_tensor_cat(ab, 2, 2, &out), RT_ERR_INVALID_ARGUMENT);
    rt_tensor *z = NULL;
    CHECK_OK(rt_tensor_zeros(NULL, 0, RT_DTYPE_F32, &z));
    const rt_tensor *zz[] = {z, z};
    CHECK_STATUS(rt_tensor_cat(zz, 2, 0, &out), RT_ERR_SHAPE);
    CHECK(out == NULL);
    rt_tensor *ts[] = {a, b, c, z};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(cat_refuses_mixed_dtypes) {
    float f[6] = {0};
    int64_t i[6] = {0};
    int64_t s[] = {2, 3}, s44[] = {4, 4};
    float f16[16] = {0};
    rt_tensor *a = tensor_f32(f, s, 2), *b = tensor_i64(i, s, 2), *odd = tensor_f32(f16, s44, 2), *out = NULL;
    const rt_tensor *ab[] = {a, b};
    CHECK_STATUS(rt_tensor_cat(ab, 2, 0, &out), RT_ERR_DTYPE);
    CHECK_ERROR_MENTIONS("I64");
    /* A dtype error wins over a shape error in an earlier tensor (order: dtype, then shape). */
    const rt_tensor *both[] = {a, odd, b};
    CHECK_STATUS(rt_tensor_cat(both, 3, 0, &out), RT_ERR_DTYPE);
    CHECK(out == NULL);
    CHECK_OK(rt_tensor_free(a));
    CHECK_OK(rt_tensor_free(b));
    CHECK_OK(rt_tensor_free(odd));
}

TEST(cat_of_no_tensors_is_an_invalid_argument) {
    rt_tensor *out = NULL;
    const rt_tensor *none[1] = {NULL};
    CHECK_STATUS(rt_tensor_cat(none, 0, 0, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_cat(NULL, 0, 0, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("rt_tensor_cat");
    CHECK(out == NULL);
}

TEST(cat_routes_each_slice_of_the_gradient_to_its_input) {
    float a[] = {1, 2, 3, 4}, b[] = {5, 6};
    int64_t sa[] = {2, 2}, sb[] = {2, 1};
    rt_tensor *ta = leaf_f32(a, sa, 2), *tb = leaf_f32(b, sb, 2), *r = NULL, *w = NULL, *y = NULL;
    const rt_tensor *parts[] = {ta, tb};
    CHECK_OK(rt_tensor_cat(parts, 2, 1, &r)); /* [[1,2,5],[3,4,6]] */
    CHECK(has_grad_fn(r));
    float wd[] = {1, 2, 3, 4, 5, 6};
    int64_t sw[] = {2, 3};
    w = tensor_f32(wd, sw, 2);
    CHECK_OK(rt_tensor_mul(r, w, &y));
    backward_sum(y);
    check_grad(ta, (float[]){1, 2, 4, 5}, 4, 0);
    check_grad(tb, (float[]){3, 6}, 2, 0);
    rt_tensor *ts[] = {ta, tb, r, w, y};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- clone, contiguous, detach ---- */

TEST(clone_copies_and_contiguous_copies_only_when_needed) {
    float d[] = {1, 2, 3, 4, 5, 6};
    int64_t s[] = {2, 3};
    rt_tensor *t = tensor_f32(d, s, 2), *c = NULL, *same = NULL, *tt = NULL, *ct = NULL;
    CHECK_OK(rt_tensor_clone(t, &c));
    const void *pt = NULL, *pc = NULL, *ps = NULL, *pct = NULL;
    CHECK_OK(rt_tensor_data_ptr(t, &pt));
    CHECK_OK(rt_tensor_data_ptr(c, &pc));
    CHECK(pt != pc);
    ((float *)pt)[0] = 100; /* writing through the base is not seen by the clone */
    check_f32_values(c, d, 6);
    CHECK_OK(rt_tensor_contiguous(t, &same));
    CHECK_OK(rt_tensor_data_ptr(same, &ps));
    CHECK(ps == pt);
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    CHECK_OK(rt_tensor_contiguous(tt, &ct));
    CHECK(is_contiguous(ct));
    CHECK_OK(rt_tensor_data_ptr(ct, &pct));
    CHECK(pct != pt);
    check_f32_values(ct, (float[]){100, 4, 2, 5, 3, 6}, 6);
    rt_tensor *ts[] = {t, c, same, tt, ct};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(clone_passes_gradients_through) {
    float d[] = {1, 2, 3};
    int64_t s[] = {3};
    rt_tensor *x = leaf_f32(d, s, 1), *c = NULL, *y = NULL;
    CHECK_OK(rt_tensor_clone(x, &c));
    CHECK(has_grad_fn(c));
    CHECK_OK(rt_tensor_mul(c, c, &y));
    backward_sum(y);
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    rt_tensor *ts[] = {x, c, y};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(detach_shares_data_without_history) {
    float d[] = {1, 2, 3};
    int64_t s[] = {3};
    rt_tensor *x = leaf_f32(d, s, 1), *y = NULL, *det = NULL;
    CHECK_OK(rt_tensor_mul_scalar(x, 2, &y));
    CHECK_OK(rt_tensor_detach(y, &det));
    CHECK(!requires_grad(det));
    CHECK(!has_grad_fn(det));
    CHECK(is_leaf(det));
    CHECK(!is_inference(det));
    const void *py = NULL, *pd = NULL;
    CHECK_OK(rt_tensor_data_ptr(y, &py));
    CHECK_OK(rt_tensor_data_ptr(det, &pd));
    CHECK(py == pd);
    CHECK(version_of(det) == version_of(y));
    rt_tensor *ts[] = {x, y, det};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}
