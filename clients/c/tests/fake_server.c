/* A stand-in Glimpse server for the C client's tests: speaks the frame, answers with canned results, and misbehaves on request. */
#define _POSIX_C_SOURCE 200809L

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glimpse_internal.h"

/*
 * Classify answers like the real server for these models and inputs:
 *   "" / lite0 / lite1 / lite2     the canned cat classes below (the JPEG is only checked
 *                                  for FF D8 at the start and FF D9 at the end)
 *   any other name                 NOT_FOUND "model 'x' not found; loaded: lite0, lite1, lite2"
 *   empty, not FF D8, no FF D9     INVALID_ARGUMENT
 * and misbehaves, so that the client's checks can be tested, for these:
 *   fake-slow          replies OK after 600 ms
 *   fake-wrong-id      replies with another request id
 *   fake-bad-magic     replies with a frame starting "GLMQ"
 *   fake-bad-body      replies OK with a body that is not a ClassifyResponse
 *   fake-too-many      replies with one class more than asked for
 *   fake-no-message    replies NOT_FOUND without a message
 *   fake-long-label    replies with one 300-byte label of two-byte characters
 */

static const Glimpse__V1__Classification canned[] = {
    {PROTOBUF_C_MESSAGE_INIT(&glimpse__v1__classification__descriptor), 285, "Egyptian cat", 0.373f},
    {PROTOBUF_C_MESSAGE_INIT(&glimpse__v1__classification__descriptor), 282, "tiger cat", 0.371f},
    {PROTOBUF_C_MESSAGE_INIT(&glimpse__v1__classification__descriptor), 281, "tabby, tabby cat", 0.173f},
    {PROTOBUF_C_MESSAGE_INIT(&glimpse__v1__classification__descriptor), 287, "lynx, catamount", 0.021f},
    {PROTOBUF_C_MESSAGE_INIT(&glimpse__v1__classification__descriptor), 904, "window screen", 0.001f},
};
#define N_CANNED (sizeof canned / sizeof canned[0])

static char message[512];

static int fail(int code, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return code;
}

/* Packs `m` into a malloc'd body. */
static void pack(const ProtobufCMessage *m, ProtobufCBinaryData *body) {
    body->len = protobuf_c_message_get_packed_size(m);
    body->data = malloc(body->len ? body->len : 1);
    if (body->data == NULL) {
        fprintf(stderr, "fake_server: out of memory\n");
        exit(1);
    }
    protobuf_c_message_pack(m, body->data);
}

/* How a reply should go wrong, beyond its status. */
enum sabotage { NONE, WRONG_ID, BAD_MAGIC, SLOW };

