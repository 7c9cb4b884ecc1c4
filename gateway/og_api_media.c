/* og_api_media - the files of attachments:
 *
 *   GET /api/v1/messages/{id}/attachments/{n}
 *        the n-th attachment's file. Whoever may see the message's session
 *        (a bearer token, or the inbox's cookie), or anyone with the signed
 *        link the message carries as the attachment's url (?exp=&sig=,
 *        og_media.h; webhook consumers get it in the events). The first
 *        read fetches the file from the platform through the connector's
 *        fetch_media (ABI 1.3; 501 "unsupported" without one) and keeps it in
 *        the media store; later reads are served from there. An agent's
 *        outbound attachment is its upload, or its URL downloaded under the
 *        channel's fetch policy.
 *
 * The answer: Content-Type from the bytes (og_media_type: magic numbers,
 * never the platform's or the URL's word), Content-Length, Content-
 * Disposition attachment with the file's name (RFC 6266 filename*),
 * X-Content-Type-Options: nosniff and a sandboxing CSP, so a file is never
 * run as a page of ours. A platform that fails answers 502
 * "media_unavailable" naming why (a refused address among them). */
#include "og_api.h"
#include "og_attachments.h"
#include "og_channel.h"
#include "og_http_client.h"
#include "og_log.h"
#include "og_media.h"
#include "og_upload.h"
#include "og_util.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* How long one download from a platform may take. */
#define MEDIA_TIMEOUT_MS 60000

static struct og_channel *channel_named(struct og_gateway *g, const char *id)
{
    for (size_t i = 0; id && i < g->n_channels; i++)
        if (strcmp(g->channels[i]->id, id) == 0)
            return g->channels[i];
    return NULL;
}

/* Streams the stored file key. 1 when answered, 0 when the store lacks it. */
static int serve_stored(struct og_api_ctx *ctx, const char *key)
{
    int fd = -1;
    off_t off = 0;
    struct og_media_meta m;
    og_err e = og_media_open_file(ctx->g->media, key, &fd, &off, &m);
    if (e != OG_OK)
        return 0;
    struct MHD_Response *resp =
        MHD_create_response_from_fd_at_offset64((uint64_t)m.size, fd, (uint64_t)off);
    if (!resp) {
        close(fd);
        og_reply_err(ctx->r, OG_ERR_INTERNAL, NULL);
        return 1;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, m.mime);
    char *cd = og_media_disposition(m.name);
    og_reply_header(ctx->r, "Content-Disposition", cd);
    free(cd);
    og_reply_header(ctx->r, "X-Content-Type-Options", "nosniff");
    og_reply_header(ctx->r, "Content-Security-Policy", "default-src 'none'; sandbox");
    og_reply_header(ctx->r, "Cache-Control", "private, max-age=3600");
    ctx->r->status = 200;
    ctx->r->stream = resp;
    return 1;
}

/* A refusal or failure of the platform's side, as the API names it. */
static void fetch_failed(struct og_api_ctx *ctx, og_err e, const char *why)
{
    char *msg = og_sprintf("the file could not be fetched: %s", why && *why ? why : og_strerror(e));
    if (e == OG_ERR_NOT_FOUND)
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, msg);
    else if (e == OG_ERR_TOO_LARGE)
        og_reply_err(ctx->r, OG_ERR_TOO_LARGE, msg);
    else if (e == OG_ERR_UNAVAILABLE)
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, NULL);
    else
        og_reply_code(ctx->r, "media_unavailable", msg);
    free(msg);
}

/* Gets the file of a from its channel into the store under key. OG_OK, or
 * an error after answering. */
