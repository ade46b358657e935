/* fused.c — a conv (an inverted bottleneck's pointwise expansion, or a stem) and the depthwise conv that reads it, band by band, so the tensor between them stays in L2. */
#include "internal.h"

#include <assert.h>
#include <string.h>

/*
 * The expanded tensor of an early MobileNet/EfficientNet block is large
 * (Lite0: 112×112×96 floats, 4.8 MB): written by the pointwise conv and read
 * back by the depthwise conv, it makes both wait on L3. Here each thread owns
 * a contiguous range of depthwise output rows and walks it in bands: the
 * image rows of the expanded tensor that a band's windows cover are computed
 * into the thread's scratch (band_rows rows), then the depthwise kernel runs
 * on the scratch as if it were a small image. Rows the next band also needs
 * (K - S of them) are moved to the scratch's front instead of recomputed.
 * The same holds for a network's stem and its first depthwise conv (Lite0:
 * 112×112×32, 1.6 MB), the stem computing its output rows of the band on a
 * sub-image the same way (expand_rows).
 *
 * The depthwise kernel sees a sub-image: rows [a, b) of the expanded tensor,
 * output rows [y0, y1), and pad_top shifted so that each window still starts
 * where it did (y*S - pad_top - a, never negative). Bottom padding stays
 * implicit: a window that reaches past row H is cut by the sub-image's height
 * exactly as by the whole image's. Both kernels compute every output element
 * the same way whatever rows they are given, so the result is bit-identical
 * to the two steps run apart.
 */

/* The expansion in the H·W-rows-of-one-pixel form (a pointwise conv). */
static int pointwise_form(const gl_conv2d_params *e) {
    return e->kernel_h == 1 && e->kernel_w == 1 && e->in_w == 1 && e->out_w == 1 && !e->input_chw;
}

int gl_expand_dw_valid(const gl_expand_dw *f) {
    if (f == NULL || f->expand == NULL || f->dw == NULL) return 0;
    const gl_conv2d_params *e = &f->expand_params, *d = &f->dw_params;
    if (!f->expand->supports(e) || !f->dw->supports(d)) return 0;
    const int shapes = pointwise_form(e) ? e->out_h == d->in_h * d->in_w
                                         : e->out_h == d->in_h && e->out_w == d->in_w && e->in_plane == 0;
    return shapes && e->out_c == d->in_c && d->groups == d->in_c && d->out_c == d->in_c &&
           d->dilation_h == 1 && f->band_rows >= d->kernel_h;
}

/*
 * Output rows [from, b) of the expansion into `out` (row `from` first). A pointwise one is
 * (b - from)·W rows of one pixel starting at pixel from·W. Any other conv runs on a sub-image,
 * as the depthwise conv does below: input rows from its first window row on, pad_top what is
 * left of the top padding; a CHW input keeps its plane stride (in_plane).
 */
static void expand_rows(const gl_expand_dw *f, const float *input, float *out, size_t from, size_t b, size_t W) {
    const gl_conv2d_params *e = &f->expand_params;
    if (pointwise_form(e)) {
        f->expand->run(e, input + from * W * e->in_c, f->expand_packed, NULL, out, 0, (b - from) * W);
        return;
    }
    gl_conv2d_params sub = *e;
    const ptrdiff_t top = (ptrdiff_t)(from * e->stride_h) - (ptrdiff_t)e->pad_top;
    if (top > 0) {
        input += (size_t)top * e->in_w * (e->input_chw ? 1 : e->in_c);
        sub.in_h = e->in_h - (size_t)top;
        sub.pad_top = 0;
    } else {
        sub.pad_top = (size_t)-top;
    }
    if (e->input_chw) sub.in_plane = e->in_h * e->in_w;
    sub.out_h = b - from;
    /* no more input rows than the windows reach (a 1x1 kernel wants in_h == out_h) */
    const size_t reach = (sub.out_h - 1) * e->stride_h + (e->kernel_h - 1) * e->dilation_h + 1;
    if (reach > sub.pad_top && sub.in_h > reach - sub.pad_top) sub.in_h = reach - sub.pad_top;
    f->expand->run(&sub, input, f->expand_packed, NULL, out, 0, b - from);
}

