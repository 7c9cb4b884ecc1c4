/* og_core - see og_core.h. */
#include "og_core.h"
#include "og_archive.h"
#include "og_auth.h"
#include "og_batch.h"
#include "og_compact.h"
#include "og_core_int.h"
#include "og_csat.h"
#include "og_goals.h"
#include "og_log.h"
#include "og_media.h"
#include "og_model.h"
#include "og_outbox.h"
#include "og_routing.h"
#include "og_sensitive.h"
#include "og_sentinel.h"
#include "og_texts.h"
#include "og_util.h"
#include "og_webchat.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char og_lua_prelude[], og_lua_ingest[], og_lua_sessions[], og_lua_contacts[],
    og_lua_agents[], og_lua_auth[], og_lua_routing[], og_lua_outbox[], og_lua_outbox_reply[],
    og_lua_outbox_status[], og_lua_followups[], og_lua_webhook_admin[],
    og_lua_webhook_dispatch_read[], og_lua_webhook_dispatch_step[], og_lua_webhook_dispatch_fetch[],
    og_lua_webhook_dispatch_skip[], og_lua_stream[], og_lua_groups[], og_lua_canned[],
    og_lua_texts[], og_lua_goals[], og_lua_instances[], og_lua_stats[], og_lua_webchat[],
    og_lua_csat[], og_lua_archive[];

/* og_script.h's table: each enum og_lua with its name and text. */
static const struct {
    const char *name;
    const char *body;
} lua_src[OG_LUA__LAST] = {
    [OG_LUA_INGEST] = {"ingest", og_lua_ingest},
    [OG_LUA_SESSIONS] = {"sessions", og_lua_sessions},
    [OG_LUA_CONTACTS] = {"contacts", og_lua_contacts},
    [OG_LUA_AGENTS] = {"agents", og_lua_agents},
    [OG_LUA_AUTH] = {"auth", og_lua_auth},
    [OG_LUA_ROUTING] = {"routing", og_lua_routing},
    [OG_LUA_OUTBOX] = {"outbox", og_lua_outbox},
    [OG_LUA_OUTBOX_REPLY] = {"outbox_reply", og_lua_outbox_reply},
    [OG_LUA_OUTBOX_STATUS] = {"outbox_status", og_lua_outbox_status},
    [OG_LUA_FOLLOWUPS] = {"followups", og_lua_followups},
    [OG_LUA_WEBHOOK_ADMIN] = {"webhook_admin", og_lua_webhook_admin},
    [OG_LUA_WEBHOOK_DISPATCH_READ] = {"webhook_dispatch_read", og_lua_webhook_dispatch_read},
    [OG_LUA_WEBHOOK_DISPATCH_STEP] = {"webhook_dispatch_step", og_lua_webhook_dispatch_step},
    [OG_LUA_WEBHOOK_DISPATCH_FETCH] = {"webhook_dispatch_fetch", og_lua_webhook_dispatch_fetch},
    [OG_LUA_WEBHOOK_DISPATCH_SKIP] = {"webhook_dispatch_skip", og_lua_webhook_dispatch_skip},
    [OG_LUA_STREAM] = {"stream", og_lua_stream},
    [OG_LUA_GROUPS] = {"groups", og_lua_groups},
    [OG_LUA_CANNED] = {"canned", og_lua_canned},
    [OG_LUA_INSTANCES] = {"instances", og_lua_instances},
    [OG_LUA_STATS] = {"stats", og_lua_stats},
    [OG_LUA_TEXTS] = {"texts", og_lua_texts},
    [OG_LUA_GOALS] = {"goals", og_lua_goals},
    [OG_LUA_WEBCHAT] = {"webchat", og_lua_webchat},
    [OG_LUA_CSAT] = {"csat", og_lua_csat},
    [OG_LUA_ARCHIVE] = {"archive", og_lua_archive},
};

/* Group commit of ingest (og_batch.h). A batch of 32 messages keeps Redis
 * busy ~1-2 ms, short enough not to delay the other clients' commands much;
 * three batches in flight let the others travel and be rendered while
 * Redis runs one (bench_ingest, 64 connections: ~4% more messages a second
 * than with two, as many as with four). */
