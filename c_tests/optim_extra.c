/* AdamW and gradient-norm clipping (API.md section 8) against torch.optim.AdamW and
 * torch.nn.utils.clip_grad_norm_: references from tests/reference/optim_extra.py. */
#include "harness.h"
#include "optim_extra_ref.h"

static rt_tensor *leaf_f32(const float *data, const int64_t *shape, size_t ndim) {
    rt_tensor *t = tensor_f32(data, shape, ndim);
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    return t;
}

static uint64_t version(const rt_tensor *t) {
    uint64_t v;
    CHECK_OK(rt_tensor_version(t, &v));
    return v;
}

/* loss = sum((p - target)^2 * w), backward. */
static void weighted_loss_backward(rt_tensor *p) {
    rt_tensor *target = tensor_f32(ADAMW_TARGET, ADAMW_TARGET_shape, 1), *w = tensor_f32(ADAMW_W, ADAMW_W_shape, 1);
    rt_tensor *d, *sq, *weighted, *loss;
    CHECK_OK(rt_tensor_sub(p, target, &d));
    CHECK_OK(rt_tensor_pow_scalar(d, 2, &sq));
    CHECK_OK(rt_tensor_mul(sq, w, &weighted));
    CHECK_OK(rt_tensor_sum(weighted, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    rt_tensor *all[] = {target, w, d, sq, weighted, loss};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(all[i]));
}

TEST(adamw_tensors_matches_pytorch) {
    rt_tensor *p = leaf_f32(ADAMW_P0, ADAMW_P0_shape, 1);
    rt_tensor *ps[] = {p};
    rt_optimizer *opt;
    CHECK_OK(rt_optimizer_adamw_tensors(ps, 1, 0.1, 0.9, 0.999, 1e-8, 0.05, &opt));
    for (int step = 0; step < 4; step++) {
        CHECK_OK(rt_optimizer_zero_grad(opt));
        weighted_loss_backward(p);
        uint64_t before = version(p);
        CHECK_OK(rt_optimizer_step(opt));
        CHECK(version(p) == before + 1); /* an in-place update */
        bool leaf;
        CHECK_OK(rt_tensor_is_leaf(p, &leaf));
        CHECK(leaf && requires_grad(p)); /* nothing recorded */
        check_all_near(p, ADAMW_TRAJ + 6 * step, 6, 1e-6);
    }
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
}

/* A Linear(3, 2) holding LIN_W0 and LIN_B0, with handles to its parameters. */
static rt_module *linear(rt_tensor **w, rt_tensor **b) {
    rt_module *lin;
    CHECK_OK(rt_module_linear(3, 2, true, &lin));
    CHECK_OK(rt_module_get_tensor(lin, "weight", w));
    CHECK_OK(rt_module_get_tensor(lin, "bias", b));
    rt_tensor *w0 = tensor_f32(LIN_W0, LIN_W0_shape, 2), *b0 = tensor_f32(LIN_B0, LIN_B0_shape, 1);
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_copy_inplace(*w, w0));
    CHECK_OK(rt_tensor_copy_inplace(*b, b0));
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_tensor_free(w0));
    CHECK_OK(rt_tensor_free(b0));
    return lin;
}

/* loss = sum((lin(x) - y)^2), backward. */
static void linear_loss_backward(rt_module *lin) {
    rt_tensor *x = tensor_f32(LIN_X, LIN_X_shape, 2), *y = tensor_f32(LIN_Y, LIN_Y_shape, 2);
    rt_tensor *out, *d, *sq, *loss;
    CHECK_OK(rt_module_forward(lin, x, &out));
    CHECK_OK(rt_tensor_sub(out, y, &d));
    CHECK_OK(rt_tensor_pow_scalar(d, 2, &sq));
    CHECK_OK(rt_tensor_sum(sq, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    rt_tensor *all[] = {x, y, out, d, sq, loss};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(all[i]));
}

TEST(adamw_module_matches_pytorch) {
    rt_tensor *w, *b;
    rt_module *lin = linear(&w, &b);
    rt_optimizer *opt;
    CHECK_OK(rt_optimizer_adamw(lin, 0.05, 0.8, 0.99, 1e-6, 0.01, &opt));
    for (int step = 0; step < 4; step++) {
        CHECK_OK(rt_optimizer_zero_grad(opt));
        linear_loss_backward(lin);
        CHECK_OK(rt_optimizer_step(opt));
        check_all_near(w, LIN_W_TRAJ + 6 * step, 6, 1e-6);
        check_all_near(b, LIN_B_TRAJ + 2 * step, 2, 1e-6);
    }
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_module_free(lin));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
}

