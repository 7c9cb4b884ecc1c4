/* echo - the smallest well-formed connector, a fixture for the loader tests.
 *
 * Its option table uses every option type (string, secret, int, bool, URL,
 * enum; required, defaulted, optional) so the tests can check parsing and
 * --connector-help against it. handle_http answers the request body back
 * unchanged; send() "delivers" by returning the message id as the provider id. */
#include "echo.h"

#include <omnigate/connector.h>
#include <stddef.h>

static const struct og_option echo_options[] = {
    {"token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET, offsetof(struct echo_conf, token),
     "API token", NULL},
    {"count", OG_OPT_INT, "3", 0, offsetof(struct echo_conf, count), "how many", NULL},
    {"loud", OG_OPT_BOOL, "true", 0, offsetof(struct echo_conf, loud), "shout", NULL},
    {"api_base", OG_OPT_URL, "http://127.0.0.1:9/", 0, offsetof(struct echo_conf, api_base),
     "API base URL", NULL},
    {"mode", OG_OPT_ENUM, "webhook", 0, offsetof(struct echo_conf, mode), "how items arrive",
     "webhook|polling"},
    {"note", OG_OPT_STR, NULL, 0, offsetof(struct echo_conf, note), "free text", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct echo {
    const struct og_services *svc;
};

static og_err echo_create(const struct og_services *svc, void *host, const void *conf, void **inst,
                          char *errbuf, size_t errlen)
{
    struct echo *e = svc->alloc(sizeof *e);
    e->svc = svc;
    *inst = e;
    return OG_OK;
}

static void echo_destroy(void *inst)
{
    struct echo *e = inst;
    e->svc->free(e);
}

static og_err echo_handle_http(void *inst, const struct og_http_req *req, struct og_http_resp *resp)
{
    struct echo *e = inst;
    e->svc->respond(resp, 200, "application/octet-stream", req->body, req->body_len);
    return OG_OK;
}

static og_err echo_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    struct echo *e = inst;
    res->provider_message_id = e->svc->strdup(msg->message_id);
    return OG_OK;
}

static const struct og_connector echo_connector = {
    OG_CONNECTOR_HEADER,
    .name = "echo",
    .version = "0.0.1",
    .description = "answers what it is given (loader test fixture)",
    .platform_api = "none",
    .options = echo_options,
    .conf_size = sizeof(struct echo_conf),
    .create = echo_create,
    .destroy = echo_destroy,
    .handle_http = echo_handle_http,
    .send = echo_send,
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &echo_connector;
}
