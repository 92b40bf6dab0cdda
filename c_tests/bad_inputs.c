/* Bad inputs at the boundary (docs/bad-inputs.md): each case pins the status a kind of bad input
 * gets where no other C test does, and the regressions the sanitizers and fuzzers found. */
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"
#include "probes.h"
#include "safetensors_util.h"

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

/* Found by fuzz/api_calls: an in-place op on x's gradient that takes x itself, recorded under grad
 * mode, gave the gradient a graph holding x, and x holds its gradient: a cycle that kept both
 * alive after every handle was freed. rt_tensor_grad now hands out the gradient's data (shared,
 * with its version counter) under a handle of its own, so history recorded on that handle never
 * reaches x.grad itself. */
TEST(recorded_inplace_on_a_gradient_leaks_nothing) {
    uint64_t before = live_bytes();
    float v[] = {1, 2, 3};
    int64_t s[] = {3};
    rt_tensor *x = leaf_f32(v, s, 1), *y = NULL, *loss = NULL;
    CHECK_OK(rt_tensor_mul_scalar(x, 2.0, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    rt_tensor *g = grad_of(x);
    CHECK_OK(rt_tensor_add_inplace(g, x));
    CHECK(has_grad_fn(g));
    /* The data is shared: x's gradient shows the in-place result. */
    float expected[] = {3, 4, 5};
    rt_tensor *again = grad_of(x);
    check_all_near(again, expected, 3, 0);
    rt_tensor *all[] = {x, y, loss, g, again};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(all[i]));
    CHECK(live_bytes() == before);
}

/* Found by fuzz/api_calls: t.add_(v) recorded under grad mode, with v a view of t that was made to
 * require grad, gave t a graph holding v, and v holds its base t: a cycle that kept both alive
 * after every handle was freed. A graph now holds the leaves it accumulates into weakly (a leaf
 * nobody holds any more has no gradient anyone could read). */
TEST(recorded_inplace_on_a_base_taking_its_own_view_leaks_nothing) {
    uint64_t before = live_bytes();
    float v3[] = {1, 2, 3};
    int64_t s[] = {3};
    rt_tensor *t = tensor_f32(v3, s, 1), *v = NULL;
    CHECK_OK(rt_tensor_narrow(t, 0, 0, 3, &v));
    CHECK_OK(rt_tensor_set_requires_grad(v, true));
    CHECK_OK(rt_tensor_add_inplace(t, v));
    CHECK(has_grad_fn(t));
    CHECK_OK(rt_tensor_free(v));
    CHECK_OK(rt_tensor_free(t));
    CHECK(live_bytes() == before);
}

/* With leaves held weakly by graphs, a leaf someone else holds (a module's parameter whose own
 * handle was freed) still gets its gradient, and backward skips a leaf nobody holds any more. */
TEST(backward_reaches_leaves_held_elsewhere_and_skips_dropped_ones) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(3, 1, false, &m));
    float xv[] = {1, 2, 3};
    int64_t xs[] = {1, 3}, s[] = {3};
    rt_tensor *x = tensor_f32(xv, xs, 2), *w = NULL, *y = NULL, *loss = NULL;
    CHECK_OK(rt_module_get_tensor(m, "weight", &w));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_module_forward(m, x, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    CHECK_OK(rt_module_get_tensor(m, "weight", &w));
    check_grad(w, xv, 3, 0); /* d sum(x w^T) / dw = x */

    rt_tensor *z = leaf_f32(xv, s, 1), *z2 = NULL, *loss2 = NULL;
    CHECK_OK(rt_tensor_mul_scalar(z, 2.0, &z2));
    CHECK_OK(rt_tensor_sum(z2, NULL, 0, false, &loss2));
    CHECK_OK(rt_tensor_free(z));
    CHECK_OK(rt_tensor_backward(loss2, NULL, false));
    rt_tensor *all[] = {x, w, y, loss, z2, loss2};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(all[i]));
    CHECK_OK(rt_module_free(m));
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

/* Found by the fuzz smoke run of .ci/run (fuzz/api_calls): ops on a view of an empty tensor whose
 * offset lies past the end of its storage (here a narrow of a {0, 5} tensor at column 2) read
 * their operands' windows at that offset and panicked (RT_ERR_INTERNAL). They now see empty
 * operands, as PyTorch does. */