enum { INGEST_BATCH_MAX = 32, INGEST_BATCHES_INFLIGHT = 3 };

static struct og_redis *pool_new(struct og_core *c, char *errbuf, size_t errlen)
{
    struct og_redis_opts ro = {
        .url = c->redis_url, .password = c->redis_password, .pool_size = c->pool_size};
    return og_redis_new(&ro, errbuf, errlen);
}

struct og_core *og_core_new(const struct og_core_opts *o, char *errbuf, size_t errlen)
{
    struct og_core *c = og_calloc(1, sizeof *c);
    pthread_mutex_init(&c->reload_mu, NULL);
    pthread_mutex_init(&c->arch_mu, NULL);
    c->redis_url = og_strdup(o->redis_url);
    c->redis_password = og_strdup(o->redis_password);
    c->pool_size = o->pool_size;
    pthread_mutex_init(&c->fo_mu, NULL);
    if (o->n_sentinels > 0) {
        /* no address until the sentinels name the master */
        free(c->redis_url);
        c->redis_url = NULL;
        struct og_sentinel_opts so = {.sentinels = o->sentinels,
                                      .n = o->n_sentinels,
                                      .master_name = o->master_name,
                                      .sentinel_password = o->sentinel_password,
                                      .redis_password = o->redis_password};
        c->sentinel = og_sentinel_new(&so, errbuf, errlen);
        if (!c->sentinel) {
            og_core_free(c);
            return NULL;
        }
        snprintf(c->fo_why, sizeof c->fo_why, "the sentinels were not asked yet");
    }
    c->redis = pool_new(c, errbuf, errlen);
    c->routing = c->redis ? og_routing_new(o->routing, errbuf, errlen) : NULL;
    if (!c->redis || !c->routing) {
        og_core_free(c);
        return NULL;
    }
    c->tag = og_sprintf("{%s}", o->prefix && *o->prefix ? o->prefix : "og");
    og_id_new("gw_", og_now_ms(), c->instance, sizeof c->instance);
    c->dedup_ttl_s = o->dedup_ttl_s > 0 ? o->dedup_ttl_s : 8 * 86400 + 3600;
    if (o->auth)
        c->auth = *o->auth;
    og_auth_opts_defaults(&c->auth);
    if (o->sensitive) {
        c->sw_customers = og_sensitive_new(o->sensitive->customers, o->sensitive->n_customers);
        c->sw_agents = og_sensitive_new(o->sensitive->agents, o->sensitive->n_agents);
        c->sw_block_agents = o->sensitive->block_agents;
    }
    c->texts = og_texts_new(o->texts, o->n_texts);
    c->goals_sync_json = og_goals_sync_json(o->goals, o->n_goals);
    c->goal_day_ms = o->goal_day_ms > 0 ? o->goal_day_ms : 86400000;
    c->public_url = og_strdup(o->public_url ? o->public_url : "");
    og_media_link_key(o->media_secret, c->media_key);
    c->media_link_ttl_s = o->media_link_ttl_s > 0 ? o->media_link_ttl_s : 7 * 86400;
    og_archive_configure(c, o->archive);
    const char *names[OG_LUA__LAST], *bodies[OG_LUA__LAST];
    for (int i = 0; i < OG_LUA__LAST; i++)
        names[i] = lua_src[i].name, bodies[i] = lua_src[i].body;
    c->lua_lib = og_script_library(og_lua_prelude, OG_LUA__LAST, names, bodies, c->lua);
    const char *head[] = {c->tag};
    c->ingest_batch =
        og_batch_new(c->lua[OG_LUA_INGEST], 1, head, INGEST_BATCH_MAX, INGEST_BATCHES_INFLIGHT);
    if (o->wait_replicas > 0)
        og_batch_set_wait(c->ingest_batch, o->wait_replicas,
                          o->wait_timeout_ms > 0 ? o->wait_timeout_ms : 1000);
    /* The common case in C; not with WAIT (redis.durability "replicated"):
     * there ingest.lua's batch is what waits for the replicas. */
    og_ingest_front_init(&c->ingest_front, c->tag);
    if (!o->ingest_script_only && o->wait_replicas <= 0)
        og_batch_set_front(c->ingest_batch, og_ingest_front, &c->ingest_front);
    return c;
}

