/* Glimpse's C client: frames, envelopes and unary calls over one nanomsg REQ socket. */
#define _POSIX_C_SOURCE 200809L

#include "glimpse_client.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glimpse_internal.h"

struct glimpse_client {
    int socket;
    int timeout_ms;       /* > 0, or -1 for none */
    uint64_t last_id;     /* ids start at 1 and increase by one per call */
    int abandoned;        /* a request was sent and its reply not received (timeout) */
    char url[];           /* for messages */
};

static const char *const code_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *glimpse_code_name(int code) {
    if (code < 0 || code >= (int)(sizeof code_names / sizeof code_names[0])) return "UNKNOWN_CODE";
    return code_names[code];
}

void glimpse_copy_utf8(char *dst, size_t capacity, const char *src) {
    if (src == NULL) src = "";
    size_t n = strlen(src);
    if (n >= capacity) {
        n = capacity - 1;
        /* src[n] is the first byte left out; if it continues a character, that character
         * started before the cut, so drop its leading bytes too. */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int glimpse_set_status(glimpse_status *status, int code, const char *format, ...) {
    if (status == NULL) return code;
    char buffer[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    status->code = code;
    glimpse_copy_utf8(status->message, sizeof status->message, buffer);
    return code;
}

static int ok(glimpse_status *status) {
    if (status != NULL) {
        status->code = GLIMPSE_OK;
        status->message[0] = '\0';
    }
    return GLIMPSE_OK;
}

/* ---- frames ---- */

static const unsigned char magic[4] = {0x47, 0x4C, 0x4D, 0x50}; /* "GLMP" */

void glimpse_frame_header(unsigned char out[GLIMPSE_FRAME_HEADER_SIZE], enum glimpse_frame_kind kind) {
    memcpy(out, magic, 4);
    out[4] = GLIMPSE_FRAME_VERSION;
    out[5] = (unsigned char)kind;
    out[6] = 0; /* flags, little-endian: none defined */
    out[7] = 0;
}

int glimpse_frame_check(const void *frame, size_t size, enum glimpse_frame_kind kind, glimpse_status *status) {
    const unsigned char *b = frame;
    if (b == NULL || size < GLIMPSE_FRAME_HEADER_SIZE)
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "frame of %zu bytes is shorter than the %d-byte header",
                                  b == NULL ? (size_t)0 : size, GLIMPSE_FRAME_HEADER_SIZE);
    if (memcmp(b, magic, 4) != 0)
        return glimpse_set_status(status, GLIMPSE_INTERNAL,
                                  "frame starts with %02X %02X %02X %02X, not the magic 47 4C 4D 50 (\"GLMP\")",
                                  b[0], b[1], b[2], b[3]);
    if (b[4] != GLIMPSE_FRAME_VERSION)
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "frame version %u is not supported (this client speaks version %d)",
                                  b[4], GLIMPSE_FRAME_VERSION);
    if (b[5] != (unsigned char)kind)
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "frame kind %u where %d (%s) was expected", b[5], (int)kind,
                                  kind == GLIMPSE_FRAME_REQUEST ? "request" : "response");
    unsigned flags = (unsigned)b[6] | (unsigned)b[7] << 8;
    if (flags != 0) return glimpse_set_status(status, GLIMPSE_INTERNAL, "frame has unknown flags 0x%x", flags);
    return ok(status);
}

