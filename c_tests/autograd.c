/* Backward, gradients and the autograd rules of API.md section 3: I4, I7, I10, I11, retain_graph,
 * retain_grad, set_grad, accumulation (also from several threads), failed calls changing nothing,
 * and a very deep graph. */
#include <pthread.h>

#include "harness.h"
#include "probes.h"

static const float x3[] = {1, 2, 3};
static const int64_t s3[] = {3};

static rt_tensor *leaf3(void) { return leaf_f32(x3, s3, 1); }

static rt_tensor *ones3(void) {
    rt_tensor *t = NULL;
    CHECK_OK(rt_tensor_ones(s3, 1, RT_DTYPE_F32, &t));
    return t;
}

/* loss = sum(x * x): a one-element tensor whose gradient is 2x. */
static rt_tensor *sum_of_squares(const rt_tensor *x) {
    rt_tensor *y = NULL, *loss = NULL;
    CHECK_OK(rt_tensor_mul(x, x, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_free(y));
    return loss;
}

static rt_tensor *inference_copy(const float *d, const int64_t *s, size_t ndim) {
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *t = tensor_f32(d, s, ndim);
    CHECK_OK(rt_inference_mode_exit());
    return t;
}

/* ---- backward and its seed ---- */

TEST(backward_of_a_one_element_tensor_needs_no_grad) {
    rt_tensor *x = leaf3(), *loss = sum_of_squares(x);
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    CHECK_OK(rt_tensor_free(loss));
    /* Also a [1, 1] tensor, not only 0-d. */
    rt_tensor *y = NULL, *m = NULL;
    CHECK_OK(rt_tensor_mul(x, x, &y));
    CHECK_OK(rt_tensor_sum(y, (int64_t[]){0}, 1, true, &m));
    CHECK_OK(rt_tensor_set_grad(x, NULL));
    CHECK_OK(rt_tensor_backward(m, NULL, false));
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    CHECK_OK(rt_tensor_free(m));
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
}

TEST(backward_with_an_explicit_grad) {
    rt_tensor *x = leaf3(), *y = NULL;
    CHECK_OK(rt_tensor_mul_scalar(x, 3, &y));
    rt_tensor *g = tensor_f32((float[]){1, -2, 0.5f}, s3, 1);
    CHECK_OK(rt_tensor_backward(y, g, false));
    check_grad(x, (float[]){3, -6, 1.5f}, 3, 0);
    check_all_near(g, (float[]){1, -2, 0.5f}, 3, 0); /* the seed is not modified */
    rt_tensor *ts[] = {x, y, g};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(backward_without_grad_on_a_multi_element_tensor_is_a_shape_error) {
    rt_tensor *x = leaf3(), *y = NULL;
    CHECK_OK(rt_tensor_exp(x, &y));
    CHECK_STATUS(rt_tensor_backward(y, NULL, false), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("rt_tensor_backward");
    CHECK(grad_of(x) == NULL);
    /* The graph was not consumed: a proper call still works. */
    rt_tensor *g = ones3();
    CHECK_OK(rt_tensor_backward(y, g, false));
    CHECK(grad_of(x) != NULL);
    rt_tensor *gx = grad_of(x);
    CHECK_OK(rt_tensor_free(gx));
    rt_tensor *ts[] = {x, y, g};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(backward_refuses_a_grad_of_the_wrong_shape_or_dtype) {
    rt_tensor *x = leaf3(), *y = NULL;
    CHECK_OK(rt_tensor_exp(x, &y));
    int64_t s2[] = {2}, s13[] = {1, 3};
    rt_tensor *g2 = NULL, *g13 = NULL, *gi = NULL;
    CHECK_OK(rt_tensor_ones(s2, 1, RT_DTYPE_F32, &g2));
    CHECK_OK(rt_tensor_ones(s13, 2, RT_DTYPE_F32, &g13));
    CHECK_OK(rt_tensor_ones(s3, 1, RT_DTYPE_I64, &gi));
    CHECK_STATUS(rt_tensor_backward(y, g2, false), RT_ERR_SHAPE);
    CHECK_STATUS(rt_tensor_backward(y, g13, false), RT_ERR_SHAPE); /* no broadcasting of the seed */
    CHECK_STATUS(rt_tensor_backward(y, gi, false), RT_ERR_DTYPE);
    CHECK(grad_of(x) == NULL);
    rt_tensor *ts[] = {x, y, g2, g13, gi};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(backward_on_a_leaf_accumulates_the_seed) {
    rt_tensor *x = leaf3(), *g = tensor_f32((float[]){4, 5, 6}, s3, 1);
    CHECK_OK(rt_tensor_backward(x, g, false));
    check_grad(x, (float[]){4, 5, 6}, 3, 0);
    CHECK_OK(rt_tensor_free(g));
    CHECK_OK(rt_tensor_free(x));
}

TEST(backward_on_a_tensor_that_needs_no_grad_is_an_autograd_error) {
    rt_tensor *c = tensor_f32(x3, s3, 1), *y = NULL, *s = NULL;
    CHECK_OK(rt_tensor_exp(c, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &s));
    CHECK_STATUS(rt_tensor_backward(s, NULL, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("require");
    rt_tensor *g = ones3();
    CHECK_STATUS(rt_tensor_backward(c, g, false), RT_ERR_AUTOGRAD);
    rt_tensor *ts[] = {c, y, s, g};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- graph shapes ---- */

TEST(a_tensor_used_twice_gets_both_gradients) {
    rt_tensor *x = leaf3(), *a = NULL, *y = NULL, *s = NULL;
    CHECK_OK(rt_tensor_exp(x, &a));
    CHECK_OK(rt_tensor_mul(a, a, &y)); /* y = a^2 + a, dy/dx = (2a + 1) a */
    CHECK_OK(rt_tensor_add(y, a, &s));
    backward_sum(s);
    float e[3];
    for (int i = 0; i < 3; i++) {
        double ai = exp(x3[i]);
        e[i] = (float)((2 * ai + 1) * ai);
    }
    rt_tensor *g = grad_of(x);
    float got[3];
    read_f32(g, got, 3);
    for (int i = 0; i < 3; i++) CHECK_NEAR(got[i], e[i], 1e-5 * e[i]);
    rt_tensor *ts[] = {x, a, y, s, g};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(two_leaves_in_one_graph) {
    rt_tensor *x = leaf3(), *w = leaf_f32((float[]){-1, 0.5f, 2}, s3, 1), *y = NULL, *z = NULL;
    CHECK_OK(rt_tensor_mul(x, w, &y));
    CHECK_OK(rt_tensor_div(y, x, &z)); /* z = w, but through both leaves */
    backward_sum(z);
    check_grad(w, (float[]){1, 1, 1}, 3, 1e-6);
    check_grad(x, (float[]){0, 0, 0}, 3, 1e-6);
    rt_tensor *ts[] = {x, w, y, z};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- accumulation and retain_graph ---- */

TEST(gradients_accumulate_across_backward_calls) {
    rt_tensor *x = leaf3(), *l1 = sum_of_squares(x), *l2 = NULL, *y = NULL;
    CHECK_OK(rt_tensor_backward(l1, NULL, false));
    CHECK_OK(rt_tensor_mul_scalar(x, 10, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &l2));
    CHECK_OK(rt_tensor_backward(l2, NULL, false));
    check_grad(x, (float[]){12, 14, 16}, 3, 0);
    rt_tensor *ts[] = {x, l1, l2, y};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(retain_graph_allows_a_second_backward) {
    rt_tensor *x = leaf3(), *loss = sum_of_squares(x);
    CHECK_OK(rt_tensor_backward(loss, NULL, true));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    check_grad(x, (float[]){4, 8, 12}, 3, 0);
    CHECK_STATUS(rt_tensor_backward(loss, NULL, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("freed");
    check_grad(x, (float[]){4, 8, 12}, 3, 0);
    CHECK_OK(rt_tensor_free(loss));
    CHECK_OK(rt_tensor_free(x));
}

TEST(second_backward_without_retain_graph_is_an_autograd_error) {
    rt_tensor *x = leaf3(), *loss = sum_of_squares(x);
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    CHECK_STATUS(rt_tensor_backward(loss, NULL, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("freed");
    CHECK_ERROR_MENTIONS("retain_graph");
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    CHECK_OK(rt_tensor_free(loss));
    CHECK_OK(rt_tensor_free(x));
}

/* A backward that fails part-way changes no gradient: one branch of z's graph was freed. */
TEST(a_failed_backward_changes_no_gradient) {
    rt_tensor *x = leaf3(), *w = leaf3(), *sq = NULL, *lin = NULL, *z = NULL, *s1 = NULL, *s = NULL;
    CHECK_OK(rt_tensor_mul(x, x, &sq));
    CHECK_OK(rt_tensor_sum(sq, NULL, 0, false, &s1));
    CHECK_OK(rt_tensor_backward(s1, NULL, false)); /* frees sq's node */
    CHECK_OK(rt_tensor_mul(w, x, &lin));
    CHECK_OK(rt_tensor_add(lin, sq, &z));
    CHECK_OK(rt_tensor_sum(z, NULL, 0, false, &s));
    CHECK_STATUS(rt_tensor_backward(s, NULL, false), RT_ERR_AUTOGRAD);
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    CHECK(grad_of(w) == NULL);
    rt_tensor *ts[] = {x, w, sq, lin, z, s1, s};
    for (int i = 0; i < 7; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- rt_tensor_grad, set_grad, retain_grad ---- */

TEST(grad_is_null_when_there_is_none) {
    rt_tensor *x = leaf3(), *y = NULL, *s = NULL, *c = tensor_f32(x3, s3, 1);
    CHECK(grad_of(x) == NULL);
    CHECK(grad_of(c) == NULL);
    CHECK_OK(rt_tensor_exp(x, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &s));
    CHECK_OK(rt_tensor_backward(s, NULL, false));
    CHECK(grad_of(y) == NULL); /* non-leaf without retain_grad, as in PyTorch */
    CHECK(grad_of(s) == NULL);
    rt_tensor *g = grad_of(x);
    CHECK(g != NULL);
    CHECK(!requires_grad(g) && !has_grad_fn(g) && !is_inference(g));
    rt_tensor *ts[] = {x, y, s, c, g};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(set_grad_shares_and_null_clears) {
    rt_tensor *x = leaf3(), *g = tensor_f32((float[]){7, 8, 9}, s3, 1);
    CHECK_OK(rt_tensor_set_grad(x, g));
    rt_tensor *got = grad_of(x);
    const void *pg = NULL, *pgot = NULL;
    CHECK_OK(rt_tensor_data_ptr(g, &pg));
    CHECK_OK(rt_tensor_data_ptr(got, &pgot));
    CHECK(pg == pgot); /* shared, not copied */
    CHECK_OK(rt_tensor_free(got));
    /* Backward accumulates into the gradient that was set. */
    rt_tensor *loss = sum_of_squares(x);
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    check_grad(x, (float[]){9, 12, 15}, 3, 0);
    CHECK_OK(rt_tensor_set_grad(x, NULL));
    CHECK(grad_of(x) == NULL);
    CHECK_OK(rt_tensor_set_grad(x, NULL)); /* clearing twice is fine */
    rt_tensor *ts[] = {x, g, loss};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(set_grad_refuses_a_mismatched_gradient_and_keeps_the_old_one) {
    rt_tensor *x = leaf3(), *g = tensor_f32((float[]){7, 8, 9}, s3, 1);
    CHECK_OK(rt_tensor_set_grad(x, g));
    int64_t s2[] = {2}, s31[] = {3, 1};
    rt_tensor *g2 = NULL, *g31 = NULL, *gi = NULL;
    CHECK_OK(rt_tensor_zeros(s2, 1, RT_DTYPE_F32, &g2));
    CHECK_OK(rt_tensor_zeros(s31, 2, RT_DTYPE_F32, &g31));
    CHECK_OK(rt_tensor_zeros(s3, 1, RT_DTYPE_I64, &gi));
    CHECK_STATUS(rt_tensor_set_grad(x, g2), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("rt_tensor_set_grad");
    CHECK_STATUS(rt_tensor_set_grad(x, g31), RT_ERR_SHAPE);
    CHECK_STATUS(rt_tensor_set_grad(x, gi), RT_ERR_DTYPE);
    check_grad(x, (float[]){7, 8, 9}, 3, 0);
    /* An I64 tensor cannot have a gradient at all. */
    int64_t iv[] = {1, 2, 3};
    rt_tensor *xi = tensor_i64(iv, s3, 1);
    CHECK_STATUS(rt_tensor_set_grad(xi, gi), RT_ERR_DTYPE);
    rt_tensor *ts[] = {x, g, g2, g31, gi, xi};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(retain_grad_keeps_a_non_leaf_gradient_and_accumulates) {
    rt_tensor *x = leaf3(), *y = NULL, *z = NULL, *s = NULL;
    CHECK_OK(rt_tensor_mul_scalar(x, 2, &y)); /* y = 2x = 2, 4, 6 */
    CHECK_OK(rt_tensor_retain_grad(y));
    CHECK_OK(rt_tensor_mul(y, y, &z));
    CHECK_OK(rt_tensor_sum(z, NULL, 0, false, &s));
    CHECK_OK(rt_tensor_backward(s, NULL, true));
    check_grad(y, (float[]){4, 8, 12}, 3, 0); /* d(sum y^2)/dy = 2y */
    check_grad(x, (float[]){8, 16, 24}, 3, 0);
    CHECK_OK(rt_tensor_backward(s, NULL, false));
    check_grad(y, (float[]){8, 16, 24}, 3, 0);
    check_grad(x, (float[]){16, 32, 48}, 3, 0);
    rt_tensor *ts[] = {x, y, z, s};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(retain_grad_on_the_root_keeps_the_seed) {
    rt_tensor *x = leaf3(), *y = NULL;
    CHECK_OK(rt_tensor_exp(x, &y));
    CHECK_OK(rt_tensor_retain_grad(y));
    rt_tensor *g = tensor_f32((float[]){1, 2, 3}, s3, 1);
    CHECK_OK(rt_tensor_backward(y, g, false));
    check_grad(y, (float[]){1, 2, 3}, 3, 0);
    rt_tensor *ts[] = {x, y, g};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(retain_grad_without_requires_grad_is_an_autograd_error) {
    rt_tensor *c = tensor_f32(x3, s3, 1);
    CHECK_STATUS(rt_tensor_retain_grad(c), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("rt_tensor_retain_grad");
    rt_tensor *x = leaf3();
    CHECK_OK(rt_tensor_retain_grad(x)); /* a no-op on leaves */
    rt_tensor *loss = sum_of_squares(x);
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    rt_tensor *ts[] = {c, x, loss};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- no_grad (I11) ---- */

TEST(no_grad_outputs_do_not_require_grad_and_cannot_backward) {
    rt_tensor *x = leaf3(), *y = NULL, *s = NULL, *v = NULL;
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_mul(x, x, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &s));
    CHECK_OK(rt_tensor_transpose(y, 0, 0, &v));
    CHECK_OK(rt_grad_mode_exit());
    rt_tensor *outs[] = {y, s, v};
    for (int i = 0; i < 3; i++) {
        CHECK(!requires_grad(outs[i]));
        CHECK(!has_grad_fn(outs[i]));
        CHECK(!is_inference(outs[i]));
    }
    CHECK_STATUS(rt_tensor_backward(s, NULL, false), RT_ERR_AUTOGRAD);
    CHECK(grad_of(x) == NULL);
    rt_tensor *ts[] = {x, y, s, v};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(backward_is_allowed_under_no_grad) {
    rt_tensor *x = leaf3(), *loss = sum_of_squares(x);
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_backward(loss, NULL, false)); /* as torch.no_grad(): only recording stops */
    CHECK_OK(rt_grad_mode_exit());
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    CHECK_OK(rt_tensor_free(loss));
    CHECK_OK(rt_tensor_free(x));
}

/* ---- inference mode and backward (I10) ---- */

TEST(backward_inside_inference_mode_fails_and_changes_no_gradient) {
    rt_tensor *x = leaf3(), *loss = sum_of_squares(x);
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_STATUS(rt_tensor_backward(loss, NULL, false), RT_ERR_INFERENCE_MODE);
    CHECK_ERROR_MENTIONS("inference");
    CHECK(grad_of(x) == NULL);
    /* Re-enabling grad mode inside inference mode does not help. */
    CHECK_OK(rt_grad_mode_enter(true));
    CHECK_STATUS(rt_tensor_backward(loss, NULL, true), RT_ERR_INFERENCE_MODE);
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_inference_mode_exit());
    CHECK(grad_of(x) == NULL);
    /* The refused calls did not free the graph: backward succeeds after the exit. */
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    CHECK_OK(rt_tensor_free(loss));
    CHECK_OK(rt_tensor_free(x));
}

TEST(backward_inside_inference_mode_keeps_earlier_gradients) {
    rt_tensor *x = leaf3(), *w = leaf3(), *loss = sum_of_squares(x), *y = NULL, *z = NULL;
    CHECK_OK(rt_tensor_mul(x, w, &y));
    CHECK_OK(rt_tensor_retain_grad(y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &z));
    CHECK_OK(rt_tensor_backward(z, NULL, true));
    check_grad(x, (float[]){1, 2, 3}, 3, 0);
    check_grad(w, (float[]){1, 2, 3}, 3, 0);
    check_grad(y, (float[]){1, 1, 1}, 3, 0);
    rt_tensor *g = ones3();
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_STATUS(rt_tensor_backward(loss, NULL, false), RT_ERR_INFERENCE_MODE);
    CHECK_STATUS(rt_tensor_backward(z, NULL, true), RT_ERR_INFERENCE_MODE);
    CHECK_STATUS(rt_tensor_backward(x, g, false), RT_ERR_INFERENCE_MODE); /* a leaf root too */
    check_grad(x, (float[]){1, 2, 3}, 3, 0);
    check_grad(w, (float[]){1, 2, 3}, 3, 0);
    check_grad(y, (float[]){1, 1, 1}, 3, 0);
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    check_grad(x, (float[]){3, 6, 9}, 3, 0);
    check_grad(w, (float[]){1, 2, 3}, 3, 0);
    rt_tensor *ts[] = {x, w, loss, y, z, g};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

static rt_status backward_callback(void *ctx) {
    return rt_tensor_backward(ctx, NULL, false);
}

TEST(backward_inside_with_inference_mode_fails_too) {
    rt_tensor *x = leaf3(), *loss = sum_of_squares(x);
    CHECK_STATUS(rt_with_inference_mode(backward_callback, loss), RT_ERR_INFERENCE_MODE);
    CHECK(grad_of(x) == NULL);
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    check_grad(x, (float[]){2, 4, 6}, 3, 0);
    CHECK_OK(rt_tensor_free(loss));
    CHECK_OK(rt_tensor_free(x));
}

/* ---- inference tensors and recording (I4, I7) ---- */

TEST(ops_in_inference_mode_never_require_grad) {
    rt_tensor *x = leaf3(), *w = leaf3();
    rt_tensor *outs[5] = {NULL};
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_tensor_mul(x, w, &outs[0]));
    CHECK_OK(rt_tensor_exp(x, &outs[1]));
    CHECK_OK(rt_tensor_matmul(x, w, &outs[2]));
    CHECK_OK(rt_tensor_sum(x, NULL, 0, false, &outs[3]));
    CHECK_OK(rt_tensor_clone(x, &outs[4]));
    CHECK_OK(rt_inference_mode_exit());
    for (int i = 0; i < 5; i++) {
        CHECK(!requires_grad(outs[i]));
        CHECK(!has_grad_fn(outs[i]));
        CHECK(is_inference(outs[i]));
        CHECK(is_leaf(outs[i]));
    }
    CHECK_STATUS(rt_tensor_backward(outs[3], NULL, false), RT_ERR_AUTOGRAD);
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(outs[i]));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_tensor_free(w));
}

TEST(an_op_that_would_save_an_inference_tensor_is_refused_outside_the_mode) {
    rt_tensor *inf = inference_copy(x3, s3, 1), *w = leaf3(), *out = (rt_tensor *)0x40;
    CHECK_STATUS(rt_tensor_mul(inf, w, &out), RT_ERR_INFERENCE_MODE); /* w's gradient needs inf */
    CHECK_ERROR_MENTIONS("rt_tensor_mul");
    CHECK_STATUS(rt_tensor_mul(w, inf, &out), RT_ERR_INFERENCE_MODE);
    CHECK_STATUS(rt_tensor_div(w, inf, &out), RT_ERR_INFERENCE_MODE);
    CHECK_STATUS(rt_tensor_matmul(inf, w, &out), RT_ERR_INFERENCE_MODE);
    int64_t s13[] = {1, 3};
    rt_tensor *wm = NULL;
    CHECK_OK(rt_tensor_view(w, s13, 2, &wm));
    CHECK_STATUS(rt_tensor_linear(inf, wm, NULL, &out), RT_ERR_INFERENCE_MODE);
    CHECK(out == (rt_tensor *)0x40);
    CHECK_OK(rt_tensor_free(wm));
    CHECK_OK(rt_tensor_free(inf));
    CHECK_OK(rt_tensor_free(w));
}

TEST(ops_that_save_nothing_take_inference_tensors_and_require_grad) {
    rt_tensor *inf = inference_copy(x3, s3, 1), *w = leaf3(), *y = NULL, *z = NULL;
    CHECK_OK(rt_tensor_add(inf, w, &y));
    CHECK(requires_grad(y));
    CHECK(has_grad_fn(y));
    CHECK(!is_inference(y));
    CHECK_OK(rt_tensor_sub(w, inf, &z));
    CHECK(requires_grad(z));
    backward_sum(y);
    check_grad(w, (float[]){1, 1, 1}, 3, 0);
    rt_tensor *ts[] = {inf, w, y, z};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(saving_inference_tensors_is_fine_when_nothing_is_recorded) {
    rt_tensor *inf = inference_copy(x3, s3, 1), *w = leaf3(), *c = tensor_f32(x3, s3, 1);
    rt_tensor *a = NULL, *b = NULL;
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_mul(inf, w, &a)); /* no_grad: nothing is saved */
    CHECK_OK(rt_grad_mode_exit());
    CHECK(!requires_grad(a));
    CHECK_OK(rt_tensor_mul(inf, c, &b)); /* no input requires grad */
    CHECK(!requires_grad(b) && !is_inference(b));
    check_all_near(b, (float[]){1, 4, 9}, 3, 0);
    rt_tensor *ts[] = {inf, w, c, a, b};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- concurrency: accumulation into a shared leaf is serialized ---- */

/* Large enough that the read-add-write of an unserialized accumulation overlaps across threads. */
enum { THREADS = 4, ROUNDS = 200, N = 1 << 14 };

static void *backward_many_times(void *arg) {
    rt_tensor *x = arg;
    for (int r = 0; r < ROUNDS; r++) {
        rt_tensor *y = NULL, *s = NULL;
        if (rt_tensor_mul_scalar(x, 1.0, &y) != RT_OK) return (void *)1;
        if (rt_tensor_sum(y, NULL, 0, false, &s) != RT_OK) return (void *)1;
        if (rt_tensor_backward(s, NULL, false) != RT_OK) return (void *)1;
        rt_tensor_free(s);
        rt_tensor_free(y);
    }
    return NULL;
}

TEST(concurrent_backward_into_a_shared_leaf_loses_no_update) {
    int64_t s[] = {N};
    rt_tensor *x = NULL;
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &x));
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&th[i], NULL, backward_many_times, x) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *r = NULL;
        CHECK(pthread_join(th[i], &r) == 0);
        CHECK(r == NULL);
    }
    rt_tensor *g = grad_of(x);
    static float v[N];
    read_f32(g, v, N);
    for (int i = 0; i < N; i++) CHECK(v[i] == (float)(THREADS * ROUNDS));
    CHECK_OK(rt_tensor_free(g));
    CHECK_OK(rt_tensor_free(x));
}

/* ---- a very deep graph ---- */

enum { DEPTH = 100000 };

static rt_tensor *deep_chain(const rt_tensor *x) {
    rt_tensor *h = NULL;
    CHECK_OK(rt_tensor_add_scalar(x, 1.0, &h));
    for (int i = 1; i < DEPTH; i++) {
        rt_tensor *next = NULL;
        CHECK_OK(rt_tensor_add_scalar(h, 1.0, &next));
        CHECK_OK(rt_tensor_free(h));
        h = next;
    }
    return h;
}

TEST(a_chain_of_100000_ops_backpropagates_and_frees) {
    float d[] = {0.5f};
    int64_t s[] = {1};
    rt_tensor *x = leaf_f32(d, s, 1), *h = deep_chain(x);
    CHECK_NEAR(item_of(h), 0.5 + DEPTH, 0);
    CHECK_OK(rt_tensor_backward(h, NULL, false));
    check_grad(x, (float[]){1}, 1, 0);
    CHECK_OK(rt_tensor_free(h));
    CHECK_OK(rt_tensor_free(x));
}

TEST(a_chain_of_100000_ops_frees_without_backward) {
    float d[] = {0.5f};
    int64_t s[] = {1};
    rt_tensor *x = leaf_f32(d, s, 1), *h = deep_chain(x);
    CHECK_OK(rt_tensor_free(x)); /* the graph keeps the leaf alive; freeing h drops it all */
    CHECK_OK(rt_tensor_free(h));
}
