/* Grad mode and inference mode: the per-thread frame stack of API.md section 2. */
#include <pthread.h>

#include "harness.h"
#include "probes.h"

static void check_flags(bool grad, bool inference) {
    if (rt_is_grad_enabled() != grad || rt_is_inference_mode_enabled() != inference) {
        fprintf(stderr, "  grad %d inference %d, expected grad %d inference %d\n", rt_is_grad_enabled(),
                rt_is_inference_mode_enabled(), grad, inference);
        harness_fail(__FILE__, __LINE__, "check_flags");
    }
}

static rt_tensor *requires_grad_leaf(void) {
    float d[] = {1, 2, 3};
    int64_t s[] = {3};
    return leaf_f32(d, s, 1);
}

TEST(main_thread_starts_with_grad_on_and_inference_off) {
    check_flags(true, false);
}

TEST(inference_mode_enter_sets_both_flags) {
    CHECK_OK(rt_inference_mode_enter(true));
    check_flags(false, true);
    CHECK_OK(rt_inference_mode_exit());
    check_flags(true, false);
}

TEST(grad_mode_enter_false_is_no_grad) {
    CHECK_OK(rt_grad_mode_enter(false));
    check_flags(false, false);
    CHECK_OK(rt_grad_mode_exit());
    check_flags(true, false);
}

/* ---- new threads ---- */

struct thread_view {
    bool grad, inference, tensor_is_inference;
    rt_status exit_status;
};

static void *observe_fresh_thread(void *arg) {
    struct thread_view *v = arg;
    v->grad = rt_is_grad_enabled();
    v->inference = rt_is_inference_mode_enabled();
    rt_tensor *t = NULL;
    if (rt_tensor_zeros((int64_t[]){2}, 1, RT_DTYPE_F32, &t) == RT_OK) {
        rt_tensor_is_inference(t, &v->tensor_is_inference);
        rt_tensor_free(t);
    }
    return NULL;
}

static struct thread_view run_fresh_thread(void) {
    struct thread_view v = {false, true, true, RT_OK};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, observe_fresh_thread, &v) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    return v;
}

TEST(new_thread_starts_with_defaults_when_its_creator_is_in_inference_mode) {
    CHECK_OK(rt_inference_mode_enter(true));
    struct thread_view v = run_fresh_thread();
    CHECK(v.grad && !v.inference);
    CHECK(!v.tensor_is_inference);
    check_flags(false, true); /* the creator's state is its own */
    CHECK_OK(rt_inference_mode_exit());
}

TEST(new_thread_starts_with_defaults_when_its_creator_is_in_no_grad) {
    CHECK_OK(rt_grad_mode_enter(false));
    struct thread_view v = run_fresh_thread();
    CHECK(v.grad && !v.inference);
    CHECK_OK(rt_grad_mode_exit());
}

static void *exit_on_this_thread(void *arg) {
    struct thread_view *v = arg;
    v->exit_status = rt_inference_mode_exit();
    v->grad = rt_is_grad_enabled();
    v->inference = rt_is_inference_mode_enabled();
    return NULL;
}

TEST(exit_on_another_thread_than_the_enter_is_invalid_state) {
    CHECK_OK(rt_inference_mode_enter(true));
    struct thread_view v = {false, true, false, RT_OK};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, exit_on_this_thread, &v) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(v.exit_status == RT_ERR_INVALID_STATE);
    CHECK(v.grad && !v.inference);
    check_flags(false, true); /* this thread's frame is still open */
    CHECK_OK(rt_inference_mode_exit());
    check_flags(true, false);
}

/* ---- nesting ---- */

TEST(nested_frames_restore_exactly_in_reverse_order) {
    CHECK_OK(rt_grad_mode_enter(false));
    check_flags(false, false);
    CHECK_OK(rt_inference_mode_enter(true));
    check_flags(false, true);
    CHECK_OK(rt_grad_mode_enter(true));
    check_flags(true, true);
    CHECK_OK(rt_inference_mode_enter(false));
    check_flags(true, false);
    CHECK_OK(rt_grad_mode_enter(false));
    check_flags(false, false);
    CHECK_OK(rt_inference_mode_enter(true));
    check_flags(false, true);

    CHECK_OK(rt_inference_mode_exit());
    check_flags(false, false);
    CHECK_OK(rt_grad_mode_exit());
    check_flags(true, false);
    CHECK_OK(rt_inference_mode_exit());
    check_flags(true, true);
    CHECK_OK(rt_grad_mode_exit());
    check_flags(false, true);
    CHECK_OK(rt_inference_mode_exit());
    check_flags(false, false);
    CHECK_OK(rt_grad_mode_exit());
    check_flags(true, false);
    CHECK_STATUS(rt_grad_mode_exit(), RT_ERR_INVALID_STATE);
}

