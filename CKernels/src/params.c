/* params.c — parameter checks shared by every variant's conv2d kernels. */
#include "internal.h"

int gl_conv2d_params_valid(const gl_conv2d_params *p) {
    if (p == NULL) return 0;
    if (p->in_h == 0 || p->in_w == 0 || p->in_c == 0) return 0;
    if (p->out_h == 0 || p->out_w == 0 || p->out_c == 0) return 0;
    if (p->kernel_h == 0 || p->kernel_w == 0) return 0;
    if (p->stride_h == 0 || p->stride_w == 0) return 0;
    if (p->dilation_h == 0 || p->dilation_w == 0) return 0;
    if (p->groups == 0 || p->in_c % p->groups != 0 || p->out_c % p->groups != 0) return 0;
    /* Also rejects a NaN bound, which would make the clamp meaningless. */
    if (!(p->output_min <= p->output_max)) return 0;
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