int glimpse_encode_request(const char *method, uint64_t request_id, uint32_t timeout_ms,
                           const glimpse_metadata *metadata, size_t n_metadata, const void *body, size_t body_size,
                           unsigned char **frame, size_t *frame_size, glimpse_status *status) {
    if (frame == NULL || frame_size == NULL)
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "encode: no place for the frame");
    *frame = NULL;
    *frame_size = 0;
    if (method == NULL) return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "encode: method is NULL");
    if (body == NULL && body_size > 0)
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "encode: body is NULL but %zu bytes long", body_size);
    if (metadata == NULL && n_metadata > 0)
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "encode: metadata is NULL but has %zu entries", n_metadata);

    /* protobuf-c wants arrays of pointers to entries; the entries borrow the caller's
     * strings, and pack only reads them, hence the casts. */
    Glimpse__V1__RequestEnvelope__MetadataEntry *entries = NULL, **pointers = NULL;
    if (n_metadata > 0) {
        entries = calloc(n_metadata, sizeof *entries);
        pointers = calloc(n_metadata, sizeof *pointers);
        if (entries == NULL || pointers == NULL) {
            free(entries);
            free(pointers);
            return glimpse_set_status(status, GLIMPSE_RESOURCE_EXHAUSTED, "encode: out of memory for %zu metadata entries",
                                      n_metadata);
        }
    }
    for (size_t i = 0; i < n_metadata; i++) {
        if (metadata[i].key == NULL || metadata[i].value == NULL) {
            free(entries);
            free(pointers);
            return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "encode: metadata entry %zu has a NULL %s", i,
                                      metadata[i].key == NULL ? "key" : "value");
        }
        glimpse__v1__request_envelope__metadata_entry__init(&entries[i]);
        entries[i].key = (char *)metadata[i].key;
        entries[i].value = (char *)metadata[i].value;
        pointers[i] = &entries[i];
    }

    Glimpse__V1__RequestEnvelope envelope = GLIMPSE__V1__REQUEST_ENVELOPE__INIT;
    envelope.method = (char *)method;
    envelope.request_id = request_id;
    envelope.timeout_ms = timeout_ms;
    envelope.n_metadata = n_metadata;
    envelope.metadata = pointers;
    envelope.body.data = (uint8_t *)body;
    envelope.body.len = body_size;

    size_t packed = glimpse__v1__request_envelope__get_packed_size(&envelope);
    unsigned char *buffer = malloc(GLIMPSE_FRAME_HEADER_SIZE + packed);
    if (buffer == NULL) {
        free(entries);
        free(pointers);
        return glimpse_set_status(status, GLIMPSE_RESOURCE_EXHAUSTED, "encode: out of memory for a %zu-byte frame",
                                  GLIMPSE_FRAME_HEADER_SIZE + packed);
    }
    glimpse_frame_header(buffer, GLIMPSE_FRAME_REQUEST);
    glimpse__v1__request_envelope__pack(&envelope, buffer + GLIMPSE_FRAME_HEADER_SIZE);
    free(entries);
    free(pointers);
    *frame = buffer;
    *frame_size = GLIMPSE_FRAME_HEADER_SIZE + packed;
    return ok(status);
}

int glimpse_decode_response(const void *frame, size_t size, uint64_t expected_id,
                            Glimpse__V1__ResponseEnvelope **envelope, glimpse_status *status) {
    *envelope = NULL;
    int code = glimpse_frame_check(frame, size, GLIMPSE_FRAME_RESPONSE, status);
    if (code != GLIMPSE_OK) return code;
    const uint8_t *body = (const uint8_t *)frame + GLIMPSE_FRAME_HEADER_SIZE;
    Glimpse__V1__ResponseEnvelope *decoded =
        glimpse__v1__response_envelope__unpack(NULL, size - GLIMPSE_FRAME_HEADER_SIZE, body);
    if (decoded == NULL)
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "frame envelope (%zu bytes) is not a valid ResponseEnvelope",
                                  size - GLIMPSE_FRAME_HEADER_SIZE);
    /* The server answers a frame it could not read with request id 0 (it has no other to
     * echo) and an error status; that error is the answer to this request. */
    int unreadable = decoded->request_id == 0 && decoded->status != GLIMPSE_OK;
    if (decoded->request_id != expected_id && !unreadable) {
        uint64_t got = decoded->request_id;
        glimpse__v1__response_envelope__free_unpacked(decoded, NULL);
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "reply is for request %" PRIu64 ", not request %" PRIu64,
                                  got, expected_id);
    }
    *envelope = decoded;
    return ok(status);
}

/* ---- the client ---- */

static int code_for_open_errno(int error) {
    switch (error) {
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENODEV:
    case ENAMETOOLONG:
        return GLIMPSE_INVALID_ARGUMENT;
    case EMFILE:
    case ENOMEM:
        return GLIMPSE_RESOURCE_EXHAUSTED;
    default:
        return GLIMPSE_UNAVAILABLE;
    }
}