static og_err fetch_into_store(struct og_api_ctx *ctx, const struct og_msg_attachment *a, size_t n,
                               const char *key)
{
    struct og_channel *ch = channel_named(ctx->g, a->channel);
    if (!ch) {
        og_reply_code(ctx->r, "media_unavailable",
                      "the message's channel is no longer configured here");
        return OG_ERR_NOT_FOUND;
    }
    struct og_http_result hr = {0};
    struct og_media_res res;
    memset(&res, 0, sizeof res);
    og_err e;
    char why[160] = "";
    const char *data = NULL;
    size_t len = 0;
    const char *declared = a->mime_type;
    const char *name = a->name;
    if (strcmp(a->direction, "out") == 0) {
        /* an agent's attachment: its URL (checked when it was accepted, and
         * again now, at connect time) */
        if (!a->source_url) {
            og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "the attachment has no file");
            return OG_ERR_NOT_FOUND;
        }
        e = og_channel_media_download(ch, a->source_url, NULL, 0, MEDIA_TIMEOUT_MS, &hr);
        snprintf(why, sizeof why, "%s", hr.errbuf);
    } else {
        struct og_media_req req = {.struct_size = sizeof req,
                                   .media_id = a->media_id,
                                   .url = a->source_url,
                                   .mime_type = a->mime_type,
                                   .name = a->name,
                                   .provider_message_id = a->provider_message_id,
                                   .thread_id = a->thread_id,
                                   .index = n,
                                   .raw = a->raw,
                                   .raw_len = a->raw_len};
        e = og_channel_fetch_media(ch, &req, &res);
        if (e == OG_ERR_UNSUPPORTED) {
            char *msg = og_sprintf("connector %s cannot fetch files from its platform "
                                   "(no fetch_media)",
                                   ch->plugin->desc->name);
            og_reply_err(ctx->r, OG_ERR_UNSUPPORTED, msg);
            free(msg);
            return e;
        }
        snprintf(why, sizeof why, "%s", res.error);
        if (e == OG_OK && !res.data && res.url) {
            e = og_channel_media_download(ch, res.url, res.header, 0, MEDIA_TIMEOUT_MS, &hr);
            snprintf(why, sizeof why, "%s", hr.errbuf);
        } else if (e == OG_OK && !res.data) {
            e = OG_ERR_INTERNAL;
            snprintf(why, sizeof why, "the connector gave neither the bytes nor a URL");
        }
        if (res.mime_type)
            declared = res.mime_type;
        if (res.name && *res.name)
            name = res.name;
    }
    if (e == OG_OK) {
        data = res.data ? res.data : hr.body;
        len = res.data ? res.len : hr.body_len;
        struct og_media_meta m = {0};
        snprintf(m.mime, sizeof m.mime, "%s", og_media_type(data, len, declared));
        og_media_clean_name(name, m.name, sizeof m.name);
        if (!m.name[0]) /* a platform that names no file (a photo, a voice note) */
            snprintf(m.name, sizeof m.name, "%s.%s",
                     !strncmp(m.mime, "image/", 6)   ? "image"
                     : !strncmp(m.mime, "audio/", 6) ? "audio"
                     : !strncmp(m.mime, "video/", 6) ? "video"
                                                     : "file",
                     og_media_ext(m.mime));
        e = og_media_put(ctx->g->media, key, &m, data, len);
        if (e == OG_ERR_TOO_LARGE)
            snprintf(why, sizeof why, "the file is larger than media.max_file_bytes");
    }
    if (e != OG_OK) {
        og_log_write(OG_LOG_INFO, ch->scope, "attachment %s not fetched: %s", key,
                     why[0] ? why : og_strerror(e));
        fetch_failed(ctx, e, why);
    }
    og_media_res_free(&res);
    og_http_result_free(&hr);
    return e;
}

/* One fetch per file at a time in this process: a second request for a
 * file being fetched (the inbox and a webhook consumer opening a new photo
 * at once) waits for it (up to MEDIA_TIMEOUT_MS) and is served from the
 * store, so the platform is asked once. */
#define FLIGHT_MAX 64
static pthread_mutex_t flight_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_cv = PTHREAD_COND_INITIALIZER;
static char flight[FLIGHT_MAX][OG_MEDIA_KEY_MAX + 160];

/* 1: this request fetches key (call fetch_end after); 0: another one was
 * fetching it and has finished (or the wait timed out). */
