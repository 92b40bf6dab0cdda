/* The nn functions and modules of infer.hpp reach their C functions with the arguments in order:
 * values and gradients against PyTorch's (c_tests/nn_ops_ref.h, made by tests/reference/nn_ops.py),
 * module shapes and state_dict names, and a small CNN that learns. */
#include "../c_tests/nn_ops_ref.h"
#include "harness.hpp"

using infer::Module;
using infer::Tensor;
using V = std::vector<float>;
using Dims = std::vector<int64_t>;
using Names = std::vector<std::string>;

template <size_t N, size_t D> static Tensor ref(const float (&v)[N], const int64_t (&shape)[D]) {
    return Tensor::from_data(infer::Span<float>(v, N), infer::Shape(shape, D));
}
template <size_t N, size_t D> static Tensor ref(const int64_t (&v)[N], const int64_t (&shape)[D]) {
    return Tensor::from_data(infer::Span<int64_t>(v, N), infer::Shape(shape, D));
}
template <size_t N> static V vals(const float (&v)[N]) { return V(v, v + N); }
static V values(const Tensor &t) { return t.to_vector<float>(); }
static V grad_of(const Tensor &t) {
    std::optional<Tensor> g = t.grad();
    CHECK(g.has_value());
    return values(*g);
}
static Tensor leaf(Tensor t) {
    t.set_requires_grad();
    return t;
}

TEST(softmax_and_log_softmax_match_pytorch) {
    Tensor x = leaf(ref(softmax_x, softmax_x_shape));
    Tensor y = infer::softmax(x, 1);
    CHECK_ALL_NEAR(values(y), vals(softmax_y), 1e-6);
    y.backward(ref(softmax_gy, softmax_gy_shape));
    CHECK_ALL_NEAR(grad_of(x), vals(softmax_gx), 1e-5);

    Tensor lx = leaf(ref(logsm_x, logsm_x_shape));
    Tensor ly = lx.log_softmax(-1);
    CHECK_ALL_NEAR(values(ly), vals(logsm_y), 1e-4);
    ly.backward(ref(logsm_gy, logsm_gy_shape));
    CHECK_ALL_NEAR(grad_of(lx), vals(logsm_gx), 1e-5);
}

TEST(losses_match_pytorch) {
    Tensor logits = leaf(ref(ce_logits, ce_logits_shape));
    Tensor ce = infer::cross_entropy(logits, ref(ce_targets, ce_targets_shape));
    CHECK(ce.shape().empty());
    CHECK_NEAR(ce.item(), ce_loss[0], 1e-5);
    ce.backward();
    CHECK_ALL_NEAR(grad_of(logits), vals(ce_glogits), 1e-6);

    Tensor a = leaf(ref(mse_a, mse_a_shape)), b = leaf(ref(mse_b, mse_b_shape));
    Tensor mse = infer::mse_loss(a, b);
    CHECK_NEAR(mse.item(), mse_loss[0], 1e-5);
    mse.backward();
    CHECK_ALL_NEAR(grad_of(a), vals(mse_ga), 1e-6);
    CHECK_ALL_NEAR(grad_of(b), vals(mse_gb), 1e-6);

    /* a class index out of range, and I64 logits */
    infer::Error e = EXPECT_ERROR(infer::cross_entropy(logits, infer::from_data(std::vector<int64_t>{0, 1, 2, 5}, {4})),
                                  RT_ERR_INVALID_ARGUMENT);
    CHECK(harness::mentions(e, "rt_tensor_cross_entropy"));
    EXPECT_ERROR(infer::mse_loss(a, infer::ones({3, 2})), RT_ERR_SHAPE);
}

TEST(conv2d_with_and_without_bias_matches_pytorch) {
    Tensor x = leaf(ref(conv_x, conv_x_shape)), w = leaf(ref(conv_w, conv_w_shape));
    Tensor b = leaf(ref(conv_b, conv_b_shape));
    Tensor y = infer::conv2d(x, w, b, /*stride=*/2, /*padding=*/1);
    CHECK(y.shape() == (Dims{2, 4, 3, 3}));
    CHECK_ALL_NEAR(values(y), vals(conv_y), 1e-4);
    y.backward(ref(conv_gy, conv_gy_shape));
    CHECK_ALL_NEAR(grad_of(x), vals(conv_gx), 1e-4);
    CHECK_ALL_NEAR(grad_of(w), vals(conv_gw), 1e-4);
    CHECK_ALL_NEAR(grad_of(b), vals(conv_gb), 1e-4);

    Tensor y2 = infer::conv2d(ref(conv2_x, conv2_x_shape), ref(conv2_w, conv2_w_shape));
    CHECK_ALL_NEAR(values(y2), vals(conv2_y), 1e-4);
    EXPECT_ERROR(infer::conv2d(x, w, b, 0), RT_ERR_INVALID_ARGUMENT);
}