/* What a reload replaced: kept until og_core_free, since a thread may be
 * in the middle of reading it. A reload is an operator's SIGHUP, so the
 * list stays short. */
struct og_retired {
    struct og_routing *routing;
    struct og_texts *texts;
    struct og_retired *next;
};

og_err og_core_reload(struct og_core *c, const struct og_routing_opts *routing,
                      const struct og_texts_conf *texts, size_t n_texts, char *errbuf,
                      size_t errlen)
{
    struct og_routing *r = og_routing_new(routing, errbuf, errlen);
    if (!r)
        return OG_ERR_INVALID;
    struct og_texts *t = og_texts_new(texts, n_texts); /* writes itself to Redis on first use */
    struct og_retired *old = og_calloc(1, sizeof *old);
    pthread_mutex_lock(&c->reload_mu);
    old->routing = atomic_exchange(&c->routing, r);
    old->texts = atomic_exchange(&c->texts, t);
    old->next = c->retired;
    c->retired = old;
    pthread_mutex_unlock(&c->reload_mu);
    return OG_OK;
}

void og_core_free(struct og_core *c)
{
    if (!c)
        return;
    for (struct og_retired *r = c->retired, *next; r; r = next) {
        next = r->next;
        og_routing_free(r->routing);
        og_texts_free(r->texts);
        free(r);
    }
    pthread_mutex_destroy(&c->reload_mu);
    og_batch_free(c->ingest_batch);
    if (c->ingest_batch) /* the front was made with it */
        og_ingest_front_fini(&c->ingest_front);
    og_redis_free(c->redis);
    for (int i = 0; i < OG_LUA__LAST; i++)
        og_script_free(c->lua[i]);
    og_fnlib_free(c->lua_lib);
    og_routing_free(c->routing);
    og_sensitive_free(c->sw_customers);
    og_sensitive_free(c->sw_agents);
    og_texts_free(c->texts);
    for (size_t i = 0; i < c->n_survey_buttons; i++)
        free(c->survey_buttons[i]);
    free(c->survey_buttons);
    free(c->goals_sync_json);
    free(c->public_url);
    og_sentinel_free(c->sentinel);
    pthread_mutex_destroy(&c->fo_mu);
    pthread_mutex_destroy(&c->arch_mu);
    free(c->arch_dir);
    free(c->redis_url);
    free(c->redis_password);
    free(c->tag);
    free(c);
}

og_err og_core_retarget(struct og_core *c, const char *url, char *errbuf, size_t errlen)
{
    char *old = c->redis_url;
    c->redis_url = og_strdup(url);
    struct og_redis *r = pool_new(c, errbuf, errlen);
    if (!r) {
        free(c->redis_url);
        c->redis_url = old;
        return OG_ERR_INVALID;
    }
    free(old);
    og_redis_free(c->redis);
    c->redis = r;
    return OG_OK;
}

int og_core_has_sentinels(const struct og_core *c)
{
    return c->sentinel != NULL;
}

unsigned long long og_core_failovers(struct og_core *c)
{
    return atomic_load(&c->failovers);
}

static void set_why(struct og_core *c, const char *why)
{
    pthread_mutex_lock(&c->fo_mu);
    snprintf(c->fo_why, sizeof c->fo_why, "%s", why);
    pthread_mutex_unlock(&c->fo_mu);
}

/* Points the pool at a, a checked master. 1 when it moved. */
static int follow(struct og_core *c, const struct og_sentinel_addr *a, const char *how)
{
    set_why(c, "");
    if (!og_redis_set_addr(c->redis, a->host, a->port))
        return 0;
    int first = !atomic_exchange(&c->has_master, 1);
    if (!first)
        atomic_fetch_add(&c->failovers, 1);
    og_log_write(first ? OG_LOG_INFO : OG_LOG_WARN, NULL, "redis: %s %s:%d (%s)",
                 first ? "the master is" : "following the new master", a->host, a->port, how);
    return 1;
}

