/* End-to-end workflows through infer.hpp: the seed MLP in inference mode, and training. */
#include "harness.hpp"

using infer::Module;
using infer::Optimizer;
using infer::Tensor;

TEST(seed_mlp_inference_mode) {
    infer::manual_seed(7);
    Module model = Module::sequential(Module::linear(784, 256), Module::relu(), Module::linear(256, 10));
    model.eval();
    CHECK(!model.is_training());
    CHECK(model.state_dict_names() == (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
    Tensor x = infer::randn({4, 784});
    Tensor grad_out = model.forward(x);
    Tensor out, pred;
    {
        infer::InferenceModeGuard guard;
        out = model.forward(x);
        pred = out.argmax(1);
    }
    CHECK(out.shape() == (std::vector<int64_t>{4, 10}));
    CHECK(pred.shape() == (std::vector<int64_t>{4}));
    CHECK(out.is_inference() && !out.requires_grad());
    CHECK(pred.dtype() == infer::Dtype::I64);
    CHECK(grad_out.requires_grad() && !grad_out.is_inference());
    /* Same numbers in both modes, and argmax agrees with the logits. */
    std::vector<float> logits = out.to_vector<float>();
    CHECK_ALL_NEAR(logits, grad_out.to_vector<float>(), 0);
    std::vector<int64_t> classes = pred.to_vector<int64_t>();
    for (size_t row = 0; row < 4; row++) {
        size_t best = 0;
        for (size_t c = 1; c < 10; c++)
            if (logits[row * 10 + c] > logits[row * 10 + best]) best = c;
        CHECK(classes[row] == int64_t(best));
    }
}

/* y = 2 x0 - 3 x1 + 0.5 on a 4 x 4 grid over [-1, 1]^2. */
static void regression_data(Tensor &x, Tensor &y) {
    std::vector<float> xs, ys;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float a = -1 + 2 * i / 3.0f, b = -1 + 2 * j / 3.0f;
            xs.insert(xs.end(), {a, b});
            ys.push_back(2 * a - 3 * b + 0.5f);
        }
    x = infer::from_data(xs, {16, 2});
    y = infer::from_data(ys, {16, 1});
}

TEST(linear_regression_with_sgd_on_a_module) {
    infer::manual_seed(3);
    Tensor x, y;
    regression_data(x, y);
    Module model = Module::linear(2, 1);
    Optimizer opt = Optimizer::sgd(model, 0.1);
    double loss_value = 0;
    for (int step = 0; step < 400; step++) {
        opt.zero_grad();
        Tensor loss = (model(x) - y).pow(2).mean();
        loss.backward();
        opt.step();
        loss_value = loss.item();
    }
    CHECK(loss_value < 1e-8);
    CHECK_ALL_NEAR(model.get_tensor("weight").to_vector<float>(), (std::vector<float>{2, -3}), 1e-4);
    CHECK_ALL_NEAR(model.get_tensor("bias").to_vector<float>(), (std::vector<float>{0.5f}), 1e-4);
}

TEST(linear_regression_with_sgd_on_tensors) {
    Tensor x, y;
    regression_data(x, y);
    Tensor w = infer::zeros({1, 2});
    Tensor b = infer::zeros({1});
    w.set_requires_grad();
    b.set_requires_grad();
    Optimizer opt = Optimizer::sgd({&w, &b}, 0.05, 0.9);
    for (int step = 0; step < 300; step++) {
        opt.zero_grad();
        Tensor loss = (infer::linear(x, w, b) - y).pow(2).mean();
        loss.backward();
        opt.step();
    }
    CHECK_ALL_NEAR(w.to_vector<float>(), (std::vector<float>{2, -3}), 1e-4);
    CHECK_ALL_NEAR(b.to_vector<float>(), (std::vector<float>{0.5f}), 1e-4);
    opt.set_lr(0); /* a zero learning rate freezes the parameters */
    Tensor loss = (infer::linear(x, w, b) - y).pow(2).mean();
    loss.backward();
    std::vector<float> before = w.to_vector<float>();
    opt.step();
    CHECK_ALL_NEAR(w.to_vector<float>(), before, 0);
}

TEST(module_zero_grad_and_train_flag) {
    Module model = Module::sequential(Module::linear(3, 2), Module::tanh(), Module::linear(2, 1), Module::sigmoid());
    CHECK(model.is_training());
    CHECK(model.num_tensors() == 4);
    CHECK(model.tensor_name(2) == "2.weight");
    EXPECT_ERROR(model.tensor_name(4), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(model.get_tensor("9.weight"), RT_ERR_INVALID_ARGUMENT);
    Tensor out = model(infer::ones({5, 3})).sum();
    out.backward();
    Tensor w = model.get_tensor("0.weight");
    CHECK(w.grad().has_value());
    model.zero_grad();
    CHECK(!w.grad().has_value());
    CHECK(!model.eval().is_training());
    CHECK(model.train().is_training());
    Module g = Module::gelu();
    CHECK_ALL_NEAR(g(infer::full({1}, 1.0)).to_vector<float>(), (std::vector<float>{0.841344746f}), 1e-6);
}

TEST(adam_from_module_and_tensors_take_a_step) {
    Module m = Module::linear(2, 1, false);
    CHECK(m.num_tensors() == 1);
    Tensor w = m.get_tensor("weight");
    std::vector<float> w0 = w.to_vector<float>();
    Optimizer a = Optimizer::adam(m, 0.1);
    m(infer::ones({1, 2})).sum().backward();
    a.step();
    /* Adam's first step moves each weight by lr against the sign of its gradient (here +1). */
    CHECK_ALL_NEAR(w.to_vector<float>(), (std::vector<float>{w0[0] - 0.1f, w0[1] - 0.1f}), 1e-5);
    Tensor p = infer::ones({2});
    p.set_requires_grad();
    Optimizer b = Optimizer::adam({&p}, 0.5);
    (p * p).sum().backward();
    b.step();
    CHECK_ALL_NEAR(p.to_vector<float>(), (std::vector<float>{0.5f, 0.5f}), 1e-5);
}
