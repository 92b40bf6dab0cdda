/* Bad inputs at the boundary (docs/bad-inputs.md): each case pins the status a kind of bad input
 * gets where no other C test does, and the regressions the sanitizers and fuzzers found. */
#include <pthread.h>
#include <sys/resource.h>

#include "harness.h"
#include "probes.h"

static uint64_t live_bytes(void) {
    rt_memory_stats s;
    CHECK_OK(rt_memory_stats_get(&s));
    return s.live_bytes;
}

/* ---- regressions ---- */

/* Found by fuzz/api_calls: t.grad = t made a reference cycle (t -> its grad -> t) that kept 4 bytes
 * alive after every handle was freed; so did a grad computed from t (its graph holds t) and two
 * tensors holding each other as grads. The gradient is now stored without its autograd history. */
TEST(set_grad_cycles_leak_nothing) {
    uint64_t before = live_bytes();
    int64_t s[] = {3};
    rt_tensor *t = NULL, *y = NULL, *a = NULL, *b = NULL;
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &t));
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    CHECK_OK(rt_tensor_set_grad(t, t));
    CHECK_OK(rt_tensor_mul_scalar(t, 2.0, &y));
    CHECK_OK(rt_tensor_set_grad(t, y));
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &a));
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &b));
    CHECK_OK(rt_tensor_set_grad(a, b));
    CHECK_OK(rt_tensor_set_grad(b, a));
    /* The gradient still shares the data it was given. */
    CHECK_OK(rt_tensor_fill_inplace(b, 5.0));
    rt_tensor *ga = grad_of(a);
    float five[] = {5, 5, 5};
    check_all_near(ga, five, 3, 0);
    rt_tensor *all[] = {t, y, a, b, ga};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(all[i]));
    CHECK(live_bytes() == before);
}

/* Found by fuzz/api_calls: a narrow of an empty tensor keeps an offset past the end of its
 * (empty) storage; copying it out sliced the storage there and panicked (RT_ERR_INTERNAL). */
TEST(views_of_empty_tensors_can_be_read) {
    int64_t s[] = {0, 5};
    rt_tensor *t = NULL, *v = NULL, *c = NULL;
    CHECK_OK(rt_tensor_zeros(s, 2, RT_DTYPE_F32, &t));
    CHECK_OK(rt_tensor_narrow(t, 1, 2, 1, &v));
    CHECK_OK(rt_tensor_clone(v, &c));
    CHECK(numel_of(c) == 0);
    const void *p = NULL;
    CHECK_OK(rt_tensor_data_ptr(v, &p));
    CHECK_OK(rt_tensor_copy_to(v, NULL, 0));
    rt_tensor *all[] = {t, v, c};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(all[i]));
}

#define BIG ((int64_t)1 << 40)

/* Found by fuzz/api_calls: shapes whose sizes multiply past 2^63 once their zero dims are left out
 * (tensors with no elements, or outputs of broadcasting, matmul and linear) overflowed the layout
 * arithmetic: RT_ERR_INTERNAL in debug builds and wrapped sizes in release builds. Every shape is
 * now bounded like the safetensors loader bounds file shapes: its sizes, zeros counted as 1, must
 * multiply to at most 2^60, else RT_ERR_OUT_OF_MEMORY; within the bound every view is exact. */
TEST(shapes_too_large_even_without_elements_are_out_of_memory) {
    rt_tensor *out = NULL;
    int64_t empty_huge[] = {0, BIG, BIG}, huge_empty[] = {BIG, BIG, 0};
    CHECK_STATUS(rt_tensor_zeros(empty_huge, 3, RT_DTYPE_F32, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_zeros(huge_empty, 3, RT_DTYPE_F32, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_from_data(NULL, 0, RT_DTYPE_F32, empty_huge, 3, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK(out == NULL);

    /* Each input within the bound, the result not: broadcasting, matmul, linear. */
    int64_t a_s[] = {BIG, 1, 0}, one[] = {1, 1, 1}, b_s[] = {1, BIG, 1}, col[] = {BIG, 0}, row[] = {0, BIG};
    rt_tensor *a = NULL, *b1 = NULL, *b = NULL, *c = NULL, *r = NULL;
    CHECK_OK(rt_tensor_zeros(a_s, 3, RT_DTYPE_F32, &a));
    CHECK_OK(rt_tensor_zeros(one, 3, RT_DTYPE_F32, &b1));
    CHECK_OK(rt_tensor_expand(b1, b_s, 3, &b));
    CHECK_OK(rt_tensor_free(b1));
    CHECK_OK(rt_tensor_zeros(col, 2, RT_DTYPE_F32, &c));
    CHECK_OK(rt_tensor_zeros(row, 2, RT_DTYPE_F32, &r));
    CHECK_STATUS(rt_tensor_add(a, b, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_ERROR_MENTIONS("rt_tensor_add");
    CHECK_STATUS(rt_tensor_mul(b, a, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_matmul(c, r, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_linear(c, c, NULL, &out), RT_ERR_OUT_OF_MEMORY);
    int64_t empty_huge_expanded[] = {0, BIG, BIG};
    CHECK_STATUS(rt_tensor_expand(b, empty_huge_expanded, 3, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_view(a, empty_huge, 3, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_reshape(a, empty_huge, 3, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK(out == NULL);

    /* Within the bound, empty tensors with large dims work like any other. */
    bool contiguous = false;
    CHECK_OK(rt_tensor_is_contiguous(a, &contiguous));
    CHECK(contiguous);
    int64_t perm[] = {2, 1, 0};
    rt_tensor *p = NULL, *f = NULL, *m = NULL, *n = NULL;
    CHECK_OK(rt_tensor_permute(a, perm, 3, &p));
    CHECK_OK(rt_tensor_clone(p, &out));
    CHECK(numel_of(out) == 0);
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_flatten(a, 0, 2, &f));
    CHECK(numel_of(f) == 0);
    CHECK_OK(rt_tensor_matmul(r, c, &m)); /* [0, 2^40] x [2^40, 0] = [0, 0] */
    CHECK(numel_of(m) == 0);
    CHECK_OK(rt_tensor_narrow(p, 2, BIG / 2, 2, &n)); /* [0, 1, 2] */
    CHECK_OK(rt_tensor_sum(n, NULL, 0, false, &out));
    CHECK_NEAR(item_of(out), 0.0, 0);
    CHECK_OK(rt_tensor_free(out));
    rt_tensor *all[] = {a, b, c, r, p, f, m, n};
    for (int i = 0; i < 8; i++) CHECK_OK(rt_tensor_free(all[i]));
}