static void close_socket(int socket) {
    /* nn_close can be interrupted before the socket is fully closed; it is then called again. */
    while (nn_close(socket) != 0 && nn_errno() == EINTR) {
    }
}

/* Makes the client's REQ socket and starts connecting it; client->socket is -1 on failure. */
static int connect_socket(glimpse_client *client, glimpse_status *status) {
    client->socket = nn_socket(AF_SP, NN_REQ);
    if (client->socket < 0) {
        int error = nn_errno();
        return glimpse_set_status(status, code_for_open_errno(error), "cannot make a nanomsg REQ socket: %s",
                                  nn_strerror(error));
    }
    /* The REQ socket would resend an unanswered request every minute by default, making the
     * server classify the same image again behind the caller's back. The caller's timeout is
     * the only retry policy, so the resend interval is made longer than any timeout. */
    int resend_ms = INT_MAX;
    const char *failed = NULL;
    if (nn_setsockopt(client->socket, NN_REQ, NN_REQ_RESEND_IVL, &resend_ms, sizeof resend_ms) != 0)
        failed = "NN_REQ_RESEND_IVL";
    else if (nn_setsockopt(client->socket, NN_SOL_SOCKET, NN_SNDTIMEO, &client->timeout_ms, sizeof client->timeout_ms) != 0)
        failed = "NN_SNDTIMEO";
    else if (nn_setsockopt(client->socket, NN_SOL_SOCKET, NN_RCVTIMEO, &client->timeout_ms, sizeof client->timeout_ms) != 0)
        failed = "NN_RCVTIMEO";
    if (failed != NULL) {
        int error = nn_errno();
        close_socket(client->socket);
        client->socket = -1;
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "cannot set %s on the REQ socket: %s", failed,
                                  nn_strerror(error));
    }
    if (nn_connect(client->socket, client->url) < 0) {
        int error = nn_errno();
        close_socket(client->socket);
        client->socket = -1;
        return glimpse_set_status(status, code_for_open_errno(error), "cannot connect to '%s': %s", client->url,
                                  nn_strerror(error));
    }
    return ok(status);
}

int glimpse_client_open(const char *url, int timeout_ms, glimpse_client **out, glimpse_status *status) {
    if (out == NULL) return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_client_open: out is NULL");
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_client_open: no URL");

    size_t url_size = strlen(url) + 1;
    glimpse_client *client = malloc(sizeof *client + url_size);
    if (client == NULL) return glimpse_set_status(status, GLIMPSE_RESOURCE_EXHAUSTED, "out of memory for a client");
    memcpy(client->url, url, url_size);
    client->timeout_ms = timeout_ms > 0 ? timeout_ms : -1;
    client->last_id = 0;
    client->abandoned = 0;
    int code = connect_socket(client, status);
    if (code != GLIMPSE_OK) {
        free(client);
        return code;
    }
    *out = client;
    return GLIMPSE_OK;
}

