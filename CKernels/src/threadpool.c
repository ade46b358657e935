/* threadpool.c — a few threads that compute one convolution's output rows together (intra-op parallelism). */
#include "ckernels.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * The caller takes part: a pool of N runs a convolution N ways with N-1 helper threads.
 * Between the ~60 convolutions of one inference the helpers spin (the next job comes within
 * microseconds, and a futex wake-up costs tens of them); after SPIN_LIMIT idle spins they sleep
 * on a condition variable, so an idle server burns no CPU.
 */
#define SPIN_LIMIT 20000

struct gl_threadpool {
    size_t threads;
    pthread_t *helpers;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    _Atomic uint64_t generation; /* bumped once per job, after the job fields are written */
    _Atomic size_t pending;      /* helpers still working on the current job */
    _Atomic int stop;
    /* The current job (written by the caller before bumping `generation`). */
    void (*task)(void *context, size_t index, size_t count);
    void *context;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void run_chunk(gl_threadpool *pool, size_t index) { pool->task(pool->context, index, pool->threads); }

struct helper_start { gl_threadpool *pool; size_t index; };

static void *helper_main(void *argument) {
    struct helper_start start = *(struct helper_start *)argument;
    free(argument);
    gl_threadpool *pool = start.pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t now;
        unsigned spins = 0;
        while ((now = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen) {
            if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
            if (++spins < SPIN_LIMIT) { cpu_relax(); continue; }
            pthread_mutex_lock(&pool->mutex);
            while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&pool->stop, memory_order_acquire))
                pthread_cond_wait(&pool->wake, &pool->mutex);
            pthread_mutex_unlock(&pool->mutex);
            spins = 0;
        }
        seen = now;
        run_chunk(pool, start.index);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
}

gl_threadpool *gl_threadpool_create(size_t threads) {
    if (threads == 0) return NULL;
    gl_threadpool *pool = calloc(1, sizeof *pool);
    if (pool == NULL) return NULL;
    pool->threads = threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->helpers = calloc(threads, sizeof *pool->helpers);
    if (pool->helpers == NULL) { gl_threadpool_destroy(pool); return NULL; }
    for (size_t i = 1; i < threads; i++) {
        struct helper_start *start = malloc(sizeof *start);
        if (start == NULL) { pool->threads = i; gl_threadpool_destroy(pool); return NULL; }
        *start = (struct helper_start){pool, i};
        if (pthread_create(&pool->helpers[i], NULL, helper_main, start) != 0) {
            free(start);
            pool->threads = i;
            gl_threadpool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void gl_threadpool_destroy(gl_threadpool *pool) {
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store_explicit(&pool->stop, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (size_t i = 1; i < pool->threads && pool->helpers != NULL; i++) pthread_join(pool->helpers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->helpers);
    free(pool);
}

size_t gl_threadpool_size(const gl_threadpool *pool) { return pool == NULL ? 1 : pool->threads; }

void gl_threadpool_run(gl_threadpool *pool, void (*task)(void *context, size_t index, size_t count), void *context) {
    assert(task != NULL);
    if (pool == NULL || pool->threads == 1) {
        task(context, 0, 1);
        return;
    }
    pool->task = task;
    pool->context = context;
    atomic_store_explicit(&pool->pending, pool->threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    run_chunk(pool, 0);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) != 0) cpu_relax();
}

struct conv_job {
    const gl_conv2d_kernel *kernel;
    const gl_conv2d_params *params;
    const float *input, *packed, *residual;
    float *output;
};

/* Chunk `index` of `count`: output rows split as evenly as whole rows allow. */
static void conv_chunk(void *context, size_t index, size_t count) {
    const struct conv_job *job = context;
    const gl_conv2d_params *p = job->params;
    const size_t begin = p->out_h * index / count, end = p->out_h * (index + 1) / count;
    if (begin < end) job->kernel->run(p, job->input, job->packed, job->residual, job->output, begin, end);
}

void gl_conv2d_run_parallel(gl_threadpool *pool, const gl_conv2d_kernel *kernel, const gl_conv2d_params *p,
                            const float *input, const float *packed, const float *residual, float *output) {
    assert(kernel != NULL && p != NULL);
    if (pool == NULL || pool->threads == 1 || p->out_h < 2) {
        kernel->run(p, input, packed, residual, output, 0, p->out_h);
        return;
    }
    struct conv_job job = {kernel, p, input, packed, residual, output};
    gl_threadpool_run(pool, conv_chunk, &job);
}
