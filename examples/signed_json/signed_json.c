/* signed_json - an example omnigate connector: a generic signed-JSON channel.
 *
 * This is the connector to copy when you write your own. It is one file, it
 * includes nothing but <omnigate/connector.h> and the C library, and it
 * reaches everything else (JSON, HMAC, HTTP, logging, storage) through the
 * services table the host hands to create().
 *
 * Platform API implemented: the "signed-json v1" wire format of README.md.
 *
 *   inbound   POST /hooks/{channel} with a JSON body (one message, or
 *             {"messages":[...]}) and the header
 *             <signature_header>: sha256=<lowercase hex HMAC-SHA256(secret, body)>
 *   outbound  POST reply_url with a JSON body signed the same way.
 *
 * Layout, top to bottom: configuration, inbound parsing (the pure function
 * signed_json_parse(), which is what the fuzz target drives), inbound HTTP
 * (signature, method, answer), outbound send() and its error mapping, and
 * the descriptor with the entry symbol at the very bottom.
 *
 * Thread safety: an instance is immutable after create(), and every function
 * below keeps its state on the stack, so the host may call handle_http() and
 * send() on one instance from several threads at once. */
#include <omnigate/connector.h>

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ configuration */

/* The block the host fills from channels[i].options (see the option table
 * below). Strings are [host], valid until destroy(). */
struct signed_json_conf {
    char *secret;           /* HMAC-SHA256 key, both directions */
    char *reply_url;        /* where send() POSTs */
    char *signature_header; /* "X-Signature" unless configured */
};

