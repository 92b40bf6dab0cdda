/* The C program every packaging test builds, whichever way it finds libinfer (find_package,
 * add_subdirectory, pkg-config; shared or static): the header and the library it runs with agree on
 * the ABI version, and a small computation gives the exact expected numbers. Prints
 *   consumer: libinfer <version>, ABI <n>, y = [1.25, -1.5]
 * and exits 0, or prints "error: ..." and exits 1. */
#include <stdio.h>
#include <stdlib.h>

#include "infer.h"

static void check(rt_status status, const char *call) {
    if (status == RT_OK) return;
    char message[512];
    rt_last_error_message(message, sizeof message);
    fprintf(stderr, "error: %s failed with %s: %s\n", call, rt_status_str(status), message);
    exit(1);
}

int main(void) {
    if (rt_abi_version() != RT_ABI_VERSION) {
        fprintf(stderr, "error: infer.h has ABI version %d, the library %u\n", RT_ABI_VERSION, rt_abi_version());
        return 1;
    }
    /* y = x w^T + b with x = [1, 2], w = [[1, 0], [0.5, -1]], b = [0.25, 0]: exactly [1.25, -1.5]. */
    const float xs[] = {1, 2}, ws[] = {1, 0, 0.5f, -1}, bs[] = {0.25f, 0};
    const int64_t x_shape[] = {1, 2}, w_shape[] = {2, 2}, b_shape[] = {2};
    rt_tensor *x, *w, *b, *y;
    check(rt_tensor_from_data(xs, sizeof xs, RT_DTYPE_F32, x_shape, 2, &x), "rt_tensor_from_data");
    check(rt_tensor_from_data(ws, sizeof ws, RT_DTYPE_F32, w_shape, 2, &w), "rt_tensor_from_data");
    check(rt_tensor_from_data(bs, sizeof bs, RT_DTYPE_F32, b_shape, 1, &b), "rt_tensor_from_data");
    check(rt_tensor_linear(x, w, b, &y), "rt_tensor_linear");
    float out[2];
    check(rt_tensor_copy_to(y, out, sizeof out), "rt_tensor_copy_to");
    if (out[0] != 1.25f || out[1] != -1.5f) {
        fprintf(stderr, "error: y = [%g, %g], expected [1.25, -1.5]\n", out[0], out[1]);
        return 1;
    }
    printf("consumer: libinfer %s, ABI %u, y = [%g, %g]\n", rt_version_string(), rt_abi_version(), out[0], out[1]);
    check(rt_tensor_free(y), "rt_tensor_free");
    check(rt_tensor_free(b), "rt_tensor_free");
    check(rt_tensor_free(w), "rt_tensor_free");
    check(rt_tensor_free(x), "rt_tensor_free");
    return 0;
}
