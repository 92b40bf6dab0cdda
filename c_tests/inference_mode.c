/* PyTorch's own inference-mode tests, ported to the C ABI.
 *
 * Sources: test/test_autograd.py class TestAutogradInferenceMode (tests named py_*) and
 * test/cpp/api/inference_mode.cpp InferenceModeTest (tests named cpp_*). Each test names the
 * PyTorch test it ports. Where API.md deliberately differs from PyTorch the test pins libinfer's
 * behaviour and says why. PyTorch's transpose_ has no counterpart in this API (no in-place views);
 * its cases are covered with add_ and mul_. */
#include "harness.h"

static rt_tensor *ones123(bool requires_grad) {
    int64_t shape[] = {1, 2, 3};
    rt_tensor *t;
    CHECK_OK(rt_tensor_ones(shape, 3, RT_DTYPE_F32, &t));
    if (requires_grad) CHECK_OK(rt_tensor_set_requires_grad(t, true));
    return t;
}

static bool is_inference(const rt_tensor *t) {
    bool b;
    CHECK_OK(rt_tensor_is_inference(t, &b));
    /* PyTorch's _is_inference_tensor probes the version counter: so do we (rule I3). */
    uint64_t v;
    rt_status s = rt_tensor_version(t, &v);
    CHECK(b ? s == RT_ERR_INFERENCE_MODE : s == RT_OK);
    return b;
}

static bool is_leaf(const rt_tensor *t) {
    bool b;
    CHECK_OK(rt_tensor_is_leaf(t, &b));
    return b;
}

static bool is_view(const rt_tensor *t) {
    bool b;
    CHECK_OK(rt_tensor_is_view(t, &b));
    return b;
}

static uint64_t version(const rt_tensor *t) {
    uint64_t v;
    CHECK_OK(rt_tensor_version(t, &v));
    return v;
}

static rt_tensor *square(const rt_tensor *x) {
    rt_tensor *y;
    CHECK_OK(rt_tensor_mul(x, x, &y));
    return y;
}

static rt_tensor *view_flat(const rt_tensor *x) {
    int64_t shape[] = {-1};
    rt_tensor *y;
    CHECK_OK(rt_tensor_view(x, shape, 1, &y));
    return y;
}

static rt_tensor *view23(const rt_tensor *x) {
    int64_t shape[] = {2, 3};
    rt_tensor *y;
    CHECK_OK(rt_tensor_view(x, shape, 2, &y));
    return y;
}

static rt_tensor *clone_of(const rt_tensor *x) {
    rt_tensor *y;
    CHECK_OK(rt_tensor_clone(x, &y));
    return y;
}

static void free_all(rt_tensor **ts, size_t n) {
    for (size_t i = 0; i < n; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* test_inference_mode_context_manager / cpp TestTLSState */
TEST(py_inference_mode_context_manager) {
    CHECK(!rt_is_inference_mode_enabled());
    CHECK(rt_is_grad_enabled());
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK(rt_is_inference_mode_enabled());
    CHECK(!rt_is_grad_enabled());
    CHECK_OK(rt_inference_mode_enter(false));
    CHECK(!rt_is_inference_mode_enabled());
    CHECK(rt_is_grad_enabled());
    CHECK_OK(rt_inference_mode_exit());
    CHECK(rt_is_inference_mode_enabled());
    CHECK_OK(rt_inference_mode_exit());
    CHECK(!rt_is_inference_mode_enabled());
    CHECK(rt_is_grad_enabled());
}

struct square_ctx {
    const rt_tensor *in;
    rt_tensor *out;
    bool was_enabled;
};

static rt_status square_in_mode(void *p) {
    struct square_ctx *c = p;
    c->was_enabled = rt_is_inference_mode_enabled();
    return rt_tensor_mul(c->in, c->in, &c->out);
}

/* test_inference_mode_decorator: the decorator is rt_with_inference_mode. */
TEST(py_inference_mode_decorator) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *c = ones123(rg);
        struct square_ctx ctx = {c, NULL, false};
        CHECK_OK(rt_with_inference_mode(square_in_mode, &ctx));
        CHECK(ctx.was_enabled);
        CHECK(!rt_is_inference_mode_enabled());
        CHECK(is_inference(ctx.out));
        CHECK(!requires_grad(ctx.out));
        rt_tensor *all[] = {c, ctx.out};
        free_all(all, 2);
    }
}

