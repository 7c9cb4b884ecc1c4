/* broken - connector fixtures the loader must refuse, one defect each.
 *
 * Built once per defect with -DBROKEN_<DEFECT> (see CMakeLists.txt); without
 * a define the descriptor would be valid, so each build differs from a good
 * plugin in exactly the one way its name says. */
#include <omnigate/connector.h>
#include <stddef.h>

struct broken_conf {
    char *token;
};

static const struct og_option broken_options[] = {
    {"token", OG_OPT_STR, NULL, OG_OPT_REQUIRED, offsetof(struct broken_conf, token), "token",
     NULL},
#if defined(BROKEN_OPT_OUTSIDE)
    {"beyond", OG_OPT_STR, NULL, 0, sizeof(struct broken_conf), "past the block", NULL},
#endif
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Some builds leave a callback out on purpose; it must not warn then. */
#define UNUSED __attribute__((unused))

UNUSED static og_err b_create(const struct og_services *svc, void *host, const void *conf,
                              void **inst, char *errbuf, size_t errlen)
{
    *inst = NULL;
    return OG_OK;
}
UNUSED static void b_destroy(void *inst) {}
UNUSED static og_err b_handle_http(void *inst, const struct og_http_req *req,
                                   struct og_http_resp *resp)
{
    return OG_OK;
}
UNUSED static og_err b_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    return OG_ERR_UNSUPPORTED;
}

#ifndef BROKEN_NAME
#define BROKEN_NAME "broken"
#endif

static const struct og_connector broken_connector = {
#if defined(BROKEN_WRONG_MAJOR)
    .abi_major = OG_CONNECTOR_ABI_MAJOR + 1,
#else
    .abi_major = OG_CONNECTOR_ABI_MAJOR,
#endif
#if defined(BROKEN_NEWER_MINOR)
    .abi_minor = OG_CONNECTOR_ABI_MINOR + 1,
#elif defined(BROKEN_SHORT_OLD_MINOR)
    .abi_minor = 0, /* claims 1.0 but is shorter than the 1.0 layout */
#else
    .abi_minor = OG_CONNECTOR_ABI_MINOR,
#endif
#if defined(BROKEN_STRUCT_SIZE)
    .struct_size = sizeof(struct og_connector) - sizeof(void *),
#elif defined(BROKEN_SHORT_OLD_MINOR)
    .struct_size = offsetof(struct og_connector, messaging_window_ms),
#else
    .struct_size = sizeof(struct og_connector),
#endif
    .name = BROKEN_NAME,
    .version = "0",
    .options = broken_options,
    .conf_size = sizeof(struct broken_conf),
#if !defined(BROKEN_NO_CREATE)
    .create = b_create,
#endif
    .destroy = b_destroy,
#if !defined(BROKEN_NO_HANDLERS)
    .handle_http = b_handle_http,
#endif
#if !defined(BROKEN_NO_SEND)
    .send = b_send,
#endif
};

#if defined(BROKEN_NO_ENTRY)
/* Exports a near miss instead of og_connector_entry. */
OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry_v2(void);
OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry_v2(void)
{
    return &broken_connector;
}
#elif defined(BROKEN_NULL_ENTRY)
OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    (void)broken_connector;
    return NULL;
}
#else
OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &broken_connector;
}
#endif
