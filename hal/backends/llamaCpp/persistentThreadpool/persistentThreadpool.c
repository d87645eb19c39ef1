/*
 * Persistent CPU threadpools for node-llama-cpp's llama.cpp contexts.
 *
 * node-llama-cpp 3.22.1's addon never calls llama_attach_threadpool, and its prebuilt ggml-cpu is
 * built without OpenMP, so every llama_decode makes ggml create a disposable threadpool: it starts
 * n_threads - 1 threads and joins them again, once per token (bench/README.md measures the cost).
 * llama-server and llama-cli attach one threadpool per context instead.
 *
 * This library does what they do, from outside the addon: loaded with RTLD_GLOBAL before the addon
 * binds its symbols, its llama_decode and llama_free take precedence over libllama's (the addon
 * looks symbols up in the global scope first). On the first decode of a context it creates one
 * ggml threadpool with the context's thread count and attaches it; llama_free frees it after the
 * context. Every call is then forwarded to the libllama that the calling object links to (found
 * from the caller's address), so several node-llama-cpp builds in one process (CPU and Vulkan)
 * each keep their own library.
 *
 * Between tokens the pool's threads poll for the next graph (as llama-server's do), then sleep; when
 * the daemon has nothing to generate it calls tinyllamad_threadpool_pause_idle() so they go to sleep
 * at once instead of spinning out their polling time; the next decode wakes them (ggml resumes a
 * paused pool when it hands it a graph).
 *
 * It changes no result: ggml splits the work by the same thread count either way.
 * Headers: llama.h and ggml's headers of the llama.cpp release node-llama-cpp ships (extracted
 * from its gitRelease.bundle by buildPersistentThreadpool.ts).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

#define TINYLLAMAD_THREADPOOL_ABI 2
#define MAX_LIBRARIES 16

typedef int32_t (*decode_fn)(struct llama_context *, struct llama_batch);
typedef void (*free_fn)(struct llama_context *);
typedef int32_t (*n_threads_fn)(struct llama_context *);
typedef void (*attach_fn)(struct llama_context *, ggml_threadpool_t, ggml_threadpool_t);
typedef void (*detach_fn)(struct llama_context *);
typedef ggml_threadpool_t (*threadpool_new_fn)(struct ggml_threadpool_params *);
typedef void (*threadpool_free_fn)(ggml_threadpool_t);
typedef struct ggml_threadpool_params (*threadpool_params_default_fn)(int);
typedef void (*threadpool_pause_fn)(ggml_threadpool_t);

/* The llama.cpp functions of one loaded libllama, as seen from one calling object. */
struct llama_library {
  void *caller_base;
  decode_fn decode;
  free_fn free_context;
  n_threads_fn n_threads;
  n_threads_fn n_threads_batch;
  attach_fn attach;
  detach_fn detach;
  threadpool_new_fn threadpool_new;
  threadpool_free_fn threadpool_free;
  threadpool_pause_fn threadpool_pause;
  threadpool_params_default_fn threadpool_params_default;
};

struct attached_pool {
  struct llama_context *context;
  ggml_threadpool_t threadpool;
  int threads;
  /* Decodes running on the pool now; a pool is only ever paused at zero (pausing mid-graph could
     leave the calling thread waiting at a barrier for a worker that went to sleep). */
  int in_flight;
  threadpool_free_fn threadpool_free;
  threadpool_pause_fn threadpool_pause;
  struct attached_pool *next;
};

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct llama_library libraries[MAX_LIBRARIES];
static int library_count;
static struct attached_pool *pools;
static long pools_created;
static long pools_live;
static long decodes_with_pool;
static long decodes_without_pool;
static long pauses;
static char problem[256];

static void note_problem(const char *message, const char *detail) {
  if (problem[0] != '\0') return;
  snprintf(problem, sizeof problem, "%s%s%s", message, detail ? ": " : "", detail ? detail : "");
}

/* Looks name up in the object behind handle and its dependencies, never in this library. */
static void *symbol_beside(void *handle, const char *name, void *ours) {
  void *found = handle ? dlsym(handle, name) : NULL;
  if (found == NULL || found == ours) found = dlsym(RTLD_NEXT, name);
  return found == ours ? NULL : found;
}