/* og_core_failover_resolve, and whether the pool moved. */
static og_err resolve(struct og_core *c, int *moved, char *why, size_t whylen)
{
    struct og_sentinel_addr a;
    char w[320];
    *moved = 0;
    if (og_sentinel_resolve(c->sentinel, &a, w, sizeof w) != OG_OK) {
        set_why(c, w);
        snprintf(why, whylen, "%s", w);
        return OG_ERR_UNAVAILABLE;
    }
    *moved = follow(c, &a, "asked the sentinels");
    if (whylen)
        why[0] = 0;
    return OG_OK;
}

og_err og_core_failover_resolve(struct og_core *c, char *why, size_t whylen)
{
    int moved;
    return c->sentinel ? resolve(c, &moved, why, whylen) : OG_ERR_UNSUPPORTED;
}

int og_core_failover_step(struct og_core *c, int wait_ms)
{
    if (!c->sentinel)
        return 0;
    struct og_sentinel_addr a;
    int moved = 0;
    if (og_sentinel_watch(c->sentinel, wait_ms, &a)) {
        char role[48];
        if (og_sentinel_is_master(c->sentinel, &a, role, sizeof role))
            moved = follow(c, &a, "sentinel +switch-master");
        else {
            og_warn("redis: a sentinel announced %s:%d as the new master, but it is not a "
                    "master (%s); asking the sentinels again",
                    a.host, a.port, role);
            c->fo_next_ask_ms = 0;
        }
    }
    /* Asked at once when the pool met trouble (a broken connection, a
     * READONLY: the master may have moved without our hearing of it) - at
     * most every 200 ms, as during an outage every failing command raises
     * it - then every 500 ms until a master is known, else every 5 s: a
     * missed announcement costs at most that. */
    c->fo_trouble |= og_redis_take_trouble(c->redis);
    int64_t now = og_mono_ms();
    if ((c->fo_trouble && now - c->fo_last_ask_ms >= 200) || now >= c->fo_next_ask_ms) {
        c->fo_trouble = 0;
        c->fo_last_ask_ms = now;
        char why[320];
        int m = 0;
        og_err e = resolve(c, &m, why, sizeof why);
        moved |= m;
        c->fo_next_ask_ms = og_mono_ms() + (e == OG_OK ? 5000 : 500);
        if (e != OG_OK)
            og_debug("redis: %s", why);
    }
    return moved;
}

og_err og_core_load_scripts(struct og_core *c, char *msg, size_t msglen)
{
    return og_script_load(c, msg, msglen);
}

int og_core_ping(struct og_core *c)
{
    return og_redis_ping(c->redis);
}

