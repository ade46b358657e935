/* Glimpse's C client: unary calls to a Glimpse server over nanomsg REQ/REP (proto/glimpse/v1). */
#ifndef GLIMPSE_CLIENT_H
#define GLIMPSE_CLIENT_H

/*
 * Conventions, for every function here:
 *  - The return value is a status code: GLIMPSE_OK (0) on success, otherwise the gRPC
 *    code the server sent or a local code for a failure on this side (below).
 *  - `status`, where a function takes one, may be NULL; when given it is always filled,
 *    on success too (code 0, empty message). The message says what went wrong, for people.
 *  - Nothing is kept from the caller's pointers after a call returns, and nothing the
 *    library allocates outlives the call unless a function says the caller owns it.
 *  - There is no global state. A client is not thread-safe: it holds one REQ socket with
 *    at most one call in flight, so use one client per thread.
 *
 * Local codes (no reply from the server was involved):
 *  - GLIMPSE_INVALID_ARGUMENT   the caller's arguments are unusable (NULL pointer, bad URL,
 *                               top_k larger than the output array).
 *  - GLIMPSE_DEADLINE_EXCEEDED  connected, but no reply within the client's timeout.
 *  - GLIMPSE_UNAVAILABLE        not connected when the timeout ran out (server down, wrong
 *                               address, connection lost), or nanomsg failed to send/receive.
 *  - GLIMPSE_INTERNAL           the reply is malformed: bad frame header, not protobuf, a
 *                               request id other than the one sent, more classes than asked.
 *  - GLIMPSE_RESOURCE_EXHAUSTED out of memory, or out of sockets when opening.
 * The server sends the same codes for its own errors; the message tells them apart.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* gRPC status codes (google.rpc.Code), the numbers that cross the wire. */
enum glimpse_code {
    GLIMPSE_OK = 0,
    GLIMPSE_CANCELLED = 1,
    GLIMPSE_UNKNOWN = 2,
    GLIMPSE_INVALID_ARGUMENT = 3,
    GLIMPSE_DEADLINE_EXCEEDED = 4,
    GLIMPSE_NOT_FOUND = 5,
    GLIMPSE_ALREADY_EXISTS = 6,
    GLIMPSE_PERMISSION_DENIED = 7,
    GLIMPSE_RESOURCE_EXHAUSTED = 8,
    GLIMPSE_FAILED_PRECONDITION = 9,
    GLIMPSE_ABORTED = 10,
    GLIMPSE_OUT_OF_RANGE = 11,
    GLIMPSE_UNIMPLEMENTED = 12,
    GLIMPSE_INTERNAL = 13,
    GLIMPSE_UNAVAILABLE = 14,
    GLIMPSE_DATA_LOSS = 15,
    GLIMPSE_UNAUTHENTICATED = 16,
};

/* "INVALID_ARGUMENT" for 3, as gRPC tools print codes; "UNKNOWN_CODE" outside 0...16.
 * The string is static. */
const char *glimpse_code_name(int code);

typedef struct {
    int code;          /* enum glimpse_code */
    char message[256]; /* NUL-terminated UTF-8; longer messages are cut at a character boundary */
} glimpse_status;

typedef struct glimpse_client glimpse_client;

/* Opens a client connected to `url` ("tcp://127.0.0.1:7070", "ipc:///tmp/glimpse.sock").
 * `timeout_ms` > 0 bounds each call (sending and waiting for the reply) and is sent to the
 * server as the call's deadline; <= 0 waits forever. nanomsg connects in the background, so
 * opening succeeds even when no server is listening yet; the first call then reports
 * UNAVAILABLE when its timeout runs out. On success *out owns a client the caller closes
 * with glimpse_client_close; on failure *out is NULL. */
int glimpse_client_open(const char *url, int timeout_ms, glimpse_client **out, glimpse_status *status);

/* Closes the socket and frees the client. NULL is allowed. */
void glimpse_client_close(glimpse_client *client);

/* One class of a Classify reply. */
typedef struct {
    int index;         /* ImageNet class index, 0...999 */
    char label[128];   /* NUL-terminated; longer labels are cut at a character boundary */
    float probability; /* 0...1 */
} glimpse_class;

/* Classifies a JPEG. `model` NULL or "" means the server's default model. `top_k` is how
 * many classes to ask for; <= 0 asks for as many as `out` holds. `*count` is, on entry, the
 * capacity of `out` (>= 1, and >= top_k) and, on return, how many classes were written
 * (0 on error), best first. The JPEG bytes are only read. */
