/* Modules defined in C++ (infer.hpp's Module::custom over rt_module_custom): a residual block whose
 * forward is a lambda matches PyTorch (c_tests/custom_modules_ref.h, made by
 * tests/reference/custom_modules.py), its parts are named as PyTorch names them, errors thrown
 * inside come back as infer::Error with the failing call's message, and the callable is destroyed
 * with the module's last reference. */
#include <memory>

#include "../c_tests/custom_modules_ref.h"
#include "harness.hpp"

using infer::Module;
using infer::Tensor;
using V = std::vector<float>;

template <size_t N, size_t D> static Tensor ref(const float (&v)[N], const int64_t (&shape)[D]) {
    return Tensor::from_data(infer::Span<float>(v, N), infer::Shape(shape, D));
}

static void set(const Module &m, const std::string &path, const Tensor &v) {
    infer::NoGradGuard no_grad;
    m.get_tensor(path).copy_(v);
}

static Module residual() {
    Module m = Module::custom("Residual", [](const Module &self, const Module::Inputs &in) {
        const Tensor &x = *in.at(0);
        return x + self.get_module("fc2")(self.get_module("fc1")(x).relu());
    });
    m.register_module("fc1", Module::linear(4, 8)).register_module("fc2", Module::linear(8, 4));
    set(m, "fc1.weight", ref(res_w1, res_w1_shape));
    set(m, "fc1.bias", ref(res_b1, res_b1_shape));
    set(m, "fc2.weight", ref(res_w2, res_w2_shape));
    set(m, "fc2.bias", ref(res_b2, res_b2_shape));
    return m;
}

TEST(a_lambda_forward_matches_pytorch) {
    Module m = residual();
    CHECK(m.type_name() == "Residual");
    CHECK(m.get_module("fc1").type_name() == "Linear");
    CHECK((m.state_dict_names() == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
    Tensor x = ref(res_x, res_x_shape);
    CHECK_ALL_NEAR(m(x).to_vector<float>(), V(res_y, res_y + 12), 1e-5);
    CHECK_ALL_NEAR(m.forward_n({&x}).to_vector<float>(), V(res_y, res_y + 12), 1e-5);
}

TEST(errors_inside_a_forward_come_back_with_their_message) {
    Module m = Module::custom("Broken", [](const Module &, const Module::Inputs &in) { return in.at(0)->matmul(*in.at(0)); });
    Tensor x = ref(res_x, res_x_shape);
    infer::Error e = EXPECT_ERROR(m(x), RT_ERR_SHAPE);
    CHECK(std::string(e.what()).find("the forward of Broken: rt_tensor_matmul") != std::string::npos);
    Module list = Module::container("ModuleList");
    EXPECT_ERROR(list(x), RT_ERR_UNSUPPORTED);
}

TEST(the_callable_lives_as_long_as_the_module) {
    auto alive = std::make_shared<int>(0);
    std::weak_ptr<int> watch = alive;
    Module parent = Module::container("Parent");
    {
        Module m = Module::custom("Holder", [alive](const Module &, const Module::Inputs &in) { return in.at(0)->share(); });
        alive.reset();
        parent.register_module("m", m);
    }
    CHECK(!watch.expired());
    parent = Module();
    CHECK(watch.expired());
}