/* test_inference_mode_tensor_creation / cpp TestInferenceTensorCreation */
TEST(py_inference_mode_tensor_creation) {
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *c = ones123(false);
    CHECK(!requires_grad(c));
    CHECK(is_inference(c));
    rt_tensor *tmp = ones123(true); /* requires_grad may be set inside the mode (I4) */
    CHECK(requires_grad(tmp));
    CHECK(is_inference(tmp));
    CHECK_OK(rt_tensor_set_requires_grad(tmp, false));
    CHECK(!requires_grad(tmp));
    CHECK(is_inference(tmp));
    CHECK_OK(rt_inference_mode_exit());
    rt_tensor *all[] = {c, tmp};
    free_all(all, 2);
}

/* test_inference_mode_existing_autograd_session / cpp TestExistingAutogradSession */
TEST(py_inference_mode_existing_autograd_session) {
    rt_tensor *s = ones123(true);
    rt_tensor *a = clone_of(s);
    rt_tensor *out = square(a); /* a is saved outside inference mode */
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_tensor_add_scalar_inplace(a, 2));
    CHECK_OK(rt_inference_mode_exit());
    CHECK(!is_inference(a));
    CHECK(version(a) == 1); /* bumped inside inference mode too (I8) */
    rt_tensor *ones = ones123(false);
    CHECK_STATUS(rt_tensor_backward(out, ones, false), RT_ERR_AUTOGRAD);
    CHECK_ERROR_MENTIONS("modified in place");
    CHECK_ERROR_MENTIONS("version 0");
    CHECK_ERROR_MENTIONS("version 1");
    CHECK_ERROR_MENTIONS("MulBackward");
    CHECK_ERROR_MENTIONS("[1, 2, 3]");
    rt_tensor *g;
    CHECK_OK(rt_tensor_grad(s, &g));
    CHECK(g == NULL); /* the failed backward changed no gradient */
    rt_tensor *all[] = {s, a, out, ones};
    free_all(all, 4);
}

/* test_inference_mode_inf_tensor_in_inf_mode_functional_op */
TEST(py_inf_tensor_in_inf_mode_functional_op) {
    CHECK_OK(rt_inference_mode_enter(true));
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *c = ones123(rg);
        rt_tensor *out = square(c);
        CHECK(is_inference(out));
        CHECK(!requires_grad(out));
        CHECK(is_leaf(out));
        rt_tensor *all[] = {c, out};
        free_all(all, 2);
    }
    CHECK_OK(rt_inference_mode_exit());
}

/* test_inference_mode_inf_tensor_in_inf_mode_inplace_op */
TEST(py_inf_tensor_in_inf_mode_inplace_op) {
    CHECK_OK(rt_inference_mode_enter(true));
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *c = ones123(rg);
        CHECK_OK(rt_tensor_add_scalar_inplace(c, 2));
        CHECK_OK(rt_tensor_mul_scalar_inplace(c, 1));
        CHECK(is_inference(c));
        CHECK(requires_grad(c) == (bool)rg);
        float expect[6] = {3, 3, 3, 3, 3, 3};
        check_all_near(c, expect, 6, 0);
        CHECK_OK(rt_tensor_free(c));
    }
    CHECK_OK(rt_inference_mode_exit());
}

/* test_inference_mode_inf_tensor_in_inf_mode_view_op */
TEST(py_inf_tensor_in_inf_mode_view_op) {
    CHECK_OK(rt_inference_mode_enter(true));
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *c = ones123(rg);
        rt_tensor *v = view_flat(c);
        CHECK(is_inference(v));
        CHECK(!requires_grad(v)); /* unlike no_grad: a view of an inference tensor never requires grad */
        rt_tensor *all[] = {c, v};
        free_all(all, 2);
    }
    CHECK_OK(rt_inference_mode_exit());
}

