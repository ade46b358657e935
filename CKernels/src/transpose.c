/* transpose.c — batches of 2-D transposes, the engine's layout changes (NCHW ↔ NHWC). */
#include "ckernels.h"

/*
 * y[b][c][r] = x[b][r][c]. With a few rows (an image's 3 channels) every
 * input row is one sequential stream and the output is written in order;
 * otherwise 32×32 tiles keep both sides' lines in L1 while a tile is done.
 */
void gl_f32_transpose(size_t batch, size_t rows, size_t columns, const float *restrict x, float *restrict y) {
    for (size_t b = 0; b < batch; b++, x += rows * columns, y += rows * columns) {
        if (rows <= 4) {
            for (size_t c = 0; c < columns; c++)
                for (size_t r = 0; r < rows; r++) y[c * rows + r] = x[r * columns + c];
            continue;
        }
        for (size_t r0 = 0; r0 < rows; r0 += 32) {
            const size_t r1 = r0 + 32 < rows ? r0 + 32 : rows;
            for (size_t c0 = 0; c0 < columns; c0 += 32) {
                const size_t c1 = c0 + 32 < columns ? c0 + 32 : columns;
                for (size_t c = c0; c < c1; c++)
                    for (size_t r = r0; r < r1; r++) y[c * rows + r] = x[r * columns + c];
            }
        }
    }
}
