/* Tests of the C client: frame codec units, then (given a server URL) live calls; ends with "N passed, M failed". */
#define _XOPEN_SOURCE 700 /* setitimer */

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "glimpse_internal.h"

static int passed, failed;

/* Records one check; `name` says the behaviour it guards, the details say what was seen. */
static int check(int ok, const char *name, const char *details, ...) {
    if (ok) {
        passed++;
        printf("ok    %s\n", name);
    } else {
        failed++;
        printf("FAIL  %s: ", name);
        va_list args;
        va_start(args, details);
        vprintf(details, args);
        va_end(args);
        printf("\n");
    }
    return ok;
}

static int same_bytes(const unsigned char *a, size_t a_size, const unsigned char *b, size_t b_size) {
    return a_size == b_size && memcmp(a, b, a_size) == 0;
}

static void hex(char *out, size_t capacity, const unsigned char *b, size_t n) {
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at + 4 < capacity; i++) at += (size_t)snprintf(out + at, capacity - at, "%02X ", b[i]);
}

/* A response frame for the decode tests: header + envelope with `id`, `code`, `message`. */
static unsigned char *response_frame(uint64_t id, int code, const char *message, size_t *size) {
    Glimpse__V1__ResponseEnvelope e = GLIMPSE__V1__RESPONSE_ENVELOPE__INIT;
    e.request_id = id;
    e.status = code;
    e.message = (char *)message;
    size_t n = glimpse__v1__response_envelope__get_packed_size(&e);
    unsigned char *frame = malloc(GLIMPSE_FRAME_HEADER_SIZE + n);
    if (frame == NULL) abort();
    glimpse_frame_header(frame, GLIMPSE_FRAME_RESPONSE);
    glimpse__v1__response_envelope__pack(&e, frame + GLIMPSE_FRAME_HEADER_SIZE);
    *size = GLIMPSE_FRAME_HEADER_SIZE + n;
    return frame;
}

/* Decodes `frame` expecting `id` and checks that it is rejected with INTERNAL and a message containing `says`. */
static void expect_rejected(const char *name, const unsigned char *frame, size_t size, uint64_t id, const char *says) {
    Glimpse__V1__ResponseEnvelope *e;
    glimpse_status s;
    int code = glimpse_decode_response(frame, size, id, &e, &s);
    check(code == GLIMPSE_INTERNAL && s.code == GLIMPSE_INTERNAL && e == NULL && strstr(s.message, says) != NULL, name,
          "code %d, message \"%s\", expected INTERNAL saying \"%s\"", code, s.message, says);
    if (e != NULL) glimpse__v1__response_envelope__free_unpacked(e, NULL);
}