/* test_inference_mode_inf_tensor_in_normal_mode_functional_op /
 * cpp TestInferenceTensorInNormalModeFunctionalOp. PyTorch only checks requires_grad=False here;
 * for requires_grad=True libinfer refuses mul (it would save the inference tensor, rule I7). */
TEST(py_inf_tensor_in_normal_mode_functional_op) {
    for (int rg = 0; rg < 2; rg++) {
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *c = ones123(rg);
        CHECK_OK(rt_inference_mode_exit());
        if (rg) {
            rt_tensor *out = (rt_tensor *)0x1;
            CHECK_STATUS(rt_tensor_mul(c, c, &out), RT_ERR_INFERENCE_MODE);
            CHECK(out == (rt_tensor *)0x1);
            CHECK_ERROR_MENTIONS("inference");
        } else {
            rt_tensor *out = square(c);
            CHECK(!is_inference(out));
            CHECK(!requires_grad(out));
            CHECK(is_leaf(out));
            CHECK_OK(rt_tensor_free(out));
        }
        CHECK_OK(rt_tensor_free(c));
    }
}

/* test_inference_mode_inf_tensor_in_normal_mode_inplace_op / cpp TestInferenceTensorInNormalModeInplaceOp.
 * API.md I6: refused for requires_grad false and true alike, and the data is left unchanged. */
TEST(py_inf_tensor_in_normal_mode_inplace_op) {
    for (int rg = 0; rg < 2; rg++) {
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *c = ones123(rg);
        CHECK_OK(rt_inference_mode_exit());
        CHECK_STATUS(rt_tensor_add_scalar_inplace(c, 2), RT_ERR_INFERENCE_MODE);
        CHECK_ERROR_MENTIONS("inference tensor");
        CHECK_STATUS(rt_tensor_mul_scalar_inplace(c, 5), RT_ERR_INFERENCE_MODE);
        /* under no_grad too */
        CHECK_OK(rt_grad_mode_enter(false));
        CHECK_STATUS(rt_tensor_fill_inplace(c, 7), RT_ERR_INFERENCE_MODE);
        CHECK_STATUS(rt_tensor_zero_inplace(c), RT_ERR_INFERENCE_MODE);
        CHECK_OK(rt_grad_mode_exit());
        float expect[6] = {1, 1, 1, 1, 1, 1};
        check_all_near(c, expect, 6, 0);
        CHECK_OK(rt_tensor_free(c));
    }
}

/* test_inference_mode_inf_tensor_in_normal_mode_view_op (current PyTorch; the older C++ test
 * TestInferenceTensorInNormalModeViewOp threw, current PyTorch and API.md I2 allow the view). */
TEST(py_inf_tensor_in_normal_mode_view_op) {
    for (int rg = 0; rg < 2; rg++) {
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *c = ones123(rg);
        CHECK_OK(rt_inference_mode_exit());
        rt_tensor *out = view_flat(c);
        CHECK(is_inference(out));
        CHECK(!requires_grad(out));
        CHECK(!is_view(out));
        CHECK(is_leaf(out));
        rt_tensor *all[] = {c, out};
        free_all(all, 2);
    }
}

/* test_normal_tensor_inplace_output_in_inference_mode / cpp TestNormalTensorInplaceOpInInferenceMode */
TEST(py_normal_tensor_inplace_output_in_inference_mode) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        rt_tensor *a = clone_of(s);
        CHECK_OK(rt_inference_mode_enter(true));
        CHECK_OK(rt_tensor_add_scalar_inplace(a, 2));
        CHECK(!is_inference(a));
        CHECK(requires_grad(a) == (bool)rg);
        CHECK_OK(rt_tensor_mul_scalar_inplace(a, 1));
        CHECK(!is_inference(a));
        CHECK(requires_grad(a) == (bool)rg);
        rt_tensor *v = view_flat(a);
        CHECK(!is_inference(v));
        CHECK(requires_grad(v) == (bool)rg);
        CHECK_OK(rt_inference_mode_exit());
        CHECK(version(a) == 2);
        rt_tensor *all[] = {s, a, v};
        free_all(all, 3);
    }
}