TEST(deep_nesting_unwinds_to_the_defaults) {
    for (int i = 0; i < 10000; i++) {
        if (i % 2) CHECK_OK(rt_grad_mode_enter(i % 3 == 0));
        else CHECK_OK(rt_inference_mode_enter(i % 4 == 0));
    }
    for (int i = 9999; i >= 0; i--) {
        if (i % 2) CHECK_OK(rt_grad_mode_exit());
        else CHECK_OK(rt_inference_mode_exit());
    }
    check_flags(true, false);
}

TEST(exit_of_the_wrong_kind_is_invalid_state_and_changes_nothing) {
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_STATUS(rt_inference_mode_exit(), RT_ERR_INVALID_STATE);
    CHECK_ERROR_MENTIONS("rt_inference_mode_exit");
    check_flags(false, false);
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_STATUS(rt_grad_mode_exit(), RT_ERR_INVALID_STATE);
    check_flags(false, true);
    /* Both frames are still there, in order. */
    CHECK_OK(rt_inference_mode_exit());
    check_flags(false, false);
    CHECK_OK(rt_grad_mode_exit());
    check_flags(true, false);
}

TEST(exit_with_no_frame_is_invalid_state_and_changes_nothing) {
    CHECK_STATUS(rt_inference_mode_exit(), RT_ERR_INVALID_STATE);
    check_flags(true, false);
    CHECK_STATUS(rt_grad_mode_exit(), RT_ERR_INVALID_STATE);
    CHECK_ERROR_MENTIONS("rt_grad_mode_exit");
    check_flags(true, false);
    /* After a balanced pair, one exit too many is refused as well. */
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_inference_mode_exit());
    CHECK_STATUS(rt_inference_mode_exit(), RT_ERR_INVALID_STATE);
    check_flags(true, false);
}

/* ---- what the flags mean for ops ---- */

TEST(grad_mode_on_inside_inference_mode_records_nothing) {
    rt_tensor *x = requires_grad_leaf(), *y = NULL;
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_grad_mode_enter(true));
    check_flags(true, true);
    CHECK_OK(rt_tensor_mul(x, x, &y));
    CHECK(!has_grad_fn(y));
    CHECK(!requires_grad(y));
    CHECK(is_inference(y));
    CHECK_OK(rt_grad_mode_exit());
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
}

TEST(inference_mode_enter_false_escapes_inference_mode) {
    rt_tensor *x = requires_grad_leaf(), *y = NULL;
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_inference_mode_enter(false));
    check_flags(true, false);
    CHECK_OK(rt_tensor_mul(x, x, &y));
    CHECK(has_grad_fn(y));
    CHECK(requires_grad(y));
    CHECK(!is_inference(y));
    backward_sum(y); /* allowed: inference mode is off in this frame */
    float expected[] = {2, 4, 6};
    check_grad(x, expected, 3, 0);
    CHECK_OK(rt_inference_mode_exit());
    check_flags(false, true);
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
}

TEST(no_grad_outputs_are_normal_and_unrecorded) {
    rt_tensor *x = requires_grad_leaf(), *y = NULL;
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_exp(x, &y));
    CHECK_OK(rt_grad_mode_exit());
    CHECK(!has_grad_fn(y));
    CHECK(!requires_grad(y));
    CHECK(!is_inference(y));
    CHECK(version_of(y) == 0);
    CHECK_OK(rt_tensor_free(y));
    CHECK_OK(rt_tensor_free(x));
}

/* ---- rt_with_inference_mode ---- */

struct callback_probe {
    int calls;
    bool grad, inference;
    rt_tensor *made;
    rt_status result;
    int open_grad_frames;
};

static rt_status probe_callback(void *ctx) {
    struct callback_probe *p = ctx;
    p->calls++;
    p->grad = rt_is_grad_enabled();
    p->inference = rt_is_inference_mode_enabled();
    rt_tensor_ones((int64_t[]){2}, 1, RT_DTYPE_F32, &p->made);
    for (int i = 0; i < p->open_grad_frames; i++) rt_grad_mode_enter(i % 2 == 0);
    return p->result;
}

