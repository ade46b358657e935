/* f32-pool-neon.c — max, average and global-average pooling over NHWC images, NEON over channels. */
#include "neon.h"

#if defined(__aarch64__)

#include <assert.h>
#include <math.h>

/*
 * Same definitions as f32-pool-scalar.c: padding cells are skipped (average
 * pooling divides by the cells inside, or by the full window with
 * count_include_pad); a window with no cell inside gives -INFINITY for max and
 * 0 for average. Max pooling propagates NaN because FMAX (vmaxq_f32) returns
 * NaN when either operand is NaN, which is what the scalar loop spells out.
 * Cells are visited in the scalar order, so averages round the same way.
 */

static int pool_params_valid(const gl_pool2d_params *p) {
    return p != NULL && p->in_h != 0 && p->in_w != 0 && p->channels != 0 &&
           p->kernel_h != 0 && p->kernel_w != 0 && p->stride_h != 0 && p->stride_w != 0 &&
           p->dilation_h != 0 && p->dilation_w != 0;
}

/* The in-image cells of one output pixel's window: ny rows of nx cells, from i00. */
typedef struct pool_window {
    const float *i00;
    size_t ny, nx, ystep, xstep;
} pool_window;

static pool_window window_at(const gl_pool2d_params *p, const float *input, size_t y, size_t x) {
    const size_t C = p->channels;
    const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
    const ptrdiff_t ix0 = (ptrdiff_t)(x * p->stride_w) - (ptrdiff_t)p->pad_left;
    size_t ky0, ky1, kx0, kx1;
    gl_tap_range(iy0, p->dilation_h, p->kernel_h, p->in_h, &ky0, &ky1);
    gl_tap_range(ix0, p->dilation_w, p->kernel_w, p->in_w, &kx0, &kx1);
    pool_window w;
    w.ny = ky1 - ky0;
    w.nx = kx1 - kx0;
    w.ystep = p->dilation_h * p->in_w * C;
    w.xstep = p->dilation_w * C;
    w.i00 = input;
    if (w.ny == 0 || w.nx == 0) w.ny = w.nx = 0; /* wholly in the padding */
    else w.i00 += ((size_t)(iy0 + (ptrdiff_t)(ky0 * p->dilation_h)) * p->in_w +
                   (size_t)(ix0 + (ptrdiff_t)(kx0 * p->dilation_w))) * C;
    return w;
}

void gl_f32_maxpool2d_neon(const gl_pool2d_params *p, const float *input, float *output) {
    assert(pool_params_valid(p));
    assert(input != NULL && output != NULL);
    const size_t C = p->channels;
    const float32x4_t neg_inf = vdupq_n_f32(-INFINITY);
    for (size_t y = 0; y < p->out_h; y++)
        for (size_t x = 0; x < p->out_w; x++) {
            const pool_window w = window_at(p, input, y, x);
            float *o = output + (y * p->out_w + x) * C;
            size_t c = 0;
            for (; c + 8 <= C; c += 8) {
                float32x4_t m0 = neg_inf, m1 = neg_inf;
                const float *ip = w.i00 + c;
                for (size_t ky = 0; ky < w.ny; ky++, ip += w.ystep)
                    for (size_t kx = 0; kx < w.nx; kx++) {
                        m0 = vmaxq_f32(m0, vld1q_f32(ip + kx * w.xstep));
                        m1 = vmaxq_f32(m1, vld1q_f32(ip + kx * w.xstep + 4));
                    }
                vst1q_f32(o + c, m0);
                vst1q_f32(o + c + 4, m1);
            }
            for (; c + 4 <= C; c += 4) {
                float32x4_t m0 = neg_inf;
                const float *ip = w.i00 + c;
                for (size_t ky = 0; ky < w.ny; ky++, ip += w.ystep)
                    for (size_t kx = 0; kx < w.nx; kx++) m0 = vmaxq_f32(m0, vld1q_f32(ip + kx * w.xstep));
                vst1q_f32(o + c, m0);
            }
            if (c < C) {
                const size_t n = C - c;
                float32x4_t m0 = neg_inf;
                const float *ip = w.i00 + c;
                for (size_t ky = 0; ky < w.ny; ky++, ip += w.ystep)
                    for (size_t kx = 0; kx < w.nx; kx++)
                        m0 = vmaxq_f32(m0, gl_neon_load_tail(ip + kx * w.xstep, n));
                gl_neon_store_tail(o + c, m0, n);
            }
        }
}

