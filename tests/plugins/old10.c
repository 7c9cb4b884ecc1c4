/* old10 - a connector built against the frozen ABI 1.0 header
 * (tests/plugins/abi-1.0/), as a plugin compiled before 1.1 would be. Its
 * descriptor is shorter than the host's: the loader must accept it, read
 * only what it has, and give the appended fields their defaults (caps
 * OG_CAPS_1_0_DEFAULT, default_rate_per_s OG_DEFAULT_RATE_PER_S). send()
 * proves the instance works through the host's services table: it answers
 * with the message id and the services' struct_size, which must be at least
 * what 1.0 knew. */
#include <omnigate/connector.h>
#include <stdio.h>

#if OG_CONNECTOR_ABI_MINOR != 0
#error "old10.c must be built against the frozen 1.0 header"
#endif

struct old10_conf {
    char *greeting;
};

static const struct og_option old10_options[] = {
    {"greeting", OG_OPT_STR, "hi", 0, offsetof(struct old10_conf, greeting), "what it says", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct old10 {
    const struct og_services *svc;
};

static og_err old10_create(const struct og_services *svc, void *host, const void *conf, void **inst,
                           char *errbuf, size_t errlen)
{
    if (svc->struct_size < sizeof(struct og_services))
        return OG_ERR_INTERNAL; /* a host never gives less than 1.0 had */
    struct old10 *o = svc->alloc(sizeof *o);
    o->svc = svc;
    *inst = o;
    return OG_OK;
}

static void old10_destroy(void *inst)
{
    struct old10 *o = inst;
    o->svc->free(o);
}

static og_err old10_handle_http(void *inst, const struct og_http_req *req,
                                struct og_http_resp *resp)
{
    return OG_OK;
}

static og_err old10_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    struct old10 *o = inst;
    char id[128];
    snprintf(id, sizeof id, "%s/%zu", msg->message_id, o->svc->struct_size);
    res->provider_message_id = o->svc->strdup(id);
    return OG_OK;
}

static const struct og_connector old10_connector = {
    OG_CONNECTOR_HEADER,
    .name = "old10",
    .version = "1.0.0",
    .description = "built against ABI 1.0 (loader test fixture)",
    .platform_api = "none",
    .options = old10_options,
    .conf_size = sizeof(struct old10_conf),
    .create = old10_create,
    .destroy = old10_destroy,
    .handle_http = old10_handle_http,
    .send = old10_send,
    .messaging_window_ms = 3600000,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &old10_connector;
}