static const struct og_option signed_json_options[] = {
    {"secret", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct signed_json_conf, secret),
     "HMAC-SHA256 key that signs requests in both directions", NULL},
    {"reply_url", OG_OPT_URL, NULL, OG_OPT_REQUIRED, offsetof(struct signed_json_conf, reply_url),
     "URL that replies are POSTed to", NULL},
    {"signature_header", OG_OPT_STR, "X-Signature", 0,
     offsetof(struct signed_json_conf, signature_header),
     "HTTP header carrying \"sha256=<hex HMAC>\"", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* One channel. Owned by the plugin, freed by destroy(). */
struct signed_json {
    const struct og_services *svc;       /* [host] until destroy() */
    void *host;                          /* [host] until destroy(); first argument of svc calls */
    const struct signed_json_conf *conf; /* [host] until destroy() */
    size_t secret_len;
};

/* The prefix of the signature header's value, and the size of the whole
 * value: "sha256=" + 64 hex digits + NUL. */
#define SJ_SIG_PREFIX "sha256="
#define SJ_SIG_SIZE (sizeof SJ_SIG_PREFIX - 1 + 64 + 1)

/* Writes "sha256=<lowercase hex HMAC-SHA256(secret, body)>" into out. */
static void sj_sign(const struct og_services *svc, const char *secret, size_t secret_len,
                    const char *body, size_t len, char out[SJ_SIG_SIZE])
{
    unsigned char mac[32];
    svc->hmac_sha256(secret, secret_len, body, len, mac);
    memcpy(out, SJ_SIG_PREFIX, sizeof SJ_SIG_PREFIX - 1);
    svc->hex_encode(mac, sizeof mac, out + sizeof SJ_SIG_PREFIX - 1,
                    SJ_SIG_SIZE - (sizeof SJ_SIG_PREFIX - 1));
}

/* An HTTP header name is an RFC 9110 token. Checking it at create() also
 * keeps a stray ':' or CR/LF in the configuration out of outbound requests. */
static int sj_is_token(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------- inbound: parsing */

/* One message of the body, read but not yet emitted. Every pointer is
 * [borrowed] from the parsed JSON document, except atts, which is ours. */
struct sj_item {
    struct og_inbound in;
    struct og_attachment *atts; /* svc->alloc'd, or NULL */
    struct og_location loc;
};

/* Reads an optional string member: absent or null leaves *out NULL and
 * succeeds; any other non-string value fails. */
static int sj_opt_str(const struct og_json_api *js, const struct og_json *obj, const char *key,
                      const char **out)
{
    struct og_json *v = js->get(obj, key);
    *out = NULL;
    if (!v || js->type(v) == OG_JSON_NULL)
        return 0;
    if (js->type(v) != OG_JSON_STRING)
        return -1;
    *out = js->str(v);
    return 0;
}

/* Reads a required string member: present, a string, not empty. */
static int sj_req_str(const struct og_json_api *js, const struct og_json *obj, const char *key,
                      const char **out)
{
    if (sj_opt_str(js, obj, key, out) != 0 || !*out || !**out)
        return -1;
    return 0;
}

/* Reads an optional member that must be of the given type when present and
 * not null. Returns the value or NULL; sets *bad on a wrong type. */
static struct og_json *sj_opt_typed(const struct og_json_api *js, const struct og_json *obj,
                                    const char *key, enum og_json_type type, int *bad)
{
    struct og_json *v = js->get(obj, key);
    if (!v || js->type(v) == OG_JSON_NULL)
        return NULL;
    if (js->type(v) != type) {
        *bad = 1;
        return NULL;
    }
    return v;
}

static int sj_is_number(const struct og_json_api *js, const struct og_json *v)
{
    enum og_json_type t = js->type(v);
    return t == OG_JSON_INT || t == OG_JSON_DOUBLE;
}

static enum og_kind sj_kind_of_mime(const char *mime)
{
    if (!mime)
        return OG_KIND_FILE;
    if (strncmp(mime, "image/", 6) == 0)
        return OG_KIND_IMAGE;
    if (strncmp(mime, "video/", 6) == 0)
        return OG_KIND_VIDEO;
    if (strncmp(mime, "audio/", 6) == 0)
        return OG_KIND_AUDIO;
    return OG_KIND_FILE;
}

/* Reads one message object into it. raw/raw_len is what the host keeps for
 * audit. Returns 0, or -1 when the message breaks the wire format. */
static int sj_read_item(const struct og_services *svc, struct og_json *m, const char *raw,
                        size_t raw_len, struct sj_item *it)
{
    const struct og_json_api *js = svc->json;
    struct og_inbound *in = &it->in;
    int bad = 0;

    memset(it, 0, sizeof *it);
    in->struct_size = sizeof *in;
    in->raw = raw;
    in->raw_len = raw_len;
    if (js->type(m) != OG_JSON_OBJECT)
        return -1;

    /* Required: the event id (de-duplication key and provider id) and the
     * sender's id. */
    if (sj_req_str(js, m, "id", &in->dedup_key) != 0)
        return -1;
    in->provider_message_id = in->dedup_key;
    struct og_json *from = js->get(m, "from");
    if (!from || js->type(from) != OG_JSON_OBJECT)
        return -1;
    if (sj_req_str(js, from, "id", &in->from.external_id) != 0)
        return -1;
    if (sj_opt_str(js, from, "name", &in->from.name) != 0 ||
        sj_opt_str(js, from, "username", &in->from.username) != 0 ||
        sj_opt_str(js, from, "email", &in->from.email) != 0 ||
        sj_opt_str(js, from, "phone", &in->from.phone) != 0)
        return -1;

    /* Optional scalars. */
    if (sj_opt_str(js, m, "thread", &in->thread_id) != 0 ||
        sj_opt_str(js, m, "text", &in->text) != 0 ||
        sj_opt_str(js, m, "reply_to", &in->reply_to_provider_id) != 0)
        return -1;

    /* Attachments: each an object with a url; mime_type, name, size optional. */
    struct og_json *atts = sj_opt_typed(js, m, "attachments", OG_JSON_ARRAY, &bad);
    size_t n = atts ? js->len(atts) : 0;
    if (n > 0) {
        it->atts = svc->alloc(n * sizeof *it->atts);
        memset(it->atts, 0, n * sizeof *it->atts);
        for (size_t i = 0; i < n; i++) {
            struct og_json *a = js->at(atts, i);
            struct og_attachment *o = &it->atts[i];
            if (js->type(a) != OG_JSON_OBJECT || sj_req_str(js, a, "url", &o->url) != 0 ||
                sj_opt_str(js, a, "mime_type", &o->mime_type) != 0 ||
                sj_opt_str(js, a, "name", &o->name) != 0)
                return -1;
            struct og_json *size = sj_opt_typed(js, a, "size", OG_JSON_INT, &bad);
            if (size && js->int64(size) < 0)
                bad = 1;
            o->size = size ? js->int64(size) : 0;
        }
        in->attachments = it->atts;
        in->n_attachments = n;
    }

    /* Location: latitude and longitude are numbers within range. */
    struct og_json *loc = sj_opt_typed(js, m, "location", OG_JSON_OBJECT, &bad);
    if (loc) {
        struct og_json *lat = js->get(loc, "latitude"), *lon = js->get(loc, "longitude");
        if (!sj_is_number(js, lat) || !sj_is_number(js, lon))
            return -1;
        it->loc.latitude = js->dbl(lat);
        it->loc.longitude = js->dbl(lon);
        if (!(it->loc.latitude >= -90 && it->loc.latitude <= 90) ||
            !(it->loc.longitude >= -180 && it->loc.longitude <= 180))
            return -1;
        if (sj_opt_str(js, loc, "name", &it->loc.name) != 0 ||
            sj_opt_str(js, loc, "address", &it->loc.address) != 0)
            return -1;
        in->location = &it->loc;
    }
    if (bad)
        return -1;

    /* The kind follows the richest content: an attachment, a location, text. */
    if (n > 0)
        in->kind = sj_kind_of_mime(it->atts[0].mime_type);
    else if (in->location)
        in->kind = OG_KIND_LOCATION;
    else
        in->kind = OG_KIND_TEXT;
    return 0;
}

/* Parses one inbound body and emits its messages, in order, through
 * svc->emit_message(host, ...).
 *
 * The whole body is read and checked before the first emit, so a body that
 * is malformed anywhere stores nothing (OG_ERR_INVALID). When an emit fails,
 * its error is returned at once and the remaining messages are not emitted:
 * the platform is not acknowledged and retries the whole body, and the
 * messages already stored are de-duplicated by their id.
 *
 * This function is pure apart from the emits: it reads only svc->alloc/free,
 * svc->json and svc->emit_message, touches no instance, no network and no
 * clock. That is what makes it a fuzz target. It is deliberately not static:
 * the fuzz target (tests/fuzz/fuzz_signed_json.c) #includes this file, so the
 * plugin stays one translation unit and needs no private header, and the
 * non-static name lets any other harness link signed_json.c and call it with
 * the prototype below. In the .so it is still invisible, because the plugin is
 * built with -fvisibility=hidden and only og_connector_entry is exported. */
og_err signed_json_parse(const struct og_services *svc, void *host, const char *body, size_t len);

og_err signed_json_parse(const struct og_services *svc, void *host, const char *body, size_t len)
{
    const struct og_json_api *js = svc->json;
    struct og_json *doc = js->parse(body, len);
    if (!doc || js->type(doc) != OG_JSON_OBJECT) {
        js->put(doc);
        return OG_ERR_INVALID;
    }

    /* A batch is an object with "messages"; anything else is one message. */
    struct og_json *batch = js->get(doc, "messages");
    size_t n = 1;
    if (batch) {
        if (js->type(batch) != OG_JSON_ARRAY) {
            js->put(doc);
            return OG_ERR_INVALID;
        }
        n = js->len(batch);
        if (n == 0) {
            js->put(doc);
            return OG_OK;
        }
    }

    struct sj_item *items = svc->alloc(n * sizeof *items);
    memset(items, 0, n * sizeof *items);
    og_err e = OG_OK;
    for (size_t i = 0; i < n && e == OG_OK; i++) {
        if (batch) {
            /* Keep each message's own JSON for audit; the text is [borrowed]
             * from its element and lives as long as doc. */
            struct og_json *m = js->at(batch, i);
            size_t raw_len = 0;
            const char *raw = js->serialize(m, &raw_len);
            if (sj_read_item(svc, m, raw, raw_len, &items[i]) != 0)
                e = OG_ERR_INVALID;
        } else if (sj_read_item(svc, doc, body, len, &items[i]) != 0) {
            e = OG_ERR_INVALID;
        }
    }
    for (size_t i = 0; i < n && e == OG_OK; i++)
        e = svc->emit_message(host, &items[i].in);

    for (size_t i = 0; i < n; i++)
        svc->free(items[i].atts);
    svc->free(items);
    js->put(doc);
    return e;
}

/* ------------------------------------------------------- inbound: HTTP */

/* Answers with omnigate's error shape (docs/openapi.yaml) {"error":{"code","message"}}. */
static void sj_respond_error(const struct og_services *svc, struct og_http_resp *resp, int status,
                             const char *code, const char *message)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                     message);
    if (n < 0 || (size_t)n >= sizeof body)
        n = 0;
    svc->respond(resp, status, "application/json", body, (size_t)n);
}

