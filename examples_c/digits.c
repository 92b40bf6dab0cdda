/* The libinfer demo: train an MLP and a CNN on the scikit-learn digits with autograd, save the
 * weights, reload them into fresh models and serve the test split in inference mode, comparing
 * latency and memory with grad mode.
 *
 *   usage: digits [path/to/digits.safetensors] [output directory]
 * (defaults: $INFER_DIGITS_DATA or examples_c/digits.safetensors; $INFER_DIGITS_OUT or .)
 *
 * digits.safetensors: `images` U8 (1797, 64) with values 0..16, `labels` I64 (1797),
 * `train_count` I64 (1) = 1437 (the first rows are the training split). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer.h"

#define N_CLASSES 10
#define PIXELS 64

static void check(rt_status s, const char *what, int line) {
    if (s != RT_OK) {
        char msg[1024];
        rt_last_error_message(msg, sizeof msg);
        fprintf(stderr, "digits.c:%d: %s failed: %s (%s)\n", line, what, rt_status_str(s), msg);
        exit(1);
    }
}
#define CHECK(call) check((call), #call, __LINE__)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The data set, as plain C arrays. */
struct data {
    float *x;       /* n x 64, scaled to [0, 1] */
    int64_t *y;     /* n */
    size_t n, n_train;
};

static struct data load(const char *path) {
    rt_safetensors *f;
    CHECK(rt_safetensors_open(path, &f));
    rt_tensor *images, *labels, *count, *images_f;
    CHECK(rt_safetensors_get(f, "images", &images)); /* U8 loads as I64 */
    CHECK(rt_safetensors_get(f, "labels", &labels));
    CHECK(rt_safetensors_get(f, "train_count", &count));
    CHECK(rt_safetensors_free(f));
    CHECK(rt_tensor_to(images, RT_DTYPE_F32, &images_f));
    struct data d;
    CHECK(rt_tensor_numel(labels, &d.n));
    double train_count;
    CHECK(rt_tensor_item(count, &train_count));
    d.n_train = (size_t)train_count;
    d.x = malloc(d.n * PIXELS * sizeof(float));
    d.y = malloc(d.n * sizeof(int64_t));
    CHECK(rt_tensor_copy_to(images_f, d.x, d.n * PIXELS * sizeof(float)));
    CHECK(rt_tensor_copy_to(labels, d.y, d.n * sizeof(int64_t)));
    for (size_t i = 0; i < d.n * PIXELS; i++) d.x[i] /= 16.0f;
    rt_tensor *all[] = {images, labels, count, images_f};
    for (int i = 0; i < 4; i++) CHECK(rt_tensor_free(all[i]));
    return d;
}

/* A batch of rows (by index) as tensors shaped for the model: (B, 64) or (B, 1, 8, 8). */
static void batch(const struct data *d, const size_t *idx, size_t b, int image, rt_tensor **x, rt_tensor **y) {
    float *xs = malloc(b * PIXELS * sizeof(float));
    int64_t *ys = malloc(b * sizeof(int64_t));
    for (size_t i = 0; i < b; i++) {
        memcpy(xs + i * PIXELS, d->x + idx[i] * PIXELS, PIXELS * sizeof(float));
        ys[i] = d->y[idx[i]];
    }
    int64_t flat[] = {(int64_t)b, PIXELS}, img[] = {(int64_t)b, 1, 8, 8}, ls[] = {(int64_t)b};
    CHECK(rt_tensor_from_data(xs, b * PIXELS * sizeof(float), RT_DTYPE_F32, image ? img : flat, image ? 4 : 2, x));
    CHECK(rt_tensor_from_data(ys, b * sizeof(int64_t), RT_DTYPE_I64, ls, 1, y));
    free(xs);
    free(ys);
}

static rt_module *sequential(rt_module **kids, size_t n) {
    rt_module *m;
    CHECK(rt_module_sequential(kids, n, &m));
    for (size_t i = 0; i < n; i++) CHECK(rt_module_free(kids[i])); /* the container keeps them */
    return m;
}

static rt_module *make_mlp(void) {
    rt_module *k[3];
    CHECK(rt_module_linear(PIXELS, 128, true, &k[0]));
    CHECK(rt_module_relu(&k[1]));
    CHECK(rt_module_linear(128, N_CLASSES, true, &k[2]));
    return sequential(k, 3);
}