static void unit_tests(void) {
    char seen[512];

    /* The header, byte for byte, as glimpse.proto lays it out. */
    unsigned char h[GLIMPSE_FRAME_HEADER_SIZE];
    glimpse_frame_header(h, GLIMPSE_FRAME_REQUEST);
    static const unsigned char request_header[] = {0x47, 0x4C, 0x4D, 0x50, 0x01, 0x01, 0x00, 0x00};
    hex(seen, sizeof seen, h, sizeof h);
    check(same_bytes(h, sizeof h, request_header, sizeof request_header), "requestHeaderIsGLMPVersion1Kind1NoFlags", "got %s", seen);
    glimpse_frame_header(h, GLIMPSE_FRAME_RESPONSE);
    static const unsigned char response_header[] = {0x47, 0x4C, 0x4D, 0x50, 0x01, 0x02, 0x00, 0x00};
    hex(seen, sizeof seen, h, sizeof h);
    check(same_bytes(h, sizeof h, response_header, sizeof response_header), "responseHeaderIsGLMPVersion1Kind2NoFlags", "got %s",
          seen);

    /* A whole request frame, byte for byte: the protobuf is written out by hand from the
     * field numbers in glimpse.proto, so it checks the generated code as well. */
    unsigned char *frame;
    size_t size;
    glimpse_status s;
    int code = glimpse_encode_request(GLIMPSE_METHOD_HEALTH, 1, 0, NULL, 0, NULL, 0, &frame, &size, &s);
    static const unsigned char health_frame[] = {
        0x47, 0x4C, 0x4D, 0x50, 0x01, 0x01, 0x00, 0x00,              /* header */
        0x0A, 26, '/', 'g', 'l', 'i', 'm', 'p', 's', 'e', '.', 'v', '1', '.', 'G', 'l', 'i', 'm', 'p', 's', 'e', '/',
        'H', 'e', 'a', 'l', 't', 'h',                                /* 1: method */
        0x10, 0x01,                                                  /* 2: request_id 1 */
    };
    hex(seen, sizeof seen, frame, size);
    check(code == GLIMPSE_OK && same_bytes(frame, size, health_frame, sizeof health_frame), "healthRequestFrameIsByteExact",
          "code %d, got %s", code, seen);
    free(frame);

    glimpse_metadata no_cache = {GLIMPSE_METADATA_CACHE, "no"};
    code = glimpse_encode_request(GLIMPSE_METHOD_CLASSIFY, 300, 2500, &no_cache, 1, "ab", 2, &frame, &size, &s);
    static const unsigned char classify_frame[] = {
        0x47, 0x4C, 0x4D, 0x50, 0x01, 0x01, 0x00, 0x00,
        0x0A, 28, '/', 'g', 'l', 'i', 'm', 'p', 's', 'e', '.', 'v', '1', '.', 'G', 'l', 'i', 'm', 'p', 's', 'e', '/',
        'C', 'l', 'a', 's', 's', 'i', 'f', 'y',                      /* 1: method */
        0x10, 0xAC, 0x02,                                            /* 2: request_id 300 (varint) */
        0x18, 0xC4, 0x13,                                            /* 3: timeout_ms 2500 */
        0x22, 19, 0x0A, 13, 'g', 'l', 'i', 'm', 'p', 's', 'e', '-', 'c', 'a', 'c', 'h', 'e', 0x12, 2, 'n', 'o', /* 4: map entry */
        0x2A, 2, 'a', 'b',                                           /* 5: body */
    };
    hex(seen, sizeof seen, frame, size);
    check(code == GLIMPSE_OK && same_bytes(frame, size, classify_frame, sizeof classify_frame),
          "classifyRequestFrameWithIdTimeoutMetadataAndBodyIsByteExact", "code %d, got %s", code, seen);

    /* The same frame read back as the server would read it. */
    code = glimpse_frame_check(frame, size, GLIMPSE_FRAME_REQUEST, &s);
    Glimpse__V1__RequestEnvelope *request =
        glimpse__v1__request_envelope__unpack(NULL, size - GLIMPSE_FRAME_HEADER_SIZE, frame + GLIMPSE_FRAME_HEADER_SIZE);
    check(code == GLIMPSE_OK && request != NULL && strcmp(request->method, GLIMPSE_METHOD_CLASSIFY) == 0 &&
              request->request_id == 300 && request->timeout_ms == 2500 && request->n_metadata == 1 &&
              strcmp(request->metadata[0]->key, "glimpse-cache") == 0 && strcmp(request->metadata[0]->value, "no") == 0 &&
              request->body.len == 2 && memcmp(request->body.data, "ab", 2) == 0,
          "requestFrameDecodesToWhatWasEncoded", "code %d (%s), envelope %p", code, s.message, (void *)request);
    if (request != NULL) glimpse__v1__request_envelope__free_unpacked(request, NULL);
    free(frame);

    code = glimpse_encode_request(NULL, 1, 0, NULL, 0, NULL, 0, &frame, &size, &s);
    check(code == GLIMPSE_INVALID_ARGUMENT && frame == NULL, "encodeWithoutMethodIsInvalidArgument", "code %d", code);
    glimpse_metadata null_value = {"k", NULL};
    code = glimpse_encode_request(GLIMPSE_METHOD_HEALTH, 1, 0, &null_value, 1, NULL, 0, &frame, &size, &s);
    check(code == GLIMPSE_INVALID_ARGUMENT && frame == NULL && strstr(s.message, "NULL value") != NULL,
          "metadataWithNullValueIsInvalidArgument", "code %d, message \"%s\"", code, s.message);

    /* Replies. */
    unsigned char *reply = response_frame(7, GLIMPSE_NOT_FOUND, "model 'x' not found", &size);
    Glimpse__V1__ResponseEnvelope *e;
    code = glimpse_decode_response(reply, size, 7, &e, &s);
    check(code == GLIMPSE_OK && e != NULL && e->request_id == 7 && e->status == GLIMPSE_NOT_FOUND &&
              strcmp(e->message, "model 'x' not found") == 0,
          "responseFrameDecodesIdStatusAndMessage", "code %d (%s)", code, s.message);
    if (e != NULL) glimpse__v1__response_envelope__free_unpacked(e, NULL);

    expect_rejected("replyForAnotherRequestIdIsRejected", reply, size, 8, "is for request 7, not request 8");
    expect_rejected("frameShorterThanHeaderIsRejected", reply, 7, 7, "7 bytes is shorter than the 8-byte header");
    expect_rejected("emptyFrameIsRejected", reply, 0, 7, "0 bytes is shorter");
    reply[3] = 'Q';
    expect_rejected("badMagicIsRejected", reply, size, 7, "starts with 47 4C 4D 51, not the magic 47 4C 4D 50");
    reply[3] = 'P';
    reply[4] = 2;
    expect_rejected("otherFrameVersionIsRejected", reply, size, 7, "version 2 is not supported");
    reply[4] = 1;
    reply[5] = GLIMPSE_FRAME_REQUEST;
    expect_rejected("requestKindWhereResponseExpectedIsRejected", reply, size, 7, "kind 1 where 2 (response)");
    reply[5] = GLIMPSE_FRAME_RESPONSE;
    reply[7] = 1; /* flags are little-endian: byte 7 is the high byte */
    expect_rejected("unknownFlagsAreRejected", reply, size, 7, "unknown flags 0x100");
    reply[7] = 0;
    code = glimpse_frame_check(reply, size, GLIMPSE_FRAME_RESPONSE, &s);
    check(code == GLIMPSE_OK && s.code == 0 && s.message[0] == '\0', "restoredFrameIsAcceptedAgain", "code %d (%s)", code,
          s.message);
    free(reply);

    static const unsigned char not_protobuf[] = {0x47, 0x4C, 0x4D, 0x50, 0x01, 0x02, 0x00, 0x00, 0xFF, 0xFF, 0xFF};
    expect_rejected("envelopeThatIsNotProtobufIsRejected", not_protobuf, sizeof not_protobuf, 1, "not a valid ResponseEnvelope");
    static const unsigned char header_only[] = {0x47, 0x4C, 0x4D, 0x50, 0x01, 0x02, 0x00, 0x00};
    expect_rejected("okReplyWithRequestIdZeroIsRejected", header_only, sizeof header_only, 1, "is for request 0, not request 1");
    reply = response_frame(0, GLIMPSE_INVALID_ARGUMENT, "frame has unknown flags 0x100", &size);
    code = glimpse_decode_response(reply, size, 9, &e, &s);
    check(code == GLIMPSE_OK && e != NULL && e->status == GLIMPSE_INVALID_ARGUMENT, "errorWithRequestIdZeroIsTheAnswer",
          "code %d (%s)", code, s.message);
    if (e != NULL) glimpse__v1__response_envelope__free_unpacked(e, NULL);
    free(reply);

    /* Strings that do not fit are cut between characters, never inside one. */
    char small[4];
    glimpse_copy_utf8(small, sizeof small, "ab\xC3\xA9"); /* "abé": é is two bytes and would straddle the end */
    check(strcmp(small, "ab") == 0, "cutStringDoesNotSplitACharacter", "got \"%s\"", small);
    glimpse_copy_utf8(small, sizeof small, "a\xC3\xA9");
    check(strcmp(small, "a\xC3\xA9") == 0, "stringThatFitsIsCopiedWhole", "got \"%s\"", small);
    glimpse_copy_utf8(small, sizeof small, NULL);
    check(small[0] == '\0', "nullStringCopiesAsEmpty", "got \"%s\"", small);
    char long_message[600];
    memset(long_message, 'x', sizeof long_message - 1);
    long_message[sizeof long_message - 1] = '\0';
    glimpse_set_status(&s, GLIMPSE_INTERNAL, "%s", long_message);
    check(s.code == GLIMPSE_INTERNAL && strlen(s.message) == sizeof s.message - 1, "longStatusMessageIsCutToFit",
          "length %zu", strlen(s.message));

    check(strcmp(glimpse_code_name(GLIMPSE_INVALID_ARGUMENT), "INVALID_ARGUMENT") == 0 &&
              strcmp(glimpse_code_name(GLIMPSE_UNAVAILABLE), "UNAVAILABLE") == 0 &&
              strcmp(glimpse_code_name(17), "UNKNOWN_CODE") == 0 && strcmp(glimpse_code_name(-1), "UNKNOWN_CODE") == 0,
          "codeNamesAreGRPCs", "");

    /* Opening and calling without a server. */
    glimpse_client *client = (glimpse_client *)&s; /* anything non-NULL: open must reset it */
    code = glimpse_client_open("bogus://x", 1000, &client, &s);
    check(code == GLIMPSE_INVALID_ARGUMENT && client == NULL && strstr(s.message, "bogus://x") != NULL,
          "unsupportedTransportIsInvalidArgument", "code %d, message \"%s\"", code, s.message);
    code = glimpse_client_open(NULL, 1000, &client, &s);
    check(code == GLIMPSE_INVALID_ARGUMENT && client == NULL, "missingURLIsInvalidArgument", "code %d", code);
    glimpse_client_close(NULL);

    /* Port 1 on loopback: nothing listens there, so the call finds no connection. */
    code = glimpse_client_open("tcp://127.0.0.1:1", 200, &client, &s);
    if (check(code == GLIMPSE_OK && client != NULL, "openSucceedsBeforeAnyServerListens", "code %d (%s)", code, s.message)) {
        int serving = -1;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        code = glimpse_health(client, NULL, &serving, &s);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        /* The bound is loose because valgrind runs this too. */
        check(code == GLIMPSE_UNAVAILABLE && serving == GLIMPSE_SERVING_UNKNOWN && ms >= 150 && ms < 2000 &&
                  strstr(s.message, "tcp://127.0.0.1:1") != NULL,
              "callWithNoServerIsUnavailableAfterTheTimeout", "code %d after %.0f ms, message \"%s\"", code, ms, s.message);

        glimpse_class classes[2];
        int count = 2;
        code = glimpse_classify(client, NULL, "x", 1, 3, classes, &count, &s);
        check(code == GLIMPSE_INVALID_ARGUMENT && count == 0 && strstr(s.message, "top_k 3") != NULL,
              "topKLargerThanOutputIsInvalidArgument", "code %d, count %d, message \"%s\"", code, count, s.message);
        count = 2;
        code = glimpse_classify(client, NULL, NULL, 10, 1, classes, &count, &s);
        check(code == GLIMPSE_INVALID_ARGUMENT && count == 0, "nullJPEGWithASizeIsInvalidArgument", "code %d", code);
        void *body = (void *)&s;
        size_t body_size = 5;
        code = glimpse_call(client, NULL, NULL, 0, NULL, 0, &body, &body_size, &s);
        check(code == GLIMPSE_INVALID_ARGUMENT && body == NULL && body_size == 0, "callWithoutMethodIsInvalidArgument",
              "code %d", code);
        glimpse_client_close(client);
    }
}

