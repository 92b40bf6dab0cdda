/* C side of the Go binding. Every fallible rt_ function gets a go_ twin that also takes
 * `char **msg`: on failure it stores there a malloc'd copy of the thread's last error message
 * (the Go side frees it). Reading the message in the SAME C call as the failing function is the
 * point: the message is per OS thread, and Go may move a goroutine to another thread between two
 * cgo calls. Adding a function is one GO_WRAP line. */
#ifndef INFER_GO_SHIM_H
#define INFER_GO_SHIM_H

#include <stdlib.h>

#include "infer.h"

static inline rt_status go_capture(rt_status s, char **msg) {
    if (s != RT_OK) {
        size_t n = rt_last_error_message(NULL, 0);
        char *m = (char *)malloc(n + 1);
        if (m != NULL) rt_last_error_message(m, n + 1);
        *msg = m; /* NULL if even this allocation failed: Go then uses rt_status_str */
    }
    return s;
}

#define GO_WRAP(name, PARAMS, ARGS) \
    static inline rt_status go_##name PARAMS { return go_capture(name ARGS, msg); }

typedef rt_tensor T;
typedef const rt_tensor CT;

/* lifecycle and factories */
GO_WRAP(rt_tensor_from_data, (const void *d, size_t nb, rt_dtype dt, const int64_t *s, size_t nd, T **out, char **msg), (d, nb, dt, s, nd, out))
GO_WRAP(rt_tensor_zeros, (const int64_t *s, size_t nd, rt_dtype dt, T **out, char **msg), (s, nd, dt, out))
GO_WRAP(rt_tensor_ones, (const int64_t *s, size_t nd, rt_dtype dt, T **out, char **msg), (s, nd, dt, out))
GO_WRAP(rt_tensor_full, (const int64_t *s, size_t nd, double v, rt_dtype dt, T **out, char **msg), (s, nd, v, dt, out))
GO_WRAP(rt_tensor_randn, (const int64_t *s, size_t nd, T **out, char **msg), (s, nd, out))
GO_WRAP(rt_tensor_rand, (const int64_t *s, size_t nd, T **out, char **msg), (s, nd, out))
GO_WRAP(rt_tensor_share, (CT *t, T **out, char **msg), (t, out))
GO_WRAP(rt_tensor_free, (T *t, char **msg), (t))

/* inspection */
GO_WRAP(rt_tensor_ndim, (CT *t, size_t *out, char **msg), (t, out))
GO_WRAP(rt_tensor_shape, (CT *t, int64_t *dims, size_t cap, size_t *nd, char **msg), (t, dims, cap, nd))
GO_WRAP(rt_tensor_numel, (CT *t, size_t *out, char **msg), (t, out))
GO_WRAP(rt_tensor_dtype, (CT *t, rt_dtype *out, char **msg), (t, out))
GO_WRAP(rt_tensor_is_contiguous, (CT *t, bool *out, char **msg), (t, out))
GO_WRAP(rt_tensor_requires_grad, (CT *t, bool *out, char **msg), (t, out))
GO_WRAP(rt_tensor_set_requires_grad, (T *t, bool v, char **msg), (t, v))
GO_WRAP(rt_tensor_is_inference, (CT *t, bool *out, char **msg), (t, out))
GO_WRAP(rt_tensor_is_leaf, (CT *t, bool *out, char **msg), (t, out))
GO_WRAP(rt_tensor_has_grad_fn, (CT *t, bool *out, char **msg), (t, out))
GO_WRAP(rt_tensor_is_view, (CT *t, bool *out, char **msg), (t, out))
GO_WRAP(rt_tensor_version, (CT *t, uint64_t *out, char **msg), (t, out))
GO_WRAP(rt_tensor_copy_to, (CT *t, void *dst, size_t nb, char **msg), (t, dst, nb))
GO_WRAP(rt_tensor_item, (CT *t, double *out, char **msg), (t, out))

