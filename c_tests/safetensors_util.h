/* Helpers shared by the safetensors C tests: a scratch directory, fixture paths and hand-made
 * files. The fixtures in tests/fixtures/ come from tests/reference/make_safetensors_fixtures.py. */
#ifndef INFER_SAFETENSORS_UTIL_H
#define INFER_SAFETENSORS_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"

typedef struct {
    char dir[64];
    char path[512]; /* the last path made by scratch_path */
} scratch;

static inline void scratch_make(scratch *s) {
    strcpy(s->dir, "/tmp/infer-st-XXXXXX");
    CHECK(mkdtemp(s->dir) != NULL);
}

static inline const char *scratch_path(scratch *s, const char *name) {
    snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
    return s->path;
}

/* Entries in the directory (temporary files left behind would show up here). */
static inline size_t scratch_count(const scratch *s) {
    DIR *d = opendir(s->dir);
    CHECK(d != NULL);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static inline void scratch_remove(scratch *s) {
    DIR *d = opendir(s->dir);
    CHECK(d != NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) CHECK(unlink(scratch_path(s, e->d_name)) == 0);
    closedir(d);
    CHECK(rmdir(s->dir) == 0);
}

/* tests/fixtures/NAME, found from this header's own path. */
static inline const char *fixture(const char *name) {
    static char buf[1024];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    int dir_len = slash ? (int)(slash - here) : 1;
    snprintf(buf, sizeof buf, "%.*s/../tests/fixtures/%s", dir_len, slash ? here : ".", name);
    return buf;
}

static inline void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(n == 0 || fwrite(data, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

/* A file: 8-byte little-endian length of `json`, `json`, then data_len bytes 0, 1, 2, ... */
static inline void write_header_file(const char *path, const char *json, size_t data_len) {
    size_t n = strlen(json);
    unsigned char *buf = malloc(8 + n + data_len + 1);
    CHECK(buf != NULL);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    for (size_t i = 0; i < data_len; i++) buf[8 + n + i] = (unsigned char)i;
    write_bytes(path, buf, 8 + n + data_len);
    free(buf);
}

/* The whole content of a file (free it); *n gets its size. */
static inline unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long len = ftell(f);
    CHECK(len >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)len + 1);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

#endif