static int classify(const ProtobufCBinaryData *request_body, ProtobufCBinaryData *body, enum sabotage *sabotage) {
    Glimpse__V1__ClassifyRequest *request = glimpse__v1__classify_request__unpack(NULL, request_body->len, request_body->data);
    if (request == NULL) return fail(GLIMPSE_INVALID_ARGUMENT, "body is not a ClassifyRequest");
    const char *model = request->model[0] ? request->model : "lite0";
    size_t k = request->top_k ? request->top_k : 5;
    int code = GLIMPSE_OK;
    const unsigned char *jpeg = request->jpeg.data;
    size_t size = request->jpeg.len;
    char long_label[301];

    Glimpse__V1__ClassifyResponse response = GLIMPSE__V1__CLASSIFY_RESPONSE__INIT;
    Glimpse__V1__Classification classes[N_CANNED + 1], *pointers[N_CANNED + 1];
    response.model = (char *)model;
    response.model_version = "fake";
    response.classes = pointers;
    for (size_t i = 0; i < N_CANNED + 1; i++) {
        classes[i] = canned[i < N_CANNED ? i : N_CANNED - 1];
        pointers[i] = &classes[i];
    }
    response.n_classes = k < N_CANNED ? k : N_CANNED;

    if (strcmp(model, "fake-no-message") == 0) {
        code = fail(GLIMPSE_NOT_FOUND, "%s", "");
    } else if (strncmp(model, "fake-", 5) != 0 && strcmp(model, "lite0") != 0 && strcmp(model, "lite1") != 0 &&
               strcmp(model, "lite2") != 0) {
        code = fail(GLIMPSE_NOT_FOUND, "model '%s' not found; loaded: lite0, lite1, lite2", model);
    } else if (request->input_case != GLIMPSE__V1__CLASSIFY_REQUEST__INPUT_JPEG) {
        code = fail(GLIMPSE_UNIMPLEMENTED, "the fake server classifies only JPEG bytes");
    } else if (size == 0) {
        code = fail(GLIMPSE_INVALID_ARGUMENT, "empty JPEG: no bytes");
    } else if (size < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) {
        code = fail(GLIMPSE_INVALID_ARGUMENT, "not a JPEG: starts with %02X, expected FF D8", jpeg[0]);
    } else if (size < 4 || jpeg[size - 2] != 0xFF || jpeg[size - 1] != 0xD9) {
        code = fail(GLIMPSE_INVALID_ARGUMENT, "JPEG truncated after %zu bytes: the data ends before the image does", size);
    } else if (strcmp(model, "fake-bad-body") == 0) {
        body->data = malloc(3);
        memcpy(body->data, "\xFF\xFF\xFF", 3);
        body->len = 3;
    } else {
        if (strcmp(model, "fake-slow") == 0) *sabotage = SLOW;
        if (strcmp(model, "fake-wrong-id") == 0) *sabotage = WRONG_ID;
        if (strcmp(model, "fake-bad-magic") == 0) *sabotage = BAD_MAGIC;
        if (strcmp(model, "fake-too-many") == 0) response.n_classes = k + 1 <= N_CANNED + 1 ? k + 1 : N_CANNED + 1;
        if (strcmp(model, "fake-long-label") == 0) {
            for (int i = 0; i < 300; i += 2) memcpy(long_label + i, "\xC3\xA9", 2); /* é */
            long_label[300] = '\0';
            classes[0].label = long_label;
            response.n_classes = 1;
        }
        pack(&response.base, body);
    }
    glimpse__v1__classify_request__free_unpacked(request, NULL);
    return code;
}

static int list_models(ProtobufCBinaryData *body) {
    Glimpse__V1__ModelSummary models[3], *pointers[3];
    static const char *const names[] = {"lite0", "lite1", "lite2"};
    static const unsigned sizes[] = {224, 240, 260};
    static const uint64_t parameters[] = {4690000, 5470000, 6150000};
    for (int i = 0; i < 3; i++) {
        glimpse__v1__model_summary__init(&models[i]);
        models[i].name = (char *)names[i];
        models[i].version = "1-fake";
        models[i].input_size = sizes[i];
        models[i].parameters = parameters[i];
        pointers[i] = &models[i];
    }
    Glimpse__V1__ListModelsResponse response = GLIMPSE__V1__LIST_MODELS_RESPONSE__INIT;
    response.n_models = 3;
    response.models = pointers;
    response.default_model = "lite0";
    pack(&response.base, body);
    return GLIMPSE_OK;
}

static int health(ProtobufCBinaryData *body) {
    Glimpse__V1__HealthResponse response = GLIMPSE__V1__HEALTH_RESPONSE__INIT;
    response.status = GLIMPSE__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING;
    pack(&response.base, body);
    return GLIMPSE_OK;
}