static rt_module *make_cnn(void) {
    rt_module *k[9];
    CHECK(rt_module_conv2d(1, 16, 3, 1, 1, true, &k[0]));
    CHECK(rt_module_batch_norm2d(16, 1e-5, 0.1, &k[1]));
    CHECK(rt_module_relu(&k[2]));
    CHECK(rt_module_conv2d(16, 32, 3, 1, 1, true, &k[3]));
    CHECK(rt_module_batch_norm2d(32, 1e-5, 0.1, &k[4]));
    CHECK(rt_module_relu(&k[5]));
    CHECK(rt_module_max_pool2d(2, 2, &k[6]));
    CHECK(rt_module_flatten(1, -1, &k[7]));
    CHECK(rt_module_linear(32 * 4 * 4, N_CLASSES, true, &k[8]));
    return sequential(k, 9);
}

static void train(rt_module *model, const struct data *d, int image, int epochs, double lr) {
    rt_optimizer *opt;
    CHECK(rt_optimizer_adam(model, lr, 0.9, 0.999, 1e-8, 0.0, &opt));
    CHECK(rt_module_train(model, true));
    size_t *order = malloc(d->n_train * sizeof(size_t));
    for (size_t i = 0; i < d->n_train; i++) order[i] = i;
    const size_t bs = 32;
    for (int e = 0; e < epochs; e++) {
        for (size_t i = d->n_train - 1; i > 0; i--) { /* shuffle */
            size_t j = (size_t)rand() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double total = 0;
        size_t steps = 0;
        for (size_t s = 0; s + bs <= d->n_train; s += bs) {
            rt_tensor *x, *y, *logits, *loss;
            batch(d, order + s, bs, image, &x, &y);
            CHECK(rt_optimizer_zero_grad(opt));
            CHECK(rt_module_forward(model, x, &logits));
            CHECK(rt_tensor_cross_entropy(logits, y, &loss));
            CHECK(rt_tensor_backward(loss, NULL, false));
            CHECK(rt_optimizer_step(opt));
            double l;
            CHECK(rt_tensor_item(loss, &l));
            total += l;
            steps++;
            rt_tensor *all[] = {x, y, logits, loss};
            for (int i = 0; i < 4; i++) CHECK(rt_tensor_free(all[i]));
        }
        if (e == 0 || e == epochs - 1) printf("    epoch %2d  mean loss %.4f\n", e + 1, total / (double)steps);
    }
    free(order);
    CHECK(rt_optimizer_free(opt));
}

/* Test accuracy, served in inference mode, eval mode. */
static double accuracy(rt_module *model, const struct data *d, int image) {
    size_t n_test = d->n - d->n_train;
    size_t *idx = malloc(n_test * sizeof(size_t));
    for (size_t i = 0; i < n_test; i++) idx[i] = d->n_train + i;
    rt_tensor *x, *y, *logits, *pred;
    batch(d, idx, n_test, image, &x, &y);
    CHECK(rt_module_train(model, false));
    CHECK(rt_inference_mode_enter(true));
    CHECK(rt_module_forward(model, x, &logits));
    CHECK(rt_tensor_argmax(logits, 1, false, &pred));
    CHECK(rt_inference_mode_exit());
    int64_t *p = malloc(n_test * sizeof(int64_t));
    CHECK(rt_tensor_copy_to(pred, p, n_test * sizeof(int64_t)));
    size_t correct = 0;
    for (size_t i = 0; i < n_test; i++) correct += p[i] == d->y[d->n_train + i];
    free(p);
    free(idx);
    rt_tensor *all[] = {x, y, logits, pred};
    for (int i = 0; i < 4; i++) CHECK(rt_tensor_free(all[i]));
    return (double)correct / (double)n_test;
}

struct serving {
    double median_us;
    double peak_kib; /* peak tensor memory above the live set before the forward */
};

/* Median latency of a forward of one test batch of 64 in grad mode (inputs to the graph:
 * parameters that require grad) or inference mode, and the peak memory of one such forward. */
static struct serving serve(rt_module *model, const struct data *d, int image, int inference) {
    size_t idx[64];
    for (size_t i = 0; i < 64; i++) idx[i] = d->n_train + i;
    rt_tensor *x, *y;
    batch(d, idx, 64, image, &x, &y);
    enum { RUNS = 200 };
    double times[RUNS];
    struct serving s = {0, 0};
    for (int r = 0; r < RUNS; r++) {
        rt_memory_stats before, after;
        CHECK(rt_memory_stats_get(&before));
        rt_memory_reset_peak();
        double t0 = now();
        if (inference) CHECK(rt_inference_mode_enter(true));
        rt_tensor *out;
        CHECK(rt_module_forward(model, x, &out));
        if (inference) CHECK(rt_inference_mode_exit());
        times[r] = now() - t0;
        CHECK(rt_memory_stats_get(&after));
        s.peak_kib = (double)(after.peak_bytes - before.live_bytes) / 1024.0;
        CHECK(rt_tensor_free(out));
    }
    qsort(times, RUNS, sizeof(double), cmp_double);
    s.median_us = times[RUNS / 2] * 1e6;
    CHECK(rt_tensor_free(x));
    CHECK(rt_tensor_free(y));
    return s;
}

struct result {
    double trained_acc, reloaded_acc;
    struct serving grad, infer;
};

static struct result run(const char *name, rt_module *(*make)(void), int image, int epochs, double lr,
                         const struct data *d, const char *dir) {
    printf("\n== %s ==\n", name);
    rt_module *model = make();
    double t0 = now();
    train(model, d, image, epochs, lr);
    struct result r;
    r.trained_acc = accuracy(model, d, image);
    printf("  trained %d epochs in %.1f s; test accuracy %.2f%%\n", epochs, now() - t0, 100 * r.trained_acc);

    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    CHECK(rt_module_save_safetensors(model, path));
    CHECK(rt_module_free(model));
    rt_module *fresh = make();
    CHECK(rt_module_load_safetensors(fresh, path, true));
    CHECK(rt_module_train(fresh, false));
    r.reloaded_acc = accuracy(fresh, d, image);
    printf("  saved to %s, reloaded into a fresh model: test accuracy %.2f%%\n", path, 100 * r.reloaded_acc);
    r.grad = serve(fresh, d, image, 0);
    r.infer = serve(fresh, d, image, 1);
    printf("  serving a batch of 64:  grad mode %8.1f us, peak %7.1f KiB  |  inference mode %8.1f us, peak %7.1f KiB\n",
           r.grad.median_us, r.grad.peak_kib, r.infer.median_us, r.infer.peak_kib);
    printf("  inference mode: %.2fx the speed, %.2fx less peak memory\n", r.grad.median_us / r.infer.median_us,
           r.grad.peak_kib / r.infer.peak_kib);
    CHECK(rt_module_free(fresh));
    return r;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("INFER_DIGITS_DATA") ? getenv("INFER_DIGITS_DATA") : "examples_c/digits.safetensors";
    const char *dir = argc > 2 ? argv[2] : getenv("INFER_DIGITS_OUT") ? getenv("INFER_DIGITS_OUT") : ".";
    rt_manual_seed(0);
    srand(0);
    struct data d = load(path);
    printf("libinfer %s: digits, %zu training and %zu test images, %zu threads\n", rt_version_string(), d.n_train,
           d.n - d.n_train, rt_get_num_threads());
    struct result mlp = run("mlp", make_mlp, 0, 30, 1e-3, &d, dir);
    struct result cnn = run("cnn", make_cnn, 1, 12, 2e-3, &d, dir);
    printf("\nsummary: MLP %.1f%% (target 95%%), CNN %.1f%% (target 97%%) test accuracy after reload; "
           "inference mode serves %.1fx (MLP) and %.1fx (CNN) faster than grad mode with %.1fx and %.1fx less peak memory\n",
           100 * mlp.reloaded_acc, 100 * cnn.reloaded_acc, mlp.grad.median_us / mlp.infer.median_us,
           cnn.grad.median_us / cnn.infer.median_us, mlp.grad.peak_kib / mlp.infer.peak_kib,
           cnn.grad.peak_kib / cnn.infer.peak_kib);
    free(d.x);
    free(d.y);
    int ok = mlp.reloaded_acc >= 0.95 && cnn.reloaded_acc >= 0.97 && mlp.reloaded_acc == mlp.trained_acc &&
             cnn.reloaded_acc == cnn.trained_acc;
    if (!ok) fprintf(stderr, "digits: an accuracy target was missed or the reloaded model disagrees\n");
    return ok ? 0 : 1;
}