void glimpse_client_close(glimpse_client *client) {
    if (client == NULL) return;
    if (client->socket >= 0) close_socket(client->socket);
    free(client);
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The status for a call whose time ran out. nanomsg connects in the background and queues
 * the request until it has, so a timeout without a connection means the server could not be
 * reached, not that it was slow. A connection that broke during the call is told apart: a
 * nanomsg peer closes the connection on a message over its size limit (NN_RCVMAXSIZE, 1 MB
 * by default), and the REQ socket then reconnects and resends until the time is up. */
static int timed_out(glimpse_client *client, const char *what, uint64_t broken_before, size_t frame_size,
                     glimpse_status *status) {
    uint64_t broken = nn_get_statistic(client->socket, NN_STAT_BROKEN_CONNECTIONS) - broken_before;
    if (nn_get_statistic(client->socket, NN_STAT_CURRENT_CONNECTIONS) == 0) {
        if (broken > 0)
            return glimpse_set_status(status, GLIMPSE_UNAVAILABLE,
                                      "the connection to %s broke %" PRIu64 " times in %d ms; the server stopped, or "
                                      "it drops this %zu-byte request as larger than its message size limit",
                                      client->url, broken, client->timeout_ms, frame_size);
        return glimpse_set_status(status, GLIMPSE_UNAVAILABLE,
                                  "no connection to %s within %d ms (%" PRIu64 " connection attempts failed); is the server running?",
                                  client->url, client->timeout_ms,
                                  (uint64_t)nn_get_statistic(client->socket, NN_STAT_CONNECT_ERRORS));
    }
    return glimpse_set_status(status, GLIMPSE_DEADLINE_EXCEEDED, "%s %s took longer than the client's %d ms", what,
                              client->url, client->timeout_ms);
}

/* Sets the socket's send or receive timeout to what is left before `deadline`; 0 when the
 * time is up (and the socket is left alone). */
static int set_remaining(glimpse_client *client, int option, int64_t deadline, int *remaining) {
    if (client->timeout_ms < 0) {
        *remaining = -1;
        return 1;
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) return 0;
    *remaining = (int)left;
    return nn_setsockopt(client->socket, NN_SOL_SOCKET, option, remaining, sizeof *remaining) == 0;
}

/* One unary call; on GLIMPSE_OK *reply is the server's envelope with status OK (the caller
 * frees it), otherwise NULL and `status` says why. */
static int call(glimpse_client *client, const char *method, const glimpse_metadata *metadata, size_t n_metadata,
                const void *request, size_t request_size, Glimpse__V1__ResponseEnvelope **reply, glimpse_status *status) {
    *reply = NULL;
    if (client == NULL) return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "%s: client is NULL", method);

    /* After a timeout the socket is replaced rather than reused. nanomsg would cancel the old
     * request when the next one is sent, but a late reply that arrived in between is then
     * overwritten inside nanomsg (1.1.5) and leaked; a fresh socket has no such state, and
     * the late reply goes to a closed connection. */
    if (client->abandoned) {
        if (client->socket >= 0) close_socket(client->socket);
        client->socket = -1;
        int code = connect_socket(client, status);
        if (code != GLIMPSE_OK) return code;
        client->abandoned = 0;
    }
    int64_t deadline = now_ms() + (client->timeout_ms > 0 ? client->timeout_ms : 0);
    uint64_t broken_before = nn_get_statistic(client->socket, NN_STAT_BROKEN_CONNECTIONS);
    uint64_t id = ++client->last_id;

    unsigned char *frame;
    size_t frame_size;
    int code = glimpse_encode_request(method, id, client->timeout_ms > 0 ? (uint32_t)client->timeout_ms : 0, metadata,
                                      n_metadata, request, request_size, &frame, &frame_size, status);
    if (code != GLIMPSE_OK) return code;

    /* A REQ socket holds the request until it is connected, so sending times out only if
     * nanomsg cannot queue it. */
    for (;;) {
        int remaining;
        if (!set_remaining(client, NN_SNDTIMEO, deadline, &remaining)) {
            free(frame);
            return timed_out(client, "sending to", broken_before, frame_size, status);
        }
        if (nn_send(client->socket, frame, frame_size, 0) >= 0) break;
        int error = nn_errno();
        if (error == EINTR) continue; /* a signal, not a failure: go on with the time left */
        free(frame);
        if (error == ETIMEDOUT || error == EAGAIN) return timed_out(client, "sending to", broken_before, frame_size, status);
        return glimpse_set_status(status, GLIMPSE_UNAVAILABLE, "cannot send to %s: %s", client->url, nn_strerror(error));
    }
    free(frame);

    void *message = NULL;
    int received;
    client->abandoned = 1; /* until the reply is in */
    for (;;) {
        int remaining;
        if (!set_remaining(client, NN_RCVTIMEO, deadline, &remaining))
            return timed_out(client, "reply from", broken_before, frame_size, status);
        received = nn_recv(client->socket, &message, NN_MSG, 0);
        if (received >= 0) break;
        int error = nn_errno();
        if (error == EINTR) continue;
        if (error == ETIMEDOUT || error == EAGAIN) return timed_out(client, "reply from", broken_before, frame_size, status);
        return glimpse_set_status(status, GLIMPSE_UNAVAILABLE, "cannot receive from %s: %s", client->url,
                                  nn_strerror(error));
    }
    client->abandoned = 0;

    Glimpse__V1__ResponseEnvelope *envelope;
    glimpse_status problem;
    code = glimpse_decode_response(message, (size_t)received, id, &envelope, &problem);
    nn_freemsg(message);
    if (code != GLIMPSE_OK)
        return glimpse_set_status(status, code, "malformed reply from %s: %s", client->url, problem.message);
    if (envelope->status != GLIMPSE_OK) {
        code = envelope->status;
        if (envelope->message == NULL || envelope->message[0] == '\0')
            glimpse_set_status(status, code, "%s (%d) from %s, without a message", glimpse_code_name(code), code, client->url);
        else if (status != NULL) {
            status->code = code;
            glimpse_copy_utf8(status->message, sizeof status->message, envelope->message);
        }
        glimpse__v1__response_envelope__free_unpacked(envelope, NULL);
        return code;
    }
    *reply = envelope;
    return ok(status);
}