TEST(max_pool2d_matches_pytorch) {
    Tensor x = leaf(ref(pool_x, pool_x_shape));
    Tensor y = infer::max_pool2d(x, 2);
    CHECK(y.shape() == (Dims{1, 2, 2, 2}));
    CHECK_ALL_NEAR(values(y), vals(pool_y), 0);
    y.backward(ref(pool_gy, pool_gy_shape));
    CHECK_ALL_NEAR(grad_of(x), vals(pool_gx), 0);
    CHECK_ALL_NEAR(values(ref(pool3_x, pool3_x_shape).max_pool2d(3, 1)), vals(pool3_y), 0);
}

TEST(layer_norm_matches_pytorch) {
    Tensor x = leaf(ref(ln_x, ln_x_shape)), w = leaf(ref(ln_w, ln_w_shape)), b = leaf(ref(ln_b, ln_b_shape));
    Tensor y = infer::layer_norm(x, {4}, &w, &b, 1e-5);
    CHECK_ALL_NEAR(values(y), vals(ln_y), 1e-5);
    y.backward(ref(ln_gy, ln_gy_shape));
    CHECK_ALL_NEAR(grad_of(x), vals(ln_gx), 1e-4);
    CHECK_ALL_NEAR(grad_of(w), vals(ln_gw), 1e-4);
    CHECK_ALL_NEAR(grad_of(b), vals(ln_gb), 1e-4);
    CHECK_ALL_NEAR(values(infer::layer_norm(ref(ln2_x, ln2_x_shape), {3, 4})), vals(ln2_y), 1e-5);
    EXPECT_ERROR(infer::layer_norm(x, {5}), RT_ERR_SHAPE);
}

TEST(batch_norm_updates_running_statistics_in_training_and_uses_them_in_eval) {
    Tensor x = leaf(ref(bn4_x, bn4_x_shape)), w = leaf(ref(bn4_w, bn4_w_shape)), b = leaf(ref(bn4_b, bn4_b_shape));
    Tensor rm = ref(bn4_rm, bn4_rm_shape), rv = ref(bn4_rv, bn4_rv_shape);
    Tensor y = infer::batch_norm(x, &rm, &rv, &w, &b, /*training=*/true, 0.1, 1e-5);
    CHECK_ALL_NEAR(values(y), vals(bn4_y), 1e-5);
    CHECK_ALL_NEAR(values(rm), vals(bn4_rm_after), 1e-6);
    CHECK_ALL_NEAR(values(rv), vals(bn4_rv_after), 1e-5);
    CHECK(rm.version() == 1 && rv.version() == 1);
    y.backward(ref(bn4_gy, bn4_gy_shape));
    CHECK_ALL_NEAR(grad_of(x), vals(bn4_gx), 1e-4);
    CHECK_ALL_NEAR(grad_of(w), vals(bn4_gw), 1e-4);

    Tensor erm = ref(bne_rm, bne_rm_shape), erv = ref(bne_rv, bne_rv_shape);
    Tensor ew = ref(bne_w, bne_w_shape), eb = ref(bne_b, bne_b_shape);
    Tensor ey = infer::batch_norm(ref(bne_x, bne_x_shape), &erm, &erv, &ew, &eb);
    CHECK_ALL_NEAR(values(ey), vals(bne_y), 1e-5);
    CHECK(erm.version() == 0);
    /* eval needs the running statistics */
    EXPECT_ERROR(infer::batch_norm(x, nullptr, nullptr), RT_ERR_NULL_ARGUMENT);
}

TEST(dropout_zeroes_and_scales_in_training_only) {
    infer::manual_seed(1);
    Tensor x = infer::ones({1000});
    V y = values(infer::dropout(x, 0.25));
    size_t zeros = 0;
    for (float v : y) {
        CHECK(v == 0 || std::fabs(v - 1 / 0.75) < 1e-6);
        zeros += v == 0;
    }
    CHECK(zeros > 180 && zeros < 320);
    CHECK_ALL_NEAR(values(x.dropout(0.25, false)), values(x), 0);
    CHECK_ALL_NEAR(values(x.dropout(1.0)), V(1000, 0.0f), 0);
    EXPECT_ERROR(x.dropout(1.5), RT_ERR_INVALID_ARGUMENT);
}