static og_err signed_json_handle_http(void *inst, const struct og_http_req *req,
                                      struct og_http_resp *resp)
{
    struct signed_json *sj = inst;
    const struct og_services *svc = sj->svc;

    if (req->path && req->path[0] && strcmp(req->path, "/") != 0) {
        sj_respond_error(svc, resp, 404, "not_found", "post to /hooks/{channel}");
        return OG_ERR_NOT_FOUND;
    }
    if (strcmp(req->method, "POST") != 0) {
        sj_respond_error(svc, resp, 405, "method_not_allowed", "use POST");
        return OG_OK;
    }

    /* Verify before parsing: an unsigned body is never looked at. */
    const char *got = svc->req_header(req, sj->conf->signature_header);
    char want[SJ_SIG_SIZE];
    sj_sign(svc, sj->conf->secret, sj->secret_len, req->body, req->body_len, want);
    if (!got || !svc->ct_equal(got, strlen(got), want, strlen(want))) {
        svc->log(sj->host, OG_LOG_INFO, "%s signature on a %zu-byte body", got ? "wrong" : "no",
                 req->body_len);
        sj_respond_error(svc, resp, 401, "bad_signature",
                         got ? "signature mismatch" : "signature header missing");
        return OG_ERR_SIGNATURE;
    }