/* test_normal_tensor_inplace_output_in_normal_mode / cpp TestNormalTensorInplaceOutputInNormalMode */
TEST(py_normal_tensor_inplace_output_in_normal_mode) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        rt_tensor *a = clone_of(s);
        CHECK_OK(rt_inference_mode_enter(true));
        CHECK_OK(rt_tensor_add_scalar_inplace(a, 2));
        CHECK(!is_inference(a));
        CHECK(requires_grad(a) == (bool)rg);
        CHECK_OK(rt_inference_mode_exit());
        rt_tensor *tmp = square(a);
        CHECK(!is_inference(tmp));
        CHECK(requires_grad(tmp) == (bool)rg);
        CHECK_OK(rt_tensor_add_scalar_inplace(a, 2)); /* recorded when a requires grad (I12) */
        CHECK(!is_inference(a));
        CHECK(requires_grad(a) == (bool)rg);
        CHECK_OK(rt_tensor_mul_scalar_inplace(a, 1));
        CHECK(requires_grad(a) == (bool)rg);
        rt_tensor *v = view_flat(a);
        CHECK(!is_inference(v));
        CHECK(requires_grad(v) == (bool)rg);
        if (rg) {
            /* d/ds of sum((s + 2 + 2) * 1) is 1: the in-place history is in the graph. */
            rt_tensor *loss;
            CHECK_OK(rt_tensor_sum(a, NULL, 0, false, &loss));
            CHECK_OK(rt_tensor_backward(loss, NULL, false));
            rt_tensor *g;
            CHECK_OK(rt_tensor_grad(s, &g));
            float expect[6] = {1, 1, 1, 1, 1, 1};
            check_all_near(g, expect, 6, 0);
            rt_tensor *more[] = {loss, g};
            free_all(more, 2);
        }
        rt_tensor *all[] = {s, a, tmp, v};
        free_all(all, 4);
    }
}

/* test_normal_tensor_view_output_in_inference_mode / cpp TestNormalTensorViewOpInInferenceMode */
TEST(py_normal_tensor_view_output_in_inference_mode) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        rt_tensor *a = clone_of(s);
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *out = view_flat(a);
        CHECK(!is_inference(out));
        CHECK(requires_grad(out) == (bool)rg);
        CHECK(is_view(out));
        CHECK(is_leaf(out));
        rt_tensor *tmp = view_flat(out);
        CHECK(!is_inference(tmp));
        CHECK(requires_grad(tmp) == (bool)rg);
        CHECK(is_view(tmp));
        CHECK(is_leaf(tmp));
        CHECK_OK(rt_tensor_add_scalar_inplace(tmp, 2));
        CHECK(!is_inference(tmp));
        CHECK(requires_grad(tmp) == (bool)rg);
        CHECK_OK(rt_inference_mode_exit());
        CHECK(version(a) == version(tmp));
        CHECK(version(a) == 1);
        rt_tensor *all[] = {s, a, out, tmp};
        free_all(all, 4);
    }
}

/* test_normal_tensor_view_output_in_normal_mode / cpp TestNormalTensorViewOutputInNormalMode */
TEST(py_normal_tensor_view_output_in_normal_mode) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        rt_tensor *a = clone_of(s);
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *out = view_flat(a);
        CHECK(!is_inference(out));
        CHECK(requires_grad(out) == (bool)rg);
        CHECK(is_view(out));
        CHECK(is_leaf(out));
        CHECK_OK(rt_inference_mode_exit());
        rt_tensor *tmp = square(out);
        CHECK(!is_inference(tmp));
        CHECK(requires_grad(tmp) == (bool)rg);
        if (rg) {
            CHECK_STATUS(rt_tensor_add_scalar_inplace(out, 2), RT_ERR_INFERENCE_MODE);
            CHECK_ERROR_MENTIONS("view made in inference mode");
            float expect[6] = {1, 1, 1, 1, 1, 1};
            check_all_near(out, expect, 6, 0); /* I6/I9: nothing written */
        } else {
            CHECK_OK(rt_tensor_add_scalar_inplace(out, 2));
        }
        rt_tensor *tmp2 = view23(out);
        CHECK(!is_inference(tmp2));
        CHECK(requires_grad(tmp2) == (bool)rg);
        rt_tensor *all[] = {s, a, out, tmp, tmp2};
        free_all(all, 5);
    }
}