TEST(embedding_matches_pytorch) {
    Tensor w = leaf(ref(emb_w, emb_w_shape));
    Tensor y = infer::embedding(ref(emb_idx, emb_idx_shape), w);
    CHECK(y.shape() == (Dims{2, 3, 4}));
    CHECK_ALL_NEAR(values(y), vals(emb_y), 0);
    y.backward(ref(emb_gy, emb_gy_shape));
    CHECK_ALL_NEAR(grad_of(w), vals(emb_gw), 1e-6);
    EXPECT_ERROR(infer::embedding(infer::from_data(std::vector<int64_t>{5}, {1}), w), RT_ERR_INVALID_ARGUMENT);
}

TEST(module_constructors_shapes_and_state_dicts) {
    infer::manual_seed(2);
    Tensor img = infer::randn({2, 3, 8, 8});

    Module conv = Module::conv2d(3, 4, 3, /*stride=*/1, /*padding=*/1);
    CHECK(conv.state_dict_names() == (Names{"weight", "bias"}));
    CHECK(conv(img).shape() == (Dims{2, 4, 8, 8}));
    CHECK(conv.get_tensor("weight").shape() == (Dims{4, 3, 3, 3}));
    CHECK(Module::conv2d(3, 4, 3, 2, 0, false).state_dict_names() == (Names{"weight"}));
    CHECK(Module::conv2d(3, 4, 3, 2, 0, false)(img).shape() == (Dims{2, 4, 3, 3}));

    Names bn_names{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    Module bn2 = Module::batch_norm2d(3);
    CHECK(bn2.state_dict_names() == bn_names);
    CHECK(bn2(img).shape() == (Dims{2, 3, 8, 8}));
    CHECK(bn2.get_tensor("num_batches_tracked").to_vector<int64_t>() == (std::vector<int64_t>{1}));
    Module bn1 = Module::batch_norm1d(5, 1e-3, 0.2);
    CHECK(bn1.state_dict_names() == bn_names);
    CHECK(bn1(infer::randn({4, 5})).shape() == (Dims{4, 5}));

    Module ln = Module::layer_norm({8, 8});
    CHECK(ln.state_dict_names() == (Names{"weight", "bias"}));
    CHECK(ln.get_tensor("weight").shape() == (Dims{8, 8}));
    CHECK(ln(img).shape() == (Dims{2, 3, 8, 8}));

    CHECK(Module::max_pool2d(2)(img).shape() == (Dims{2, 3, 4, 4}));
    CHECK(Module::max_pool2d(3, 1)(img).shape() == (Dims{2, 3, 6, 6}));
    CHECK(Module::flatten()(img).shape() == (Dims{2, 192}));
    CHECK(Module::flatten(2, 3)(img).shape() == (Dims{2, 3, 64}));

    Module emb = Module::embedding(10, 6);
    CHECK(emb.state_dict_names() == (Names{"weight"}));
    CHECK(emb(infer::from_data(std::vector<int64_t>{1, 9, 3}, {3})).shape() == (Dims{3, 6}));

    Tensor logits = infer::randn({2, 5});
    CHECK_ALL_NEAR(values(Module::softmax(1)(logits)), values(logits.softmax(1)), 0);

    Module drop = Module::dropout(0.5);
    CHECK(drop.state_dict_names().empty());
    drop.eval();
    CHECK_ALL_NEAR(values(drop(logits)), values(logits), 0);

    infer::Error e = EXPECT_ERROR(Module::conv2d(0, 4, 3), RT_ERR_INVALID_ARGUMENT);
    CHECK(harness::mentions(e, "rt_module_conv2d"));
    EXPECT_ERROR(Module::dropout(-0.1), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(Module::embedding(10, 0), RT_ERR_INVALID_ARGUMENT);
}

/* Conv, BatchNorm, ReLU, MaxPool, Flatten, Linear, trained with Adam and cross-entropy on a fixed
 * batch: the loss falls, and eval in inference mode classifies the batch it learned. */
TEST(small_cnn_learns_a_batch) {
    infer::manual_seed(4);
    Module model = Module::sequential(Module::conv2d(1, 4, 3, 1, 1), Module::batch_norm2d(4), Module::relu(),
                                      Module::max_pool2d(2), Module::flatten(), Module::linear(4 * 4 * 4, 3));
    Tensor x = infer::randn({6, 1, 8, 8});
    Tensor y = infer::from_data(std::vector<int64_t>{0, 1, 2, 0, 1, 2}, {6});
    infer::Optimizer opt = infer::Optimizer::adam(model, 0.05);
    double first = 0, last = 0;
    for (int step = 0; step < 40; step++) {
        opt.zero_grad();
        Tensor loss = infer::cross_entropy(model(x), y);
        loss.backward();
        opt.step();
        (step == 0 ? first : last) = loss.item();
    }
    CHECK(last < first / 4);
    model.eval();
    infer::InferenceModeGuard guard;
    CHECK(model(x).argmax(1).to_vector<int64_t>() == y.to_vector<int64_t>());
}
