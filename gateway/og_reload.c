/* og_reload - SIGHUP (og_gateway.h). The daemon never stops on it.
 *
 * What changes at run time, and how, so nothing a thread is reading goes
 * away under it:
 *   log_file     reopened (og_log_open: dup2 onto descriptor 2), always,
 *                even when the new file has errors: logrotate needs it;
 *   log_level, log_format  atomic integers;
 *   webhooks     the config's subscriptions are swapped into the running
 *                config under g->cfg_mu and stored in Redis again; every
 *                dispatcher reloads them by their version;
 *   http.tls_cert, http.tls_key
 *                loaded again (og_tls_reload): new handshakes get the
 *                renewed certificate; turning HTTPS on or off takes a
 *                restart;
 *   routing, channels[].texts
 *                compiled anew and swapped in the core (og_core_reload),
 *                which keeps the old ones until it is freed;
 *   events       retain_s and max_bytes: atomics the housekeeping worker
 *                reads at its next trim (og_housekeeping_bounds).
 * Everything else (listen, redis, channels and their options, agents,
 * sessions, send, smtp, followups, ...) is read once at start-up by the
 * part that uses it; a change to it is logged, by key, as needing a
 * restart, and the running value stays. */
#include "og_config_routing.h"
#include "og_gateway.h"
#include "og_goals.h"
#include "og_log.h"
#include "og_plugin.h"
#include "og_routing.h"
#include "og_texts.h"
#include "og_tls.h"
#include "og_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void og_reload_routing_opts(const struct og_config *cfg, struct og_routing_opts *ro)
{
    const struct og_config_routing *cr = cfg->routing;
    *ro = (struct og_routing_opts){
        .policies = cr->policies,
        .archive_after_s = cr->archive_after_s,
        .offline_returns_sessions = cr->offline_returns_sessions,
        .success_codes = (const char *const *)cr->success_codes,
        .n_success_codes = cr->n_success_codes,
        .allow_multiple_codes = cr->allow_multiple_codes,
        .require_success_code = cr->require_success_code,
    };
}

/* The top-level keys SIGHUP applies; "channels" is compared without each
 * channel's "texts". */
static const char *const live_keys[] = {"log_level", "log_file", "log_format", "webhooks",
                                        "routing",   "events",   NULL};

static int is_live(const char *key)
{
    for (const char *const *k = live_keys; *k; k++)
        if (strcmp(*k, key) == 0)
            return 1;
    return 0;
}

/* A copy of the channels array without the channels' "texts". [xfer] */
static json_object *channels_sans_texts(json_object *a)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0;
         a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++) {
        json_object *c = NULL;
        json_object_deep_copy(json_object_array_get_idx(a, i), &c, NULL);
        if (json_object_is_type(c, json_type_object))
            json_object_object_del(c, "texts");
        json_object_array_add(out, c);
    }
    return out;
}

/* A copy of the http object without the TLS files. [xfer] */
static json_object *http_sans_tls(json_object *h)
{
    json_object *c = NULL;
    json_object_deep_copy(h, &c, NULL);
    if (json_object_is_type(c, json_type_object)) {
        json_object_object_del(c, "tls_cert");
        json_object_object_del(c, "tls_key");
    }
    return c;
}

static int key_differs(json_object *oldv, json_object *newv, const char *key)
{
    if (strcmp(key, "http") == 0) {
        json_object *a = http_sans_tls(oldv), *b = http_sans_tls(newv);
        int d = !json_object_equal(a, b);
        json_object_put(a);
        json_object_put(b);
        return d;
    }
    if (strcmp(key, "channels") != 0)
        return !json_object_equal(oldv, newv);
    json_object *a = channels_sans_texts(oldv), *b = channels_sans_texts(newv);
    int d = !json_object_equal(a, b);
    json_object_put(a);
    json_object_put(b);
    return d;
}

/* Logs each top-level key, in either file, that differs and is not
 * applied at run time. Returns how many. */
static int report_restart_keys(json_object *oldr, json_object *newr)
{
    int n = 0;
    json_object *roots[2] = {oldr, newr};
    for (int side = 0; side < 2; side++) {
        json_object_object_foreach(roots[side], key, v)
        {
            (void)v;
            json_object *ov = NULL, *nv = NULL;
            int in_old = json_object_object_get_ex(oldr, key, &ov);
            int in_new = json_object_object_get_ex(newr, key, &nv);
            if (side == 1 && in_old)
                continue; /* seen from the old side */
            if (is_live(key) || (in_old && in_new && !key_differs(ov, nv, key)))
                continue;
            og_warn("SIGHUP: \"%s\" changed; it takes effect after a restart%s", key,
                    strcmp(key, "channels") == 0 ? " (only channels[].texts change at once)" : "");
            n++;
        }
    }
    return n;
}

/* A queue text with {{queue.position}} on a non-real-time channel, which
 * the start-up refuses too. 0 when there is none. */
