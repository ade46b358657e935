/* glimpse-classify: classifies a JPEG on a Glimpse server, printing like `glimpse classify`. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glimpse_client.h"

static void usage(FILE *to) {
    fprintf(to,
            "usage: glimpse-classify [-t TIMEOUT_MS] URL IMAGE.jpg [MODEL] [TOP]\n"
            "       glimpse-classify [-t TIMEOUT_MS] URL --health\n"
            "       glimpse-classify [-t TIMEOUT_MS] URL --models\n"
            "  URL      the server, e.g. tcp://127.0.0.1:7070 or ipc:///tmp/glimpse.sock\n"
            "  MODEL    model name; default: the server's default model\n"
            "  TOP      how many classes to print, 1-100; default 5\n"
            "  -t MS    give up on a call after MS milliseconds; default 10000\n"
            "  --health exit 0 if the server is SERVING, 1 if not\n"
            "  --models list the server's models\n");
}

/* Reads a whole file into a malloc'd buffer the caller frees; NULL (with errno's message
 * printed) on failure. */
static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t capacity = 1 << 16, n = 0;
    unsigned char *data = malloc(capacity);
    while (data != NULL) {
        n += fread(data + n, 1, capacity - n, f);
        if (n < capacity) break;
        unsigned char *bigger = realloc(data, capacity * 2);
        if (bigger == NULL) {
            free(data);
            data = NULL;
        } else {
            data = bigger;
            capacity *= 2;
        }
    }
    if (data == NULL) fprintf(stderr, "%s: out of memory\n", path);
    else if (ferror(f)) {
        perror(path);
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = n;
    return data;
}

static int print_model(void *context, const glimpse_model_info *m) {
    (void)context;
    char input[32];
    snprintf(input, sizeof input, "%ux%u%s%s", m->input_height, m->input_width, m->layout[0] == '\0' ? "" : " ", m->layout);
    printf("%-8s %-14s %8.2fM  %s%s\n", m->name, input, (double)m->parameters / 1e6, m->version,
           m->is_default ? "  (default)" : "");
    return 0;
}

int main(int argc, char **argv) {
    int timeout_ms = 10000;
    int arg = 1;
    if (arg < argc && (strcmp(argv[arg], "-h") == 0 || strcmp(argv[arg], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (arg + 1 < argc && strcmp(argv[arg], "-t") == 0) {
        char *end;
        long t = strtol(argv[arg + 1], &end, 10);
        if (*end != '\0' || t < 1 || t > 3600000) {
            fprintf(stderr, "glimpse-classify: -t wants milliseconds, 1-3600000, not '%s'\n", argv[arg + 1]);
            return 2;
        }
        timeout_ms = (int)t;
        arg += 2;
    }
    if (argc - arg < 2 || argc - arg > 4) {
        usage(stderr);
        return 2;
    }
    const char *url = argv[arg], *what = argv[arg + 1];
    const char *model = argc - arg > 2 ? argv[arg + 2] : NULL;
    int top = 5;
    if (argc - arg > 3) {
        char *end;
        long t = strtol(argv[arg + 3], &end, 10);
        if (*end != '\0' || t < 1 || t > 100) {
            fprintf(stderr, "glimpse-classify: TOP must be 1-100, not '%s'\n", argv[arg + 3]);
            return 2;
        }
        top = (int)t;
    }

    glimpse_status status;
    glimpse_client *client;
    if (glimpse_client_open(url, timeout_ms, &client, &status) != GLIMPSE_OK) {
        fprintf(stderr, "glimpse-classify: %s\n", status.message);
        return 1;
    }
    int exit_code = 0;
    if (strcmp(what, "--health") == 0) {
        int serving;
        if (glimpse_health(client, NULL, &serving, &status) != GLIMPSE_OK) {
            fprintf(stderr, "glimpse-classify: %s: %s\n", glimpse_code_name(status.code), status.message);
            exit_code = 1;
        } else {
            static const char *const names[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
            printf("%s\n", serving >= 0 && serving <= 3 ? names[serving] : "UNKNOWN");
            exit_code = serving == GLIMPSE_SERVING ? 0 : 1;
        }
    } else if (strcmp(what, "--models") == 0) {
        if (glimpse_list_models(client, print_model, NULL, &status) != GLIMPSE_OK) {
            fprintf(stderr, "glimpse-classify: %s: %s\n", glimpse_code_name(status.code), status.message);
            exit_code = 1;
        }
    } else {
        size_t size;
        unsigned char *jpeg = read_file(what, &size);
        if (jpeg == NULL) {
            exit_code = 1;
        } else {
            glimpse_class classes[100];
            int count = top;
            if (glimpse_classify(client, model, jpeg, size, top, classes, &count, &status) != GLIMPSE_OK) {
                fprintf(stderr, "glimpse-classify: %s: %s: %s\n", what, glimpse_code_name(status.code), status.message);
                exit_code = 1;
            } else {
                printf("%s\n", what);
                for (int i = 0; i < count; i++)
                    printf("  %5.1f%%  %4d  %s\n", classes[i].probability * 100.0, classes[i].index, classes[i].label);
            }
            free(jpeg);
        }
    }
    glimpse_client_close(client);
    return exit_code;
}
