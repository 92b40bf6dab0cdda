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