static int texts_fit(struct og_gateway *g, const struct og_config *cfg)
{
    for (size_t i = 0; i < cfg->n_channels; i++)
        for (size_t k = 0; k < g->n_channels; k++) {
            struct og_channel *ch = g->channels[k];
            if (cfg->channels[i].id && strcmp(ch->id, cfg->channels[i].id) == 0 &&
                (ch->plugin->desc->caps & OG_CAP_NON_REALTIME) &&
                !og_texts_realtime_ok(cfg->channels[i].texts.queue)) {
                og_error("SIGHUP: %s.texts.queue: {{queue.position}} is for real-time "
                         "channels; nothing changed",
                         cfg->channels[i].path);
                return -1;
            }
        }
    return 0;
}

void og_reload(struct og_gateway *g, const char *config_path)
{
    struct og_config *run = g->cfg;
    og_info("SIGHUP: reopening the log and reloading %s", config_path);
    struct og_config nc = {0};
    struct og_errors errs = {0};
    og_config_load(config_path, &nc, &errs);
    /* The log first, whatever the file says: the one being renamed must be
     * let go now. */
    const char *log_path = errs.n ? run->log_file : nc.log_file;
    if (og_log_open(log_path) != 0)
        og_error("SIGHUP: cannot open the log file %s: %s", log_path, strerror(errno));
    else if (log_path)
        og_info("SIGHUP: log reopened (%s)", log_path);
    if (errs.n) {
        for (size_t i = 0; i < errs.n; i++)
            og_error("SIGHUP: %s: %s", config_path, errs.items[i]);
        og_error("SIGHUP: %zu configuration error%s; nothing changed", errs.n,
                 errs.n == 1 ? "" : "s");
        goto out;
    }
    if (texts_fit(g, &nc) != 0)
        goto out;

    /* Routing policies and texts: compiled first, so a failure changes nothing. */
    struct og_routing_opts ro;
    og_reload_routing_opts(&nc, &ro);
    /* the close rules ("sessions") stay the running ones: the inbox's
     * metadata reads them from the running config */
    struct og_routing_opts cur;
    og_reload_routing_opts(run, &cur);
    ro.archive_after_s = cur.archive_after_s;
    ro.offline_returns_sessions = cur.offline_returns_sessions;
    ro.success_codes = cur.success_codes;
    ro.n_success_codes = cur.n_success_codes;
    ro.allow_multiple_codes = cur.allow_multiple_codes;
    ro.require_success_code = cur.require_success_code;
    struct og_texts_conf *texts;
    struct og_goal_seed *goals;
    size_t n_ops = og_config_channel_ops(&nc, &texts, &goals);
    char errbuf[256];
    og_err e = og_core_reload(g->core, &ro, texts, n_ops, errbuf, sizeof errbuf);
    free(texts);
    free(goals);
    if (e != OG_OK) {
        og_error("SIGHUP: routing: %s; nothing changed", errbuf);
        goto out;
    }

    /* TLS: the files again (a renewed certificate), or other files */
    int tls_now = nc.http.tls_cert != NULL, tls_ran = g->tls != NULL;
    if (tls_now != tls_ran) {
        og_warn("SIGHUP: http.tls_cert: turning HTTPS %s takes a restart", tls_now ? "on" : "off");
    } else if (tls_now) {
        char err[512];
        if (og_tls_reload(g->tls, nc.http.tls_cert, nc.http.tls_key, err, sizeof err) != 0)
            og_error("SIGHUP: http.tls_cert: %s; the certificate in use stays", err);
        else
            og_info("SIGHUP: certificate loaded from %s", nc.http.tls_cert);
    }

    if (og_texts_sync(g->core) != OG_OK)
        og_warn("SIGHUP: texts: Redis did not take them now; the next routing pass stores them");

    int level = og_log_level_parse(nc.log_level);
    if (level >= 0 && level != og_log_level) {
        og_info("SIGHUP: log_level %s", nc.log_level);
        og_log_level = level;
    }
    og_log_json = strcmp(nc.log_format, "json") == 0;
    /* read by nobody but this file once the daemon runs */
    free(run->log_level);
    run->log_level = og_strdup(nc.log_level);
    free(run->log_file);
    run->log_file = nc.log_file ? og_strdup(nc.log_file) : NULL;

    /* Webhooks: the new subscriptions into the running config (the
     * dispatcher stores them again from there after a Redis outage). */
    pthread_mutex_lock(&g->cfg_mu);
    struct og_webhook_sub *ws = run->webhooks;
    size_t wn = run->n_webhooks;
    run->webhooks = nc.webhooks;
    run->n_webhooks = nc.n_webhooks;
    nc.webhooks = ws; /* freed with nc */
    nc.n_webhooks = wn;
    pthread_mutex_unlock(&g->cfg_mu);
    if (og_webhook_sync_config(g) != OG_OK)
        og_warn("SIGHUP: webhooks: Redis did not take them now; the dispatcher stores them "
                "when it is back");

    og_housekeeping_bounds(g, &nc);
    run->events = nc.events;

    int restart = report_restart_keys(run->root, nc.root);
    og_info("SIGHUP: applied log_level, log_file, log_format, webhooks (%zu), events (retain_s "
            "%lld, max_bytes %lld), routing policies and channels' texts; %d change%s need%s a "
            "restart",
            run->n_webhooks, (long long)nc.events.retain_s, (long long)nc.events.max_bytes, restart,
            restart == 1 ? "" : "s", restart == 1 ? "s" : "");
out:
    og_errors_free(&errs);
    og_config_free(&nc);
}
