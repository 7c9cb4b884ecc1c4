/* test_connector_doc - the example connector of docs/connectors.md,
 * hello_hook, in the real daemon (og-docs-connector-example). CMake cuts the
 * example out of the page and builds it into OG_DOC_EXAMPLE_DIR with the
 * project's warnings; this test starts redis-server, a fake receiver of the
 * replies and omnigate with connector_dir there, and checks what the page
 * promises: a message in with the token (stored once, however often it is
 * posted), refusals without it, with a wrong one and for a malformed body,
 * the session and history through the API, an agent's reply POSTed to
 * reply_url with the token and the message id and then marked sent, a
 * receiver's 403 failing the message at once with code "403", and an
 * attachment refused as unsupported. So an edit of the page that breaks the
 * example fails here, and so does a new ABI minor the page does not name. */
#include "og_test.h"
#include "og_util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN "hello-token-0123456789"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

/* POSTs body to /hooks/hello with "Authorization: Bearer <auth>" (none when
 * NULL); the status, and the answer in *out when out is not NULL [xfer]. */
static long hook(const struct og_test_daemon *d, const char *method, const char *auth,
                 const char *body, char **out)
{
    char *url = og_sprintf("%s/hooks/hello", d->base);
    char *h = auth ? og_sprintf("Authorization: Bearer %s\nContent-Type: application/json", auth)
                   : og_strdup("Content-Type: application/json");
    struct og_test_resp r = og_test_http(method, url, h, body, body ? strlen(body) : 0);
    free(url);
    free(h);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

static long api(const struct og_test_daemon *d, const char *method, const char *path,
                const char *body, json_object **out)
{
    char *url = og_sprintf("%s/api/v1%s", d->base, path);
    struct og_test_resp r = og_test_http(method, url, AUTH, body, body ? strlen(body) : 0);
    free(url);
    if (out)
        *out = json_tokener_parse(r.body);
    free(r.body);
    return r.status;
}

static const char *jstr(json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *v = o;
    for (char *k = strtok(buf, "."); k && v; k = strtok(NULL, "."))
        v = json_object_object_get(v, k);
    return v ? json_object_get_string(v) : NULL;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The message mid of session sid once its status is want (at most 15 s);
 * NULL when it never is. [xfer] */
static json_object *wait_message(const struct og_test_daemon *d, const char *sid, const char *mid,
                                 const char *want)
{
    char *path = og_sprintf("/sessions/%s/messages?limit=200", sid);
    json_object *found = NULL;
    for (int i = 0; i < 300 && !found; i++) {
        json_object *l = NULL;
        api(d, "GET", path, NULL, &l);
        json_object *items = json_object_object_get(l, "items");
        for (size_t k = 0; k < json_object_array_length(items); k++) {
            json_object *m = json_object_array_get_idx(items, k);
            const char *st = jstr(m, "status");
            if (strcmp(jstr(m, "id"), mid) == 0 && st && strcmp(st, want) == 0)
                found = json_object_get(m);
        }
        json_object_put(l);
        if (!found)
            nap_ms(50);
    }
    free(path);
    return found;
}

/* Sends an agent's reply; its message id [xfer], or NULL. */
static char *reply(const struct og_test_daemon *d, const char *sid, const char *body)
{
    char *path = og_sprintf("/sessions/%s/messages", sid);
    json_object *m = NULL;
    long st = api(d, "POST", path, body, &m);
    CHECK_INT(st, 202);
    char *mid = jstr(m, "id") ? og_strdup(jstr(m, "id")) : NULL;
    json_object_put(m);
    free(path);
    return mid;
}

static void test_inbound(const struct og_test_daemon *d, char **sid)
{
    const char *msg = "{\"id\":\"m-1\",\"from\":\"u1\",\"name\":\"Ann\",\"text\":\"hello\"}";
    char *answer = NULL;
    CHECK_INT(hook(d, "POST", NULL, msg, NULL), 401);
    CHECK_INT(hook(d, "POST", "hello-token-wrong-0123", msg, NULL), 401);
    CHECK_INT(hook(d, "POST", TOKEN, "{\"id\":\"m-2\",\"text\":\"no sender\"}", NULL), 400);
    CHECK_INT(hook(d, "POST", TOKEN, "not json", NULL), 400);
    CHECK_INT(hook(d, "GET", TOKEN, NULL, NULL), 405);
    CHECK_INT(hook(d, "POST", TOKEN, msg, &answer), 200);
    CHECK_STR(answer, "{\"ok\":true}");
    free(answer);
    CHECK_INT(hook(d, "POST", TOKEN, msg, NULL), 200); /* the sender's retry */

    json_object *l = NULL;
    CHECK_INT(api(d, "GET", "/sessions?channel=hello", NULL, &l), 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 1);
    json_object *s = json_object_array_get_idx(items, 0);
    CHECK_STR(jstr(s, "connector"), "hello_hook");
    CHECK_STR(jstr(s, "contact.external_id"), "u1");
    CHECK_STR(jstr(s, "contact.name"), "Ann");
    *sid = jstr(s, "id") ? og_strdup(jstr(s, "id")) : og_strdup("ses_none");
    json_object_put(l);

    char *path = og_sprintf("/sessions/%s/messages", *sid);
    CHECK_INT(api(d, "GET", path, NULL, &l), 200);
    items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 1); /* stored once */
    json_object *m = json_object_array_get_idx(items, 0);
    CHECK_STR(jstr(m, "text"), "hello");
    CHECK_STR(jstr(m, "provider_message_id"), "m-1");
    CHECK_STR(jstr(m, "direction"), "in");
    json_object_put(l);
    free(path);
}

static void test_outbound(const struct og_test_daemon *d, struct og_fake *fake, const char *sid)
{
    char *mid = reply(d, sid, "{\"text\":\"Hi Ann!\"}");
    json_object *m = mid ? wait_message(d, sid, mid, "sent") : NULL;
    CHECK(m != NULL);
    CHECK_STR(m ? jstr(m, "provider_message_id") : NULL, mid);
    json_object_put(m);
    CHECK_INT(og_fake_count(fake), 1);
    const struct og_fake_req *r = og_fake_count(fake) ? og_fake_get(fake, 0) : NULL;
    char hv[128] = "";
    CHECK_STR(r ? r->method : NULL, "POST");
    CHECK_STR(r ? r->url : NULL, "/replies");
    CHECK_STR(r ? og_fake_header(r, "authorization", hv, sizeof hv) : NULL, "Bearer " TOKEN);
    json_object *b = r ? json_tokener_parse(r->body) : NULL;
    CHECK_STR(jstr(b, "id"), mid);
    CHECK_STR(jstr(b, "to"), "u1");
    CHECK_STR(jstr(b, "text"), "Hi Ann!");
    json_object_put(b);
    free(mid);

    /* 403: OG_ERR_AUTH, failed at once with the status as its code */
    struct og_fake_resp no = {.status = 403, .body = "{\"error\":\"bad token\"}"};
    og_fake_push(fake, &no);
    mid = reply(d, sid, "{\"text\":\"second\"}");
    m = mid ? wait_message(d, sid, mid, "failed") : NULL;
    CHECK(m != NULL);
    CHECK_STR(m ? jstr(m, "error.code") : NULL, "403");
    CHECK(m && strstr(jstr(m, "error.message"), "bad token") != NULL);
    json_object_put(m);
    free(mid);
    CHECK_INT(og_fake_count(fake), 2);

    /* an attachment: the example sends text only (OG_ERR_UNSUPPORTED) */
    mid = reply(d, sid, "{\"attachments\":[{\"url\":\"https://cdn.example.com/a.png\"}]}");
    m = mid ? wait_message(d, sid, mid, "failed") : NULL;
    CHECK(m != NULL);
    CHECK_STR(m ? jstr(m, "error.message") : NULL, "hello_hook sends text only");
    json_object_put(m);
    free(mid);
    CHECK_INT(og_fake_count(fake), 2); /* nothing was sent for it */
}

/* The page names the ABI the header defines, and has a history row for
 * every minor of it (a new minor without its documentation fails here). */
static void test_abi_version(void)
{
    char *path = og_test_src("docs/connectors.md");
    char *page = og_test_read_file(path, NULL);
    CHECK(page != NULL);
    char want[64];
    snprintf(want, sizeof want, "speaks **%d.%d**", OG_CONNECTOR_ABI_MAJOR, OG_CONNECTOR_ABI_MINOR);
    if (page && !strstr(page, want))
        fprintf(stderr, "docs/connectors.md does not say \"%s\"\n", want);
    CHECK(page && strstr(page, want) != NULL);
    for (int minor = 0; minor <= OG_CONNECTOR_ABI_MINOR; minor++) {
        snprintf(want, sizeof want, "\n| %d.%d |", OG_CONNECTOR_ABI_MAJOR, minor);
        if (page && !strstr(page, want))
            fprintf(stderr, "docs/connectors.md has no history row \"%s\"\n", want + 1);
        CHECK(page && strstr(page, want) != NULL);
    }
    free(page);
    free(path);
}

int main(void)
{
    test_abi_version();
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    struct og_fake *fake = og_fake_start();
    struct og_fake_resp ok = {.status = 200, .body = "{\"received\":true}"};
    og_fake_set_default(fake, &ok);
    char *channels = og_sprintf("[{\"id\":\"hello\",\"connector\":\"hello_hook\",\"options\":"
                                "{\"token\":\"" TOKEN "\",\"reply_url\":\"%s/replies\"}}]",
                                og_fake_base(fake));
    /* the example's own directory: hello_hook.so is nowhere else */
    if (og_test_daemon_start(&d, rs.url, channels,
                             "\"connector_dir\":\"" OG_DOC_EXAMPLE_DIR "\"") != 0) {
        free(channels);
        og_fake_stop(fake);
        og_test_redis_stop(&rs);
        return 1;
    }
    char *sid = NULL;
    test_inbound(&d, &sid);
    test_outbound(&d, fake, sid);
    free(sid);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(channels);
    og_fake_stop(fake);
    og_test_redis_stop(&rs);
    return og_test_done();
}
