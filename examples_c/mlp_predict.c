/* Inference with a small MLP, the seed workflow: build Sequential(Linear(784, 256), ReLU,
 * Linear(256, 10)), switch it to eval, run one 784-pixel input under inference mode (no graph,
 * no saved tensors, no version counters) and print the predicted class.
 * Build: cc -std=c11 mlp_predict.c -I include -L <dir of libinfer.so> -linfer */
#include <stdio.h>
#include <stdlib.h>

#include "infer.h"

/* Every rt_ call returns a status; on failure print the library's message and stop. */
static void check(rt_status status, const char *call) {
    if (status == RT_OK) return;
    char message[512];
    rt_last_error_message(message, sizeof message);
    fprintf(stderr, "error: %s failed with %s: %s\n", call, rt_status_str(status), message);
    exit(1);
}

int main(void) {
    rt_manual_seed(0);
    rt_module *fc1, *relu, *fc2, *model;
    check(rt_module_linear(784, 256, true, &fc1), "rt_module_linear");
    check(rt_module_relu(&relu), "rt_module_relu");
    check(rt_module_linear(256, 10, true, &fc2), "rt_module_linear");
    rt_module *layers[] = {fc1, relu, fc2};
    check(rt_module_sequential(layers, 3, &model), "rt_module_sequential");

    const int64_t input_shape[] = {1, 784};
    rt_tensor *x, *out, *pred;
    check(rt_tensor_randn(input_shape, 2, &x), "rt_tensor_randn");

    check(rt_module_train(model, false), "rt_module_train");
    check(rt_inference_mode_enter(true), "rt_inference_mode_enter");
    check(rt_module_forward(model, x, &out), "rt_module_forward");
    check(rt_tensor_argmax(out, 1, false, &pred), "rt_tensor_argmax");
    check(rt_inference_mode_exit(), "rt_inference_mode_exit");

    int64_t predicted;
    check(rt_tensor_copy_to(pred, &predicted, sizeof predicted), "rt_tensor_copy_to");
    printf("predicted class: %lld\n", (long long)predicted);

    check(rt_tensor_free(pred), "rt_tensor_free");
    check(rt_tensor_free(out), "rt_tensor_free");
    check(rt_tensor_free(x), "rt_tensor_free");
    /* The Sequential holds its own references: free the container and our layer handles. */
    check(rt_module_free(model), "rt_module_free");
    check(rt_module_free(fc2), "rt_module_free");
    check(rt_module_free(relu), "rt_module_free");
    check(rt_module_free(fc1), "rt_module_free");
    return 0;
}