/* ops */
GO_WRAP(rt_tensor_add, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_sub, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_mul, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_div, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_matmul, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_add_scalar, (CT *a, double s, T **out, char **msg), (a, s, out))
GO_WRAP(rt_tensor_mul_scalar, (CT *a, double s, T **out, char **msg), (a, s, out))
GO_WRAP(rt_tensor_pow_scalar, (CT *a, double s, T **out, char **msg), (a, s, out))
GO_WRAP(rt_tensor_relu, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_neg, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_exp, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_log, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_sqrt, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_sigmoid, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_tanh, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_gelu, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_linear, (CT *x, CT *w, CT *b, T **out, char **msg), (x, w, b, out))
GO_WRAP(rt_tensor_sum, (CT *t, const int64_t *d, size_t nd, bool k, T **out, char **msg), (t, d, nd, k, out))
GO_WRAP(rt_tensor_mean, (CT *t, const int64_t *d, size_t nd, bool k, T **out, char **msg), (t, d, nd, k, out))
GO_WRAP(rt_tensor_argmax, (CT *t, int64_t dim, bool k, T **out, char **msg), (t, dim, k, out))
GO_WRAP(rt_tensor_clone, (CT *t, T **out, char **msg), (t, out))
GO_WRAP(rt_tensor_detach, (CT *t, T **out, char **msg), (t, out))
GO_WRAP(rt_tensor_contiguous, (CT *t, T **out, char **msg), (t, out))
GO_WRAP(rt_tensor_to, (CT *t, rt_dtype dt, T **out, char **msg), (t, dt, out))
GO_WRAP(rt_tensor_cat, (CT *const *ts, size_t n, int64_t dim, T **out, char **msg), (ts, n, dim, out))

/* views */
GO_WRAP(rt_tensor_view, (CT *t, const int64_t *s, size_t nd, T **out, char **msg), (t, s, nd, out))
GO_WRAP(rt_tensor_reshape, (CT *t, const int64_t *s, size_t nd, T **out, char **msg), (t, s, nd, out))
GO_WRAP(rt_tensor_transpose, (CT *t, int64_t d0, int64_t d1, T **out, char **msg), (t, d0, d1, out))
GO_WRAP(rt_tensor_permute, (CT *t, const int64_t *d, size_t nd, T **out, char **msg), (t, d, nd, out))
GO_WRAP(rt_tensor_narrow, (CT *t, int64_t dim, int64_t st, int64_t len, T **out, char **msg), (t, dim, st, len, out))
GO_WRAP(rt_tensor_select, (CT *t, int64_t dim, int64_t i, T **out, char **msg), (t, dim, i, out))
GO_WRAP(rt_tensor_unsqueeze, (CT *t, int64_t dim, T **out, char **msg), (t, dim, out))
GO_WRAP(rt_tensor_squeeze, (CT *t, int64_t dim, T **out, char **msg), (t, dim, out))
GO_WRAP(rt_tensor_expand, (CT *t, const int64_t *s, size_t nd, T **out, char **msg), (t, s, nd, out))
GO_WRAP(rt_tensor_flatten, (CT *t, int64_t s, int64_t e, T **out, char **msg), (t, s, e, out))

/* in place */
GO_WRAP(rt_tensor_add_inplace, (T *t, CT *o, char **msg), (t, o))
GO_WRAP(rt_tensor_sub_inplace, (T *t, CT *o, char **msg), (t, o))
GO_WRAP(rt_tensor_mul_inplace, (T *t, CT *o, char **msg), (t, o))
GO_WRAP(rt_tensor_add_scalar_inplace, (T *t, double s, char **msg), (t, s))
GO_WRAP(rt_tensor_mul_scalar_inplace, (T *t, double s, char **msg), (t, s))
GO_WRAP(rt_tensor_copy_inplace, (T *t, CT *src, char **msg), (t, src))
GO_WRAP(rt_tensor_fill_inplace, (T *t, double v, char **msg), (t, v))
GO_WRAP(rt_tensor_zero_inplace, (T *t, char **msg), (t))

/* nn functions */
GO_WRAP(rt_tensor_softmax, (CT *t, int64_t dim, T **out, char **msg), (t, dim, out))
GO_WRAP(rt_tensor_log_softmax, (CT *t, int64_t dim, T **out, char **msg), (t, dim, out))
GO_WRAP(rt_tensor_cross_entropy, (CT *l, CT *tg, T **out, char **msg), (l, tg, out))
GO_WRAP(rt_tensor_mse_loss, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_conv2d, (CT *x, CT *w, CT *b, int64_t st, int64_t pad, T **out, char **msg), (x, w, b, st, pad, out))
GO_WRAP(rt_tensor_max_pool2d, (CT *x, int64_t k, int64_t st, T **out, char **msg), (x, k, st, out))
GO_WRAP(rt_tensor_layer_norm, (CT *x, const int64_t *s, size_t nd, CT *w, CT *b, double eps, T **out, char **msg), (x, s, nd, w, b, eps, out))
GO_WRAP(rt_tensor_batch_norm, (CT *x, T *rm, T *rv, CT *w, CT *b, bool tr, double mom, double eps, T **out, char **msg), (x, rm, rv, w, b, tr, mom, eps, out))
GO_WRAP(rt_tensor_dropout, (CT *x, double p, bool tr, T **out, char **msg), (x, p, tr, out))
GO_WRAP(rt_tensor_embedding, (CT *i, CT *w, T **out, char **msg), (i, w, out))

