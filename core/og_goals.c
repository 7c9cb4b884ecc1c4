/* og_goals - see og_goals.h. The measuring itself happens inside the
 * scripts that see the moments it depends on (the prelude's goal_*: an
 * agent's reply in outbox_reply.lua, a close with success codes and the
 * window timer in routing.lua, a reopen in ingest.lua and routing.lua);
 * this file checks and forwards the API's requests (core/lua/goals.lua). */
#include "og_goals.h"
#include "og_core_int.h"
#include "og_util.h"

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int og_goal_event_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

int og_goal_days_valid(int64_t d)
{
    return d == 1 || d == 3 || d == 7 || d == 15 || d == 30;
}

char *og_goals_sync_json(const struct og_goal_seed *seeds, size_t n)
{
    json_object *all = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        if (!seeds[i].channel)
            continue;
        json_object *g = json_object_new_boolean(0);
        if (seeds[i].event) {
            json_object_put(g);
            g = json_object_new_object();
            json_object_object_add(g, "event", json_object_new_string(seeds[i].event));
            json_object_object_add(g, "days", json_object_new_int(seeds[i].window_days));
        }
        json_object_object_add(all, seeds[i].channel, g);
    }
    char *s = og_strdup(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN));
    json_object_put(all);
    return s;
}

void og_goals_sync(struct og_core *c)
{
    if (atomic_load(&c->goals_synced) || !c->goals_sync_json)
        return;
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *argv[] = {c->tag, "sync", c->goals_sync_json, now_iso};
    redisReply *r = NULL;
    if (og_script_call(c, OG_LUA_GOALS, 4, argv, NULL, &r, NULL, 0) == OG_OK) {
        freeReplyObject(r);
        atomic_store(&c->goals_synced, 1);
    }
}

/* Who acts, as the timeline takes it: an agent's id or "admin". */
static const char *actor(const struct og_viewer *v)
{
    return v->agent_id && *v->agent_id ? v->agent_id : "admin";
}

og_err og_goal_get(struct og_core *c, const char *channel, char **json)
{
    *json = NULL;
    const char *argv[] = {c->tag, "get", channel};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_GOALS, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements < 5) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    const char *event = r->element[1]->str, *days = r->element[2]->str;
    const char *src = r->element[3]->str, *at = r->element[4]->str;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"channel\":");
    og_buf_json_str(&b, channel);
    if (*event) {
        og_buf_puts(&b, ",\"goal\":{\"event\":");
        og_buf_json_str(&b, event);
        og_buf_printf(&b, ",\"window_days\":%d},\"source\":", atoi(days));
        og_buf_json_str(&b, src);
        og_buf_puts(&b, ",\"updated_at\":");
        og_buf_json_str(&b, *at ? at : NULL);
        og_buf_puts(&b, "}");
    } else {
        og_buf_puts(&b, ",\"goal\":null,\"source\":null,\"updated_at\":null}");
    }
    freeReplyObject(r);
    *json = b.data;
    return OG_OK;
}

og_err og_goal_put(struct og_core *c, const struct og_viewer *v, const char *channel,
                   const char *event, int64_t window_days, char **json, char *msg, size_t msglen)
{
    *json = NULL;
    if (event && !og_goal_event_valid(event)) {
        snprintf(msg, msglen, "event: must be 1-64 of A-Z a-z 0-9 _ - .");
        return OG_ERR_INVALID;
    }
    if (event && !og_goal_days_valid(window_days)) {
        snprintf(msg, msglen, "window_days: must be 1, 3, 7, 15 or 30");
        return OG_ERR_INVALID;
    }
    char now_iso[32], days[24];
    og_time_rfc3339(og_now_ms(), now_iso);
    snprintf(days, sizeof days, "%lld", (long long)window_days);
    const char *argv[] = {c->tag, "put", channel, event ? event : "", days, now_iso, actor(v)};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_GOALS, 7, argv, NULL, &r, msg, msglen);
    if (e != OG_OK)
        return e;
    freeReplyObject(r);
    return og_goal_get(c, channel, json);
}

og_err og_contact_event(struct og_core *c, const struct og_viewer *v, const char *contact_id,
                        const char *name, char **json)
{
    *json = NULL;
    if (!og_id_valid(contact_id, "con_"))
        return OG_ERR_NOT_FOUND;
    if (!og_goal_event_valid(name))
        return OG_ERR_INVALID;
    int64_t now = og_now_ms();
    char now_s[24], now_iso[32], seed[48];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, seed, sizeof seed);
    const char *argv[] = {c->tag, "event", contact_id, name, now_s, now_iso, seed, actor(v)};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_GOALS, 8, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    struct og_buf b = {0};
    og_buf_printf(&b, "{\"contact_id\":\"%s\",\"name\":\"%s\",\"at\":\"%s\",\"achieved\":[",
                  contact_id, name, now_iso);
    for (size_t i = 1; i < r->elements; i++)
        og_buf_printf(&b, "%s\"%.*s\"", i > 1 ? "," : "", (int)r->element[i]->len,
                      r->element[i]->str);
    og_buf_puts(&b, "]}");
    freeReplyObject(r);
    *json = b.data;
    return OG_OK;
}
