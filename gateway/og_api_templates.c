/* og_api_templates - a channel's platform message templates (WhatsApp):
 *
 *   GET /api/v1/channels/{id}/templates[?refresh=true]
 *        -> 200 {"items":[{"name","language","category","status",
 *           "parameter_format","components":[...]}],"next_cursor":null,
 *           "fetched_at"}: the approved templates, every page of them, as
 *           the connector's templates() callback (ABI 1.3) lists them. 501
 *           unsupported on a channel without templates, 502 platform_error
 *           when the platform refused or failed the listing.
 *
 * The list is cached in this process's memory per channel for
 * OG_TEMPLATES_TTL_MS (refresh=true fetches it anew): the platform's
 * listing is slow and rate limited, and templates change rarely (a new one
 * needs Meta's approval first). Several instances each keep their own copy.
 *
 * og_api_template_resolve() is what a reply or a new conversation with a
 * "template" goes through (og_api_messages.c): the template must be in the
 * list (its name and language), and its text is rendered for the history
 * with the request's parameters. */
#include "og_api_templates.h"
#include "og_api.h"
#include "og_err.h"
#include "og_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cached {
    char *channel;    /* owned */
    json_object *arr; /* owned: the array */
    int64_t at_ms;    /* when fetched (wall clock) */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache; /* owned array */
static size_t n_cache;

/* The entry of channel id, or NULL; under mu. */
static struct cached *entry_of(const char *id)
{
    for (size_t i = 0; i < n_cache; i++)
        if (strcmp(cache[i].channel, id) == 0)
            return &cache[i];
    return NULL;
}

og_err og_api_templates_get(struct og_channel *ch, int refresh, json_object **arr, int64_t *at_ms,
                            char *why, size_t whylen)
{
    *arr = NULL;
    why[0] = 0;
    if (!ch->plugin->desc->templates) {
        snprintf(why, whylen, "channel %s has no message templates", ch->id);
        return OG_ERR_UNSUPPORTED;
    }
    int64_t now = og_now_ms();
    pthread_mutex_lock(&mu);
    struct cached *c = entry_of(ch->id);
    if (c && !refresh && now - c->at_ms < OG_TEMPLATES_TTL_MS) {
        *arr = json_object_get(c->arr);
        *at_ms = c->at_ms;
    }
    pthread_mutex_unlock(&mu);
    if (*arr)
        return OG_OK;
    /* Fetched outside the lock: a slow platform holds no other channel. Two
     * requests at once may both fetch; the later copy stays. */
    char *text = NULL, err[256] = "";
    og_err e = ch->plugin->desc->templates(ch->inst, &text, err, sizeof err);
    json_object *j = e == OG_OK && text ? json_tokener_parse(text) : NULL;
    free(text);
    if (e != OG_OK || !json_object_is_type(j, json_type_array)) {
        json_object_put(j);
        snprintf(why, whylen, "listing the templates of channel %s failed: %s", ch->id,
                 err[0] ? err : og_strerror(e == OG_OK ? OG_ERR_INTERNAL : e));
        return e == OG_OK ? OG_ERR_INTERNAL : e;
    }
    pthread_mutex_lock(&mu);
    c = entry_of(ch->id);
    if (!c) {
        cache = og_realloc(cache, (n_cache + 1) * sizeof *cache);
        c = &cache[n_cache++];
        c->channel = og_strdup(ch->id);
        c->arr = NULL;
    }
    json_object_put(c->arr);
    c->arr = j;
    c->at_ms = now;
    *arr = json_object_get(j);
    *at_ms = now;
    pthread_mutex_unlock(&mu);
    return OG_OK;
}

static struct og_channel *channel_named(struct og_gateway *g, const char *id)
{
    for (size_t i = 0; i < g->n_channels; i++)
        if (strcmp(g->channels[i]->id, id) == 0)
            return g->channels[i];
    return NULL;
}

/* A platform's failure (listing) as the API answers it: its own rate limit
 * and our storage keep their codes; the rest is the platform's refusal. */
static void platform_failed(struct og_api_ctx *ctx, og_err e, const char *why)
{
    if (e == OG_ERR_UNSUPPORTED || e == OG_ERR_RATE_LIMITED || e == OG_ERR_UNAVAILABLE)
        og_reply_err(ctx->r, e, why);
    else
        og_reply_code(ctx->r, "platform_error", why);
}