TEST(ops_on_views_of_empty_tensors_work) {
    int64_t s[] = {0, 5}, ws[] = {3, 1}, bs[] = {1, 3};
    rt_tensor *t = NULL, *v = NULL, *vt = NULL, *w = NULL, *b = NULL, *out = NULL;
    CHECK_OK(rt_tensor_zeros(s, 2, RT_DTYPE_F32, &t));
    CHECK_OK(rt_tensor_narrow(t, 1, 2, 1, &v)); /* shape {0, 1}, offset 2 */
    CHECK_OK(rt_tensor_transpose(v, 0, 1, &vt)); /* shape {1, 0} */
    CHECK_OK(rt_tensor_ones(ws, 2, RT_DTYPE_F32, &w));
    CHECK_OK(rt_tensor_ones(bs, 2, RT_DTYPE_F32, &b));

    CHECK_OK(rt_tensor_add(v, v, &out));
    CHECK(numel_of(out) == 0);
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_div(v, v, &out));
    CHECK(numel_of(out) == 0);
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_exp(v, &out));
    CHECK(numel_of(out) == 0);
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_matmul(v, b, &out)); /* {0,1} @ {1,3} = {0,3} */
    CHECK(numel_of(out) == 0);
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_linear(v, w, NULL, &out)); /* {0,1} by a {3,1} weight = {0,3} */
    CHECK(numel_of(out) == 0);
    CHECK_OK(rt_tensor_free(out));

    /* {1,0} @ {0,1}: nothing to sum, so one zero. */
    CHECK_OK(rt_tensor_matmul(vt, v, &out));
    CHECK(numel_of(out) == 1);
    float x = -1;
    CHECK_OK(rt_tensor_copy_to(out, &x, sizeof x));
    CHECK(x == 0.0f);
    CHECK_OK(rt_tensor_free(out));

    rt_tensor *all[] = {t, v, vt, w, b};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(all[i]));
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

/* ---- NULL pointers inside arrays ---- */

