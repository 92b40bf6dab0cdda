/* Linked into the C test programs in INFER_C_TESTS_MODE=tsan only. The library's ThreadSanitizer
 * instrumentation (rustc's LLVM) calls these entry points, which older libtsan builds (GCC 12's)
 * lack; route them to the libc functions the TSan runtime intercepts. */
#include <string.h>

void *__tsan_memset(void *dst, int c, size_t n);
void *__tsan_memcpy(void *dst, const void *src, size_t n);
void *__tsan_memmove(void *dst, const void *src, size_t n);

void *__tsan_memset(void *dst, int c, size_t n) { return memset(dst, c, n); }
void *__tsan_memcpy(void *dst, const void *src, size_t n) { return memcpy(dst, src, n); }
void *__tsan_memmove(void *dst, const void *src, size_t n) { return memmove(dst, src, n); }