static void list_templates(struct og_api_ctx *ctx)
{
    struct og_channel *ch = channel_named(ctx->g, ctx->params[0]);
    if (!ch) {
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such channel");
        return;
    }
    const char *rf = og_api_arg(ctx, "refresh");
    if (rf && strcmp(rf, "true") != 0 && strcmp(rf, "false") != 0) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "refresh must be true or false");
        return;
    }
    json_object *arr = NULL;
    int64_t at = 0;
    char why[384];
    og_err e = og_api_templates_get(ch, rf && strcmp(rf, "true") == 0, &arr, &at, why, sizeof why);
    if (e != OG_OK) {
        platform_failed(ctx, e, why);
        return;
    }
    char iso[32];
    og_time_rfc3339(at, iso);
    char *json = og_sprintf("{\"items\":%s,\"next_cursor\":null,\"fetched_at\":\"%s\"}",
                            json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN), iso);
    json_object_put(arr);
    og_reply_json(ctx->r, 200, json);
}

/* ------------------------------------------------------------- resolving */

static const char *str_of(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The component of type want (case-insensitive) in an array, or NULL. */
static json_object *component(json_object *comps, const char *want)
{
    size_t n = json_object_is_type(comps, json_type_array) ? json_object_array_length(comps) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(comps, i);
        const char *t = str_of(c, "type");
        if (t && strcasecmp(t, want) == 0)
            return c;
    }
    return NULL;
}

/* A parameter's text as the customer sees it: text, a currency's or a
 * date's fallback_value; NULL for media (an image header shows no text). */
static const char *param_text(json_object *p)
{
    const char *t = str_of(p, "text");
    if (t)
        return t;
    json_object *v;
    if (json_object_object_get_ex(p, "currency", &v) ||
        json_object_object_get_ex(p, "date_time", &v))
        return str_of(v, "fallback_value");
    return NULL;
}

/* Renders one template text ("Hi {{1}}", or "Hi {{first_name}}" for
 * named parameters) with the request's parameters of that component.
 * [xfer] the text, or NULL with why set (a placeholder without a value). */
static char *render(const char *tpl, json_object *params, const char *what, char *why,
                    size_t whylen)
{
    size_t np = json_object_is_type(params, json_type_array) ? json_object_array_length(params) : 0;
    struct og_buf b = {0};
    og_buf_puts(&b, "");
    for (const char *p = tpl; *p;) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!open || !close) {
            og_buf_puts(&b, p);
            break;
        }
        og_buf_append(&b, p, (size_t)(open - p));
        char name[128];
        size_t nl = (size_t)(close - open - 2);
        snprintf(name, sizeof name, "%.*s", (int)(nl < sizeof name ? nl : sizeof name - 1),
                 open + 2);
        const char *val = NULL;
        if (name[0] && strspn(name, "0123456789") == strlen(name)) {
            size_t idx = (size_t)atoi(name);
            if (idx >= 1 && idx <= np)
                val = param_text(json_object_array_get_idx(params, idx - 1));
        } else {
            for (size_t i = 0; i < np && !val; i++) {
                json_object *pi = json_object_array_get_idx(params, i);
                const char *pn = str_of(pi, "parameter_name");
                if (pn && strcmp(pn, name) == 0)
                    val = param_text(pi);
            }
        }
        if (!val) {
            snprintf(why, whylen, "template %s parameter {{%s}} has no text value", what, name);
            og_buf_free(&b);
            return NULL;
        }
        og_buf_puts(&b, val);
        p = close + 2;
    }
    return b.data;
}