/* ---- live ---- */

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    unsigned char *data = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n)) != NULL &&
        fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = n > 0 ? (size_t)n : 0;
    return data;
}

struct model_counts {
    int models, defaults, complete; /* complete: with a name, a version and an input size */
    char default_name[64];
};

static int count_model(void *context, const glimpse_model_info *m) {
    struct model_counts *counts = context;
    counts->models++;
    counts->complete += m->name[0] != '\0' && m->version[0] != '\0' && m->input_size > 0;
    if (m->is_default) {
        counts->defaults++;
        glimpse_copy_utf8(counts->default_name, sizeof counts->default_name, m->name);
    }
    return 0;
}

static int stop_after_first(void *context, const glimpse_model_info *m) {
    (void)m;
    ++*(int *)context;
    return 1;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int signal) {
    (void)signal;
    alarms++;
}

static double elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static int is_cat(int index) { return index >= 281 && index <= 285; } /* ImageNet's domestic cats */

/* Checks that the last byte sequence of `s` is a complete UTF-8 character. */
static int ends_on_character(const char *s) {
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;
    if (i == 0) return n == 0;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return n - (i - 1) == want;
}

static void live_tests(const char *url, const unsigned char *cat, size_t cat_size, int fake) {
    glimpse_status s;
    glimpse_client *client;
    int code = glimpse_client_open(url, 30000, &client, &s);
    if (!check(code == GLIMPSE_OK, "openConnectsToTheServer", "code %d (%s)", code, s.message)) return;

    int serving = -1;
    code = glimpse_health(client, NULL, &serving, &s);
    check(code == GLIMPSE_OK && serving == GLIMPSE_SERVING, "healthIsServing", "code %d (%s), serving %d", code, s.message,
          serving);

    glimpse_class classes[10];
    int count = 5;
    code = glimpse_classify(client, NULL, cat, cat_size, 5, classes, &count, &s);
    int ordered = 1;
    for (int i = 0; i < count; i++) {
        if (classes[i].probability < 0 || classes[i].probability > 1 || classes[i].label[0] == '\0') ordered = 0;
        if (i > 0 && classes[i].probability > classes[i - 1].probability) ordered = 0;
    }
    check(code == GLIMPSE_OK && count == 5 && is_cat(classes[0].index) && ordered, "catIsClassifiedAsACat",
          "code %d (%s), %d classes, top-1 %d \"%s\" %.3f", code, s.message, count, count ? classes[0].index : -1,
          count ? classes[0].label : "", count ? classes[0].probability : 0.0f);
    int top1 = count > 0 ? classes[0].index : -1;

    count = 3;
    code = glimpse_classify(client, "", cat, cat_size, 0, classes, &count, &s);
    check(code == GLIMPSE_OK && count == 3 && classes[0].index == top1, "topKZeroAsksForWhatTheOutputHolds",
          "code %d (%s), %d classes", code, s.message, count);

    count = 5;
    code = glimpse_classify(client, "no-such-model", cat, cat_size, 5, classes, &count, &s);
    check(code == GLIMPSE_NOT_FOUND && count == 0 && strstr(s.message, "no-such-model") != NULL, "unknownModelIsNotFound",
          "code %d %s, message \"%s\"", code, glimpse_code_name(code), s.message);

    size_t truncated = cat_size < 6000 ? cat_size / 2 : 3000;
    count = 5;
    code = glimpse_classify(client, NULL, cat, truncated, 5, classes, &count, &s);
    check(code == GLIMPSE_INVALID_ARGUMENT && count == 0 && s.message[0] != '\0', "truncatedJPEGIsInvalidArgument",
          "code %d %s, message \"%s\"", code, glimpse_code_name(code), s.message);
    printf("      (server said: %s)\n", s.message);

    count = 5;
    code = glimpse_classify(client, NULL, NULL, 0, 5, classes, &count, &s);
    check(code == GLIMPSE_INVALID_ARGUMENT && s.message[0] != '\0', "emptyJPEGIsInvalidArgument", "code %d %s, message \"%s\"",
          code, glimpse_code_name(code), s.message);

    struct model_counts counts = {0};
    code = glimpse_list_models(client, count_model, &counts, &s);
    check(code == GLIMPSE_OK && counts.models >= 1 && counts.defaults == 1 && counts.complete == counts.models,
          "listModelsNamesOneDefault", "code %d (%s), %d models, %d default, %d with name, version and size", code,
          s.message, counts.models, counts.defaults, counts.complete);
    if (counts.defaults == 1) {
        count = 1;
        code = glimpse_classify(client, counts.default_name, cat, cat_size, 1, classes, &count, &s);
        check(code == GLIMPSE_OK && count == 1 && classes[0].index == top1, "defaultModelByNameAgreesWithEmptyName",
              "model %s: code %d (%s), top-1 %d, expected %d", counts.default_name, code, s.message,
              count ? classes[0].index : -1, top1);
    }
    int calls = 0;
    code = glimpse_list_models(client, stop_after_first, &calls, &s);
    check(code == GLIMPSE_OK && calls == 1, "listModelsStopsWhenTheCallbackSaysSo", "code %d, %d calls", code, calls);

    /* The raw call with metadata: bypass the cache and get the same answer. */
    Glimpse__V1__ClassifyRequest request;
    glimpse__v1__classify_request__init(&request);
    request.input_case = GLIMPSE__V1__CLASSIFY_REQUEST__INPUT_JPEG;
    request.jpeg.data = (uint8_t *)cat;
    request.jpeg.len = cat_size;
    request.top_k = 1;
    size_t packed_size = glimpse__v1__classify_request__get_packed_size(&request);
    uint8_t *packed = malloc(packed_size);
    if (packed == NULL) abort();
    glimpse__v1__classify_request__pack(&request, packed);
    glimpse_metadata no_cache = {GLIMPSE_METADATA_CACHE, "no"};
    void *reply;
    size_t reply_size;
    code = glimpse_call(client, GLIMPSE_METHOD_CLASSIFY, &no_cache, 1, packed, packed_size, &reply, &reply_size, &s);
    free(packed);
    Glimpse__V1__ClassifyResponse *response = code == GLIMPSE_OK ? glimpse__v1__classify_response__unpack(NULL, reply_size, reply) : NULL;
    check(response != NULL && response->n_classes == 1 && response->classes[0]->index == top1 && response->model[0] != '\0',
          "uncachedRawClassifyAgreesWithCached", "code %d (%s), response %p", code, s.message, (void *)response);
    if (response != NULL) glimpse__v1__classify_response__free_unpacked(response, NULL);
    free(reply);

    code = glimpse_call(client, "/glimpse.v1.Glimpse/NoSuchMethod", NULL, 0, NULL, 0, &reply, &reply_size, &s);
    check(code == GLIMPSE_UNIMPLEMENTED && reply == NULL && s.message[0] != '\0', "unknownMethodIsUnimplemented",
          "code %d %s, message \"%s\"", code, glimpse_code_name(code), s.message);

    /* Many calls on one client: every reply must carry the id of its own request. */
    int good = 0;
    for (int i = 0; i < 20; i++) good += glimpse_health(client, "", &serving, &s) == GLIMPSE_OK && serving == GLIMPSE_SERVING;
    check(good == 20, "twentyCallsInARowOnOneClientAllSucceed", "%d of 20 (last: %s)", good, s.message);
    glimpse_client_close(client);

    if (!fake) return;

    /* The fake server misbehaves on request (fake_server.c lists how). */
    code = glimpse_client_open(url, 300, &client, &s);
    if (!check(code == GLIMPSE_OK, "openConnectsToTheFakeServer", "code %d (%s)", code, s.message)) return;
    /* A signal every 50 ms while waiting: the call must neither fail nor restart its
     * timeout, but wait out the 300 ms it was given. */
    struct sigaction action = {0}, old_action;
    action.sa_handler = on_alarm; /* no SA_RESTART: nanomsg's poll sees EINTR either way */
    sigaction(SIGALRM, &action, &old_action);
    struct itimerval every_50ms = {{0, 50000}, {0, 50000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every_50ms, NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    count = 5;
    code = glimpse_classify(client, "fake-slow", cat, cat_size, 5, classes, &count, &s);
    double ms = elapsed_ms(&t0);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_action, NULL);
    check(code == GLIMPSE_DEADLINE_EXCEEDED && count == 0 && strstr(s.message, "300 ms") != NULL && ms >= 290 && ms < 1000 &&
              alarms >= 3,
          "slowReplyIsDeadlineExceededDespiteSignals", "code %d %s after %.0f ms and %d signals, message \"%s\"", code,
          glimpse_code_name(code), ms, (int)alarms, s.message);
    /* Once the slow reply has arrived (and been dropped), the client works again. */
    nanosleep(&(struct timespec){0, 600 * 1000000L}, NULL);
    code = glimpse_health(client, NULL, &serving, &s);
    check(code == GLIMPSE_OK && serving == GLIMPSE_SERVING, "clientRecoversAfterATimeoutAndIgnoresTheLateReply",
          "code %d %s, message \"%s\"", code, glimpse_code_name(code), s.message);
    glimpse_client_close(client);

    code = glimpse_client_open(url, 5000, &client, &s);
    if (!check(code == GLIMPSE_OK, "openConnectsToTheFakeServerAgain", "code %d (%s)", code, s.message)) return;
    static const struct {
        const char *model, *name, *says;
        int code;
    } faults[] = {
        {"fake-wrong-id", "replyWithAnotherRequestIdIsInternal", "not request", GLIMPSE_INTERNAL},
        {"fake-bad-magic", "replyWithBadMagicIsInternal", "not the magic", GLIMPSE_INTERNAL},
        {"fake-bad-body", "replyBodyThatIsNotAClassifyResponseIsInternal", "not a ClassifyResponse", GLIMPSE_INTERNAL},
        {"fake-too-many", "replyWithMoreClassesThanAskedIsInternal", "6 classes where 5 were asked for", GLIMPSE_INTERNAL},
        {"fake-no-message", "errorWithoutAMessageGetsOne", "NOT_FOUND (5) from", GLIMPSE_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        count = 5;
        code = glimpse_classify(client, faults[i].model, cat, cat_size, 5, classes, &count, &s);
        check(code == faults[i].code && s.code == code && count == 0 && strstr(s.message, faults[i].says) != NULL,
              faults[i].name, "code %d %s, message \"%s\"", code, glimpse_code_name(code), s.message);
    }
    count = 5;
    code = glimpse_classify(client, "fake-long-label", cat, cat_size, 5, classes, &count, &s);
    check(code == GLIMPSE_OK && count == 1 && strlen(classes[0].label) == 126 && ends_on_character(classes[0].label),
          "longLabelIsCutBetweenCharacters", "code %d (%s), label of %zu bytes", code, s.message,
          count ? strlen(classes[0].label) : 0);
    glimpse_client_close(client);

    /* The fake server keeps nanomsg's default receive limit, 1 MB: it drops a 2 MB request's
     * connection, and the client says so instead of "is the server running?". */
    code = glimpse_client_open(url, 500, &client, &s);
    if (!check(code == GLIMPSE_OK, "openConnectsToTheFakeServerOnceMore", "code %d (%s)", code, s.message)) return;
    size_t big_size = 2 << 20;
    unsigned char *big = calloc(big_size, 1);
    if (big == NULL) abort();
    memcpy(big, "\xFF\xD8", 2);
    memcpy(big + big_size - 2, "\xFF\xD9", 2);
    count = 5;
    code = glimpse_classify(client, NULL, big, big_size, 5, classes, &count, &s);
    check(code == GLIMPSE_UNAVAILABLE && strstr(s.message, "broke") != NULL && strstr(s.message, "size limit") != NULL,
          "requestOverTheServersSizeLimitIsUnavailableAndSaysWhy", "code %d %s, message \"%s\"", code,
          glimpse_code_name(code), s.message);
    free(big);
    code = glimpse_health(client, NULL, &serving, &s);
    check(code == GLIMPSE_OK && serving == GLIMPSE_SERVING, "clientWorksAgainAfterAnOversizedRequest", "code %d (%s)", code,
          s.message);
    glimpse_client_close(client);
}

int main(int argc, char **argv) {
    const char *url = getenv("GLIMPSE_URL"), *image = getenv("GLIMPSE_CAT_JPEG");
    int fake = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fake") == 0) fake = 1;
        else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc) image = argv[++i];
        else if (argv[i][0] != '-') url = argv[i];
        else {
            fprintf(stderr, "usage: test_client [--fake] [--image cat.jpg] [URL]   (URL also from GLIMPSE_URL)\n");
            return 2;
        }
    }
    if (url != NULL && url[0] == '\0') url = NULL;

    printf("unit: frames, envelopes, local errors\n");
    unit_tests();

    if (url == NULL) {
        printf("live: skipped (no server URL; pass one or set GLIMPSE_URL)\n");
    } else {
        size_t cat_size = 0;
        unsigned char *cat = NULL;
        static const char *const candidates[] = {"testdata/generated/images/cat.jpg", "../../testdata/generated/images/cat.jpg"};
        if (image != NULL) cat = read_file(image, &cat_size);
        for (size_t i = 0; image == NULL && cat == NULL && i < 2; i++) cat = read_file(candidates[i], &cat_size);
        if (cat == NULL && fake) {
            /* The fake server only looks at the JPEG markers. */
            cat_size = 8000;
            cat = calloc(cat_size, 1);
            if (cat == NULL) abort();
            memcpy(cat, "\xFF\xD8", 2);
            memcpy(cat + cat_size - 2, "\xFF\xD9", 2);
        }
        printf("live: %s%s\n", url, fake ? " (fake server)" : "");
        if (check(cat != NULL, "catPhotoIsReadable", "cannot read %s (scripts/setup makes it)",
                  image ? image : "testdata/generated/images/cat.jpg"))
            live_tests(url, cat, cat_size, fake);
        free(cat);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
