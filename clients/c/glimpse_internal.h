/* The client's frame codec, exposed to its tests and the fake server (not installed, not public API). */
#ifndef GLIMPSE_INTERNAL_H
#define GLIMPSE_INTERNAL_H

#include "glimpse/v1/glimpse.pb-c.h"
#include "glimpse_client.h"

/* Builds a request frame: header + RequestEnvelope. On GLIMPSE_OK *frame is a malloc'd
 * buffer of *frame_size bytes that the caller frees with free(); otherwise it is NULL. */
int glimpse_encode_request(const char *method, uint64_t request_id, uint32_t timeout_ms,
                           const glimpse_metadata *metadata, size_t n_metadata, const void *body, size_t body_size,
                           unsigned char **frame, size_t *frame_size, glimpse_status *status);

/* Checks a reply frame and its request id; a reply with id 0 and an error status is also
 * taken, as the server's answer to a request it could not read. On GLIMPSE_OK *envelope is the decoded envelope,
 * which the caller frees with glimpse__v1__response_envelope__free_unpacked(*envelope, NULL);
 * otherwise it is NULL and the code is GLIMPSE_INTERNAL. `status` gets the frame's problem,
 * not the server's status (that is in the envelope). */
int glimpse_decode_response(const void *frame, size_t size, uint64_t expected_id,
                            Glimpse__V1__ResponseEnvelope **envelope, glimpse_status *status);

/* Fills `status` (if not NULL) with `code` and a printf-style message, cut at a UTF-8
 * character boundary to fit; returns `code`. */
int glimpse_set_status(glimpse_status *status, int code, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Copies `src` into `dst` of `capacity` bytes (>= 1), NUL-terminated, cut at a UTF-8
 * character boundary when it does not fit. NULL `src` copies "". */
void glimpse_copy_utf8(char *dst, size_t capacity, const char *src);

#endif
