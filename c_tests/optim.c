/* Optimizers against torch.optim: trajectories from tests/reference/optim.py (PyTorch 2.15,
 * float32) on loss = sum((p - target)^2 * w). */
#include "harness.h"

static const float SGD_MOMENTUM[3][4] = {
    {0.5995f, -0.598999977f, 1.69799995f, 0.399749994f},
    {0.768550515f, 0.00209904602f, 1.15470195f, 0.594275236f},
    {0.966217279f, 0.542246461f, 0.449108928f, 0.712188542f}};
static const float SGD_PLAIN[3][4] = {
    {0.550000012f, -0.800000012f, 1.85000002f, 0.324999988f},
    {0.595000029f, -0.639999986f, 1.70749998f, 0.377499998f},
    {0.635500014f, -0.511999965f, 1.57212496f, 0.414249986f}};
static const float ADAM[3][4] = {
    {0.600000024f, -0.899999976f, 1.89999998f, 0.349999994f},
    {0.698792636f, -0.800412178f, 1.80010307f, 0.445720166f},
    {0.795040071f, -0.701586246f, 1.70038295f, 0.53006041f}};

static const float P0[4] = {0.5f, -1.0f, 2.0f, 0.25f};
static const float TARGET[4] = {1.0f, 0.0f, -1.0f, 0.5f};
static const float W[4] = {1.0f, 2.0f, 0.5f, 3.0f};
static const int64_t SHAPE[1] = {4};

static void loss_backward(rt_tensor *p) {
    rt_tensor *target = tensor_f32(TARGET, SHAPE, 1), *w = tensor_f32(W, SHAPE, 1);
    rt_tensor *d, *sq, *weighted, *loss;
    CHECK_OK(rt_tensor_sub(p, target, &d));
    CHECK_OK(rt_tensor_pow_scalar(d, 2, &sq));
    CHECK_OK(rt_tensor_mul(sq, w, &weighted));
    CHECK_OK(rt_tensor_sum(weighted, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    rt_tensor *all[] = {target, w, d, sq, weighted, loss};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(all[i]));
}

static void run(rt_optimizer *opt, rt_tensor *p, const float expected[3][4]) {
    for (int step = 0; step < 3; step++) {
        CHECK_OK(rt_optimizer_zero_grad(opt));
        loss_backward(p);
        uint64_t before, after;
        CHECK_OK(rt_tensor_version(p, &before));
        CHECK_OK(rt_optimizer_step(opt));
        CHECK_OK(rt_tensor_version(p, &after));
        CHECK(after == before + 1); /* stepping is an in-place update */
        CHECK(requires_grad(p));
        bool leaf;
        CHECK_OK(rt_tensor_is_leaf(p, &leaf));
        CHECK(leaf); /* nothing recorded */
        check_all_near(p, expected[step], 4, 2e-6);
    }
}

static rt_tensor *param(void) {
    rt_tensor *p = tensor_f32(P0, SHAPE, 1);
    CHECK_OK(rt_tensor_set_requires_grad(p, true));
    return p;
}

TEST(sgd_momentum_weight_decay_matches_pytorch) {
    rt_tensor *p = param();
    rt_optimizer *opt;
    rt_tensor *ps[] = {p};
    CHECK_OK(rt_optimizer_sgd_tensors(ps, 1, 0.1, 0.9, 0.01, &opt));
    run(opt, p, SGD_MOMENTUM);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
}

TEST(sgd_plain_matches_pytorch) {
    rt_tensor *p = param();
    rt_optimizer *opt;
    rt_tensor *ps[] = {p};
    CHECK_OK(rt_optimizer_sgd_tensors(ps, 1, 0.05, 0, 0, &opt));
    run(opt, p, SGD_PLAIN);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
}

TEST(adam_weight_decay_matches_pytorch) {
    rt_tensor *p = param();
    rt_optimizer *opt;
    rt_tensor *ps[] = {p};
    CHECK_OK(rt_optimizer_adam_tensors(ps, 1, 0.1, 0.9, 0.999, 1e-8, 0.01, &opt));
    run(opt, p, ADAM);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
}

TEST(set_lr_changes_the_step) {
    rt_tensor *p = param();
    rt_optimizer *opt;
    rt_tensor *ps[] = {p};
    CHECK_OK(rt_optimizer_sgd_tensors(ps, 1, 1.0, 0, 0, &opt));
    CHECK_OK(rt_optimizer_set_lr(opt, 0.05));
    run(opt, p, SGD_PLAIN);
    CHECK_STATUS(rt_optimizer_set_lr(opt, -1), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_optimizer_set_lr(opt, NAN), RT_ERR_INVALID_ARGUMENT);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
}

TEST(module_optimizer_outlives_module_and_skips_params_without_grad) {
    rt_module *lin;
    CHECK_OK(rt_module_linear(3, 2, true, &lin));
    rt_tensor *w, *b;
    CHECK_OK(rt_module_get_tensor(lin, "weight", &w));
    CHECK_OK(rt_module_get_tensor(lin, "bias", &b));
    rt_optimizer *opt;
    CHECK_OK(rt_optimizer_sgd(lin, 0.5, 0, 0, &opt));
    CHECK_OK(rt_module_free(lin));
    /* only the weight gets a gradient: the bias must stay as it is */
    float before_b[2], after_b[2], before_w[6], after_w[6];
    read_f32(b, before_b, 2);
    read_f32(w, before_w, 6);
    rt_tensor *loss;
    CHECK_OK(rt_tensor_sum(w, NULL, 0, false, &loss));
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    CHECK_OK(rt_optimizer_step(opt));
    read_f32(b, after_b, 2);
    read_f32(w, after_w, 6);
    for (int i = 0; i < 2; i++) CHECK(before_b[i] == after_b[i]);
    for (int i = 0; i < 6; i++) CHECK_NEAR(after_w[i], before_w[i] - 0.5f, 1e-6);
    CHECK_OK(rt_optimizer_zero_grad(opt));
    rt_tensor *g;
    CHECK_OK(rt_tensor_grad(w, &g));
    CHECK(g == NULL);
    CHECK_OK(rt_optimizer_free(opt));
    rt_tensor *all[] = {w, b, loss};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(all[i]));
}