/* test_mix_inference_and_normal_tensor_functional_op. The older C++ test
 * TestMixInferenceAndNormalTensorFunctionalOp threw on c.add(s); current PyTorch and API.md I7
 * allow ops that save nothing. */
TEST(py_mix_inference_and_normal_tensor_functional_op) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *c = ones123(rg);
        CHECK_OK(rt_inference_mode_exit());
        rt_tensor *out;
        CHECK_OK(rt_tensor_add(c, s, &out));
        CHECK(!is_inference(out));
        CHECK(requires_grad(out) == (bool)rg);
        if (rg) {
            /* a leaf inference tensor with requires_grad can still receive a gradient */
            rt_tensor *ones = ones123(false);
            CHECK_OK(rt_tensor_backward(out, ones, false));
            rt_tensor *g;
            CHECK_OK(rt_tensor_grad(c, &g));
            CHECK(g != NULL);
            float expect[6] = {1, 1, 1, 1, 1, 1};
            check_all_near(g, expect, 6, 0);
            rt_tensor *bad = (rt_tensor *)0x1;
            CHECK_STATUS(rt_tensor_mul(c, s, &bad), RT_ERR_INFERENCE_MODE);
            CHECK(bad == (rt_tensor *)0x1);
            CHECK_ERROR_MENTIONS("saved for backward");
            /* PyTorch's torch.stack([s, c]) also throws there because stack saves; cat saves
             * nothing, so under I7 it may take the inference tensor. */
            const rt_tensor *inputs[] = {s, c};
            rt_tensor *cat;
            CHECK_OK(rt_tensor_cat(inputs, 2, 0, &cat));
            CHECK(requires_grad(cat));
            rt_tensor *more[] = {ones, g, cat};
            free_all(more, 3);
        }
        rt_tensor *all[] = {s, c, out};
        free_all(all, 3);
    }
}

/* test_mix_inference_and_normal_tensor_inplace_op / cpp TestMixInferenceAndNormalTensorInplaceOp.
 * PyTorch's out= forms map to rt_tensor_copy_inplace into the inference tensor. */
TEST(py_mix_inference_and_normal_tensor_inplace_op) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        rt_tensor *a = clone_of(s);
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *c = ones123(false);
        CHECK_OK(rt_inference_mode_exit());
        CHECK(is_inference(c));
        if (rg) {
            CHECK_STATUS(rt_tensor_mul_inplace(a, c), RT_ERR_INFERENCE_MODE);
            CHECK_ERROR_MENTIONS("saved for backward");
            CHECK(version(a) == 0); /* nothing written */
        } else {
            CHECK_OK(rt_tensor_mul_inplace(a, c));
            CHECK(version(a) == 1);
        }
        rt_tensor *ss = square(s);
        CHECK_STATUS(rt_tensor_copy_inplace(c, ss), RT_ERR_INFERENCE_MODE);
        CHECK_STATUS(rt_tensor_add_inplace(c, s), RT_ERR_INFERENCE_MODE);
        rt_tensor *all[] = {s, a, c, ss};
        free_all(all, 4);
    }
}

/* test_mix_inference_and_normal_tensor_view_op / cpp TestMixInferenceAndNormalTensorViewOp
 * (view_as(x) is view with x's shape). */
TEST(py_mix_inference_and_normal_tensor_view_op) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *c = ones123(false);
        CHECK_OK(rt_inference_mode_exit());
        int64_t shape[] = {1, 2, 3};
        rt_tensor *tmp1, *tmp2;
        CHECK_OK(rt_tensor_view(c, shape, 3, &tmp1));
        CHECK(is_inference(tmp1));
        CHECK(!requires_grad(tmp1));
        CHECK_OK(rt_tensor_view(s, shape, 3, &tmp2));
        CHECK(!is_inference(tmp2));
        CHECK(requires_grad(tmp2) == (bool)rg);
        rt_tensor *all[] = {s, c, tmp1, tmp2};
        free_all(all, 4);
    }
}