size_t gl_expand_dw_band_rows(const gl_conv2d_params *dw, size_t bytes) {
    const size_t row = dw->in_w * dw->in_c * sizeof(float);
    size_t rows = bytes / (row ? row : 1);
    if (rows < dw->kernel_h + dw->stride_h) rows = dw->kernel_h + dw->stride_h;
    return rows < dw->in_h ? rows : dw->in_h > dw->kernel_h ? dw->in_h : dw->kernel_h;
}

static size_t band_floats(const gl_expand_dw *f) {
    const size_t floats = f->band_rows * f->dw_params.in_w * f->dw_params.in_c;
    return (floats + 15) / 16 * 16; /* each thread's band starts on a 64-byte line */
}

size_t gl_expand_dw_scratch_floats(const gl_expand_dw *f, size_t threads) {
    return band_floats(f) * (threads ? threads : 1);
}

struct fused_job {
    const gl_expand_dw *f;
    const float *input, *residual;
    float *scratch, *output;
};

/* Depthwise output rows [y_begin, y_end) in bands through `band`. */
static void run_rows(const gl_expand_dw *f, const float *input, const float *residual, float *band,
                     float *output, size_t y_begin, size_t y_end) {
    const gl_conv2d_params *d = &f->dw_params;
    const size_t H = d->in_h, W = d->in_w, C = d->in_c, K = d->kernel_h, S = d->stride_h;
    const size_t row = W * C, out_row = d->out_w * C;
    const size_t per_band = (f->band_rows - K) / S + 1; /* output rows whose windows fit in a band */
    size_t have_a = 0, have_b = 0;                        /* expanded rows in the band now */
    for (size_t y0 = y_begin; y0 < y_end; y0 += per_band) {
        const size_t y1 = y0 + per_band < y_end ? y0 + per_band : y_end;
        const ptrdiff_t top = (ptrdiff_t)(y0 * S) - (ptrdiff_t)d->pad_top;
        const size_t a = top > 0 ? (size_t)top : 0;
        const ptrdiff_t bottom = (ptrdiff_t)((y1 - 1) * S + K) - (ptrdiff_t)d->pad_top;
        const size_t b = bottom < (ptrdiff_t)H ? (size_t)bottom : H;
        if (b <= a) continue; /* only padding under these rows: cannot happen for SAME or VALID pads */
        size_t from = a;
        if (have_a <= a && a < have_b) { /* keep the rows this band shares with the last */
            memmove(band, band + (a - have_a) * row, (have_b - a) * row * sizeof(float));
            from = have_b;
        }
        if (from < b) expand_rows(f, input, band + (from - a) * row, from, b, W);
        have_a = a, have_b = b;

        gl_conv2d_params sub = *d;
        sub.in_h = b - a;
        sub.out_h = y1 - y0;
        sub.pad_top = (size_t)((ptrdiff_t)a - top);
        f->dw->run(&sub, band, f->dw_packed, residual != NULL ? residual + y0 * out_row : NULL,
                   output + y0 * out_row, 0, y1 - y0);
    }
}

static void fused_chunk(void *context, size_t index, size_t count) {
    const struct fused_job *job = context;
    const size_t rows = job->f->dw_params.out_h;
    const size_t begin = rows * index / count, end = rows * (index + 1) / count;
    if (begin < end)
        run_rows(job->f, job->input, job->residual, job->scratch + index * band_floats(job->f), job->output, begin, end);
}

void gl_expand_dw_run_parallel(gl_threadpool *pool, const gl_expand_dw *f, const float *input,
                               const float *residual, float *scratch, float *output) {
    assert(gl_expand_dw_valid(f));
    assert(input != NULL && scratch != NULL && output != NULL);
    struct fused_job job = {f, input, residual, scratch, output};
    gl_threadpool_run(pool, fused_chunk, &job);
}