TEST(adamw_bad_arguments_change_nothing) {
    rt_tensor *p = leaf_f32(ADAMW_P0, ADAMW_P0_shape, 1);
    rt_tensor *ps[] = {p};
    rt_optimizer *opt = (rt_optimizer *)0x1;
    CHECK_STATUS(rt_optimizer_adamw_tensors(ps, 1, -0.1, 0.9, 0.999, 1e-8, 0.01, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("learning rate");
    CHECK_STATUS(rt_optimizer_adamw_tensors(ps, 1, 0.1, 1.0, 0.999, 1e-8, 0.01, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("beta1");
    CHECK_STATUS(rt_optimizer_adamw_tensors(ps, 1, 0.1, 0.9, -0.5, 1e-8, 0.01, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("beta2");
    CHECK_STATUS(rt_optimizer_adamw_tensors(ps, 1, 0.1, 0.9, 0.999, NAN, 0.01, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("eps");
    CHECK_STATUS(rt_optimizer_adamw_tensors(ps, 1, 0.1, 0.9, 0.999, 1e-8, -0.01, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("weight_decay");
    CHECK_STATUS(rt_optimizer_adamw_tensors(NULL, 1, 0.1, 0.9, 0.999, 1e-8, 0.01, &opt), RT_ERR_NULL_ARGUMENT);
    rt_tensor *holes[] = {p, NULL};
    CHECK_STATUS(rt_optimizer_adamw_tensors(holes, 2, 0.1, 0.9, 0.999, 1e-8, 0.01, &opt), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("params[1]");
    CHECK_STATUS(rt_optimizer_adamw_tensors(ps, 1, 0.1, 0.9, 0.999, 1e-8, 0.01, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_optimizer_adamw(NULL, 0.1, 0.9, 0.999, 1e-8, 0.01, &opt), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_optimizer_adamw((rt_module *)p, 0.1, 0.9, 0.999, 1e-8, 0.01, &opt), RT_ERR_INVALID_HANDLE);
    CHECK(opt == (rt_optimizer *)0x1); /* no failed call wrote the out-parameter */
    CHECK_OK(rt_tensor_free(p));
}

TEST(adamw_step_on_inference_parameter_outside_the_mode_is_refused) {
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *p = leaf_f32(ADAMW_P0, ADAMW_P0_shape, 1);
    CHECK_OK(rt_inference_mode_exit());
    rt_tensor *ps[] = {p};
    rt_optimizer *opt;
    CHECK_OK(rt_optimizer_adamw_tensors(ps, 1, 0.1, 0.9, 0.999, 1e-8, 0.05, &opt));
    rt_tensor *g = tensor_f32(ADAMW_W, ADAMW_W_shape, 1);
    CHECK_OK(rt_tensor_set_grad(p, g));
    CHECK_STATUS(rt_optimizer_step(opt), RT_ERR_INFERENCE_MODE);
    check_all_near(p, ADAMW_P0, 6, 0); /* neither the decay nor the update happened */
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_optimizer_step(opt));
    CHECK_OK(rt_inference_mode_exit());
    float after[6];
    read_f32(p, after, 6);
    for (int i = 0; i < 6; i++) CHECK(after[i] != ADAMW_P0[i]);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
    CHECK_OK(rt_tensor_free(g));
}

/* Params a (2, 3) and c (5) with gradients CLIP_G0 and CLIP_G2, and b (4) without one. */
typedef struct {
    rt_tensor *p[3], *g0, *g2;
} clip_case;

static clip_case clip_setup(void) {
    static const float zeros[6] = {0};
    static const int64_t b_shape[] = {4};
    clip_case c;
    c.p[0] = leaf_f32(zeros, CLIP_G0_shape, 2);
    c.p[1] = leaf_f32(zeros, b_shape, 1);
    c.p[2] = leaf_f32(zeros, CLIP_G2_shape, 1);
    c.g0 = tensor_f32(CLIP_G0, CLIP_G0_shape, 2);
    c.g2 = tensor_f32(CLIP_G2, CLIP_G2_shape, 1);
    CHECK_OK(rt_tensor_set_grad(c.p[0], c.g0));
    CHECK_OK(rt_tensor_set_grad(c.p[2], c.g2));
    return c;
}

static void clip_free(clip_case c) {
    rt_tensor *all[] = {c.p[0], c.p[1], c.p[2], c.g0, c.g2};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(all[i]));
}

static void check_grad(rt_tensor *p, const float *expected, size_t n) {
    rt_tensor *g;
    CHECK_OK(rt_tensor_grad(p, &g));
    CHECK(g != NULL);
    check_all_near(g, expected, n, 1e-6);
    CHECK_OK(rt_tensor_free(g));
}

static void clip_matches(double max_norm, double norm_type, const float *total, const float *g0, const float *g2,
                         bool clipped) {
    clip_case c = clip_setup();
    uint64_t v0 = version(c.g0);
    double out = -1;
    CHECK_OK(rt_clip_grad_norm(c.p, 3, max_norm, norm_type, &out));
    CHECK_NEAR(out, total[0], 1e-6 * total[0]);
    check_grad(c.p[0], g0, 6);
    check_grad(c.p[2], g2, 5);
    rt_tensor *none;
    CHECK_OK(rt_tensor_grad(c.p[1], &none));
    CHECK(none == NULL); /* a parameter without a gradient keeps none */
    CHECK(version(c.g0) == v0 + (clipped ? 1 : 0)); /* scaling is an in-place write */
    clip_free(c);
}

TEST(clip_l2_clipped_matches_pytorch) { clip_matches(1.0, 2.0, L2_CLIPPED_TOTAL, L2_CLIPPED_G0, L2_CLIPPED_G2, true); }
TEST(clip_l2_kept_matches_pytorch) { clip_matches(100.0, 2.0, L2_KEPT_TOTAL, L2_KEPT_G0, L2_KEPT_G2, false); }
TEST(clip_inf_clipped_matches_pytorch) {
    clip_matches(0.5, INFINITY, INF_CLIPPED_TOTAL, INF_CLIPPED_G0, INF_CLIPPED_G2, true);
}
TEST(clip_inf_kept_matches_pytorch) { clip_matches(100.0, INFINITY, INF_KEPT_TOTAL, INF_KEPT_G0, INF_KEPT_G2, false); }
TEST(clip_l3_clipped_matches_pytorch) { clip_matches(1.0, 3.0, L3_CLIPPED_TOTAL, L3_CLIPPED_G0, L3_CLIPPED_G2, true); }

TEST(clip_module_matches_pytorch) {
    rt_tensor *w, *b;
    rt_module *lin = linear(&w, &b);
    linear_loss_backward(lin);
    double total;
    CHECK_OK(rt_module_clip_grad_norm(lin, 0.5, 2.0, &total));
    CHECK_NEAR(total, MODULE_CLIP_TOTAL[0], 1e-6 * MODULE_CLIP_TOTAL[0]);
    check_grad(w, MODULE_CLIP_GW, 6);
    check_grad(b, MODULE_CLIP_GB, 2);
    CHECK_OK(rt_module_clip_grad_norm(lin, 0.5, 2.0, NULL)); /* the total is optional */
    CHECK_OK(rt_module_free(lin));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(b));
}

TEST(clip_strided_gradient_is_scaled_through_its_layout) {
    /* p is (3, 2); its gradient is the transpose of CLIP_G0 (a view, not contiguous). */
    static const int64_t shape_t[] = {3, 2};
    static const float zeros[6] = {0};
    rt_tensor *p = leaf_f32(zeros, shape_t, 2), *p2 = leaf_f32(zeros, CLIP_G2_shape, 1);
    rt_tensor *g0 = tensor_f32(CLIP_G0, CLIP_G0_shape, 2), *g0t, *g2 = tensor_f32(CLIP_G2, CLIP_G2_shape, 1);
    CHECK_OK(rt_tensor_transpose(g0, 0, 1, &g0t));
    CHECK_OK(rt_tensor_set_grad(p, g0t));
    CHECK_OK(rt_tensor_set_grad(p2, g2));
    rt_tensor *ps[] = {p2, p};
    double total;
    CHECK_OK(rt_clip_grad_norm(ps, 2, 1.0, 2.0, &total));
    CHECK_NEAR(total, L2_CLIPPED_TOTAL[0], 1e-6 * L2_CLIPPED_TOTAL[0]);
    check_all_near(g0, L2_CLIPPED_G0, 6, 1e-6); /* the view wrote through to its base */
    check_all_near(g2, L2_CLIPPED_G2, 5, 1e-6);
    rt_tensor *all[] = {p, p2, g0, g0t, g2};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(all[i]));
}

TEST(clip_infinite_gradient_scales_anyway_as_pytorch) {
    static const float zeros[3] = {0};
    rt_tensor *p = leaf_f32(zeros, INF_GRAD_IN_shape, 1), *g = tensor_f32(INF_GRAD_IN, INF_GRAD_IN_shape, 1);
    CHECK_OK(rt_tensor_set_grad(p, g));
    rt_tensor *ps[] = {p};
    double total;
    CHECK_OK(rt_clip_grad_norm(ps, 1, 1.0, 2.0, &total));
    CHECK(isinf(total) && total > 0 && isinf(INF_GRAD_TOTAL[0]));
    float out[3];
    read_f32(g, out, 3);
    for (int i = 0; i < 3; i++) CHECK(isnan(INF_GRAD_OUT[i]) ? isnan(out[i]) : out[i] == INF_GRAD_OUT[i]);
    CHECK_OK(rt_tensor_free(p));
    CHECK_OK(rt_tensor_free(g));
}

TEST(clip_without_gradients_returns_zero) {
    double total = -1;
    CHECK_OK(rt_clip_grad_norm(NULL, 0, 1.0, 2.0, &total));
    CHECK(total == 0.0);
    rt_tensor *p = leaf_f32(CLIP_G2, CLIP_G2_shape, 1);
    rt_tensor *ps[] = {p};
    total = -1;
    CHECK_OK(rt_clip_grad_norm(ps, 1, 1.0, INFINITY, &total));
    CHECK(total == 0.0);
    CHECK_OK(rt_tensor_free(p));
}

TEST(clip_works_in_every_grad_mode) {
    /* Gradients are outside the graph: grad mode, no_grad and inference mode all clip them. */
    for (int mode = 0; mode < 3; mode++) {
        if (mode == 1) CHECK_OK(rt_grad_mode_enter(false));
        if (mode == 2) CHECK_OK(rt_inference_mode_enter(true));
        clip_case c = clip_setup();
        double total;
        CHECK_OK(rt_clip_grad_norm(c.p, 3, 1.0, 2.0, &total));
        check_grad(c.p[0], L2_CLIPPED_G0, 6);
        clip_free(c);
        if (mode == 1) CHECK_OK(rt_grad_mode_exit());
        if (mode == 2) CHECK_OK(rt_inference_mode_exit());
    }
}

/* The call fails with `status` mentioning `needle`, and no gradient changed. */
static void clip_refused(clip_case c, size_t n, double max_norm, double norm_type, rt_status status, const char *needle) {
    double total = -1;
    CHECK_STATUS(rt_clip_grad_norm(c.p, n, max_norm, norm_type, &total), status);
    CHECK_ERROR_MENTIONS(needle);
    CHECK(total == -1);
    check_all_near(c.g0, CLIP_G0, 6, 0);
    check_all_near(c.g2, CLIP_G2, 5, 0);
}

TEST(clip_bad_arguments_change_nothing) {
    clip_case c = clip_setup();
    clip_refused(c, 3, -1.0, 2.0, RT_ERR_INVALID_ARGUMENT, "max_norm");
    clip_refused(c, 3, NAN, 2.0, RT_ERR_INVALID_ARGUMENT, "max_norm");
    clip_refused(c, 3, 1.0, 0.0, RT_ERR_INVALID_ARGUMENT, "norm_type");
    clip_refused(c, 3, 1.0, -2.0, RT_ERR_INVALID_ARGUMENT, "norm_type");
    clip_refused(c, 3, 1.0, -INFINITY, RT_ERR_INVALID_ARGUMENT, "norm_type");
    clip_refused(c, 3, 1.0, NAN, RT_ERR_INVALID_ARGUMENT, "norm_type");
    double total = -1;
    CHECK_STATUS(rt_clip_grad_norm(NULL, 3, 1.0, 2.0, &total), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("params");
    rt_tensor *holes[] = {c.p[0], NULL};
    CHECK_STATUS(rt_clip_grad_norm(holes, 2, 1.0, 2.0, &total), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("params[1]");
    rt_tensor *stale = tensor_f32(CLIP_G2, CLIP_G2_shape, 1);
    CHECK_OK(rt_tensor_free(stale));
    rt_tensor *with_stale[] = {c.p[0], stale};
    CHECK_STATUS(rt_clip_grad_norm(with_stale, 2, 1.0, 2.0, &total), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_clip_grad_norm(NULL, 1.0, 2.0, &total), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_clip_grad_norm((rt_module *)c.p[0], 1.0, 2.0, &total), RT_ERR_INVALID_HANDLE);
    CHECK(total == -1);
    check_all_near(c.g0, CLIP_G0, 6, 0);
    clip_free(c);
}

TEST(clip_inference_gradient_outside_the_mode_is_refused) {
    clip_case c = clip_setup();
    /* a third gradient made in inference mode, after two ordinary ones */
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *gi = tensor_f32(CLIP_G2, CLIP_G2_shape, 1);
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_tensor_set_grad(c.p[1], NULL));
    rt_tensor *pi = leaf_f32(CLIP_G2, CLIP_G2_shape, 1);
    CHECK_OK(rt_tensor_set_grad(pi, gi));
    rt_tensor *ps[] = {c.p[0], c.p[2], pi};
    double total = -1;
    CHECK_STATUS(rt_clip_grad_norm(ps, 3, 1.0, 2.0, &total), RT_ERR_INFERENCE_MODE);
    CHECK_ERROR_MENTIONS("gradient of parameter 2");
    CHECK(total == -1);
    check_all_near(c.g0, CLIP_G0, 6, 0); /* nothing half-applied */
    check_all_near(c.g2, CLIP_G2, 5, 0);
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_clip_grad_norm(ps, 3, 1.0, 2.0, &total));
    CHECK_OK(rt_inference_mode_exit());
    CHECK(total > 1.0);
    CHECK_OK(rt_tensor_free(gi));
    CHECK_OK(rt_tensor_free(pi));
    clip_free(c);
}

TEST(clip_expanded_gradient_is_refused) {
    static const float one[1] = {1.0f};
    static const int64_t shape1[] = {1}, shape4[] = {4};
    rt_tensor *p = leaf_f32(CLIP_G2, shape4, 1), *g1 = tensor_f32(one, shape1, 1), *ge;
    CHECK_OK(rt_tensor_expand(g1, shape4, 1, &ge));
    CHECK_OK(rt_tensor_set_grad(p, ge));
    rt_tensor *ps[] = {p};
    CHECK_STATUS(rt_clip_grad_norm(ps, 1, 0.5, 2.0, NULL), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("expanded");
    check_all_near(g1, one, 1, 0);
    rt_tensor *all[] = {p, g1, ge};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(all[i]));
}
