/* og_config_send - the "send" section (the outbound send queue's knobs,
 * gateway/og_send_worker.c) and the per-channel "rate_limit_per_s" key.
 *
 *   "send": {"workers": 4, "max_attempts": 8, "retry_backoff_ms": 2000,
 *            "retry_max_ms": 300000, "claim_idle_ms": 30000}
 *   "channels": [{..., "rate_limit_per_s": 30}]
 *
 * A channel without rate_limit_per_s gets its connector's default
 * (og_config_default_rate): telegram 30, whatsapp 80, facebook 200, line
 * 2000, vk 20, anything else 50 messages per second. */
#include "og_config_int.h"
#include "og_plugin.h"

#include <string.h>

static void take_workers(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 1, 64, &l->cfg->send.workers);
}

static void take_max_attempts(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 1, 100, &l->cfg->send.max_attempts);
}

static void take_backoff(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 10, 3600000, &l->cfg->send.retry_backoff_ms);
}

static void take_retry_max(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 10, 86400000, &l->cfg->send.retry_max_ms);
}

static void take_claim_idle(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 100, 3600000, &l->cfg->send.claim_idle_ms);
}

/* clang-format off */
static const struct og_key og_send_keys[] = {
    {"workers", take_workers},
    {"max_attempts", take_max_attempts},
    {"retry_backoff_ms", take_backoff},
    {"retry_max_ms", take_retry_max},
    {"claim_idle_ms", take_claim_idle},
    {NULL, NULL},
};
/* clang-format on */

void og_config_take_send(struct og_load *l, json_object *v, const char *path)
{
    if (og_cfg_object(l, v, path))
        og_cfg_walk(l, v, path, og_send_keys);
}

void og_config_send_defaults(struct og_config *cfg)
{
    cfg->send.workers = 4;
    cfg->send.max_attempts = 8;
    cfg->send.retry_backoff_ms = 2000;
    cfg->send.retry_max_ms = 300000;
    cfg->send.claim_idle_ms = 30000;
}

void og_config_take_ch_rate(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
        og_errors_add(l->errs, "%s: must be a number", path);
        return;
    }
    double d = json_object_get_double(v);
    if (!(d >= 0.01 && d <= 100000)) {
        og_errors_add(l->errs, "%s: must be from 0.01 to 100000", path);
        return;
    }
    l->ch->rate_limit_per_s = d;
}

double og_config_default_rate(const char *connector)
{
    static const struct {
        const char *name;
        double rate;
    } defaults[] = {{"telegram", 30}, {"whatsapp", 80}, {"facebook", 200},
                    {"line", 2000},   {"vk", 20}};
    for (size_t i = 0; connector && i < sizeof defaults / sizeof *defaults; i++)
        if (strcmp(connector, defaults[i].name) == 0)
            return defaults[i].rate;
    return 50;
}
