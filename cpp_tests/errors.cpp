/* infer::Error carries the failing call's status and its message, read on the same thread. */
#include <thread>

#include "harness.hpp"

using infer::Tensor;

TEST(error_carries_status_and_message) {
    Tensor a = infer::ones({2, 3});
    Tensor b = infer::ones({4, 5});
    infer::Error e = EXPECT_ERROR(a.matmul(b), RT_ERR_SHAPE);
    CHECK(harness::mentions(e, "rt_tensor_matmul"));
    std::string what = e.what();
    CHECK(what.find('3') != std::string::npos && what.find('4') != std::string::npos); /* names the shapes */
    CHECK(std::string(e.status_str()) == rt_status_str(RT_ERR_SHAPE));
}

TEST(error_is_a_runtime_error) {
    try {
        infer::ones({3}).item();
        CHECK(false);
    } catch (const std::runtime_error &e) {
        CHECK(harness::mentions(static_cast<const infer::Error &>(e), "rt_tensor_item"));
    }
}

TEST(each_error_has_its_own_message) {
    Tensor a = infer::ones({2});
    infer::Error first = EXPECT_ERROR(a.transpose(0, 5), RT_ERR_INVALID_ARGUMENT);
    (void)a.add(a); /* a success in between changes nothing */
    infer::Error second = EXPECT_ERROR(a.view({3}), RT_ERR_SHAPE);
    CHECK(std::string(first.what()) != second.what());
    CHECK(harness::mentions(first, "rt_tensor_transpose"));
    CHECK(harness::mentions(second, "rt_tensor_view"));
}

TEST(messages_are_per_thread) {
    Tensor a = infer::ones({2});
    std::string other;
    std::thread t([&] {
        try {
            a.select(0, 9);
        } catch (const infer::Error &e) {
            other = e.what();
        }
    });
    infer::Error mine = EXPECT_ERROR(a.reshape({5}), RT_ERR_SHAPE);
    t.join();
    CHECK(harness::mentions(mine, "rt_tensor_reshape"));
    CHECK(other.find("rt_tensor_select") != std::string::npos);
}

TEST(autograd_and_inference_statuses) {
    Tensor x = infer::ones({2});
    infer::Error e = EXPECT_ERROR(x.sum().backward(), RT_ERR_AUTOGRAD);
    CHECK(!std::string(e.what()).empty());
    Tensor i64 = infer::zeros({2}, infer::Dtype::I64);
    EXPECT_ERROR(i64.set_requires_grad(), RT_ERR_DTYPE);
    Tensor inf = [] {
        infer::InferenceModeGuard g;
        return infer::ones({2});
    }();
    EXPECT_ERROR(inf.add_(1.0), RT_ERR_INFERENCE_MODE); /* I6 */
    CHECK_ALL_NEAR(inf.to_vector<float>(), (std::vector<float>{1, 1}), 0);
}

TEST(binding_side_dtype_check) {
    Tensor idx = infer::zeros({3}, infer::Dtype::I64);
    infer::Error e = EXPECT_ERROR(idx.to_vector<float>(), RT_ERR_DTYPE);
    CHECK(harness::mentions(e, "to_vector"));
    CHECK(idx.to_vector<int64_t>() == (std::vector<int64_t>{0, 0, 0}));
}

TEST(empty_wrapper_is_a_null_argument) {
    Tensor empty;
    EXPECT_ERROR(empty.numel(), RT_ERR_NULL_ARGUMENT);
}