static void resolve_library(struct llama_library *library, const char *caller_path) {
  void *handle = dlopen(caller_path, RTLD_LAZY | RTLD_NOLOAD);
  library->decode = (decode_fn)symbol_beside(handle, "llama_decode", (void *)llama_decode);
  library->free_context = (free_fn)symbol_beside(handle, "llama_free", (void *)llama_free);
  library->n_threads = (n_threads_fn)symbol_beside(handle, "llama_n_threads", NULL);
  library->n_threads_batch = (n_threads_fn)symbol_beside(handle, "llama_n_threads_batch", NULL);
  library->attach = (attach_fn)symbol_beside(handle, "llama_attach_threadpool", NULL);
  library->detach = (detach_fn)symbol_beside(handle, "llama_detach_threadpool", NULL);
  library->threadpool_params_default =
      (threadpool_params_default_fn)symbol_beside(handle, "ggml_threadpool_params_default", NULL);

  /* ggml-cpu may be a dynamically loaded backend: ask the CPU backend's registry, as llama.cpp's common does. */
  typedef ggml_backend_dev_t (*dev_by_type_fn)(enum ggml_backend_dev_type);
  typedef ggml_backend_reg_t (*dev_reg_fn)(ggml_backend_dev_t);
  typedef void *(*proc_address_fn)(ggml_backend_reg_t, const char *);
  dev_by_type_fn dev_by_type = (dev_by_type_fn)symbol_beside(handle, "ggml_backend_dev_by_type", NULL);
  dev_reg_fn dev_reg = (dev_reg_fn)symbol_beside(handle, "ggml_backend_dev_backend_reg", NULL);
  proc_address_fn proc_address = (proc_address_fn)symbol_beside(handle, "ggml_backend_reg_get_proc_address", NULL);
  ggml_backend_dev_t cpu = dev_by_type ? dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) : NULL;
  if (cpu != NULL && dev_reg != NULL && proc_address != NULL) {
    ggml_backend_reg_t registry = dev_reg(cpu);
    library->threadpool_new = (threadpool_new_fn)proc_address(registry, "ggml_threadpool_new");
    library->threadpool_free = (threadpool_free_fn)proc_address(registry, "ggml_threadpool_free");
  }
  /* ggml_threadpool_pause is not in the registry: take it from the CPU backend library that made the pool. */
  Dl_info cpu_backend;
  if (library->threadpool_new != NULL && dladdr((void *)library->threadpool_new, &cpu_backend) != 0 &&
      cpu_backend.dli_fname != NULL) {
    void *cpu_handle = dlopen(cpu_backend.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (cpu_handle != NULL) {
      library->threadpool_pause = (threadpool_pause_fn)dlsym(cpu_handle, "ggml_threadpool_pause");
      dlclose(cpu_handle);
    }
  }
  if (handle != NULL) dlclose(handle); /* RTLD_NOLOAD took a reference; the object stays loaded */

  if (library->decode == NULL || library->free_context == NULL)
    note_problem("llama_decode/llama_free not found beside the caller", caller_path);
  else if (library->threadpool_new == NULL || library->threadpool_free == NULL || library->attach == NULL ||
           library->detach == NULL || library->n_threads == NULL || library->n_threads_batch == NULL ||
           library->threadpool_params_default == NULL)
    note_problem("this llama.cpp build offers no ggml threadpool API; decoding without a persistent pool",
                 caller_path);
}

/* The library the calling object links to; called with the caller's return address. */
static struct llama_library *library_for(void *return_address, struct llama_library *scratch) {
  Dl_info info;
  if (dladdr(return_address, &info) == 0 || info.dli_fname == NULL) {
    memset(scratch, 0, sizeof *scratch);
    pthread_mutex_lock(&state_lock);
    resolve_library(scratch, NULL);
    pthread_mutex_unlock(&state_lock);
    return scratch;
  }
  pthread_mutex_lock(&state_lock);
  for (int i = 0; i < library_count; i++) {
    if (libraries[i].caller_base == info.dli_fbase) {
      pthread_mutex_unlock(&state_lock);
      return &libraries[i];
    }
  }
  struct llama_library *library = library_count < MAX_LIBRARIES ? &libraries[library_count] : scratch;
  memset(library, 0, sizeof *library);
  library->caller_base = info.dli_fbase;
  resolve_library(library, info.dli_fname);
  if (library != scratch) library_count++;
  pthread_mutex_unlock(&state_lock);
  return library;
}

static int threads_for(const struct llama_library *library, struct llama_context *context) {
  int threads = library->n_threads(context);
  int batch_threads = library->n_threads_batch(context);
  return batch_threads > threads ? batch_threads : threads;
}

/* Attaches (or re-sizes) the context's pool and returns it (NULL when none); called with state_lock held. */
static struct attached_pool *ensure_pool(const struct llama_library *library, struct llama_context *context) {
  int threads = threads_for(library, context);
  struct attached_pool *pool = pools;
  while (pool != NULL && pool->context != context) pool = pool->next;
  if (pool != NULL && pool->threads == threads) return pool;