    og_err e = signed_json_parse(svc, sj->host, req->body, req->body_len);
    if (e == OG_ERR_INVALID) {
        sj_respond_error(svc, resp, 400, "invalid", "malformed signed-json body");
        return e;
    }
    if (e != OG_OK) /* an emit failed: no answer of ours, the host says 503 */
        return e;
    static const char ok[] = "{\"ok\":true}";
    svc->respond(resp, 200, "application/json", ok, sizeof ok - 1);
    return OG_OK;
}

/* ---------------------------------------------------------- outbound */

/* Builds the outbound JSON body; absent fields are left out. [xfer] put(). */
static struct og_json *sj_build_body(const struct og_json_api *js, const struct og_outbound *msg)
{
    struct og_json *o = js->new_object();
    if (msg->message_id)
        js->set(o, "id", js->new_string(msg->message_id));
    if (msg->contact_external_id)
        js->set(o, "to", js->new_string(msg->contact_external_id));
    if (msg->thread_id)
        js->set(o, "thread", js->new_string(msg->thread_id));
    if (msg->text)
        js->set(o, "text", js->new_string(msg->text));
    if (msg->n_attachments > 0 && msg->attachments) {
        struct og_json *arr = js->new_array();
        for (size_t i = 0; i < msg->n_attachments; i++) {
            const struct og_attachment *a = &msg->attachments[i];
            struct og_json *ao = js->new_object();
            if (a->url)
                js->set(ao, "url", js->new_string(a->url));
            if (a->mime_type)
                js->set(ao, "mime_type", js->new_string(a->mime_type));
            if (a->name)
                js->set(ao, "name", js->new_string(a->name));
            js->append(arr, ao);
        }
        js->set(o, "attachments", arr);
    }
    if (msg->reply_to_provider_id)
        js->set(o, "reply_to", js->new_string(msg->reply_to_provider_id));
    return o;
}

/* The fixed mapping from the receiver's HTTP status to og_err. */
static og_err sj_map_status(long status)
{
    if (status >= 200 && status < 300)
        return OG_OK;
    if (status == 429)
        return OG_ERR_RATE_LIMITED;
    if (status == 401 || status == 403)
        return OG_ERR_AUTH;
    if (status == 408 || (status >= 500 && status < 600))
        return OG_ERR_RETRYABLE;
    /* Other 4xx, and 1xx/3xx (redirects are never followed): retrying the
     * same request cannot help. */
    return OG_ERR_PERMANENT;
}

static og_err signed_json_send(void *inst, const struct og_outbound *msg,
                               struct og_send_result *res)
{
    struct signed_json *sj = inst;
    const struct og_services *svc = sj->svc;
    const struct og_json_api *js = svc->json;

    res->retry_after_ms = -1;
    res->error_code[0] = 0;
    res->error_message[0] = 0;

