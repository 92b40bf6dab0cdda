/* Ownership: each wrapper frees its one handle exactly once; moves transfer it; release gives it up. */
#include <type_traits>

#include "harness.hpp"

using infer::Module;
using infer::Optimizer;
using infer::Tensor;

static_assert(!std::is_copy_constructible_v<Tensor> && !std::is_copy_assignable_v<Tensor>, "Tensor is move-only");
static_assert(std::is_nothrow_move_constructible_v<Tensor> && std::is_nothrow_move_assignable_v<Tensor>);
static_assert(!std::is_copy_constructible_v<Module> && std::is_nothrow_move_constructible_v<Module>);
static_assert(!std::is_copy_constructible_v<Optimizer> && std::is_nothrow_move_constructible_v<Optimizer>);

static uint64_t live_bytes() { return infer::memory_stats().live_bytes; }

TEST(destructor_frees_the_handle) {
    rt_tensor *raw = nullptr;
    {
        Tensor t = infer::zeros({2, 3});
        raw = t.get();
        CHECK(raw != nullptr);
    }
    /* Already freed by the destructor: a second free is detected, not performed. */
    CHECK(rt_tensor_free(raw) == RT_ERR_INVALID_HANDLE);
    rt_module *raw_m = nullptr;
    rt_optimizer *raw_o = nullptr;
    {
        Module m = Module::linear(3, 2);
        Optimizer o = Optimizer::sgd(m, 0.1);
        raw_m = m.get();
        raw_o = o.get();
    }
    CHECK(rt_module_free(raw_m) == RT_ERR_INVALID_HANDLE);
    CHECK(rt_optimizer_free(raw_o) == RT_ERR_INVALID_HANDLE);
}

TEST(moves_transfer_ownership) {
    Tensor a = infer::ones({4});
    rt_tensor *raw = a.get();
    Tensor b = std::move(a);
    CHECK(!a && a.get() == nullptr);
    CHECK(b.get() == raw);
    Tensor c = infer::zeros({8});
    rt_tensor *replaced = c.get();
    c = std::move(b);
    CHECK(c.get() == raw);
    CHECK(rt_tensor_free(replaced) == RT_ERR_INVALID_HANDLE); /* assignment freed c's old tensor */
    c = std::move(c);                                        /* self-move keeps the handle */
    CHECK(c.get() == raw);
    CHECK(c.numel() == 4);
}

TEST(release_gives_up_ownership) {
    rt_tensor *raw = nullptr;
    {
        Tensor t = infer::full({2}, 7.0);
        raw = t.release();
        CHECK(!t);
    }
    double v = 0;
    CHECK(rt_tensor_item(raw, &v) == RT_ERR_SHAPE); /* still alive: the error is about its shape */
    CHECK(rt_tensor_free(raw) == RT_OK);
}

TEST(share_is_a_second_owner) {
    Tensor a = infer::full({3}, 2.0);
    Tensor b = a.share();
    CHECK(a.get() != b.get());
    a.reset();
    CHECK_ALL_NEAR(b.to_vector<float>(), (std::vector<float>{2, 2, 2}), 0);
}

TEST(no_leak_after_a_training_step_and_inference) {
    const uint64_t start = live_bytes();
    {
        infer::manual_seed(1);
        Module model = Module::sequential(Module::linear(8, 16), Module::relu(), Module::linear(16, 2));
        Optimizer opt = Optimizer::adam(model, 1e-2);
        Tensor x = infer::randn({5, 8});
        Tensor y = infer::randn({5, 2});
        Tensor loss = (model(x) - y).pow(2).mean();
        loss.backward();
        opt.step();
        opt.zero_grad();
        {
            infer::InferenceModeGuard guard;
            Tensor out = model.forward(x).argmax(1);
            CHECK(out.shape() == std::vector<int64_t>{5});
        }
        std::vector<std::string> names = model.state_dict_names();
        Tensor w = model.get_tensor(names.at(0));
        CHECK(live_bytes() > start);
    }
    CHECK(live_bytes() == start);
}

TEST(no_leak_when_exceptions_unwind) {
    const uint64_t start = live_bytes();
    for (int i = 0; i < 3; i++) {
        try {
            Tensor a = infer::ones({64, 64});
            Tensor b = infer::ones({3, 5});
            Tensor c = a.matmul(b); /* throws: the two live tensors are freed during unwinding */
            CHECK(false);
        } catch (const infer::Error &e) {
            CHECK(e.status() == RT_ERR_SHAPE);
        }
    }
    CHECK(live_bytes() == start);
}
