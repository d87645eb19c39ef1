/* Streaming-read memory bandwidth: THREADS threads each sum their slice of a large buffer, several
 * times; prints the best rate in GB/s. Decode of a memory-bound LLM reads every weight once per
 * token, so tokens/s can never exceed bandwidth / model bytes. Usage: stream_read THREADS MIB */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { const uint64_t *data; size_t count; uint64_t sum; } slice_t;

static void *read_slice(void *arg) {
  slice_t *slice = arg;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 4 <= slice->count; i += 4) {
    a += slice->data[i];
    b += slice->data[i + 1];
    c += slice->data[i + 2];
    d += slice->data[i + 3];
  }
  slice->sum = a + b + c + d;
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 512;
  if (threads < 1 || threads > 256 || mib < 16) return 2;
  size_t bytes = mib << 20, count = bytes / sizeof(uint64_t);
  uint64_t *data = aligned_alloc(64, bytes);
  if (!data) return 3;
  for (size_t i = 0; i < count; i++) data[i] = i;
  pthread_t ids[256];
  slice_t slices[256];
  double best = 0;
  uint64_t check = 0;
  for (int rep = 0; rep < 5; rep++) {
    double start = now();
    for (int t = 0; t < threads; t++) {
      size_t per = count / threads;
      slices[t] = (slice_t){data + per * t, per, 0};
      pthread_create(&ids[t], NULL, read_slice, &slices[t]);
    }
    for (int t = 0; t < threads; t++) {
      pthread_join(ids[t], NULL);
      check += slices[t].sum;
    }
    double rate = bytes / (now() - start) / 1e9;
    if (rate > best) best = rate;
  }
  printf("{\"threads\":%d,\"mib\":%zu,\"gb_per_s\":%.3f,\"check\":%llu}\n", threads, mib, best,
         (unsigned long long)(check & 0xff));
  free(data);
  return 0;
}