og_err og_api_template_render(json_object *tpl, json_object *comps, char **text, char *why,
                              size_t whylen)
{
    *text = NULL;
    why[0] = 0;
    og_err e = OG_OK;
    json_object *tcomps = json_object_object_get(tpl, "components");
    struct og_buf out = {0};
    og_buf_puts(&out, "");
    static const char *const parts[] = {"HEADER", "BODY", "FOOTER"};
    for (size_t k = 0; k < 3 && e == OG_OK; k++) {
        json_object *tc = component(tcomps, parts[k]);
        const char *fmt = tc ? str_of(tc, "format") : NULL;
        const char *t = tc ? str_of(tc, "text") : NULL;
        if (!t || (fmt && strcasecmp(fmt, "TEXT") != 0))
            continue;
        json_object *rc = component(comps, parts[k]);
        char what[16];
        snprintf(what, sizeof what, "%s", k == 0 ? "header" : k == 1 ? "body" : "footer");
        char *r =
            render(t, rc ? json_object_object_get(rc, "parameters") : NULL, what, why, whylen);
        if (!r) {
            e = OG_ERR_INVALID;
            break;
        }
        if (out.len)
            og_buf_puts(&out, "\n");
        og_buf_puts(&out, r);
        free(r);
    }
    if (e != OG_OK) {
        og_buf_free(&out);
        return e;
    }
    *text = out.data;
    return OG_OK;
}

og_err og_api_template_resolve(struct og_channel *ch, json_object *req, char **norm, char **text,
                               char *why, size_t whylen)
{
    *norm = *text = NULL;
    why[0] = 0;
    if (!json_object_is_type(req, json_type_object)) {
        snprintf(why, whylen, "template must be an object {\"name\",\"language\",\"components\"}");
        return OG_ERR_INVALID;
    }
    json_object_object_foreach(req, key, val)
    {
        (void)val;
        if (strcmp(key, "name") && strcmp(key, "language") && strcmp(key, "components")) {
            snprintf(why, whylen, "template: unknown key \"%.64s\"", key);
            return OG_ERR_INVALID;
        }
    }
    const char *name = str_of(req, "name");
    json_object *lang = json_object_object_get(req, "language");
    const char *code = json_object_is_type(lang, json_type_string) ? json_object_get_string(lang)
                                                                   : str_of(lang, "code");
    json_object *comps = json_object_object_get(req, "components");
    if (!name || !*name || strlen(name) > 512) {
        snprintf(why, whylen, "template.name must be a string of 1 to 512 characters");
        return OG_ERR_INVALID;
    }
    if (!code || !*code || strlen(code) > 16) {
        snprintf(why, whylen,
                 "template.language must be a language code (\"en_US\") or {\"code\":...}");
        return OG_ERR_INVALID;
    }
    if (comps && !json_object_is_type(comps, json_type_array)) {
        snprintf(why, whylen, "template.components must be an array");
        return OG_ERR_INVALID;
    }
    json_object *list = NULL;
    int64_t at;
    og_err e = og_api_templates_get(ch, 0, &list, &at, why, whylen);
    if (e != OG_OK)
        return e;
    json_object *found = NULL;
    for (size_t i = 0; i < json_object_array_length(list) && !found; i++) {
        json_object *t = json_object_array_get_idx(list, i);
        const char *tn = str_of(t, "name"), *tl = str_of(t, "language");
        if (tn && tl && strcmp(tn, name) == 0 && strcmp(tl, code) == 0)
            found = t;
    }
    if (!found) {
        snprintf(why, whylen,
                 "template \"%.128s\" in language %s is not an approved template of channel %s "
                 "(GET /api/v1/channels/%s/templates lists them)",
                 name, code, ch->id, ch->id);
        json_object_put(list);
        return OG_ERR_INVALID;
    }
    char *rendered = NULL;
    e = og_api_template_render(found, comps, &rendered, why, whylen);
    json_object_put(list);
    if (e != OG_OK)
        return e;
    /* What the platform gets: its own shape, the language as an object. */
    json_object *n = json_object_new_object();
    json_object_object_add(n, "name", json_object_new_string(name));
    json_object *lo = json_object_new_object();
    json_object_object_add(lo, "code", json_object_new_string(code));
    json_object_object_add(n, "language", lo);
    if (comps)
        json_object_object_add(n, "components", json_object_get(comps));
    *norm = og_strdup(json_object_to_json_string_ext(n, JSON_C_TO_STRING_PLAIN));
    json_object_put(n);
    *text = rendered;
    return OG_OK;
}

const struct og_route og_api_template_routes[] = {
    {"GET", "/channels/:id/templates", OG_ROLE_AGENT, list_templates},
    {NULL, NULL, 0, NULL},
};