  struct ggml_threadpool_params params = library->threadpool_params_default(threads);
  ggml_threadpool_t threadpool = library->threadpool_new(&params);
  if (threadpool == NULL) {
    note_problem("ggml_threadpool_new failed", NULL);
    return pool;
  }
  if (pool == NULL) {
    pool = calloc(1, sizeof *pool);
    if (pool == NULL) {
      library->threadpool_free(threadpool);
      return NULL;
    }
    pool->context = context;
    pool->next = pools;
    pools = pool;
    pools_live++;
  } else {
    /* The context's thread count changed: decodes on one context never overlap, so swap pools. */
    library->detach(context);
    pool->threadpool_free(pool->threadpool);
  }
  library->attach(context, threadpool, threadpool);
  pool->threadpool = threadpool;
  pool->threads = threads;
  pool->threadpool_free = library->threadpool_free;
  pool->threadpool_pause = library->threadpool_pause;
  pools_created++;
  return pool;
}

int32_t llama_decode(struct llama_context *context, struct llama_batch batch) {
  struct llama_library scratch;
  struct llama_library *library = library_for(__builtin_return_address(0), &scratch);
  if (library->decode == NULL) {
    fprintf(stderr, "tinyllamad persistent threadpool: %s\n", problem);
    return -1;
  }
  int has_pool = library->threadpool_new != NULL && library->threadpool_free != NULL && library->attach != NULL &&
                 library->detach != NULL && library->n_threads != NULL && library->n_threads_batch != NULL &&
                 library->threadpool_params_default != NULL;
  pthread_mutex_lock(&state_lock);
  struct attached_pool *pool = has_pool ? ensure_pool(library, context) : NULL;
  if (pool != NULL) {
    pool->in_flight++;
    decodes_with_pool++;
  } else {
    decodes_without_pool++;
  }
  pthread_mutex_unlock(&state_lock);
  int32_t result = library->decode(context, batch);
  if (pool != NULL) {
    /* Decodes on one context never overlap and the context outlives them, so the pool is still listed. */
    pthread_mutex_lock(&state_lock);
    pool->in_flight--;
    pthread_mutex_unlock(&state_lock);
  }
  return result;
}

void llama_free(struct llama_context *context) {
  struct llama_library scratch;
  struct llama_library *library = library_for(__builtin_return_address(0), &scratch);
  pthread_mutex_lock(&state_lock);
  struct attached_pool **link = &pools;
  while (*link != NULL && (*link)->context != context) link = &(*link)->next;
  struct attached_pool *pool = *link;
  if (pool != NULL) {
    *link = pool->next;
    pools_live--;
  }
  pthread_mutex_unlock(&state_lock);
  if (library->free_context != NULL) library->free_context(context);
  else fprintf(stderr, "tinyllamad persistent threadpool: %s\n", problem);
  /* The context is gone, so nothing can be computing on its pool any more. */
  if (pool != NULL) {
    pool->threadpool_free(pool->threadpool);
    free(pool);
  }
}

/* Puts the threads of every pool with no decode running to sleep now; returns how many pools it paused. */
int tinyllamad_threadpool_pause_idle(void) {
  int paused = 0;
  pthread_mutex_lock(&state_lock);
  for (struct attached_pool *pool = pools; pool != NULL; pool = pool->next) {
    if (pool->in_flight == 0 && pool->threadpool_pause != NULL) {
      pool->threadpool_pause(pool->threadpool);
      paused++;
    }
  }
  pauses += paused;
  pthread_mutex_unlock(&state_lock);
  return paused;
}

/* Introspection for the daemon (read through koffi). */
int tinyllamad_threadpool_abi(void) { return TINYLLAMAD_THREADPOOL_ABI; }

struct tinyllamad_threadpool_counters {
  long pools_created;
  long pools_live;
  long decodes_with_pool;
  long decodes_without_pool;
  long pauses;
};

void tinyllamad_threadpool_counters(struct tinyllamad_threadpool_counters *out) {
  pthread_mutex_lock(&state_lock);
  out->pools_created = pools_created;
  out->pools_live = pools_live;
  out->decodes_with_pool = decodes_with_pool;
  out->decodes_without_pool = decodes_without_pool;
  out->pauses = pauses;
  pthread_mutex_unlock(&state_lock);
}

/* Why decodes run without a persistent pool, or "" when nothing went wrong. */
const char *tinyllamad_threadpool_problem(void) {
  pthread_mutex_lock(&state_lock);
  const char *text = problem;
  pthread_mutex_unlock(&state_lock);
  return text;
}