void gl_f32_avgpool2d_neon(const gl_pool2d_params *p, const float *input, float *output) {
    assert(pool_params_valid(p));
    assert(input != NULL && output != NULL);
    const size_t C = p->channels, window = p->kernel_h * p->kernel_w;
    const float32x4_t zero = vdupq_n_f32(0.0f);
    for (size_t y = 0; y < p->out_h; y++)
        for (size_t x = 0; x < p->out_w; x++) {
            const pool_window w = window_at(p, input, y, x);
            float *o = output + (y * p->out_w + x) * C;
            const size_t count = p->count_include_pad ? window : w.ny * w.nx;
            /* Nothing to divide: 0, as in the scalar kernel. */
            const float32x4_t divisor = vdupq_n_f32(count != 0 ? (float)count : 1.0f);
            size_t c = 0;
            for (; c + 8 <= C; c += 8) {
                float32x4_t s0 = zero, s1 = zero;
                const float *ip = w.i00 + c;
                for (size_t ky = 0; ky < w.ny; ky++, ip += w.ystep)
                    for (size_t kx = 0; kx < w.nx; kx++) {
                        s0 = vaddq_f32(s0, vld1q_f32(ip + kx * w.xstep));
                        s1 = vaddq_f32(s1, vld1q_f32(ip + kx * w.xstep + 4));
                    }
                vst1q_f32(o + c, vdivq_f32(s0, divisor));
                vst1q_f32(o + c + 4, vdivq_f32(s1, divisor));
            }
            for (; c + 4 <= C; c += 4) {
                float32x4_t s0 = zero;
                const float *ip = w.i00 + c;
                for (size_t ky = 0; ky < w.ny; ky++, ip += w.ystep)
                    for (size_t kx = 0; kx < w.nx; kx++) s0 = vaddq_f32(s0, vld1q_f32(ip + kx * w.xstep));
                vst1q_f32(o + c, vdivq_f32(s0, divisor));
            }
            if (c < C) {
                const size_t n = C - c;
                float32x4_t s0 = zero;
                const float *ip = w.i00 + c;
                for (size_t ky = 0; ky < w.ny; ky++, ip += w.ystep)
                    for (size_t kx = 0; kx < w.nx; kx++)
                        s0 = vaddq_f32(s0, gl_neon_load_tail(ip + kx * w.xstep, n));
                gl_neon_store_tail(o + c, vdivq_f32(s0, divisor), n);
            }
        }
}

/*
 * Channel blocks outer, pixels inner: each block's sums stay in registers for
 * the whole image and every input cache line is read once (16 channels = 64 bytes).
 */
void gl_f32_global_avgpool_neon(size_t hw, size_t channels, const float *input, float *output) {
    assert(hw != 0 && channels != 0);
    assert(input != NULL && output != NULL);
    const size_t C = channels;
    const float32x4_t zero = vdupq_n_f32(0.0f), divisor = vdupq_n_f32((float)hw);
    size_t c = 0;
    for (; c + 16 <= C; c += 16) {
        float32x4_t s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        const float *ip = input + c;
        for (size_t i = 0; i < hw; i++, ip += C) {
            s0 = vaddq_f32(s0, vld1q_f32(ip));
            s1 = vaddq_f32(s1, vld1q_f32(ip + 4));
            s2 = vaddq_f32(s2, vld1q_f32(ip + 8));
            s3 = vaddq_f32(s3, vld1q_f32(ip + 12));
        }
        vst1q_f32(output + c, vdivq_f32(s0, divisor));
        vst1q_f32(output + c + 4, vdivq_f32(s1, divisor));
        vst1q_f32(output + c + 8, vdivq_f32(s2, divisor));
        vst1q_f32(output + c + 12, vdivq_f32(s3, divisor));
    }
    for (; c + 4 <= C; c += 4) {
        float32x4_t s0 = zero;
        const float *ip = input + c;
        for (size_t i = 0; i < hw; i++, ip += C) s0 = vaddq_f32(s0, vld1q_f32(ip));
        vst1q_f32(output + c, vdivq_f32(s0, divisor));
    }
    if (c < C) {
        const size_t n = C - c;
        float32x4_t s0 = zero;
        const float *ip = input + c;
        for (size_t i = 0; i < hw; i++, ip += C) s0 = vaddq_f32(s0, gl_neon_load_tail(ip, n));
        gl_neon_store_tail(output + c, vdivq_f32(s0, divisor), n);
    }
}

#endif /* __aarch64__ */