static int fetch_begin(const char *key)
{
    pthread_mutex_lock(&flight_mu);
    int waited = 0;
    struct timespec until = og_deadline(CLOCK_REALTIME, MEDIA_TIMEOUT_MS);
    for (;;) {
        int busy = 0, free_slot = -1;
        for (int i = 0; i < FLIGHT_MAX; i++) {
            if (!strcmp(flight[i], key))
                busy = 1;
            else if (!flight[i][0] && free_slot < 0)
                free_slot = i;
        }
        if (!busy) {
            if (waited) {
                pthread_mutex_unlock(&flight_mu);
                return 0;
            }
            if (free_slot >= 0)
                snprintf(flight[free_slot], sizeof flight[free_slot], "%s", key);
            pthread_mutex_unlock(&flight_mu);
            return 1; /* (with every slot taken it fetches untracked) */
        }
        waited = 1;
        if (pthread_cond_timedwait(&flight_cv, &flight_mu, &until) != 0) {
            pthread_mutex_unlock(&flight_mu);
            return 0;
        }
    }
}

static void fetch_end(const char *key)
{
    pthread_mutex_lock(&flight_mu);
    for (int i = 0; i < FLIGHT_MAX; i++)
        if (!strcmp(flight[i], key))
            flight[i][0] = 0;
    pthread_cond_broadcast(&flight_cv);
    pthread_mutex_unlock(&flight_mu);
}

/* The path a link to attachment n of mid signs. */
static void link_path(const char *mid, const char *n, char *out, size_t outsz)
{
    snprintf(out, outsz, "/api/v1/messages/%s/attachments/%s", mid, n);
}

static int has_credentials(struct og_api_ctx *ctx)
{
    return MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "Authorization") ||
           MHD_lookup_connection_value(ctx->conn, MHD_COOKIE_KIND, OG_AUTH_COOKIE);
}

static void get_attachment(struct og_api_ctx *ctx)
{
    const char *mid = ctx->params[0], *ns = ctx->params[1];
    size_t n = 0;
    int ok_n = *ns && strlen(ns) <= 2 && strspn(ns, "0123456789") == strlen(ns);
    if (ok_n)
        n = (size_t)atoi(ns);
    struct og_principal who;
    memset(&who, 0, sizeof who);
    struct og_viewer v, *vp = NULL;
    const char *sig = og_api_arg(ctx, "sig");
    if (sig && !has_credentials(ctx)) {
        /* a signed link: the signature is the permission */
        char path[200];
        link_path(mid, ns, path, sizeof path);
        int expired = 0;
        if (og_media_link_check(ctx->g->media_key, path, og_api_arg(ctx, "exp"), sig,
                                og_now_ms() / 1000, &expired) != OG_OK) {
            if (expired)
                og_reply_code(ctx->r, "link_expired",
                              "the link's time has passed: ask the API for the message again, "
                              "or send a token");
            else
                og_reply_code(ctx->r, "link_invalid", "the link's signature is wrong");
            return;
        }
    } else {
        if (og_api_authenticate(ctx, &who) != 0)
            return;
        v = og_principal_viewer(&who);
        vp = &v;
    }
    struct og_msg_attachment a;
    og_err e = ok_n ? og_message_attachment(ctx->g->core, vp, mid, n, &a) : OG_ERR_NOT_FOUND;
    og_principal_free(&who);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such attachment" : NULL);
        return;
    }
    char key[OG_MEDIA_KEY_MAX + 160];
    if (a.upload_id && og_media_key_valid(a.upload_id))
        snprintf(key, sizeof key, "%s", a.upload_id);
    else
        snprintf(key, sizeof key, "%s.%zu", mid, n);
    if (!serve_stored(ctx, key)) {
        if (a.upload_id) {
            og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "the uploaded file is no longer kept");
        } else if (fetch_begin(key)) {
            if (fetch_into_store(ctx, &a, n, key) == OG_OK && !serve_stored(ctx, key))
                og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, "the media store lost the file");
            fetch_end(key);
        } else if (!serve_stored(ctx, key)) {
            /* the fetch this request waited for failed: its own try */
            if (fetch_into_store(ctx, &a, n, key) == OG_OK && !serve_stored(ctx, key))
                og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, "the media store lost the file");
        }
    }
    og_msg_attachment_free(&a);
}