int glimpse_call(glimpse_client *client, const char *method, const glimpse_metadata *metadata, size_t n_metadata,
                 const void *request, size_t request_size, void **reply, size_t *reply_size, glimpse_status *status) {
    if (reply == NULL || reply_size == NULL)
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_call: reply or reply_size is NULL");
    *reply = NULL;
    *reply_size = 0;
    if (method == NULL) return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_call: method is NULL");
    Glimpse__V1__ResponseEnvelope *envelope;
    int code = call(client, method, metadata, n_metadata, request, request_size, &envelope, status);
    if (code != GLIMPSE_OK) return code;
    if (envelope->body.len > 0) {
        *reply = malloc(envelope->body.len);
        if (*reply == NULL) {
            glimpse__v1__response_envelope__free_unpacked(envelope, NULL);
            return glimpse_set_status(status, GLIMPSE_RESOURCE_EXHAUSTED, "out of memory for a %zu-byte reply",
                                      envelope->body.len);
        }
        memcpy(*reply, envelope->body.data, envelope->body.len);
        *reply_size = envelope->body.len;
    }
    glimpse__v1__response_envelope__free_unpacked(envelope, NULL);
    return GLIMPSE_OK;
}

/* Packs a request message into a malloc'd buffer (NULL when it packs to nothing). */
static int pack(const ProtobufCMessage *message, uint8_t **out, size_t *size, glimpse_status *status) {
    *size = protobuf_c_message_get_packed_size(message);
    *out = NULL;
    if (*size == 0) return GLIMPSE_OK;
    *out = malloc(*size);
    if (*out == NULL)
        return glimpse_set_status(status, GLIMPSE_RESOURCE_EXHAUSTED, "out of memory for a %zu-byte request", *size);
    protobuf_c_message_pack(message, *out);
    return GLIMPSE_OK;
}

int glimpse_classify(glimpse_client *client, const char *model, const void *jpeg, size_t size, int top_k,
                     glimpse_class *out, int *count, glimpse_status *status) {
    if (count == NULL) return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_classify: count is NULL");
    int capacity = *count;
    *count = 0;
    if (out == NULL || capacity < 1)
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_classify: no room for classes (capacity %d)",
                                  capacity);
    if (top_k > capacity)
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT,
                                  "glimpse_classify: top_k %d is more than the %d classes out holds", top_k, capacity);
    if (jpeg == NULL && size > 0)
        return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_classify: jpeg is NULL but %zu bytes long", size);
    int k = top_k > 0 ? top_k : capacity;

    /* The _init function, not the INIT macro: the macro's initializer of the oneof union
     * trips -Wmissing-braces. */
    Glimpse__V1__ClassifyRequest request;
    glimpse__v1__classify_request__init(&request);
    if (model != NULL) request.model = (char *)model; /* pack only reads it */
    request.input_case = GLIMPSE__V1__CLASSIFY_REQUEST__INPUT_JPEG;
    request.jpeg.data = (uint8_t *)jpeg;
    request.jpeg.len = size;
    request.top_k = (uint32_t)k;
    uint8_t *packed;
    size_t packed_size;
    int code = pack(&request.base, &packed, &packed_size, status);
    if (code != GLIMPSE_OK) return code;

    Glimpse__V1__ResponseEnvelope *envelope;
    code = call(client, GLIMPSE_METHOD_CLASSIFY, NULL, 0, packed, packed_size, &envelope, status);
    free(packed);
    if (code != GLIMPSE_OK) return code;

    Glimpse__V1__ClassifyResponse *response =
        glimpse__v1__classify_response__unpack(NULL, envelope->body.len, envelope->body.data);
    glimpse__v1__response_envelope__free_unpacked(envelope, NULL);
    if (response == NULL)
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "malformed reply from %s: body is not a ClassifyResponse",
                                  client->url);
    if (response->n_classes > (size_t)k) {
        size_t n = response->n_classes;
        glimpse__v1__classify_response__free_unpacked(response, NULL);
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "malformed reply from %s: %zu classes where %d were asked for",
                                  client->url, n, k);
    }
    for (size_t i = 0; i < response->n_classes; i++) {
        const Glimpse__V1__Classification *c = response->classes[i];
        out[i].index = c->index;
        glimpse_copy_utf8(out[i].label, sizeof out[i].label, c->label);
        out[i].probability = c->probability;
    }
    *count = (int)response->n_classes;
    glimpse__v1__classify_response__free_unpacked(response, NULL);
    return ok(status);
}