TEST(tensors_that_do_not_require_grad_are_not_held) {
    rt_tensor *p = tensor_f32(P0, SHAPE, 1);
    rt_optimizer *opt;
    rt_tensor *ps[] = {p};
    CHECK_OK(rt_optimizer_adam_tensors(ps, 1, 0.1, 0.9, 0.999, 1e-8, 0, &opt));
    CHECK_OK(rt_tensor_set_requires_grad(p, true));
    rt_tensor *g = tensor_f32(W, SHAPE, 1);
    CHECK_OK(rt_tensor_set_grad(p, g));
    CHECK_OK(rt_optimizer_step(opt));
    check_all_near(p, P0, 4, 0);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
    CHECK_OK(rt_tensor_free(g));
}

TEST(bad_hyperparameters_and_handles) {
    rt_tensor *p = param();
    rt_tensor *ps[] = {p};
    rt_optimizer *opt = (rt_optimizer *)0x1;
    CHECK_STATUS(rt_optimizer_sgd_tensors(ps, 1, -0.1, 0, 0, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_optimizer_sgd_tensors(ps, 1, 0.1, -0.9, 0, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_optimizer_adam_tensors(ps, 1, 0.1, 1.0, 0.999, 1e-8, 0, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("beta1");
    CHECK_STATUS(rt_optimizer_adam_tensors(ps, 1, 0.1, 0.9, 0.999, -1, 0, &opt), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_optimizer_sgd_tensors(NULL, 1, 0.1, 0, 0, &opt), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_optimizer_sgd_tensors(ps, 1, 0.1, 0, 0, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK(opt == (rt_optimizer *)0x1);
    CHECK_STATUS(rt_optimizer_sgd(NULL, 0.1, 0, 0, &opt), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_optimizer_sgd((rt_module *)p, 0.1, 0, 0, &opt), RT_ERR_INVALID_HANDLE);
    CHECK_OK(rt_optimizer_sgd_tensors(ps, 1, 0.1, 0, 0, &opt));
    CHECK_STATUS(rt_optimizer_step((rt_optimizer *)p), RT_ERR_INVALID_HANDLE);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_STATUS(rt_optimizer_free(opt), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_optimizer_step(opt), RT_ERR_INVALID_HANDLE);
    CHECK_OK(rt_optimizer_free(NULL));
    CHECK_OK(rt_tensor_free(p));
}

TEST(step_on_inference_parameter_outside_the_mode_is_refused) {
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *p = param();
    CHECK_OK(rt_inference_mode_exit());
    rt_tensor *ps[] = {p};
    rt_optimizer *opt;
    CHECK_OK(rt_optimizer_sgd_tensors(ps, 1, 0.1, 0, 0, &opt));
    rt_tensor *g = tensor_f32(W, SHAPE, 1);
    CHECK_OK(rt_tensor_set_grad(p, g));
    CHECK_STATUS(rt_optimizer_step(opt), RT_ERR_INFERENCE_MODE);
    check_all_near(p, P0, 4, 0);
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_optimizer_step(opt));
    CHECK_OK(rt_inference_mode_exit());
    float expect[4];
    for (int i = 0; i < 4; i++) expect[i] = P0[i] - 0.1f * W[i];
    check_all_near(p, expect, 4, 1e-6);
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(p));
    CHECK_OK(rt_tensor_free(g));
}