/* One CONFIG GET value into out; 0, or -1 (CONFIG renamed away, or down). */
static int config_get(struct og_core *c, const char *name, char *out, size_t outlen, og_err *e)
{
    redisReply *r = NULL;
    *e = og_redis_cmd(c->redis, &r, "CONFIG GET %s", name);
    if (*e != OG_OK)
        return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[1]->type == REDIS_REPLY_STRING;
    if (ok)
        snprintf(out, outlen, "%s", r->element[1]->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

og_err og_core_check_persistence(struct og_core *c, char *msg, size_t msglen)
{
    char aof[16] = "", fsync[16] = "";
    og_err e;
    if (config_get(c, "appendonly", aof, sizeof aof, &e) != 0) {
        if (e != OG_OK) {
            snprintf(msg, msglen, "Redis is not reachable to check its persistence");
            return OG_ERR_UNAVAILABLE;
        }
        /* CONFIG renamed (managed Redis): INFO persistence says whether AOF is on */
        redisReply *r = NULL;
        if (og_redis_cmd(c->redis, &r, "INFO persistence") != OG_OK)
            return OG_ERR_UNAVAILABLE;
        int on = r->type == REDIS_REPLY_STRING && strstr(r->str, "aof_enabled:1");
        freeReplyObject(r);
        snprintf(aof, sizeof aof, "%s", on ? "yes" : "no");
        snprintf(fsync, sizeof fsync, "unknown");
    } else {
        config_get(c, "appendfsync", fsync, sizeof fsync, &e);
    }
    if (strcmp(aof, "yes") != 0) {
        snprintf(msg, msglen,
                 "Redis has no AOF (appendonly %s): a restart would lose every message "
                 "omnigate acknowledged; turn it on, or set redis.durability \"relaxed\" to "
                 "accept that",
                 aof);
        return OG_ERR_PERMANENT;
    }
    if (strcmp(fsync, "always") != 0) {
        snprintf(msg, msglen,
                 "Redis writes its AOF with appendfsync %s: a power loss can drop about the "
                 "last second of acknowledged messages, which platforms will not resend "
                 "(appendfsync always, or redis.durability \"replicated\", closes that)",
                 fsync);
        return OG_ERR_RETRYABLE;
    }
    snprintf(msg, msglen, "Redis fsyncs every write (appendfsync always)");
    return OG_OK;
}

int og_core_health(struct og_core *c, char *why, size_t whylen)
{
    char key[96];
    snprintf(key, sizeof key, "%s:health", c->tag);
    if (og_redis_health(c->redis, key, why, whylen))
        return 1;
    if (c->sentinel) { /* say what the sentinels say */
        pthread_mutex_lock(&c->fo_mu);
        if (c->fo_why[0]) {
            size_t n = strlen(why);
            snprintf(why + n, whylen > n ? whylen - n : 0, "; %s", c->fo_why);
        }
        pthread_mutex_unlock(&c->fo_mu);
    }
    return 0;
}

const struct og_core_stats *og_core_stats(const struct og_core *c)
{
    return &c->stats;
}

void og_core_ingest_direct(struct og_core *c, unsigned long long *stored,
                           unsigned long long *conflicts)
{
    *stored = atomic_load(&c->ingest_front.stored);
    *conflicts = atomic_load(&c->ingest_front.conflicts);
}

unsigned long long og_core_ingest_batches(struct og_core *c)
{
    return og_batch_count(c->ingest_batch);
}

og_err og_core_depth(struct og_core *c, enum og_depth what, const char *name, long long *n)
{
    redisReply *r = NULL;
    og_err e;
    switch (what) {
    case OG_DEPTH_EVENTS: e = og_redis_cmd(c->redis, &r, "XLEN " OG_KEY_EVENTS, c->tag); break;
    case OG_DEPTH_OUTBOX: e = og_redis_cmd(c->redis, &r, "XLEN " OG_KEY_OUTBOX, c->tag); break;
    case OG_DEPTH_STATS_PENDING:
        e = og_redis_cmd(c->redis, &r, "LLEN " OG_KEY_ST_PENDING, c->tag);
        break;
    default: e = og_redis_cmd(c->redis, &r, "ZCARD " OG_KEY_QUEUE, c->tag, name ? name : "default");
    }
    if (e != OG_OK)
        return e;
    *n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    e = r->type == REDIS_REPLY_INTEGER ? OG_OK : OG_ERR_INTERNAL;
    freeReplyObject(r);
    return e;
}

/* The message JSON's middle part, rendered here where the C strings are:
 * user text is escaped once by og_buf_json_str instead of by cjson in Lua. */
static void render_tail(struct og_core *c, struct og_buf *b, const struct og_inbound *m,
                        const char *mid, int64_t now_ms, const char *now_iso)
{
    /* the text (escaping rarely grows it much) and the fields around it */
    og_buf_reserve(b, (m->text ? strlen(m->text) + strlen(m->text) / 8 : 0) + 512);
    og_buf_puts(b, "\"kind\":\""), og_buf_puts(b, og_kind_name(m->kind));
    og_buf_puts(b, "\",\"text\":");
    og_buf_json_str(b, m->text && *m->text ? m->text : NULL);
    og_buf_puts(b, ",\"attachments\":[");
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct og_attachment *a = &m->attachments[i];
        /* the file is served by omnigate (fetched on first use): a signed
         * link that works without a token for webhook consumers */
        char path[128];
        snprintf(path, sizeof path, "/api/v1/messages/%s/attachments/%zu", mid, i);
        char *link =
            og_media_link(c->media_key, c->public_url, path, now_ms / 1000 + c->media_link_ttl_s);
        og_buf_puts(b, i ? ",{\"url\":" : "{\"url\":");
        og_buf_json_str(b, link);
        free(link);
        og_buf_puts(b, ",\"source_url\":");
        og_buf_json_str(b, a->url);
        og_buf_puts(b, ",\"media_id\":");
        og_buf_json_str(b, a->media_id);
        og_buf_puts(b, ",\"mime_type\":");
        og_buf_json_str(b, a->mime_type);
        og_buf_puts(b, ",\"name\":");
        og_buf_json_str(b, a->name);
        og_buf_printf(b, ",\"size\":%lld}", (long long)a->size);
    }
    og_buf_puts(b, "],\"location\":");
    if (m->location) {
        og_buf_printf(b, "{\"latitude\":%.7f,\"longitude\":%.7f,\"name\":", m->location->latitude,
                      m->location->longitude);
        og_buf_json_str(b, m->location->name);
        og_buf_puts(b, ",\"address\":");
        og_buf_json_str(b, m->location->address);
        og_buf_puts(b, "}");
    } else {
        og_buf_puts(b, "null");
    }
    og_buf_puts(b, ",\"provider_message_id\":");
    og_buf_json_str(b, m->provider_message_id && *m->provider_message_id ? m->provider_message_id
                                                                         : NULL);
    og_buf_puts(b, ",\"reply_to_provider_id\":");
    og_buf_json_str(b, m->reply_to_provider_id && *m->reply_to_provider_id ? m->reply_to_provider_id
                                                                           : NULL);
    og_buf_puts(b, ",\"created_at\":\""), og_buf_puts(b, now_iso), og_buf_puts(b, "\"");
    if (m->payload) { /* a tapped button's id (ABI 1.3): only on such a message */
        og_buf_puts(b, ",\"payload\":");
        og_buf_json_str(b, m->payload);
    }
}

#define S(x) ((x) ? (x) : "")

static og_err ingest(struct og_core *c, const struct og_channel *ch, const struct og_inbound *m,
                     struct og_ingest_result *res);

/* A platform's string as it is stored and shown: invalid UTF-8 becomes
 * U+FFFD (the raw payload keeps the bytes as they came), so every JSON
 * omnigate renders from it is valid. s itself when it is valid (nearly
 * always), else a fixed copy kept in own[*n]. */
static const char *utf8(const char *s, char **own, int *n)
{
    if (!s || og_utf8_valid(s, strlen(s)))
        return s;
    return own[(*n)++] = og_utf8_fix(s, strlen(s), NULL);
}

og_err og_core_ingest(struct og_core *c, const struct og_channel *ch, const struct og_inbound *in,
                      struct og_ingest_result *res)
{
    char *own[12];
    int n_own = 0;
    struct og_inbound fixed;
    memset(&fixed, 0, sizeof fixed);
    /* what the plugin's struct covers; fields appended later stay NULL */
    memcpy(&fixed, in, in->struct_size < sizeof fixed ? in->struct_size : sizeof fixed);
    fixed.struct_size = sizeof fixed;
    const struct og_inbound *m = &fixed;
    fixed.from.external_id = utf8(in->from.external_id, own, &n_own);
    fixed.from.name = utf8(in->from.name, own, &n_own);
    fixed.from.username = utf8(in->from.username, own, &n_own);
    fixed.from.avatar_url = utf8(in->from.avatar_url, own, &n_own);
    fixed.from.phone = utf8(in->from.phone, own, &n_own);
    fixed.from.email = utf8(in->from.email, own, &n_own);
    fixed.thread_id = utf8(in->thread_id, own, &n_own);
    fixed.provider_message_id = utf8(in->provider_message_id, own, &n_own);
    fixed.reply_to_provider_id = utf8(in->reply_to_provider_id, own, &n_own);
    fixed.reply_token = utf8(in->reply_token, own, &n_own);
    fixed.payload = fixed.payload && *fixed.payload ? utf8(fixed.payload, own, &n_own) : NULL;
    og_err rc = ingest(c, ch, m, res);
    /* The thread's session is in the archive: back into Redis first, then
     * the message reopens it as usual (og_archive.h). */
    for (int i = 0; i < 2 && rc == OG_ERR_CONFLICT && res->session_created == -1; i++) {
        rc = og_archive_restore(c, res->session_id);
        if (rc == OG_OK)
            rc = ingest(c, ch, m, res);
    }
    while (n_own > 0)
        free(own[--n_own]);
    return rc;
}

static og_err ingest(struct og_core *c, const struct og_channel *ch, const struct og_inbound *m,
                     struct og_ingest_result *res)
{
    memset(res, 0, sizeof *res);
    int64_t now = og_now_ms(), t0 = og_mono_ms();
    char now_iso[32], ttl[24], now_s[24];
    char cid[48], sid[48], mid[48], e[4][48];
    og_time_rfc3339(now, now_iso);
    og_fmt_ll(ttl, (long long)c->dedup_ttl_s);
    og_fmt_ll(now_s, (long long)now);
    og_id_new("con_", now, cid, sizeof cid);
    og_id_new("ses_", now, sid, sizeof sid);
    og_id_new("msg_", now, mid, sizeof mid);
    for (int i = 0; i < 4; i++)
        og_id_new("evt_", now, e[i], sizeof e[i]);
    struct og_buf tail = {0};
    render_tail(c, &tail, m, mid, now, now_iso);
    /* sensitive words are matched here, in C, so ingest.lua only stores
     * the result: the flags on the message and its terms */
    char *terms = m->text ? og_sensitive_match(c->sw_customers, m->text, strlen(m->text)) : NULL;
    if (terms)
        og_buf_puts(&tail, ",\"flags\":[\"sensitive\"],\"sensitive_terms\":"),
            og_buf_puts(&tail, terms);
    /* the tail as the message's hash keeps it (og_compact.h): coded here,
     * not by pattern matching in Redis's thread (~30 us a message there) */
    struct og_buf packed = {0};
    og_buf_reserve(&packed, tail.len); /* coding never grows a tail */
    og_compact_tail(&packed, tail.data, tail.len);
    og_buf_append(&packed, "", 0);
    char wms[24];
    og_fmt_ll(wms, (long long)ch->plugin->desc->messaging_window_ms);

    const char *nrt = (ch->plugin->desc->caps & OG_CAP_NON_REALTIME) ? "1" : "0";
    /* the raw payload's key expires after the channel's store_raw ('' =
     * never); with "none" it is not sent at all */
    char raw_ttl[24] = "";
    int keep_raw = m->raw && m->raw_len && ch->store_raw_s != OG_STORE_RAW_NONE;
    if (ch->store_raw_s != OG_STORE_RAW_ALWAYS)
        og_fmt_ll(raw_ttl,
                  (long long)(ch->store_raw_s > 0 ? ch->store_raw_s : OG_STORE_RAW_DEFAULT_S));
    /* a survey answer is recognised here (og_csat.h); ingest.lua takes it
     * as the rating only when the survey message waits for one */
    char answer[16] = "";
    int score = m->text && ch->survey.scale
                    ? og_csat_parse_answer(m->text, strlen(m->text), ch->survey.scale)
                    : 0;
    if (m->payload && ch->survey.scale) /* a tap on the survey's buttons */
        score = og_csat_button_score(m->payload, ch->survey.scale);
    if (score)
        snprintf(answer, sizeof answer, "%d/%d", score, ch->survey.scale);
    const char *argv[] = {ch->id,
                          ch->plugin->desc->name,
                          ch->routing,
                          m->dedup_key,
                          now_s,
                          now_iso,
                          ttl,
                          m->from.external_id,
                          m->thread_id ? m->thread_id : m->from.external_id,
                          S(m->from.name),
                          S(m->from.username),
                          S(m->from.avatar_url),
                          S(m->from.phone),
                          S(m->from.email),
                          cid,
                          sid,
                          mid,
                          e[0],
                          e[1],
                          e[2],
                          e[3],
                          tail.data,
                          S(m->provider_message_id),
                          S(m->reply_to_provider_id),
                          S(m->reply_token),
                          keep_raw ? m->raw : "",
                          wms,
                          nrt,
                          S(terms),
                          answer,
                          raw_ttl,
                          packed.data};
    enum { N = sizeof argv / sizeof argv[0], RAW = OG_IN_RAW }; /* N: ingest.lua's NF */
    _Static_assert((int)N == (int)OG_IN__N, "og_ingest.h's arguments are ingest.lua's");
    size_t lens[N];
    for (int i = 0; i < N; i++)
        lens[i] = strlen(argv[i]);
    lens[RAW] = keep_raw ? m->raw_len : 0; /* raw may hold NULs from odd platforms */

    redisReply *r = NULL;
    og_err err = og_batch_call(c->ingest_batch, c->redis, N, argv, lens, &r);
    og_buf_free(&tail);
    og_buf_free(&packed);
    free(terms);
    if (err != OG_OK) {
        atomic_fetch_add(&c->stats.ingest_errors, 1);
        return err;
    }
    char why[160];
    err = og_script_reply("ingest", r, why, sizeof why);
    if (err != OG_OK || r->elements < 4) {
        if (err != OG_ERR_UNAVAILABLE)
            og_error("ingest: %s", why[0] ? why : "reply of the wrong shape");
        freeReplyObject(r);
        atomic_fetch_add(&c->stats.ingest_errors, 1);
        return err != OG_OK ? err : OG_ERR_INTERNAL;
    }
    if (strcmp(r->element[3]->str, "archived") == 0) {
        /* nothing stored; og_core_ingest restores the session and calls again */
        og_strlcpy(res->session_id, r->element[1]->str, sizeof res->session_id);
        res->session_created = -1;
        freeReplyObject(r);
        return OG_ERR_CONFLICT;
    }
    og_strlcpy(res->message_id, r->element[2]->str, sizeof res->message_id);
    if (strcmp(r->element[3]->str, "dup") == 0) {
        res->duplicate = 1;
        atomic_fetch_add(&c->stats.duplicates, 1);
    } else {
        og_strlcpy(res->session_id, r->element[1]->str, sizeof res->session_id);
        res->session_created = atoi(r->element[3]->str);
        atomic_fetch_add(&c->stats.ingested, 1);
        if (res->session_created == 1)
            atomic_fetch_add(&c->stats.sessions_created, 1);
        else if (res->session_created == 2)
            atomic_fetch_add(&c->stats.sessions_reopened, 1);
    }
    atomic_fetch_add(&c->stats.ingest_us_sum, (unsigned long long)(og_mono_ms() - t0) * 1000);
    freeReplyObject(r);
    return OG_OK;
}

static og_err sink_message(void *ud, struct og_channel *ch, const struct og_inbound *m)
{
    struct og_ingest_result res;
    og_err e = og_core_ingest(ud, ch, m, &res);
    if (e == OG_OK)
        atomic_fetch_add(res.duplicate ? &ch->stats.duplicates : &ch->stats.received, 1);
    if (e == OG_OK && !res.duplicate)
        og_log_write(OG_LOG_DEBUG, ch->scope, "stored %s in %s", res.message_id, res.session_id);
    return e;
}

static og_err sink_state_get(void *ud, struct og_channel *ch, const char *key, char **val)
{
    return og_core_state_get(ud, ch->id, key, val);
}

static og_err sink_state_set(void *ud, struct og_channel *ch, const char *key, const char *val)
{
    return og_core_state_set(ud, ch->id, key, val);
}

struct og_channel_sink og_core_sink(struct og_core *c)
{
    struct og_channel_sink s = {sink_message,   og_outbox_status, sink_state_get, sink_state_set, c,
                                &og_webchat_ops};
    return s;
}

og_err og_core_state_get(struct og_core *c, const char *channel, const char *key, char **val)
{
    redisReply *r;
    *val = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "HGET " OG_KEY_STATE " %s", c->tag, channel, key);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_STRING)
        *val = og_strndup(r->str, r->len);
    e = r->type == REDIS_REPLY_ERROR ? OG_ERR_INTERNAL : OG_OK;
    freeReplyObject(r);
    return e;
}

og_err og_core_state_set(struct og_core *c, const char *channel, const char *key, const char *val)
{
    redisReply *r;
    og_err e = og_redis_cmd(c->redis, &r, "HSET " OG_KEY_STATE " %s %s", c->tag, channel, key,
                            val ? val : "");
    if (e != OG_OK)
        return e;
    e = r->type == REDIS_REPLY_ERROR ? OG_ERR_INTERNAL : OG_OK;
    freeReplyObject(r);
    return e;
}