int glimpse_health(glimpse_client *client, const char *service, int *serving, glimpse_status *status) {
    if (serving == NULL) return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_health: serving is NULL");
    *serving = GLIMPSE_SERVING_UNKNOWN;
    Glimpse__V1__HealthRequest request = GLIMPSE__V1__HEALTH_REQUEST__INIT;
    if (service != NULL) request.service = (char *)service;
    uint8_t *packed;
    size_t packed_size;
    int code = pack(&request.base, &packed, &packed_size, status);
    if (code != GLIMPSE_OK) return code;

    Glimpse__V1__ResponseEnvelope *envelope;
    code = call(client, GLIMPSE_METHOD_HEALTH, NULL, 0, packed, packed_size, &envelope, status);
    free(packed);
    if (code != GLIMPSE_OK) return code;
    Glimpse__V1__HealthResponse *response =
        glimpse__v1__health_response__unpack(NULL, envelope->body.len, envelope->body.data);
    glimpse__v1__response_envelope__free_unpacked(envelope, NULL);
    if (response == NULL)
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "malformed reply from %s: body is not a HealthResponse",
                                  client->url);
    *serving = (int)response->status;
    glimpse__v1__health_response__free_unpacked(response, NULL);
    return ok(status);
}

int glimpse_list_models(glimpse_client *client, glimpse_model_fn fn, void *context, glimpse_status *status) {
    if (fn == NULL) return glimpse_set_status(status, GLIMPSE_INVALID_ARGUMENT, "glimpse_list_models: fn is NULL");
    /* ListModelsRequest has no fields: its encoding is empty. */
    Glimpse__V1__ResponseEnvelope *envelope;
    int code = call(client, GLIMPSE_METHOD_LIST_MODELS, NULL, 0, NULL, 0, &envelope, status);
    if (code != GLIMPSE_OK) return code;
    Glimpse__V1__ListModelsResponse *response =
        glimpse__v1__list_models_response__unpack(NULL, envelope->body.len, envelope->body.data);
    glimpse__v1__response_envelope__free_unpacked(envelope, NULL);
    if (response == NULL)
        return glimpse_set_status(status, GLIMPSE_INTERNAL, "malformed reply from %s: body is not a ListModelsResponse",
                                  client->url);
    for (size_t i = 0; i < response->n_models; i++) {
        const Glimpse__V1__ModelSummary *m = response->models[i];
        glimpse_model_info info = {
            .name = m->name,
            .version = m->version,
            .input_size = m->input_size,
            .parameters = m->parameters,
            .is_default = response->default_model != NULL && strcmp(m->name, response->default_model) == 0,
            .input_height = m->input_height,
            .input_width = m->input_width,
            .layout = m->layout == GLIMPSE__V1__LAYOUT__NCHW ? "NCHW" : m->layout == GLIMPSE__V1__LAYOUT__NHWC ? "NHWC" : "",
        };
        if (fn(context, &info) != 0) break;
    }
    glimpse__v1__list_models_response__free_unpacked(response, NULL);
    return ok(status);
}