/* ------------------------------------------------------------- uploads */

/* The upload as the API shows it. [xfer] */
static char *upload_json(const char *id, const struct og_media_meta *m)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"id\":");
    og_buf_json_str(&b, id);
    og_buf_puts(&b, ",\"mime_type\":");
    og_buf_json_str(&b, m->mime);
    og_buf_printf(&b, ",\"size\":%lld,\"name\":", (long long)m->size);
    og_buf_json_str(&b, m->name[0] ? m->name : "file");
    og_buf_puts(&b, "}");
    return b.data;
}

static void post_upload(struct og_api_ctx *ctx)
{
    struct og_upload_form f;
    memset(&f, 0, sizeof f);
    f.cap = (size_t)og_media_max_file_bytes(ctx->g->media);
    char why[160];
    og_err pe = og_upload_form_parse(ctx->conn, ctx->body, ctx->len, &f, why, sizeof why);
    if (pe != OG_OK) {
        if (pe == OG_ERR_UNSUPPORTED)
            og_reply_code(ctx->r, "unsupported_media_type", why);
        else
            og_reply_err(ctx->r, pe, why);
        og_upload_form_free(&f);
        return;
    }
    struct og_media_meta m = {0};
    /* the type is the bytes', never the client's word for it */
    snprintf(m.mime, sizeof m.mime, "%s", og_media_type(f.file.data, f.file.len, f.type));
    og_media_clean_name(f.name, m.name, sizeof m.name);
    m.size = (int64_t)f.file.len;
    if (f.channel[0]) {
        struct og_channel *ch = channel_named(ctx->g, f.channel);
        og_err e = ch ? og_media_limit_check(ch->plugin->desc->upload_limits, m.mime, m.size, why,
                                             sizeof why)
                      : OG_ERR_NOT_FOUND;
        if (e != OG_OK) {
            if (e == OG_ERR_NOT_FOUND)
                og_reply_err(ctx->r, e, "no such channel");
            else if (e == OG_ERR_TOO_LARGE)
                og_reply_err(ctx->r, e, why);
            else
                og_reply_code(ctx->r, "unsupported_media_type", why);
            og_upload_form_free(&f);
            return;
        }
    }
    char id[48];
    og_id_new("upl_", og_now_ms(), id, sizeof id);
    og_err e = og_media_put(ctx->g->media, id, &m, f.file.data, f.file.len);
    og_upload_form_free(&f);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_TOO_LARGE ? "the file is too large" : NULL);
        return;
    }
    og_reply_json(ctx->r, 201, upload_json(id, &m));
}

/* An upload's bytes: for an agent, or for a platform fetching the signed
 * link a reply sent it (og_media_link of /api/v1/uploads/{id}). */
static void get_upload(struct og_api_ctx *ctx)
{
    const char *id = ctx->params[0];
    const char *sig = og_api_arg(ctx, "sig");
    if (sig && !has_credentials(ctx)) {
        char path[200];
        snprintf(path, sizeof path, "%s%s", OG_MEDIA_UPLOAD_PATH, id);
        int expired = 0;
        if (og_media_link_check(ctx->g->media_key, path, og_api_arg(ctx, "exp"), sig,
                                og_now_ms() / 1000, &expired) != OG_OK) {
            og_reply_code(ctx->r, expired ? "link_expired" : "link_invalid",
                          expired ? "the link's time has passed" : "the link's signature is wrong");
            return;
        }
    } else {
        struct og_principal who;
        if (og_api_authenticate(ctx, &who) != 0)
            return;
        og_principal_free(&who);
    }
    if (!og_id_valid(id, "upl_") || !serve_stored(ctx, id))
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such upload");
}

const struct og_route og_api_media_public_routes[] = {
    {"GET", "/messages/:id/attachments/:n", OG_ROLE_AGENT, get_attachment},
    {"GET", "/uploads/:id", OG_ROLE_AGENT, get_upload},
    {NULL, NULL, 0, NULL},
};

const struct og_route og_api_media_routes[] = {
    {"POST", "/uploads", OG_ROLE_AGENT, post_upload},
    {NULL, NULL, 0, NULL},
};