int glimpse_classify(glimpse_client *client, const char *model, const void *jpeg, size_t size, int top_k,
                     glimpse_class *out, int *count, glimpse_status *status);

/* HealthResponse.ServingStatus. */
enum glimpse_serving_status {
    GLIMPSE_SERVING_UNKNOWN = 0,
    GLIMPSE_SERVING = 1,
    GLIMPSE_NOT_SERVING = 2,
    GLIMPSE_SERVICE_UNKNOWN = 3,
};

/* Asks whether `service` (NULL or "" for the whole server) is serving; on GLIMPSE_OK
 * *serving is an enum glimpse_serving_status, otherwise GLIMPSE_SERVING_UNKNOWN. */
int glimpse_health(glimpse_client *client, const char *service, int *serving, glimpse_status *status);

/* One model of a ListModels reply; the strings are valid only during the callback. */
typedef struct {
    const char *name;
    const char *version;
    unsigned input_size;     /* side of a square image input, pixels; 0 when it is not square */
    uint64_t parameters;
    int is_default;          /* 1 for the model an empty `model` means */
    unsigned input_height;   /* the image input's rows and columns; 0 when not an image classifier */
    unsigned input_width;
    const char *layout;      /* "NCHW", "NHWC", or "" when not an image classifier */
} glimpse_model_info;

/* Called once per model, in the server's order; return nonzero to stop early. */
typedef int (*glimpse_model_fn)(void *context, const glimpse_model_info *model);

/* Lists the server's models through `fn`. The callback runs only after the whole reply has
 * been checked, so on an error it has not been called at all. */
int glimpse_list_models(glimpse_client *client, glimpse_model_fn fn, void *context, glimpse_status *status);

/* A metadata entry of a call, e.g. {"glimpse-cache", "no"} to bypass the result cache. */
typedef struct {
    const char *key;
    const char *value;
} glimpse_metadata;

/* The methods, as gRPC names them on the wire. */
#define GLIMPSE_METHOD_CLASSIFY "/glimpse.v1.Glimpse/Classify"
#define GLIMPSE_METHOD_INFER "/glimpse.v1.Glimpse/Infer"
#define GLIMPSE_METHOD_LIST_MODELS "/glimpse.v1.Glimpse/ListModels"
#define GLIMPSE_METHOD_MODEL_METADATA "/glimpse.v1.Glimpse/ModelMetadata"
#define GLIMPSE_METHOD_HEALTH "/glimpse.v1.Glimpse/Health"
#define GLIMPSE_METHOD_STATS "/glimpse.v1.Glimpse/Stats"
#define GLIMPSE_METADATA_CACHE "glimpse-cache"

/* Any unary call, for what the wrappers above do not cover (Stats, Infer, call metadata):
 * `request` is the method's serialized request message (protobuf; gen/ has protobuf-c code
 * for every message). On GLIMPSE_OK, *reply is the serialized response message, which the
 * caller owns and frees with free() (it may be NULL when *reply_size is 0); on any other
 * return *reply is NULL and *reply_size 0. */
int glimpse_call(glimpse_client *client, const char *method, const glimpse_metadata *metadata, size_t n_metadata,
                 const void *request, size_t request_size, void **reply, size_t *reply_size, glimpse_status *status);

/* The frame around every message, as proto/glimpse/v1/glimpse.proto lays it out:
 *   bytes 0..3 "GLMP", byte 4 version 1, byte 5 kind, bytes 6..7 flags (LE) = 0,
 *   then the RequestEnvelope or ResponseEnvelope, protobuf. */
#define GLIMPSE_FRAME_HEADER_SIZE 8
#define GLIMPSE_FRAME_VERSION 1
enum glimpse_frame_kind { GLIMPSE_FRAME_REQUEST = 1, GLIMPSE_FRAME_RESPONSE = 2 };

/* Writes the 8-byte header of a frame of `kind` into `out`. */
void glimpse_frame_header(unsigned char out[GLIMPSE_FRAME_HEADER_SIZE], enum glimpse_frame_kind kind);

/* Checks that `frame` starts with a valid header of `kind`. GLIMPSE_OK, or GLIMPSE_INTERNAL
 * with a message naming what is wrong (too short, magic, version, kind, flags). */
int glimpse_frame_check(const void *frame, size_t size, enum glimpse_frame_kind kind, glimpse_status *status);

#ifdef __cplusplus
}
#endif

#endif
