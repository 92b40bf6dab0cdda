/* The forward every Go-defined module gets: rt_forward_fn's exact type, calling the exported Go
 * function (whose cgo-generated prototype has no const). */
#include "_cgo_export.h"

rt_status go_forward_trampoline(void *ctx, const rt_module *self, const rt_tensor *const *inputs, size_t n,
                                rt_tensor **out) {
    return goModuleForward(ctx, (rt_module *)self, (rt_tensor **)inputs, n, out);
}
