/* f32-pool-scalar.c — max, average and global-average pooling over NHWC images. */
#include "../internal.h"

#include <assert.h>
#include <math.h>

/*
 * Window cells outside the image (the padding) are skipped by max pooling and
 * by average pooling without count_include_pad; with count_include_pad the
 * divisor is the full window, kernel_h * kernel_w, pads included (ONNX).
 * A window with no cell inside the image, which only extreme padding makes,
 * gives -INFINITY for max and 0 for average (nothing to divide) rather than NaN.
 * Max pooling propagates NaN, like fmax on NEON and like PyTorch.
 */

static int pool_params_valid(const gl_pool2d_params *p) {
    return p != NULL && p->in_h != 0 && p->in_w != 0 && p->channels != 0 &&
           p->kernel_h != 0 && p->kernel_w != 0 && p->stride_h != 0 && p->stride_w != 0 &&
           p->dilation_h != 0 && p->dilation_w != 0;
}

void gl_f32_maxpool2d_scalar(const gl_pool2d_params *p, const float *input, float *output) {
    assert(pool_params_valid(p));
    assert(input != NULL && output != NULL);
    const size_t C = p->channels, in_h = p->in_h, in_w = p->in_w;
    for (size_t y = 0; y < p->out_h; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, p->dilation_h, p->kernel_h, in_h, &ky0, &ky1);
        for (size_t x = 0; x < p->out_w; x++) {
            const ptrdiff_t ix0 = (ptrdiff_t)(x * p->stride_w) - (ptrdiff_t)p->pad_left;
            size_t kx0, kx1;
            gl_tap_range(ix0, p->dilation_w, p->kernel_w, in_w, &kx0, &kx1);
            float *o = output + (y * p->out_w + x) * C;
            for (size_t c = 0; c < C; c++) o[c] = -INFINITY;
            for (size_t ky = ky0; ky < ky1; ky++) {
                const size_t iy = (size_t)(iy0 + (ptrdiff_t)(ky * p->dilation_h));
                for (size_t kx = kx0; kx < kx1; kx++) {
                    const size_t ix = (size_t)(ix0 + (ptrdiff_t)(kx * p->dilation_w));
                    const float *ip = input + (iy * in_w + ix) * C;
                    for (size_t c = 0; c < C; c++) {
                        const float v = ip[c], m = o[c];
                        /* v != v: a NaN input wins and, once in m, stays. */
                        o[c] = (v > m || v != v) ? v : m;
                    }
                }
            }
        }
    }
}

void gl_f32_avgpool2d_scalar(const gl_pool2d_params *p, const float *input, float *output) {
    assert(pool_params_valid(p));
    assert(input != NULL && output != NULL);
    const size_t C = p->channels, in_h = p->in_h, in_w = p->in_w;
    const size_t window = p->kernel_h * p->kernel_w;
    for (size_t y = 0; y < p->out_h; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, p->dilation_h, p->kernel_h, in_h, &ky0, &ky1);
        for (size_t x = 0; x < p->out_w; x++) {
            const ptrdiff_t ix0 = (ptrdiff_t)(x * p->stride_w) - (ptrdiff_t)p->pad_left;
            size_t kx0, kx1;
            gl_tap_range(ix0, p->dilation_w, p->kernel_w, in_w, &kx0, &kx1);
            float *o = output + (y * p->out_w + x) * C;
            for (size_t c = 0; c < C; c++) o[c] = 0.0f;
            for (size_t ky = ky0; ky < ky1; ky++) {
                const size_t iy = (size_t)(iy0 + (ptrdiff_t)(ky * p->dilation_h));
                for (size_t kx = kx0; kx < kx1; kx++) {
                    const size_t ix = (size_t)(ix0 + (ptrdiff_t)(kx * p->dilation_w));
                    const float *ip = input + (iy * in_w + ix) * C;
                    for (size_t c = 0; c < C; c++) o[c] += ip[c];
                }
            }
            const size_t count = p->count_include_pad ? window : (ky1 - ky0) * (kx1 - kx0);
            if (count == 0) continue; /* o is already 0 */
            const float divisor = (float)count;
            for (size_t c = 0; c < C; c++) o[c] /= divisor;
        }
    }
}

void gl_f32_global_avgpool_scalar(size_t hw, size_t channels, const float *input, float *output) {
    assert(hw != 0 && channels != 0);
    assert(input != NULL && output != NULL);
    for (size_t c = 0; c < channels; c++) output[c] = 0.0f;
    for (size_t i = 0; i < hw; i++) {
        const float *ip = input + i * channels;
        for (size_t c = 0; c < channels; c++) output[c] += ip[c];
    }
    const float divisor = (float)hw;
    for (size_t c = 0; c < channels; c++) output[c] /= divisor;
}