/* autograd */
GO_WRAP(rt_tensor_backward, (T *t, CT *g, bool retain, char **msg), (t, g, retain))
GO_WRAP(rt_tensor_grad, (CT *t, T **out, char **msg), (t, out))
GO_WRAP(rt_tensor_set_grad, (T *t, CT *g, char **msg), (t, g))
GO_WRAP(rt_tensor_retain_grad, (T *t, char **msg), (t))

/* grad modes */
GO_WRAP(rt_inference_mode_enter, (bool enabled, char **msg), (enabled))
GO_WRAP(rt_inference_mode_exit, (char **msg), ())
GO_WRAP(rt_grad_mode_enter, (bool enabled, char **msg), (enabled))
GO_WRAP(rt_grad_mode_exit, (char **msg), ())

/* modules */
typedef rt_module M;
GO_WRAP(rt_module_linear, (int64_t in, int64_t out_f, bool bias, M **out, char **msg), (in, out_f, bias, out))
GO_WRAP(rt_module_relu, (M **out, char **msg), (out))
GO_WRAP(rt_module_gelu, (M **out, char **msg), (out))
GO_WRAP(rt_module_sigmoid, (M **out, char **msg), (out))
GO_WRAP(rt_module_tanh, (M **out, char **msg), (out))
GO_WRAP(rt_module_conv2d, (int64_t in, int64_t out_c, int64_t k, int64_t st, int64_t pad, bool bias, M **out, char **msg), (in, out_c, k, st, pad, bias, out))
GO_WRAP(rt_module_batch_norm1d, (int64_t n, double eps, double mom, M **out, char **msg), (n, eps, mom, out))
GO_WRAP(rt_module_batch_norm2d, (int64_t n, double eps, double mom, M **out, char **msg), (n, eps, mom, out))
GO_WRAP(rt_module_layer_norm, (const int64_t *s, size_t nd, double eps, M **out, char **msg), (s, nd, eps, out))
GO_WRAP(rt_module_dropout, (double p, M **out, char **msg), (p, out))
GO_WRAP(rt_module_max_pool2d, (int64_t k, int64_t st, M **out, char **msg), (k, st, out))
GO_WRAP(rt_module_flatten, (int64_t s, int64_t e, M **out, char **msg), (s, e, out))
GO_WRAP(rt_module_embedding, (int64_t n, int64_t d, M **out, char **msg), (n, d, out))
GO_WRAP(rt_module_softmax, (int64_t dim, M **out, char **msg), (dim, out))
GO_WRAP(rt_module_sequential, (M *const *c, size_t n, M **out, char **msg), (c, n, out))
GO_WRAP(rt_module_forward, (const M *m, CT *x, T **out, char **msg), (m, x, out))
GO_WRAP(rt_module_train, (M *m, bool training, char **msg), (m, training))
GO_WRAP(rt_module_is_training, (const M *m, bool *out, char **msg), (m, out))
GO_WRAP(rt_module_num_tensors, (const M *m, size_t *out, char **msg), (m, out))
GO_WRAP(rt_module_tensor_name, (const M *m, size_t i, char *buf, size_t cap, size_t *len, char **msg), (m, i, buf, cap, len))
GO_WRAP(rt_module_get_tensor, (const M *m, const char *name, T **out, char **msg), (m, name, out))
GO_WRAP(rt_module_zero_grad, (M *m, char **msg), (m))
GO_WRAP(rt_module_free, (M *m, char **msg), (m))
GO_WRAP(rt_module_load_safetensors, (M *m, const char *path, bool strict, char **msg), (m, path, strict))
GO_WRAP(rt_module_save_safetensors, (const M *m, const char *path, char **msg), (m, path))

/* safetensors files */
typedef rt_safetensors F;
GO_WRAP(rt_safetensors_open, (const char *path, F **out, char **msg), (path, out))
GO_WRAP(rt_safetensors_count, (const F *f, size_t *out, char **msg), (f, out))
GO_WRAP(rt_safetensors_name, (const F *f, size_t i, char *buf, size_t cap, size_t *len, char **msg), (f, i, buf, cap, len))
GO_WRAP(rt_safetensors_get, (const F *f, const char *name, T **out, char **msg), (f, name, out))
GO_WRAP(rt_safetensors_free, (F *f, char **msg), (f))
GO_WRAP(rt_safetensors_save, (const char *path, const char *const *names, CT *const *ts, size_t n, char **msg), (path, names, ts, n))

