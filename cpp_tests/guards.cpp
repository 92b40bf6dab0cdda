/* Scoped grad-mode frames: entered by the constructor, exited by the destructor, including when
 * an exception unwinds through the scope. */
#include <type_traits>

#include "harness.hpp"

using infer::InferenceModeGuard;
using infer::NoGradGuard;
using infer::Tensor;

static_assert(!std::is_copy_constructible_v<InferenceModeGuard> && !std::is_move_constructible_v<InferenceModeGuard>);
static_assert(!std::is_copy_assignable_v<InferenceModeGuard> && !std::is_move_assignable_v<InferenceModeGuard>);
static_assert(!std::is_copy_constructible_v<NoGradGuard> && !std::is_move_constructible_v<NoGradGuard>);
static_assert(!std::is_copy_assignable_v<NoGradGuard> && !std::is_move_assignable_v<NoGradGuard>);

static bool default_state() { return infer::is_grad_enabled() && !infer::is_inference_mode_enabled(); }

TEST(inference_guard_enters_and_restores) {
    Tensor w = infer::ones({2});
    w.set_requires_grad();
    {
        InferenceModeGuard g;
        CHECK(infer::is_inference_mode_enabled() && !infer::is_grad_enabled());
        Tensor y = w * w;
        CHECK(y.is_inference() && !y.requires_grad());
        {
            InferenceModeGuard escape(false);
            CHECK(!infer::is_inference_mode_enabled() && infer::is_grad_enabled());
            CHECK((w * w).requires_grad());
        }
        CHECK(infer::is_inference_mode_enabled());
    }
    CHECK(default_state());
    CHECK((w * w).has_grad_fn());
}

TEST(no_grad_guard_enters_and_restores) {
    Tensor w = infer::ones({2});
    w.set_requires_grad();
    {
        NoGradGuard g;
        CHECK(!infer::is_grad_enabled() && !infer::is_inference_mode_enabled());
        Tensor y = w * w;
        CHECK(!y.requires_grad() && !y.is_inference());
    }
    CHECK(default_state());
}

TEST(inference_guard_restores_when_an_exception_unwinds) {
    Tensor w = infer::full({3}, 2.0);
    w.set_requires_grad();
    Tensor loss = (w * w).sum();
    try {
        InferenceModeGuard g;
        loss.backward(); /* I10: refused inside inference mode */
        CHECK(false);
    } catch (const infer::Error &e) {
        CHECK(e.status() == RT_ERR_INFERENCE_MODE);
        CHECK(default_state()); /* the guard exited before the handler ran */
    }
    CHECK(!w.grad().has_value()); /* the refused backward changed no gradient */
    loss.backward();
    CHECK_ALL_NEAR(w.grad()->to_vector<float>(), (std::vector<float>{4, 4, 4}), 1e-6);
}

TEST(nested_guards_restore_when_an_exception_unwinds) {
    try {
        NoGradGuard a;
        InferenceModeGuard b;
        NoGradGuard c;
        InferenceModeGuard d(false);
        CHECK(infer::is_grad_enabled() && !infer::is_inference_mode_enabled());
        infer::ones({2}).view({7}); /* throws RT_ERR_SHAPE through four frames */
        CHECK(false);
    } catch (const infer::Error &e) {
        CHECK(e.status() == RT_ERR_SHAPE);
    }
    CHECK(default_state());
    /* The frame stack is empty again: one more exit has nothing to pop. */
    CHECK(rt_grad_mode_exit() == RT_ERR_INVALID_STATE);
    CHECK(rt_inference_mode_exit() == RT_ERR_INVALID_STATE);
}

TEST(guard_restores_when_a_user_exception_unwinds) {
    struct Boom {};
    try {
        InferenceModeGuard g;
        throw Boom{};
    } catch (Boom) {
        CHECK(default_state());
    }
}
