/* fuzz_upload - the body of POST /api/v1/uploads (gateway/og_upload.c:
 * multipart/form-data through libmicrohttpd's post processor), over a real
 * connection: the post processor reads the Content-Type (and its boundary)
 * from the request it belongs to, so each input is sent as a request to a
 * libmicrohttpd daemon on 127.0.0.1 that runs og_upload_form_parse on it.
 *
 * Input: the first byte is the length of the Content-Type value that
 * follows (CR and LF become spaces), the rest is the body.
 *
 * Checked: an accepted form has exactly one file part, of 1..cap bytes,
 * and a channel that fits; a refusal always says why; nothing else is
 * answered. */
#include "og_upload.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CAP 4096

static struct MHD_Daemon *daemon_;
static int port;
static pthread_once_t once = PTHREAD_ONCE_INIT;

struct req {
    struct og_buf body;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version;
    struct req *r = *con_cls;
    if (!r) {
        *con_cls = og_calloc(1, sizeof *r);
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size <= 2 * 65536)
            og_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    struct og_upload_form f;
    memset(&f, 0, sizeof f);
    f.cap = CAP;
    char why[160] = "";
    og_err e = og_upload_form_parse(conn, r->body.data ? r->body.data : "", r->body.len, &f, why,
                                    sizeof why);
    if (e == OG_OK) {
        if (f.files != 1 || f.file.len == 0 || f.file.len > CAP || f.too_large || f.unknown ||
            strlen(f.channel) >= sizeof f.channel || strlen(f.name) >= sizeof f.name)
            __builtin_trap();
    } else if (!why[0] ||
               (e != OG_ERR_INVALID && e != OG_ERR_UNSUPPORTED && e != OG_ERR_TOO_LARGE)) {
        __builtin_trap();
    }
    og_upload_form_free(&f);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct req *r = *con_cls;
    if (r) {
        og_buf_free(&r->body);
        free(r);
    }
    *con_cls = NULL;
}

static void start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    daemon_ =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request,
                         NULL, MHD_OPTION_SOCK_ADDR, &a, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_END);
    if (!daemon_)
        abort();
    port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 65536)
        return 0;
    pthread_once(&once, start);
    size_t n = data[0];
    if (n > size - 1)
        n = size - 1;
    char ct[256];
    for (size_t i = 0; i < n; i++)
        ct[i] = data[1 + i] == '\r' || data[1 + i] == '\n' || data[1 + i] == 0 ? ' '
                                                                               : (char)data[1 + i];
    ct[n] = 0;
    const char *body = (const char *)data + 1 + n;
    size_t blen = size - 1 - n;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      ct, blen);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return 0;
    }
    if (write(fd, head, (size_t)hl) == hl && (blen == 0 || write(fd, body, blen) >= 0)) {
        char buf[512];
        for (int i = 0; i < 64 && read(fd, buf, sizeof buf) > 0; i++)
            ; /* until the daemon closes: the request was handled */
    }
    close(fd);
    return 0;
}