/* test_inference_mode_handle_direct_view_on_rebase / cpp TestHandleDirectViewOnRebase */
TEST(py_handle_direct_view_on_rebase) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        rt_tensor *a = clone_of(s);
        CHECK_OK(rt_inference_mode_enter(true));
        int64_t shape[] = {1, 2, 3};
        rt_tensor *v;
        CHECK_OK(rt_tensor_view(a, shape, 3, &v));
        CHECK_OK(rt_inference_mode_exit());
        if (rg) {
            CHECK_STATUS(rt_tensor_add_scalar_inplace(v, 2), RT_ERR_INFERENCE_MODE);
            CHECK_STATUS(rt_tensor_mul_scalar_inplace(v, 2), RT_ERR_INFERENCE_MODE);
            CHECK(version(a) == 0);
        } else {
            CHECK_OK(rt_tensor_add_scalar_inplace(v, 2));
            CHECK(version(a) == 1);
        }
        rt_tensor *all[] = {s, a, v};
        free_all(all, 3);
    }
}

/* test_inference_mode_handle_indirect_view_on_rebase / cpp TestHandleInDirectViewOnRebase.
 * PyTorch throws when the stale view's grad_fn is read; a C query cannot throw, so libinfer
 * throws (RT_ERR_INFERENCE_MODE) when the stale view is used in a recorded op. */
TEST(py_handle_indirect_view_on_rebase) {
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *s = ones123(rg);
        rt_tensor *a = clone_of(s);
        CHECK_OK(rt_inference_mode_enter(true));
        rt_tensor *v = view_flat(a);
        CHECK_OK(rt_inference_mode_exit());
        CHECK_OK(rt_tensor_add_scalar_inplace(a, 2));
        rt_tensor *y = NULL;
        if (rg) {
            CHECK_STATUS(rt_tensor_mul(v, v, &y), RT_ERR_INFERENCE_MODE);
            CHECK_ERROR_MENTIONS("view made in inference mode");
        } else {
            CHECK_OK(rt_tensor_mul(v, v, &y));
            CHECK_OK(rt_tensor_free(y));
        }
        rt_tensor *all[] = {s, a, v};
        free_all(all, 3);
    }
}

/* cpp TestCreationMetaPropagation: a view of an inference-mode view keeps the rule, even when
 * taken under no_grad. */
TEST(cpp_creation_meta_propagation) {
    rt_tensor *s = ones123(true);
    int64_t shape[] = {1, 2, 3};
    rt_tensor *b, *c;
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_tensor_view(s, shape, 3, &b));
    CHECK_OK(rt_inference_mode_exit());
    CHECK_STATUS(rt_tensor_add_scalar_inplace(b, 1), RT_ERR_INFERENCE_MODE);
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_view(b, shape, 3, &c));
    CHECK_OK(rt_grad_mode_exit());
    CHECK_STATUS(rt_tensor_add_scalar_inplace(c, 1), RT_ERR_INFERENCE_MODE);
    rt_tensor *all[] = {s, b, c};
    free_all(all, 3);
}

/* cpp TestInferenceTensorInInferenceModeInplaceOp: requires_grad is kept by in-place ops (I4). */
TEST(cpp_inference_tensor_in_inference_mode_inplace_op) {
    CHECK_OK(rt_inference_mode_enter(true));
    for (int rg = 0; rg < 2; rg++) {
        rt_tensor *c = ones123(rg);
        CHECK_OK(rt_tensor_mul_scalar_inplace(c, 1));
        CHECK(is_inference(c));
        CHECK(requires_grad(c) == (bool)rg);
        CHECK_OK(rt_tensor_free(c));
    }
    CHECK_OK(rt_inference_mode_exit());
}
