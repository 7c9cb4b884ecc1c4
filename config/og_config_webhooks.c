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
 * uses, so the two cannot disagree; its message is prefixed with the key
 * path ("webhooks[1].events[0]: unknown event type"). Secret values are never
 * echoed. */
#include "og_config_int.h"
#include "og_plugin.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <stdlib.h>
#include <string.h>

static const char *const sub_keys[] = {"id",      "url",        "secret", "events",
                                       "retry_schedule_s", "timeout_ms", "enabled", NULL};

void og_cfg_take_webhooks(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_array)) {
        og_errors_add(l->errs, "%s: must be an array", path);
        return;
    }
    struct og_config *cfg = l->cfg;
    size_t n = json_object_array_length(v);
    og_cfg_free_webhooks(cfg);
    cfg->webhooks = og_calloc(n ? n : 1, sizeof *cfg->webhooks);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        char *p = og_cfg_path_index(path, i);
        if (!og_cfg_object(l, e, p)) {
            free(p);
            continue;
        }
        int bad = 0;
        json_object_object_foreach(e, key, val)
        {
            (void)val;
            size_t k = 0;
            while (sub_keys[k] && strcmp(sub_keys[k], key) != 0)
                k++;
            if (!sub_keys[k]) {
                char *kp = og_cfg_path_key(p, key);
                og_errors_add(l->errs, "%s: unknown key", kp);
                free(kp);
                bad = 1;
            }
        }
        if (!json_object_object_get_ex(e, "secret", NULL)) {
            og_errors_add(l->errs, "%s.secret: required", p);
            bad = 1;
        }
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
        free(p);
    }
}

static void take_concurrency(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 1, 1024, &l->cfg->webhook_dispatch.concurrency);
}

static const struct og_key dispatch_keys[] = {
    {"concurrency", take_concurrency},
    {NULL, NULL},
};

void og_cfg_take_webhook_dispatch(struct og_load *l, json_object *v, const char *path)
{
    if (og_cfg_object(l, v, path))
        og_cfg_walk(l, v, path, dispatch_keys);
}

void og_cfg_free_webhooks(struct og_config *cfg)
{
    og_webhook_subs_free(cfg->webhooks, cfg->n_webhooks);
    cfg->webhooks = NULL;
    cfg->n_webhooks = 0;
}
