/* og_config_webhooks - the "webhooks" section (outbound webhook
 * subscriptions, see core/og_webhooks.h) and "webhook_dispatch" (the
 * dispatcher's knobs).
 *
 *   "webhooks": [{"id": "crm", "url": "https://crm.example.com/hook",
 *                 "secret": "whsec_<base64 of 24..64 bytes>" (or "${ENV}"),
 *                 "events": ["*"] | ["message.received", ...],
 *                 "retry_schedule_s": [5, 300, ...], "timeout_ms": 15000,
 *                 "enabled": true}]
 *   "webhook_dispatch": {"concurrency": 64}
 *
 * Each subscription is validated by the same og_webhook_sub_parse() the API
 * uses, so the two cannot disagree (the rows below describe its keys for the
 * help and convert "${ENV}" values to their types); its message is prefixed
 * with the key path ("webhooks[1].events[0]: unknown event type"). Secret
 * values are never echoed. */
#include "og_config_int.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <stddef.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

const struct og_cfg_row og_cfg_webhook_rows[] = {
    {.name = "id",
     .type = OG_CFG_STR,
     .flags = OG_CFG_REQUIRED,
     .help = "unique, 1-64 of a-z, 0-9, _ and -"},
    {.name = "url",
     .type = OG_CFG_STR,
     .flags = OG_CFG_REQUIRED,
     .help = "where events are POSTed, http:// or https://"},
    {.name = "secret",
     .type = OG_CFG_STR,
     .flags = OG_CFG_REQUIRED | OG_CFG_SECRET,
     .help = "\"whsec_\" + base64 of 24 to 64 bytes: the Standard Webhooks signing key"},
    {.name = "events",
     .type = OG_CFG_LIST,
     .def_doc = "every event ([\"*\"])",
     .help = "event types (\"message.received\"), families (\"session.*\") or \"*\""},
    {.name = "retry_schedule_s",
     .type = OG_CFG_INT_LIST,
     .def_doc = "5, 295, 1500, 5400, 10800, 18000, 14400, 21600, 14400",
     .min = 0,
     .max = 604800,
     .help = "delays before the retries of a failed delivery (at most " STR(
         OG_WEBHOOK_MAX_RETRIES) ")"},
    {.name = "timeout_ms",
     .type = OG_CFG_INT,
     .def = "15000",
     .min = 100,
     .max = 120000,
     .help = "one delivery attempt"},
    {.name = "enabled",
     .type = OG_CFG_BOOL,
     .def = "true",
     .help = "false keeps the subscription without delivering"},
    {0},
};

/* One element, an object whose ${ENV} values have their types: the same
 * parse as the API's, then appended to cfg->webhooks if it is good. */
int og_cfg_webhook_take(struct og_load *l, const struct og_cfg_row *row, json_object *e,
                        const char *p, void *base)
{
    (void)base;
    struct og_config *cfg = l->cfg;
    size_t before = l->errs->n;
    og_cfg_unknown_keys(l, row->children, e, p);
    if (!json_object_object_get_ex(e, "secret", NULL))
        og_errors_add(l->errs, "%s.secret: required", p);
    int bad = l->errs->n != before;
    struct og_webhook_sub s = {0};
    char err[200];
    if (og_webhook_sub_parse(e, &s, 0, err, sizeof err) != 0) {
        og_errors_add(l->errs, "%s.%s", p, err);
        bad = 1;
    }
    for (size_t j = 0; !bad && j < cfg->n_webhooks; j++) {
        if (strcmp(cfg->webhooks[j].id, s.id) == 0) {
            og_errors_add(l->errs, "%s.id: duplicate id '%s'", p, s.id);
            bad = 1;
        }
    }
    if (bad) {
        og_webhook_sub_clear(&s);
    } else {
        s.from_config = 1;
        cfg->webhooks[cfg->n_webhooks++] = s;
    }
    return 0;
}

void og_cfg_webhook_release(void *elem)
{
    og_webhook_sub_clear(elem);
}

const struct og_cfg_row og_cfg_dispatch_rows[] = {
    {.name = "concurrency",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, webhook_dispatch.concurrency),
     .def = "64",
     .min = 1,
     .max = 1024,
     .help = "parallel deliveries per instance"},
    {0},
};
