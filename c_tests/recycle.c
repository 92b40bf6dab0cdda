/* A tensor freed through rt_tensor_free may be kept on the freeing thread and reused as the output
 * of the next elementwise op of its size (src/recycle.rs). Nothing of the freed tensor may show
 * through: each output starts as a fresh tensor would, the memory statistics read as if nothing
 * were kept, and a tensor something else still reaches (a graph's weak edge to a leaf, a view, a
 * share) is never reused. */
#include "harness.h"
#include "probes.h"

static rt_memory_stats stats(void) {
    rt_memory_stats s;
    CHECK_OK(rt_memory_stats_get(&s));
    return s;
}

static rt_tensor *four(float v) {
    float d[] = {v, v + 1, v + 2, v + 3};
    int64_t s[] = {4};
    return tensor_f32(d, s, 1);
}

static rt_tensor *add(const rt_tensor *a, const rt_tensor *b) {
    rt_tensor *out = NULL;
    CHECK_OK(rt_tensor_add(a, b, &out));
    return out;
}

/* A freed leaf that required grad, had a gradient-free history and was modified in place leaves
 * nothing behind in the next output of its size, in each mode. */
TEST(an_output_made_from_a_freed_tensor_starts_fresh) {
    rt_tensor *a = four(1), *b = four(10);
    for (int mode = 0; mode < 3; mode++) {
        rt_tensor *old = four(100);
        CHECK_OK(rt_tensor_set_requires_grad(old, true));
        CHECK_OK(rt_tensor_set_requires_grad(old, false));
        CHECK_OK(rt_tensor_add_scalar_inplace(old, 1.0));
        CHECK(version_of(old) == 1);
        CHECK_OK(rt_tensor_set_requires_grad(old, true));
        CHECK_OK(rt_tensor_free(old));
        if (mode == 1) CHECK_OK(rt_grad_mode_enter(false));
        if (mode == 2) CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *out = add(a, b);
        if (mode == 1) CHECK_OK(rt_grad_mode_exit());
        if (mode == 2) CHECK_OK(rt_inference_mode_exit());
        const float want[] = {11, 13, 15, 17};
        check_all_near(out, want, 4, 0);
        CHECK(!requires_grad(out));
        CHECK(is_leaf(out));
        CHECK(grad_of(out) == NULL);
        CHECK(is_inference(out) == (mode == 2));
        if (mode != 2) CHECK(version_of(out) == 0);
        int64_t s[] = {4};
        check_shape(out, s, 1);
        CHECK_OK(rt_tensor_free(out));
    }
    CHECK_OK(rt_tensor_free(a));
    CHECK_OK(rt_tensor_free(b));
}

/* Same element count, other shape: the output has its own shape and row-major strides. */
TEST(a_reused_tensor_takes_the_shape_of_the_new_output) {
    float d[] = {1, 2, 3, 4};
    int64_t s22[] = {2, 2};
    rt_tensor *old = four(0), *a = tensor_f32(d, s22, 2), *out = NULL;
    CHECK_OK(rt_tensor_free(old));
    CHECK_OK(rt_tensor_relu(a, &out));
    check_shape(out, s22, 2);
    CHECK(is_contiguous(out));
    check_all_near(out, d, 4, 0);
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_transpose(out, 0, 1, &t));
    const float transposed[] = {1, 3, 2, 4};
    check_all_near(t, transposed, 4, 0);
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_free(a));
}

/* Freed bytes leave the statistics at once and every output counts as an allocation. */
TEST(memory_statistics_do_not_see_kept_tensors) {
    rt_tensor *a = four(1), *b = four(2);
    rt_memory_stats before = stats();
    for (int i = 0; i < 10; i++) {
        rt_tensor *out = add(a, b);
        rt_memory_stats during = stats();
        CHECK(during.live_bytes == before.live_bytes + 16);
        CHECK(during.alloc_count == before.alloc_count + (uint64_t)i + 1);
        CHECK_OK(rt_tensor_free(out));
        CHECK(stats().live_bytes == before.live_bytes);
    }
    CHECK_OK(rt_tensor_free(a));
    CHECK_OK(rt_tensor_free(b));
}

/* A graph holds its leaves weakly: freeing the leaf's last handle must not hand its tensor to the
 * next output, or backward would write that output's gradient. */
TEST(a_freed_leaf_that_a_graph_still_reaches_is_not_reused) {
    rt_tensor *x = four(1), *y = NULL;
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(rt_tensor_mul_scalar(x, 2.0, &y));
    CHECK_OK(rt_tensor_free(x));
    rt_tensor *a = four(5), *b = four(6);
    rt_tensor *out = add(a, b);
    backward_sum(y);
    CHECK(grad_of(out) == NULL);
    CHECK(!requires_grad(out));
    const float want[] = {11, 13, 15, 17};
    check_all_near(out, want, 4, 0);
    rt_tensor *ts[] = {y, a, b, out};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* A freed tensor whose storage a view or a share still holds keeps its data. */
TEST(a_freed_tensor_whose_data_is_still_held_is_not_reused) {
    rt_tensor *t = four(1), *share = NULL, *view = NULL;
    CHECK_OK(rt_tensor_share(t, &share));
    CHECK_OK(rt_tensor_narrow(share, 0, 0, 4, &view));
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_tensor_free(share));
    rt_tensor *a = four(10), *b = four(20);
    rt_tensor *out = add(a, b);
    const float kept[] = {1, 2, 3, 4};
    check_all_near(view, kept, 4, 0);
    rt_tensor *ts[] = {view, a, b, out};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}
