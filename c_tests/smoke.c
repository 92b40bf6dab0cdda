/* The seed workflow of issue 2, end to end through the C ABI. */
#include "harness.h"

TEST(seed_mlp_inference_mode) {
    rt_module *l1, *relu, *l2, *model;
    CHECK_OK(rt_module_linear(784, 256, true, &l1));
    CHECK_OK(rt_module_relu(&relu));
    CHECK_OK(rt_module_linear(256, 10, true, &l2));
    rt_module *children[] = {l1, relu, l2};
    CHECK_OK(rt_module_sequential(children, 3, &model));
    CHECK_OK(rt_module_train(model, false));
    int64_t shape[] = {4, 784};
    rt_tensor *x, *out, *pred;
    CHECK_OK(rt_tensor_randn(shape, 2, &x));
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_module_forward(model, x, &out));
    CHECK_OK(rt_tensor_argmax(out, 1, false, &pred));
    CHECK_OK(rt_inference_mode_exit());
    int64_t expect_out[] = {4, 10}, expect_pred[] = {4};
    check_shape(out, expect_out, 2);
    check_shape(pred, expect_pred, 1);
    bool inf = false;
    CHECK_OK(rt_tensor_is_inference(out, &inf));
    CHECK(inf);
    CHECK(!requires_grad(out));
    CHECK_OK(rt_tensor_free(pred));
    CHECK_OK(rt_tensor_free(out));
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_module_free(model));
    CHECK_OK(rt_module_free(l1));
    CHECK_OK(rt_module_free(relu));
    CHECK_OK(rt_module_free(l2));
}

TEST(backward_inside_inference_mode_is_refused) {
    float wdata[] = {1, 2, 3, 4, 5, 6};
    int64_t wshape[] = {2, 3};
    rt_tensor *w = tensor_f32(wdata, wshape, 2);
    CHECK_OK(rt_tensor_set_requires_grad(w, true));
    rt_tensor *y, *loss;
    CHECK_OK(rt_tensor_mul(w, w, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_STATUS(rt_tensor_backward(loss, NULL, false), RT_ERR_INFERENCE_MODE);
    CHECK_OK(rt_inference_mode_exit());
    rt_tensor *g;
    CHECK_OK(rt_tensor_grad(w, &g));
    CHECK(g == NULL);
    CHECK_OK(rt_tensor_backward(loss, NULL, false));
    CHECK_OK(rt_tensor_grad(w, &g));
    CHECK(g != NULL);
    float expected[] = {2, 4, 6, 8, 10, 12};
    check_all_near(g, expected, 6, 1e-6);
    rt_tensor_free(g);
    rt_tensor_free(loss);
    rt_tensor_free(y);
    rt_tensor_free(w);
}