    struct og_json *body = sj_build_body(js, msg);
    size_t len = 0;
    const char *text = js->serialize(body, &len);

    /* "<signature_header>: sha256=<hex>" */
    char sig[SJ_SIG_SIZE];
    sj_sign(svc, sj->conf->secret, sj->secret_len, text, len, sig);
    size_t hsize = strlen(sj->conf->signature_header) + 2 + sizeof sig;
    char *sig_header = svc->alloc(hsize);
    snprintf(sig_header, hsize, "%s: %s", sj->conf->signature_header, sig);
    const char *headers[] = {sig_header, "Accept: application/json", NULL};

    struct og_http_call call = {
        .struct_size = sizeof call,
        .method = "POST",
        .url = sj->conf->reply_url,
        .headers = headers,
        .body = text,
        .body_len = len,
        .content_type = "application/json",
    };
    struct og_http_result r = {0};
    og_err e = svc->http(sj->host, &call, &r);
    svc->free(sig_header);
    js->put(body);

    if (e != OG_OK) { /* no HTTP answer at all */
        snprintf(res->error_code, sizeof res->error_code, "transport");
        snprintf(res->error_message, sizeof res->error_message, "%s", r.errbuf);
        svc->http_result_free(&r);
        return OG_ERR_RETRYABLE;
    }

    e = sj_map_status(r.status);
    if (e == OG_OK) {
        /* The receiver's id for the message if it names one (a string or an
         * integer), else ours. */
        struct og_json *answer = r.body ? js->parse(r.body, r.body_len) : NULL;
        struct og_json *idv = js->get(answer, "id");
        enum og_json_type t = js->type(idv);
        const char *id = t == OG_JSON_STRING || t == OG_JSON_INT ? js->str(idv) : NULL;
        if (id && !*id)
            id = NULL;
        res->provider_message_id = svc->strdup(id ? id : msg->message_id);
        js->put(answer);
    } else {
        snprintf(res->error_code, sizeof res->error_code, "%ld", r.status);
        snprintf(res->error_message, sizeof res->error_message, "%.*s",
                 (int)(r.body_len < 200 ? r.body_len : 200), r.body ? r.body : "");
        if (e == OG_ERR_RATE_LIMITED)
            res->retry_after_ms = r.retry_after_ms;
        svc->log(sj->host, OG_LOG_INFO, "reply_url answered %ld for %s", r.status,
                 msg->message_id ? msg->message_id : "(no id)");
    }
    svc->http_result_free(&r);
    return e;
}

/* ------------------------------------------------------- life cycle */

static og_err signed_json_create(const struct og_services *svc, void *host, const void *conf,
                                 void **inst, char *errbuf, size_t errlen)
{
    const struct signed_json_conf *c = conf;

    /* The services this file calls must exist in the host's table. */
    if (svc->struct_size < offsetof(struct og_services, emit_message) + sizeof svc->emit_message ||
        svc->json->struct_size <
            offsetof(struct og_json_api, serialize) + sizeof svc->json->serialize) {
        snprintf(errbuf, errlen, "the host's services table is too old");
        return OG_ERR_UNSUPPORTED;
    }
    if (!sj_is_token(c->signature_header)) {
        snprintf(errbuf, errlen, "signature_header: not a valid HTTP header name");
        return OG_ERR_INVALID;
    }
    struct signed_json *sj = svc->alloc(sizeof *sj);
    sj->svc = svc;
    sj->host = host;
    sj->conf = c;
    sj->secret_len = strlen(c->secret);
    *inst = sj;
    return OG_OK;
}

static void signed_json_destroy(void *inst)
{
    struct signed_json *sj = inst;
    if (sj)
        sj->svc->free(sj);
}

/* ------------------------------------------------------- descriptor */

static const struct og_connector signed_json_connector = {
    OG_CONNECTOR_HEADER,
    .name = "signed_json",
    .version = "1.0.0",
    .description = "generic signed-JSON HTTP channel (example plugin)",
    .platform_api = "signed-json v1 (examples/signed_json/README.md)",
    .options = signed_json_options,
    .conf_size = sizeof(struct signed_json_conf),
    .create = signed_json_create,
    .destroy = signed_json_destroy,
    .handle_http = signed_json_handle_http,
    .poll = NULL,
    .poll_wakeup = NULL,
    .send = signed_json_send,
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &signed_json_connector;
}
