/* params.c — parameter checks shared by every variant's conv2d kernels. */
#include "activation.h"

#include <assert.h>

static _Thread_local gl_prefetch_window window;

void gl_prefetch_next(const void *p, size_t bytes) {
    window.cursor = p;
    window.end = p != NULL ? (const char *)p + bytes : NULL;
}

gl_prefetch_window *gl_prefetch_window_of_thread(void) { return &window; }

int gl_conv2d_params_valid(const gl_conv2d_params *p) {
    return p != NULL && !p->input_chw && gl_conv2d_params_valid_any_layout(p);
}

int gl_conv2d_params_valid_any_layout(const gl_conv2d_params *p) {
    if (p == NULL) return 0;
    if (!p->input_chw && p->in_plane != 0) return 0; /* a plane stride means a CHW input */
    if (p->in_h == 0 || p->in_w == 0 || p->in_c == 0) return 0;
    if (p->out_h == 0 || p->out_w == 0 || p->out_c == 0) return 0;
    if (p->kernel_h == 0 || p->kernel_w == 0) return 0;
    if (p->stride_h == 0 || p->stride_w == 0) return 0;
    if (p->dilation_h == 0 || p->dilation_w == 0) return 0;
    if (p->groups == 0 || p->in_c % p->groups != 0 || p->out_c % p->groups != 0) return 0;
    /* Also rejects a NaN bound, which would make the clamp meaningless. */
    if (!(p->output_min <= p->output_max)) return 0;
    if (p->activation < 0 || p->activation >= GL_ACTIVATION_COUNT) return 0;
    return 1;
}

int gl_conv2d_rows_valid(const gl_conv2d_params *p, size_t row_begin, size_t row_end) {
    return row_begin <= row_end && row_end <= p->out_h;
}

void gl_pack_pointwise_panels(const gl_conv2d_params *p, const float *weights_oihw, const float *bias,
                              float *packed, size_t (*width)(size_t nc, size_t n0)) {
    const size_t kc = p->in_c, nc = p->out_c;
    for (size_t n0 = 0; n0 < nc; n0 += width(nc, n0)) {
        const size_t w = width(nc, n0);
        for (size_t j = 0; j < w; j++)
            *packed++ = (n0 + j < nc && bias != NULL) ? bias[n0 + j] : 0.0f;
        for (size_t k = 0; k < kc; k++)
            for (size_t j = 0; j < w; j++)
                *packed++ = n0 + j < nc ? weights_oihw[(n0 + j) * kc + k] : 0.0f;
    }
}

/* The pass starting at panel column n0: *n1 past its last panel, *floats its packed size
 * (at least one panel, then as many as fit GL_POINTWISE_PASS_FLOATS). */
static void pass_end(size_t nc, size_t kc, size_t (*width)(size_t nc, size_t n0), size_t n0,
                       size_t *n1, size_t *floats) {
    size_t n = n0, f = 0;
    while (n < nc && (n == n0 || f + width(nc, n) * (kc + 1) <= GL_POINTWISE_PASS_FLOATS)) {
        f += width(nc, n) * (kc + 1);
        n += width(nc, n);
    }
    *n1 = n, *floats = f;
}

void gl_pointwise_run(const gl_conv2d_params *p, const float *input, const float *packed,
                      const float *residual, float *output, size_t row_begin, size_t row_end,
                      size_t (*width)(size_t nc, size_t n0), const gl_pointwise_rows_fn *rows, size_t mr_max) {
    const size_t kc = p->in_c, nc = p->out_c;
    const size_t first = row_begin * p->out_w;
    const size_t m = (row_end - row_begin) * p->out_w;
    const float *w0 = packed;
    const gl_epilogue ep = gl_epilogue_of(p);
    /* While a pass runs, its tiles prefetch the next pass's weights; the last pass, whatever
     * the caller asked for (gl_prefetch_next: the next layer's). */
    gl_prefetch_window *const thread_pf = gl_prefetch_window_of_thread();
    gl_prefetch_window after = *thread_pf;
    for (size_t n0 = 0; n0 < nc && m != 0;) {
        size_t n1, floats, n2, next_floats = 0;
        pass_end(nc, kc, width, n0, &n1, &floats);
        if (n1 < nc) pass_end(nc, kc, width, n1, &n2, &next_floats);
        const char *next = (const char *)(w0 + floats);
        gl_prefetch_window pf = n1 < nc ? (gl_prefetch_window){next, next + next_floats * sizeof(float)} : after;
        const float *a = input + first * kc;
        float *c = output + first * nc;
        const float *r = residual != NULL ? residual + first * nc : NULL;
        for (size_t left = m; left != 0;) {
            const size_t mr = gl_next_block(left, mr_max);
            rows[mr](kc, a, w0, n0, n1, nc, c, r, &ep, &pf);
            a += mr * kc;
            c += mr * nc;
            if (r != NULL) r += mr * nc;
            left -= mr;
        }
        if (n1 >= nc) after = pf;
        w0 += floats;
        n0 = n1;
    }
    *thread_pf = after;
}

/* Depthwise weights in blocks of `block` channels (the last zero-padded), each block
 * [bias[block], w[kernel_h * kernel_w][block]]: the layout of every SIMD depthwise kernel. */
static size_t dwconv_packed_size(const gl_conv2d_params *p, size_t block) {
    return (p->in_c + block - 1) / block * block * (1 + p->kernel_h * p->kernel_w);
}

static void dwconv_pack(const gl_conv2d_params *p, const float *weights_oihw, const float *bias,
                        float *packed, size_t block) {
    assert(gl_f32_dwconv_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    const size_t C = p->in_c, taps = p->kernel_h * p->kernel_w;
    for (size_t c0 = 0; c0 < C; c0 += block) {
        for (size_t j = 0; j < block; j++) *packed++ = (c0 + j < C && bias != NULL) ? bias[c0 + j] : 0.0f;
        for (size_t t = 0; t < taps; t++)
            for (size_t j = 0; j < block; j++) *packed++ = c0 + j < C ? weights_oihw[(c0 + j) * taps + t] : 0.0f;
    }
}

size_t gl_f32_dwconv_packed_size_c8(const gl_conv2d_params *p) { return dwconv_packed_size(p, 8); }
size_t gl_f32_dwconv_packed_size_c16(const gl_conv2d_params *p) { return dwconv_packed_size(p, 16); }

void gl_f32_dwconv_pack_c8(const gl_conv2d_params *p, const float *weights_oihw, const float *bias, float *packed) {
    dwconv_pack(p, weights_oihw, bias, packed, 8);
}

void gl_f32_dwconv_pack_c16(const gl_conv2d_params *p, const float *weights_oihw, const float *bias, float *packed) {
    dwconv_pack(p, weights_oihw, bias, packed, 16);
}