/* optimizers */
typedef rt_optimizer O;
GO_WRAP(rt_optimizer_sgd, (M *m, double lr, double mom, double wd, O **out, char **msg), (m, lr, mom, wd, out))
GO_WRAP(rt_optimizer_adam, (M *m, double lr, double b1, double b2, double eps, double wd, O **out, char **msg), (m, lr, b1, b2, eps, wd, out))
GO_WRAP(rt_optimizer_sgd_tensors, (T *const *p, size_t n, double lr, double mom, double wd, O **out, char **msg), (p, n, lr, mom, wd, out))
GO_WRAP(rt_optimizer_adam_tensors, (T *const *p, size_t n, double lr, double b1, double b2, double eps, double wd, O **out, char **msg), (p, n, lr, b1, b2, eps, wd, out))
GO_WRAP(rt_optimizer_set_lr, (O *o, double lr, char **msg), (o, lr))
GO_WRAP(rt_optimizer_step, (O *o, char **msg), (o))
GO_WRAP(rt_optimizer_zero_grad, (O *o, char **msg), (o))
GO_WRAP(rt_optimizer_free, (O *o, char **msg), (o))

/* BOOL comparisons and masks (masks.go) */
GO_WRAP(rt_tensor_compare, (CT *a, CT *b, rt_compare op, T **out, char **msg), (a, b, op, out))
GO_WRAP(rt_tensor_compare_scalar, (CT *a, double s, rt_compare op, T **out, char **msg), (a, s, op, out))
GO_WRAP(rt_tensor_logical_and, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_logical_or, (CT *a, CT *b, T **out, char **msg), (a, b, out))
GO_WRAP(rt_tensor_logical_not, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_where, (CT *c, CT *a, CT *b, T **out, char **msg), (c, a, b, out))
GO_WRAP(rt_tensor_masked_fill, (CT *t, CT *mask, double v, T **out, char **msg), (t, mask, v, out))

/* runtime */
GO_WRAP(rt_set_num_threads, (size_t n, char **msg), (n))
GO_WRAP(rt_memory_stats_get, (rt_memory_stats *out, char **msg), (out))

/* ops of API.md 7.C (ops_models.go) */
GO_WRAP(rt_tensor_silu, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_rsqrt, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_sin, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_cos, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_abs, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_gelu_tanh, (CT *a, T **out, char **msg), (a, out))
GO_WRAP(rt_tensor_max_dim, (CT *t, int64_t d, bool k, T **v, T **i, char **msg), (t, d, k, v, i))
GO_WRAP(rt_tensor_min_dim, (CT *t, int64_t d, bool k, T **v, T **i, char **msg), (t, d, k, v, i))
GO_WRAP(rt_tensor_amax, (CT *t, const int64_t *d, size_t n, bool k, T **out, char **msg), (t, d, n, k, out))
GO_WRAP(rt_tensor_topk, (CT *t, int64_t k, int64_t d, bool l, T **v, T **i, char **msg), (t, k, d, l, v, i))
GO_WRAP(rt_tensor_index_select, (CT *t, int64_t d, CT *i, T **out, char **msg), (t, d, i, out))
GO_WRAP(rt_tensor_gather, (CT *t, int64_t d, CT *i, T **out, char **msg), (t, d, i, out))
GO_WRAP(rt_tensor_arange, (double s, double e, double st, rt_dtype dt, T **out, char **msg), (s, e, st, dt, out))
GO_WRAP(rt_tensor_triu, (CT *t, int64_t d, T **out, char **msg), (t, d, out))
GO_WRAP(rt_tensor_tril, (CT *t, int64_t d, T **out, char **msg), (t, d, out))
GO_WRAP(rt_tensor_stack, (CT *const *ts, size_t n, int64_t d, T **out, char **msg), (ts, n, d, out))
GO_WRAP(rt_tensor_chunk, (CT *t, size_t c, int64_t d, T **outs, size_t cap, size_t *n, char **msg), (t, c, d, outs, cap, n))
GO_WRAP(rt_tensor_multinomial, (CT *p, int64_t n, bool r, T **out, char **msg), (p, n, r, out))

#endif