TEST(null_entries_in_handle_and_name_arrays_are_null_arguments) {
    float v[] = {1, 2};
    int64_t s[] = {2};
    rt_tensor *t = tensor_f32(v, s, 1), *out = NULL;
    const rt_tensor *ts[] = {t, NULL};
    CHECK_STATUS(rt_tensor_cat(ts, 2, 0, &out), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("ts[1]");
    rt_module *kids[] = {NULL}, *m = NULL;
    CHECK_STATUS(rt_module_sequential(kids, 1, &m), RT_ERR_NULL_ARGUMENT);
    rt_tensor *params[] = {t, NULL};
    rt_optimizer *o = NULL;
    CHECK_STATUS(rt_optimizer_sgd_tensors(params, 2, 0.1, 0, 0, &o), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_optimizer_adam_tensors(params, 2, 0.1, 0.9, 0.999, 1e-8, 0, &o), RT_ERR_NULL_ARGUMENT);
    const char *names[] = {NULL};
    const rt_tensor *one[] = {t};
    CHECK_STATUS(rt_safetensors_save("/nonexistent/never-written.safetensors", names, one, 1), RT_ERR_NULL_ARGUMENT);
    CHECK(out == NULL && m == NULL && o == NULL);
    CHECK_OK(rt_tensor_free(t));
}

/* ---- freed and wrong-kind module handles ---- */

TEST(freed_module_handles_are_invalid_everywhere) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(2, 3, true, &m));
    CHECK_OK(rt_module_free(m));
    float v[] = {1, 2};
    int64_t s[] = {1, 2};
    rt_tensor *x = tensor_f32(v, s, 2), *out = NULL;
    size_t n = 0, len = 0;
    bool training = false;
    char buf[16];
    CHECK_STATUS(rt_module_forward(m, x, &out), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("already freed");
    CHECK_STATUS(rt_module_train(m, false), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_is_training(m, &training), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_num_tensors(m, &n), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_tensor_name(m, 0, buf, sizeof buf, &len), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_get_tensor(m, "weight", &out), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_zero_grad(m), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_free(m), RT_ERR_INVALID_HANDLE);
    rt_optimizer *o = NULL;
    CHECK_STATUS(rt_optimizer_sgd(m, 0.1, 0, 0, &o), RT_ERR_INVALID_HANDLE);
    rt_module *kids[] = {m};
    rt_module *seq = NULL;
    CHECK_STATUS(rt_module_sequential(kids, 1, &seq), RT_ERR_INVALID_HANDLE);
    /* A tensor handle where a module handle is required, and the other way round. */
    CHECK_STATUS(rt_module_forward((rt_module *)x, x, &out), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("tensor handle where a module handle is required");
    CHECK_STATUS(rt_tensor_relu((rt_tensor *)m, &out), RT_ERR_INVALID_HANDLE);
    CHECK(out == NULL && o == NULL && seq == NULL);
    CHECK_OK(rt_tensor_free(x));
}

/* ---- negative, huge and overflowing sizes ---- */

TEST(sizes_that_overflow_are_out_of_memory_and_negative_ones_invalid) {
    rt_tensor *out = NULL;
    int64_t overflow[] = {BIG, BIG}, max2[] = {INT64_MAX, 2}, neg[] = {3, -1};
    CHECK_STATUS(rt_tensor_zeros(overflow, 2, RT_DTYPE_F32, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_ones(max2, 2, RT_DTYPE_I64, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_randn(overflow, 2, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_zeros(neg, 2, RT_DTYPE_F32, &out), RT_ERR_INVALID_ARGUMENT);
    /* from_data checks the shape before the byte count, which no buffer could match. */
    CHECK_STATUS(rt_tensor_from_data(NULL, 0, RT_DTYPE_F32, overflow, 2, &out), RT_ERR_OUT_OF_MEMORY);
    rt_module *m = NULL;
    CHECK_STATUS(rt_module_linear(-1, 3, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_linear(3, 0, true, &m), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_module_linear(INT64_MAX, INT64_MAX, false, &m), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_set_num_threads((size_t)1 << 40), RT_ERR_INVALID_ARGUMENT);
    /* More reduction dims than RT_MAX_DIMS are refused before the array is read. */
    float v = 1;
    rt_tensor *t = tensor_f32(&v, NULL, 0);
    int64_t dims[RT_MAX_DIMS + 1] = {0};
    CHECK_STATUS(rt_tensor_sum(t, dims, RT_MAX_DIMS + 1, false, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_permute(t, dims, RT_MAX_DIMS + 1, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL && m == NULL);
    CHECK_OK(rt_tensor_free(t));
}

/* VmSize of this process, in bytes. */
static size_t address_space_in_use(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f != NULL);
    unsigned long pages = 0;
    CHECK(fscanf(f, "%lu", &pages) == 1);
    fclose(f);
    return (size_t)pages * 4096;
}

/* Lowers RLIMIT_AS to what the process maps now plus `bytes` (or keeps a lower limit). */
static void limit_headroom(size_t bytes, struct rlimit *old) {
    CHECK(getrlimit(RLIMIT_AS, old) == 0);
    struct rlimit lower = {address_space_in_use() + bytes, old->rlim_max};
    if (old->rlim_cur != RLIM_INFINITY && old->rlim_cur < lower.rlim_cur) lower.rlim_cur = old->rlim_cur;
    CHECK(setrlimit(RLIMIT_AS, &lower) == 0);
}

/* A user-sized tensor that cannot be had is RT_ERR_OUT_OF_MEMORY, never an abort: with RLIMIT_AS
 * at what the process maps now plus 256 MiB, neither [2^40] F32 (4 TiB) nor [2^28] F32 (1 GiB,
 * which this machine could otherwise give) can be allocated, by a factory, a copy or an op; and
 * the library keeps working afterwards. The pool and the handle table are made first: they are
 * process-lifetime and not what this measures. */
TEST(allocations_beyond_rlimit_as_are_out_of_memory) {
    rt_tensor *small = NULL, *out = NULL, *one = NULL, *big = NULL;
    int64_t two[] = {2};
    CHECK_OK(rt_tensor_ones(two, 1, RT_DTYPE_F32, &small));
    CHECK(rt_get_num_threads() >= 1);
    struct rlimit old;
    limit_headroom((size_t)256 << 20, &old);

    int64_t tib4[] = {BIG}, gib1[] = {(int64_t)1 << 28};
    CHECK_STATUS(rt_tensor_zeros(tib4, 1, RT_DTYPE_F32, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_ERROR_MENTIONS("rt_tensor_zeros");
    CHECK_STATUS(rt_tensor_zeros(gib1, 1, RT_DTYPE_F32, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_full(gib1, 1, 2.0, RT_DTYPE_I64, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_randn(gib1, 1, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_OK(rt_tensor_ones(NULL, 0, RT_DTYPE_F32, &one));
    CHECK_OK(rt_tensor_expand(one, gib1, 1, &big)); /* a view: nothing allocated */
    CHECK_STATUS(rt_tensor_contiguous(big, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_exp(big, &out), RT_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(rt_tensor_add(big, one, &out), RT_ERR_OUT_OF_MEMORY);
    rt_module *m = NULL;
    CHECK_STATUS(rt_module_linear(1 << 14, 1 << 14, false, &m), RT_ERR_OUT_OF_MEMORY);
    CHECK(out == NULL && m == NULL);
    /* Still working: a small op succeeds under the same limit. */
    CHECK_OK(rt_tensor_mul_scalar(small, 3.0, &out));
    float threes[] = {3, 3};
    check_all_near(out, threes, 2, 0);

    CHECK(setrlimit(RLIMIT_AS, &old) == 0);
    rt_tensor *all[] = {small, out, one, big};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* `call`'s status with room for `quarters` / 4 more tensors of `unit` bytes of address space,
 * measured afresh (a memory checker may keep freed blocks mapped for a while). */
#define WITH_HEADROOM(unit, quarters, call)                                              \
    ({                                                                                   \
        struct rlimit old_;                                                              \
        limit_headroom((unit) / 4 * (quarters), &old_);                                  \
        rt_status status_ = (call);                                                      \
        CHECK(setrlimit(RLIMIT_AS, &old_) == 0);                                         \
        status_;                                                                         \
    })

/* First element, middle and last of an F32 tensor of n elements, read through `all` (room for n,
 * allocated before any limit). */
static void sample3(const rt_tensor *t, size_t n, float *all, float got[3]) {
    read_f32(t, all, n);
    got[0] = all[0], got[1] = all[n / 2], got[2] = all[n - 1];
}

/* Not only the result: an op's working memory is user-sized too. Each op here had room for its
 * result but aborted the process in an earlier build, because a scratch buffer or a temporary
 * copy of that size was allocated infallibly (a sum's f64 accumulators, softmax's per-column
 * statistics, clone's copy, from_data's byte conversion, an optimizer's update vectors). Now
 * what fits works (softmax keeps its per-column statistics on the stack; from_data and the
 * optimizers make one copy, or none) and what does not fit is RT_ERR_OUT_OF_MEMORY with nothing
 * changed. S = 2^23 elements, 32 MiB of F32; the room given is counted in what holding one such
 * tensor adds to this process's address space (more than 32 MiB under valgrind). */
TEST(working_memory_beyond_rlimit_as_is_out_of_memory_and_changes_nothing) {
    const int64_t S = (int64_t)1 << 23;
    const size_t n = (size_t)S;
    int64_t shape_1s[] = {1, S}, shape_s[] = {S}, shape_2s[] = {2, S};
    rt_tensor *x = NULL, *one = NULL, *pair = NULL, *p = NULL, *g = NULL, *out = NULL;
    CHECK_OK(rt_tensor_ones(NULL, 0, RT_DTYPE_F32, &one));
    CHECK_OK(rt_tensor_expand(one, shape_2s, 2, &pair)); /* a view: nothing allocated */
    size_t before = address_space_in_use();
    CHECK_OK(rt_tensor_ones(shape_1s, 2, RT_DTYPE_F32, &x));
    size_t unit = address_space_in_use() - before;
    CHECK(unit >= n * sizeof(float));
    CHECK_OK(rt_tensor_full(shape_s, 1, 2.0, RT_DTYPE_F32, &p));
    CHECK_OK(rt_tensor_set_requires_grad(p, true));
    CHECK_OK(rt_tensor_ones(shape_s, 1, RT_DTYPE_F32, &g));
    CHECK_OK(rt_tensor_set_grad(p, g));
    rt_optimizer *sgd = NULL, *adam = NULL;
    CHECK_OK(rt_optimizer_sgd_tensors(&p, 1, 0.5, 0.9, 0.0, &sgd));
    CHECK_OK(rt_optimizer_adam_tensors(&p, 1, 0.5, 0.9, 0.999, 1e-8, 0.0, &adam));
    float *host = malloc(n * sizeof(float)), *all = malloc(n * sizeof(float));
    CHECK(host != NULL && all != NULL);
    for (size_t i = 0; i < n; i++) host[i] = (float)(i % 7);
    /* The pool's workers take their thread-locals and malloc arenas at their first task: that
     * happens here, before any limit (docs/bad-inputs.md, "Limits"). */
    CHECK_OK(rt_tensor_exp(x, &out));
    CHECK_OK(rt_tensor_free(out));
    float got[3];

    /* Room for one result of S elements, and three quarters of another. */
    CHECK_OK(WITH_HEADROOM(unit, 7, rt_tensor_from_data(host, n * sizeof(float), RT_DTYPE_F32, shape_s, 1, &out)));
    sample3(out, n, all, got);
    CHECK(got[0] == 0 && got[1] == (float)((n / 2) % 7) && got[2] == (float)((n - 1) % 7));
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(WITH_HEADROOM(unit, 7, rt_tensor_softmax(x, 0, &out))); /* over a dim of size 1: all ones */
    sample3(out, n, all, got);
    CHECK(got[0] == 1 && got[1] == 1 && got[2] == 1);
    CHECK_OK(rt_tensor_free(out));
    int64_t dim0[] = {0};
    out = NULL;
    /* the result, then twice its size in f64 accumulators */
    CHECK_STATUS(WITH_HEADROOM(unit, 7, rt_tensor_sum(pair, dim0, 1, false, &out)), RT_ERR_OUT_OF_MEMORY);
    CHECK_ERROR_MENTIONS("rt_tensor_sum");
    CHECK(out == NULL);
    CHECK_OK(WITH_HEADROOM(unit, 7, rt_optimizer_step(sgd))); /* its momentum buffer, then in place */
    sample3(p, n, all, got);
    CHECK(got[0] == 1.5f && got[1] == 1.5f && got[2] == 1.5f);

    /* Room for no copy of S elements. */
    CHECK_STATUS(WITH_HEADROOM(unit, 2, rt_tensor_clone(x, &out)), RT_ERR_OUT_OF_MEMORY);
    CHECK(out == NULL);
    uint64_t version_before = 0, version_after = 0;
    CHECK_OK(rt_tensor_version(p, &version_before));
    CHECK_STATUS(WITH_HEADROOM(unit, 2, rt_optimizer_step(adam)), RT_ERR_OUT_OF_MEMORY); /* its two buffers */
    CHECK_ERROR_MENTIONS("rt_optimizer_step");
    CHECK_OK(rt_tensor_version(p, &version_after));
    CHECK(version_after == version_before);
    sample3(p, n, all, got);
    CHECK(got[0] == 1.5f && got[1] == 1.5f && got[2] == 1.5f); /* the failed step changed nothing */
    /* and works once there is room: p -= (lr / (1 - b1)) m / (sqrt(v) / sqrt(1 - b2)) = 0.5 */
    CHECK_OK(rt_optimizer_step(adam));
    CHECK_OK(rt_tensor_version(p, &version_after));
    CHECK(version_after == version_before + 1);
    sample3(p, n, all, got);
    CHECK(fabsf(got[0] - 1.0f) < 1e-5f && fabsf(got[2] - 1.0f) < 1e-5f);

    free(host);
    free(all);
    CHECK_OK(rt_optimizer_free(sgd));
    CHECK_OK(rt_optimizer_free(adam));
    rt_tensor *handles[] = {x, one, pair, p, g};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(handles[i]));
}

/* A program that lowers RLIMIT_AS gets the address space of the tensors it frees back, as it does
 * for its own blocks: the library's cache of freed large buffers (src/buffers.rs) keeps nothing
 * under a finite limit. Three tensors of S elements made and freed leave the process no bigger
 * than three blocks of that size the program mallocs, fills and frees (a memory checker may keep
 * freed blocks mapped for a while, the same for both), give or take half a tensor; a cache
 * keeping two of them (its 64 MiB) would leave it two tensors bigger. */
TEST(freed_tensors_give_their_address_space_back_under_rlimit_as) {
    const int64_t S = (int64_t)1 << 23;
    const size_t bytes = (size_t)S * sizeof(float);
    int64_t shape[] = {S};
    rt_tensor *t[3] = {NULL, NULL, NULL}, *x = NULL, *out = NULL, *one = NULL;
    CHECK_OK(rt_tensor_ones(NULL, 0, RT_DTYPE_F32, &one)); /* the handle table, made once */
    size_t before = address_space_in_use();
    CHECK_OK(rt_tensor_ones(shape, 1, RT_DTYPE_F32, &x));
    size_t unit = address_space_in_use() - before;
    CHECK(unit >= bytes);
    /* The pool's workers take their malloc arenas at their first task, before any limit; both
     * tensors are held to the end, so no tensor is freed before the limit. */
    CHECK_OK(rt_tensor_exp(x, &out));
    struct rlimit old;
    limit_headroom(unit * 8, &old);

    size_t start = address_space_in_use();
    void *own[3];
    for (int i = 0; i < 3; i++) {
        own[i] = malloc(bytes);
        CHECK(own[i] != NULL);
        memset(own[i], 1, bytes);
    }
    for (int i = 0; i < 3; i++) free(own[i]);
    size_t after_own = address_space_in_use();
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_ones(shape, 1, RT_DTYPE_F32, &t[i]));
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(t[i]));
    long long own_left = (long long)after_own - (long long)start;
    long long library_left = (long long)address_space_in_use() - (long long)after_own;
    CHECK(library_left <= own_left + (long long)unit / 2);

    CHECK(setrlimit(RLIMIT_AS, &old) == 0);
    rt_tensor *held[] = {x, out, one};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(held[i]));
}

/* ---- modules nested too deep ---- */

struct deep_model {
    rt_module *top;
    int failures;
};

/* Everything that walks a module, on the deepest nest allowed: forward, train, naming, get, save
 * and a strict load back. */
static void *walk_deep_model(void *arg) {
    struct deep_model *d = arg;
    rt_module *m = d->top;
    int64_t shape[] = {1, 2};
    rt_tensor *x = NULL, *y = NULL, *w = NULL;
    size_t count = 0, len = 0;
    char name[256];
    const char *path = "deep_model.safetensors";
    d->failures += rt_tensor_ones(shape, 2, RT_DTYPE_F32, &x) != RT_OK;
    d->failures += rt_module_forward(m, x, &y) != RT_OK;
    d->failures += rt_module_train(m, false) != RT_OK;
    d->failures += rt_module_num_tensors(m, &count) != RT_OK || count != 2;
    d->failures += rt_module_tensor_name(m, 0, name, sizeof name, &len) != RT_OK;
    /* 63 Sequentials, each adding "0.", then the Linear's "weight" */
    d->failures += len != 2 * (RT_MAX_MODULE_DEPTH - 1) + strlen("weight");
    d->failures += rt_module_get_tensor(m, name, &w) != RT_OK;
    d->failures += rt_module_save_safetensors(m, path) != RT_OK;
    d->failures += rt_module_load_safetensors(m, path, true) != RT_OK;
    remove(path);
    rt_tensor *ts[] = {x, y, w};
    for (int i = 0; i < 3; i++) d->failures += rt_tensor_free(ts[i]) != RT_OK;
    d->failures += rt_module_free(m) != RT_OK; /* the last reference to every level */
    return NULL;
}

/* Every walk over a module recurses once per level of nesting, so a Sequential nested a hundred
 * thousand deep overflowed the stack (SIGSEGV) when named, run or freed. A Sequential deeper than
 * RT_MAX_MODULE_DEPTH levels is refused when made, and the deepest one allowed works, freeing
 * included, on a thread with a 128 KiB stack. */
TEST(modules_nested_past_the_depth_limit_are_refused) {
    rt_module *m = NULL, *s = NULL;
    CHECK_OK(rt_module_linear(2, 2, true, &m));
    for (int depth = 2; depth <= RT_MAX_MODULE_DEPTH; depth++) {
        CHECK_OK(rt_module_sequential(&m, 1, &s));
        CHECK_OK(rt_module_free(m));
        m = s;
    }
    rt_module *relu = NULL, *deeper = NULL;
    CHECK_OK(rt_module_relu(&relu));
    rt_module *kids[] = {relu, m};
    CHECK_STATUS(rt_module_sequential(kids, 2, &deeper), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("children[1]");
    CHECK_ERROR_MENTIONS("RT_MAX_MODULE_DEPTH");
    CHECK(deeper == NULL);
    CHECK_OK(rt_module_free(relu));

    struct deep_model d = {m, 0};
    pthread_attr_t attr;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, 128 * 1024) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, &attr, walk_deep_model, &d) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(pthread_attr_destroy(&attr) == 0);
    CHECK(d.failures == 0);
}

/* ---- NaN and infinities ---- */

/* Values: IEEE 754 through every op, as in PyTorch (numbers from torch 2.x: relu(nan) = nan, relu(-0.0) = -0.0,
 * exp(-inf) = 0, inf + -inf = nan, argmax takes the first NaN). Never an error. */
TEST(nan_and_infinity_flow_through_ops) {
    float v[] = {NAN, INFINITY, -INFINITY, 2.0f};
    int64_t s[] = {4};
    rt_tensor *t = tensor_f32(v, s, 1), *out = NULL;
    float got[4];
    CHECK_OK(rt_tensor_relu(t, &out));
    read_f32(out, got, 4);
    CHECK(isnan(got[0]) && got[1] == INFINITY && got[2] == 0 && got[3] == 2);
    CHECK_OK(rt_tensor_free(out));
    /* relu(-0.0) = -0.0 in torch 2.x too (a negative zero is not below zero), fused or not. */
    float negzero = -0.0f;
    int64_t one_elem[] = {1};
    rt_tensor *z = tensor_f32(&negzero, one_elem, 1);
    CHECK_OK(rt_tensor_relu(z, &out));
    read_f32(out, got, 1);
    CHECK(got[0] == 0 && signbit(got[0]));
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_free(z));
    CHECK_OK(rt_tensor_exp(t, &out));
    read_f32(out, got, 4);
    CHECK(isnan(got[0]) && got[1] == INFINITY && got[2] == 0);
    CHECK_OK(rt_tensor_free(out));
    rt_tensor *tail = NULL;
    CHECK_OK(rt_tensor_narrow(t, 0, 1, 2, &tail));
    CHECK_OK(rt_tensor_sum(tail, NULL, 0, false, &out));
    CHECK(isnan(item_of(out)));
    CHECK_OK(rt_tensor_free(out));
    float w[] = {1.0f, NAN, 3.0f, INFINITY};
    rt_tensor *u = tensor_f32(w, s, 1);
    CHECK_OK(rt_tensor_argmax(u, 0, false, &out));
    int64_t index = -1;
    CHECK_OK(rt_tensor_copy_to(out, &index, sizeof index));
    CHECK(index == 1);
    CHECK_OK(rt_tensor_free(out));
    /* A non-finite scalar operand is a value like any other. */
    CHECK_OK(rt_tensor_mul_scalar(u, INFINITY, &out));
    read_f32(out, got, 4);
    CHECK(got[0] == INFINITY && isnan(got[1]));
    CHECK_OK(rt_tensor_free(out));
    /* Gradients carry them too: d/dx sum(x * y) = y. */
    rt_tensor *x = NULL, *y = NULL, *loss = NULL;
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &x));
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(rt_tensor_mul(x, t, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    rt_tensor *g = grad_of(x);
    read_f32(g, got, 4);
    CHECK(isnan(got[0]) && got[1] == INFINITY && got[2] == -INFINITY && got[3] == 2);
    rt_tensor *all[] = {t, tail, u, x, y, loss, g};
    for (int i = 0; i < 7; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* Where a value must become an integer or a hyperparameter, a non-finite one is refused as out of
 * range (RT_ERR_INVALID_ARGUMENT) and nothing changes. Converting a whole F32 tensor to I64 is not
 * refused: it saturates (NaN to 0, +-inf to INT64_MAX / INT64_MIN), as Rust's float casts do. */
TEST(nan_and_infinity_where_a_number_is_required) {
    int64_t s[] = {3};
    rt_tensor *i = NULL, *out = NULL;
    CHECK_STATUS(rt_tensor_full(s, 1, NAN, RT_DTYPE_I64, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_full(s, 1, INFINITY, RT_DTYPE_I64, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_full(s, 1, 1e300, RT_DTYPE_I64, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_OK(rt_tensor_zeros(s, 1, RT_DTYPE_I64, &i));
    CHECK_STATUS(rt_tensor_fill_inplace(i, NAN), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_fill_inplace(i, -INFINITY), RT_ERR_INVALID_ARGUMENT);
    CHECK(version_of(i) == 0);

    float v[] = {NAN, INFINITY, -INFINITY};
    rt_tensor *f = tensor_f32(v, s, 1);
    CHECK_OK(rt_tensor_to(f, RT_DTYPE_I64, &out));
    int64_t got[3];
    CHECK_OK(rt_tensor_copy_to(out, got, sizeof got));
    CHECK(got[0] == 0 && got[1] == INT64_MAX && got[2] == INT64_MIN);
    CHECK_OK(rt_tensor_free(out));
    out = NULL;

    rt_tensor *p = NULL;
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &p));
    CHECK_OK(rt_tensor_set_requires_grad(p, true));
    rt_tensor *ps[] = {p};
    rt_optimizer *o = NULL;
    double bad[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        CHECK_STATUS(rt_optimizer_sgd_tensors(ps, 1, bad[k], 0, 0, &o), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(rt_optimizer_sgd_tensors(ps, 1, 0.1, bad[k], 0, &o), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(rt_optimizer_sgd_tensors(ps, 1, 0.1, 0, bad[k], &o), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(rt_optimizer_adam_tensors(ps, 1, bad[k], 0.9, 0.999, 1e-8, 0, &o), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(rt_optimizer_adam_tensors(ps, 1, 0.1, bad[k], 0.999, 1e-8, 0, &o), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(rt_optimizer_adam_tensors(ps, 1, 0.1, 0.9, bad[k], 1e-8, 0, &o), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(rt_optimizer_adam_tensors(ps, 1, 0.1, 0.9, 0.999, bad[k], 0, &o), RT_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(rt_optimizer_adam_tensors(ps, 1, 0.1, 0.9, 0.999, 1e-8, bad[k], &o), RT_ERR_INVALID_ARGUMENT);
    }
    CHECK(o == NULL);
    CHECK_OK(rt_optimizer_sgd_tensors(ps, 1, 0.1, 0, 0, &o));
    CHECK_STATUS(rt_optimizer_set_lr(o, NAN), RT_ERR_INVALID_ARGUMENT);
    CHECK_OK(rt_optimizer_free(o));
    rt_tensor *all[] = {i, f, p};
    for (int k = 0; k < 3; k++) CHECK_OK(rt_tensor_free(all[k]));
}

/* ---- shapes, dims and autograd misuse not pinned elsewhere ---- */

TEST(inplace_on_an_expanded_tensor_is_refused_before_any_write) {
    float v[] = {1, 2};
    int64_t s[] = {2}, wide[] = {3, 2};
    rt_tensor *t = tensor_f32(v, s, 1), *e = NULL, *other = NULL;
    CHECK_OK(rt_tensor_expand(t, wide, 2, &e));
    CHECK_OK(rt_tensor_ones(wide, 2, RT_DTYPE_F32, &other));
    CHECK_STATUS(rt_tensor_add_scalar_inplace(e, 1), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("expanded");
    CHECK_STATUS(rt_tensor_add_inplace(e, other), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_fill_inplace(e, 0), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_zero_inplace(e), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_copy_inplace(e, other), RT_ERR_INVALID_ARGUMENT);
    check_all_near(t, v, 2, 0);
    CHECK(version_of(t) == 0);
    rt_tensor *all[] = {t, e, other};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(all[i]));
}

TEST(backward_and_grad_misuse) {
    float v[] = {1, 2, 3};
    int64_t s[] = {3}, s2[] = {2};
    rt_tensor *x = leaf_f32(v, s, 1), *y = NULL, *loss = NULL, *g2 = NULL, *gi = NULL;
    CHECK_OK(rt_tensor_mul_scalar(x, 2.0, &y));
    /* A gradient is needed for a tensor with more than one element; it must match in shape and
     * be F32. */
    CHECK_STATUS(rt_tensor_backward(y, NULL, false), RT_ERR_SHAPE);
    CHECK_OK(rt_tensor_ones(s2, 1, RT_DTYPE_F32, &g2));
    CHECK_STATUS(rt_tensor_backward(y, g2, false), RT_ERR_SHAPE);
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_I64, &gi));
    CHECK_STATUS(rt_tensor_backward(y, gi, false), RT_ERR_DTYPE);
    CHECK_STATUS(rt_tensor_set_grad(x, g2), RT_ERR_SHAPE);
    CHECK_STATUS(rt_tensor_set_grad(x, gi), RT_ERR_DTYPE);
    CHECK(grad_of(x) == NULL);
    /* A second backward through a freed graph. */
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    CHECK_STATUS(rt_tensor_backward(loss, NULL, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("retain_graph");
    rt_tensor *all[] = {x, y, loss, g2, gi};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* ---- strings ---- */

TEST(names_that_are_not_utf8_are_invalid_arguments) {
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(2, 2, true, &m));
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_module_get_tensor(m, "\xff\xfe", &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("UTF-8");
    float v = 1;
    rt_tensor *t = tensor_f32(&v, NULL, 0);
    const char *names[] = {"ok\xc3"};
    const rt_tensor *ts[] = {t};
    CHECK_STATUS(rt_safetensors_save("/nonexistent/never-written.safetensors", names, ts, 1), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_module_free(m));
}

/* ---- hostile safetensors headers not covered by safetensors::hostile_files_are_format_errors ---- */

/* JSON nested 50 000 deep (refused by the parser's depth limit, not by the stack), a tensor name
 * given twice, and metadata that is not a string: each RT_ERR_FORMAT, with no handle written and
 * no storage allocated; loading them into a module leaves it unchanged. */
TEST(hostile_safetensors_headers_are_format_errors) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "hostile.safetensors");
    uint64_t live = live_bytes();
    enum { DEPTH = 50000 };
    char *deep = malloc(6 * DEPTH + 2);
    CHECK(deep != NULL);
    size_t n = 0;
    for (int i = 0; i < DEPTH; i++) n += (size_t)sprintf(deep + n, "{\"a\":");
    deep[n++] = '1';
    for (int i = 0; i < DEPTH; i++) deep[n++] = '}';
    deep[n] = 0;
    const char *headers[] = {
        deep,
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        "{\"__metadata__\":{\"a\":1},\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    };
    const char *mentions[] = {"recursion limit", "appears more than once", "metadata values must be strings"};
    rt_module *m = NULL;
    CHECK_OK(rt_module_linear(1, 1, false, &m));
    float before = 0, after = 1;
    rt_tensor *w = NULL;
    CHECK_OK(rt_module_get_tensor(m, "weight", &w));
    read_f32(w, &before, 1);
    for (int i = 0; i < 3; i++) {
        write_header_file(path, headers[i], 8);
        rt_safetensors *f = NULL;
        CHECK_STATUS(rt_safetensors_open(path, &f), RT_ERR_FORMAT);
        CHECK_ERROR_MENTIONS(mentions[i]);
        CHECK(f == NULL);
        CHECK_STATUS(rt_module_load_safetensors(m, path, false), RT_ERR_FORMAT);
    }
    read_f32(w, &after, 1);
    CHECK(after == before);
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_module_free(m));
    CHECK(live_bytes() == live);
    free(deep);
    scratch_remove(&s);
}