TEST(with_inference_mode_runs_the_callback_inside_the_mode) {
    struct callback_probe p = {0, true, false, NULL, RT_OK, 0};
    CHECK_OK(rt_with_inference_mode(probe_callback, &p));
    CHECK(p.calls == 1);
    CHECK(!p.grad && p.inference);
    CHECK(p.made != NULL);
    CHECK(is_inference(p.made));
    check_flags(true, false);
    CHECK_STATUS(rt_inference_mode_exit(), RT_ERR_INVALID_STATE); /* its frame is gone */
    CHECK_OK(rt_tensor_free(p.made));
}

TEST(with_inference_mode_passes_the_callback_status_through) {
    rt_status codes[] = {RT_ERR_SHAPE, RT_ERR_IO, RT_ERR_INVALID_STATE, 1234};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        struct callback_probe p = {0, true, false, NULL, codes[i], 0};
        CHECK_STATUS(rt_with_inference_mode(probe_callback, &p), codes[i]);
        CHECK(p.calls == 1);
        check_flags(true, false);
        CHECK_OK(rt_tensor_free(p.made));
    }
}

TEST(with_inference_mode_restores_the_callers_frames) {
    CHECK_OK(rt_grad_mode_enter(false));
    struct callback_probe p = {0, true, false, NULL, RT_ERR_DTYPE, 0};
    CHECK_STATUS(rt_with_inference_mode(probe_callback, &p), RT_ERR_DTYPE);
    check_flags(false, false);
    CHECK_OK(rt_grad_mode_exit());
    check_flags(true, false);
    CHECK_OK(rt_tensor_free(p.made));
}

TEST(with_inference_mode_pops_frames_the_callback_left_open) {
    CHECK_OK(rt_grad_mode_enter(false));
    struct callback_probe p = {0, true, false, NULL, RT_OK, 3};
    CHECK_STATUS(rt_with_inference_mode(probe_callback, &p), RT_ERR_INVALID_STATE);
    CHECK_ERROR_MENTIONS("rt_with_inference_mode");
    check_flags(false, false); /* back to the caller's no_grad frame, which is still open */
    CHECK_OK(rt_grad_mode_exit());
    check_flags(true, false);
    CHECK_STATUS(rt_grad_mode_exit(), RT_ERR_INVALID_STATE);
    CHECK_OK(rt_tensor_free(p.made));
}

TEST(with_inference_mode_keeps_a_failed_callbacks_status_over_open_frames) {
    struct callback_probe p = {0, true, false, NULL, RT_ERR_AUTOGRAD, 2};
    CHECK_STATUS(rt_with_inference_mode(probe_callback, &p), RT_ERR_AUTOGRAD);
    check_flags(true, false);
    CHECK_STATUS(rt_grad_mode_exit(), RT_ERR_INVALID_STATE); /* the frames were popped */
    CHECK_OK(rt_tensor_free(p.made));
}

static rt_status exit_too_often(void *ctx) {
    (void)ctx;
    return rt_inference_mode_exit(); /* closes the frame rt_with_inference_mode opened */
}

TEST(with_inference_mode_reports_a_callback_that_closed_its_frame) {
    CHECK_STATUS(rt_with_inference_mode(exit_too_often, NULL), RT_ERR_INVALID_STATE);
    check_flags(true, false);
}

static rt_status nested_callback(void *ctx) {
    struct callback_probe *p = ctx;
    rt_status s = rt_inference_mode_enter(false);
    if (s != RT_OK) return s;
    s = rt_with_inference_mode(probe_callback, p);
    rt_status e = rt_inference_mode_exit();
    return s != RT_OK ? s : e;
}

TEST(with_inference_mode_nests) {
    struct callback_probe p = {0, true, false, NULL, RT_OK, 0};
    CHECK_OK(rt_with_inference_mode(nested_callback, &p));
    CHECK(p.calls == 1 && p.inference && !p.grad);
    check_flags(true, false);
    CHECK_OK(rt_tensor_free(p.made));
}

TEST(with_inference_mode_refuses_a_null_callback_and_changes_nothing) {
    CHECK_STATUS(rt_with_inference_mode(NULL, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("rt_with_inference_mode");
    check_flags(true, false);
    CHECK_STATUS(rt_inference_mode_exit(), RT_ERR_INVALID_STATE);
}
