/* A Linear(10, 2) layer applied to a batch of 3 random rows: prints the output shape.
 * Build: cc -std=c11 linear_shape.c -I include -L <dir of libinfer.so> -linfer */
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
    rt_module *linear;
    check(rt_module_linear(10, 2, true, &linear), "rt_module_linear");

    const int64_t batch_shape[] = {3, 10};
    rt_tensor *x, *y;
    check(rt_tensor_randn(batch_shape, 2, &x), "rt_tensor_randn");
    check(rt_module_forward(linear, x, &y), "rt_module_forward");

    int64_t dims[RT_MAX_DIMS];
    size_t ndim;
    check(rt_tensor_shape(y, dims, RT_MAX_DIMS, &ndim), "rt_tensor_shape");
    printf("output shape: [");
    for (size_t i = 0; i < ndim; i++) printf(i ? ", %lld" : "%lld", (long long)dims[i]);
    printf("]\n");

    check(rt_tensor_free(y), "rt_tensor_free");
    check(rt_tensor_free(x), "rt_tensor_free");
    check(rt_module_free(linear), "rt_module_free");
    return 0;
}
