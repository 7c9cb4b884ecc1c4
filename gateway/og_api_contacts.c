/* og_api_contacts - contacts and the follow-ups' record.
 *
 *   GET   /contacts/:id             the contact (agent)
 *   PATCH /contacts/:id             set name, email, phone (string, or null to
 *                                   clear) and followups_opt_out (bool) (manager)
 *   DELETE /contacts/:id            the right to erasure (admin): the contact and
 *                                   all its conversations, everywhere (204)
 *   GET   /sessions/:id/followups   every follow-up of the session with every
 *                                   try (agent with access to the session)
 *
 * A follow-up, as GET /sessions/:id/followups lists them (oldest first):
 *   {"id":"fup_…","rule":"thanks","session_id":"ses_…","trigger":"session.closed|
 *    customer_silent","status":"pending|sending|sent|failed|suppressed","to":"…",
 *    "subject":"…","attempts":2,"created_at":"…","sent_at":"…","failed_at":"…",
 *    "next_attempt_at":"…","last_error":"…","tries":[{"attempt":1,"at":"…",
 *    "outcome":"retry|sent|failed|suppressed","smtp_code":451,"detail":"…"}]}
 * "attempts" counts every claim, "tries" every try that finished: an instance
 * that died mid-send leaves attempts one higher than tries. The same object is
 * data.followup of the followup.sent / followup.failed events (with
 * data.session). Stored in {og}:followup:<id> and {og}:followup:<id>:attempts.
 *
 * PATCH validates the whole body before anything is written (unknown key,
 * wrong type, bad e-mail/phone -> 400 and no change) and then writes in one
 * script (contacts.lua), which also locks the fields it set against the
 * platform's profile on later messages. It emits no event: contact.updated
 * is not among the event types of docs/json.md; sessions and later events show the
 * new values because they render the stored contact. */
#include "og_api.h"
#include "og_archive.h"
#include "og_contacts.h"
#include "og_followups.h"
#include "og_log.h"
#include "og_smtp.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void get_contact(struct og_api_ctx *ctx)
{
    char *json = NULL;
    og_err e = og_id_valid(ctx->params[0], "con_")
                   ? og_contact_get(ctx->g->core, ctx->params[0], &json)
                   : OG_ERR_NOT_FOUND;
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such contact" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

/* Erases the contact and all its conversations: live and archived
 * sessions, their messages, timelines, uploads, the events that carry them
 * and the archive's copies (og_archive_erase_contact). Logged, as an
 * operator must be able to show when it was done; only ids are logged. */
static void erase_contact(struct og_api_ctx *ctx)
{
    int n = 0;
    og_err e = og_archive_erase_contact(ctx->g->core, ctx->params[0], ctx->g->media, &n);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such contact" : NULL);
        return;
    }
    og_info("contact %s erased with its %d sessions", ctx->params[0], n);
    ctx->r->status = 204; /* no body */
}

static int printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static int phone_ok(const char *s)
{
    size_t digits = 0, n = strlen(s);
    if (n > 32 || strspn(s, "+0123456789 -().") != n || strchr(s + 1, '+'))
        return 0;
    for (const char *p = s; *p; p++)
        digits += *p >= '0' && *p <= '9';
    return digits >= 3 && digits <= 15;
}

static void patch_contact(struct og_api_ctx *ctx)
{
    if (!og_id_valid(ctx->params[0], "con_")) {
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such contact");
        return;
    }
    json_object *body = og_api_json_body(ctx);
    if (!body)
        return;
    const char *pairs[8];
    char msg[160];
    size_t n = 0;
    const char *bad = NULL;
    json_object_object_foreach(body, key, val)
    {
        if (bad)
            break;
        int is_str = json_object_is_type(val, json_type_string);
        int is_null = val == NULL;
        const char *s = is_str ? json_object_get_string(val) : "";
        if (strcmp(key, "followups_opt_out") == 0) {
            if (!json_object_is_type(val, json_type_boolean)) {
                bad = "followups_opt_out must be true or false";
                break;
            }
            pairs[2 * n] = key;
            pairs[2 * n + 1] = json_object_get_boolean(val) ? "1" : "0";
            n++;
            continue;
        }
        if (strcmp(key, "name") && strcmp(key, "email") && strcmp(key, "phone")) {
            snprintf(msg, sizeof msg,
                     "unknown field \"%.60s\" (name, email, phone, "
                     "followups_opt_out)",
                     key);
            bad = msg;
            break;
        }
        if (!is_str && !is_null) {
            snprintf(msg, sizeof msg, "%s must be a string or null", key);
            bad = msg;
        } else if (strcmp(key, "name") == 0 && (strlen(s) > 256 || !printable(s))) {
            bad = "name must be at most 256 bytes without control characters";
        } else if (strcmp(key, "email") == 0 && *s && !og_smtp_addr_ok(s)) {
            bad = "email must be an e-mail address like name@example.com";
        } else if (strcmp(key, "phone") == 0 && *s && !phone_ok(s)) {
            bad = "phone must be 3 to 15 digits, optionally with a leading + and spaces, "
                  "dashes, dots or parentheses";
        } else {
            pairs[2 * n] = key;
            pairs[2 * n + 1] = s;
            n++;
        }
    }
    if (!bad && n == 0)
        bad = "nothing to change: set name, email, phone or followups_opt_out";
    if (bad) {
        og_reply_err(ctx->r, OG_ERR_INVALID, bad);
        json_object_put(body);
        return;
    }
    char *json = NULL;
    og_err e = og_contact_patch(ctx->g->core, ctx->params[0], pairs, n, &json);
    json_object_put(body); /* pairs point into it */
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such contact" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void list_followups(struct og_api_ctx *ctx)
{
    const char *sid = ctx->params[0];
    struct og_viewer v = og_principal_viewer(&ctx->who);
    og_err e = og_id_valid(sid, "ses_")
                   ? og_session_check(ctx->g->core, &v, sid, OG_SESSION_SEE, NULL, 0)
                   : OG_ERR_NOT_FOUND;
    char *json = NULL;
    if (e == OG_OK)
        e = og_followups_list(ctx->g->core, sid, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

const struct og_route og_api_contact_routes[] = {
    {"GET", "/contacts/:id", OG_ROLE_AGENT, get_contact},
    {"PATCH", "/contacts/:id", OG_ROLE_MANAGER, patch_contact},
    {"DELETE", "/contacts/:id", OG_ROLE_ADMIN, erase_contact},
    {"GET", "/sessions/:id/followups", OG_ROLE_AGENT, list_followups},
    {NULL, NULL, 0, NULL},
};