static void reply(int socket, const void *request, size_t size) {
    Glimpse__V1__ResponseEnvelope response = GLIMPSE__V1__RESPONSE_ENVELOPE__INIT;
    Glimpse__V1__ResponseEnvelope__MetadataEntry cache = GLIMPSE__V1__RESPONSE_ENVELOPE__METADATA_ENTRY__INIT, *entries[1];
    enum sabotage sabotage = NONE;
    glimpse_status status;
    message[0] = '\0';

    int code = glimpse_frame_check(request, size, GLIMPSE_FRAME_REQUEST, &status);
    Glimpse__V1__RequestEnvelope *envelope = NULL;
    if (code != GLIMPSE_OK) {
        code = fail(GLIMPSE_INVALID_ARGUMENT, "%s", status.message);
    } else if ((envelope = glimpse__v1__request_envelope__unpack(NULL, size - GLIMPSE_FRAME_HEADER_SIZE,
                                                                (const uint8_t *)request + GLIMPSE_FRAME_HEADER_SIZE)) == NULL) {
        code = fail(GLIMPSE_INVALID_ARGUMENT, "frame envelope is not valid protobuf");
    } else {
        response.request_id = envelope->request_id;
        const char *m = envelope->method;
        if (strcmp(m, GLIMPSE_METHOD_CLASSIFY) == 0) code = classify(&envelope->body, &response.body, &sabotage);
        else if (strcmp(m, GLIMPSE_METHOD_LIST_MODELS) == 0) code = list_models(&response.body);
        else if (strcmp(m, GLIMPSE_METHOD_HEALTH) == 0) code = health(&response.body);
        else code = fail(GLIMPSE_UNIMPLEMENTED, "method '%s' is not implemented", m);
        for (size_t i = 0; i < envelope->n_metadata; i++)
            if (strcmp(envelope->metadata[i]->key, GLIMPSE_METADATA_CACHE) == 0 && strcmp(envelope->metadata[i]->value, "no") == 0) {
                cache.key = GLIMPSE_METADATA_CACHE;
                cache.value = "bypass";
                entries[0] = &cache;
                response.metadata = entries;
                response.n_metadata = 1;
            }
    }
    response.status = code;
    response.message = message;
    if (code != GLIMPSE_OK && response.body.data != NULL) {
        free(response.body.data);
        response.body.data = NULL;
        response.body.len = 0;
    }
    if (sabotage == WRONG_ID) response.request_id += 1000;
    if (sabotage == SLOW) nanosleep(&(struct timespec){0, 600 * 1000000L}, NULL);

    size_t packed = glimpse__v1__response_envelope__get_packed_size(&response);
    unsigned char *frame = malloc(GLIMPSE_FRAME_HEADER_SIZE + packed);
    if (frame == NULL) {
        fprintf(stderr, "fake_server: out of memory\n");
        exit(1);
    }
    glimpse_frame_header(frame, GLIMPSE_FRAME_RESPONSE);
    if (sabotage == BAD_MAGIC) frame[3] = 'Q';
    glimpse__v1__response_envelope__pack(&response, frame + GLIMPSE_FRAME_HEADER_SIZE);
    if (nn_send(socket, frame, GLIMPSE_FRAME_HEADER_SIZE + packed, 0) < 0)
        fprintf(stderr, "fake_server: send: %s\n", nn_strerror(nn_errno()));
    free(frame);
    free(response.body.data);
    if (envelope != NULL) glimpse__v1__request_envelope__free_unpacked(envelope, NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fake_server URL   (serves until killed)\n");
        return 2;
    }
    int socket = nn_socket(AF_SP, NN_REP);
    if (socket < 0 || nn_bind(socket, argv[1]) < 0) {
        fprintf(stderr, "fake_server: cannot listen on %s: %s\n", argv[1], nn_strerror(nn_errno()));
        return 1;
    }
    fprintf(stderr, "fake_server: listening on %s\n", argv[1]);
    for (;;) {
        void *request;
        int size = nn_recv(socket, &request, NN_MSG, 0);
        if (size < 0) {
            fprintf(stderr, "fake_server: receive: %s\n", nn_strerror(nn_errno()));
            return 1;
        }
        reply(socket, request, (size_t)size);
        nn_freemsg(request);
    }
}
