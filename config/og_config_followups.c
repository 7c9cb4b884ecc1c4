/* og_config_followups - the "smtp" and "followups" sections.
 *
 *   "smtp": {"url": "smtp://host:587" | "smtps://host:465", "username", "password",
 *            "from": "Support <support@example.com>", "starttls": "auto|always|never",
 *            "ca_file", "timeout_ms", "retry_initial_ms", "retry_max_ms", "max_attempts"}
 *   "followups": [{"id", "when": "session.closed" | "customer_silent", "after_s",
 *                  "channels": [...], "reasons": [...], "success_codes": [...],
 *                  "subject", "text", "html"}]
 *
 * Templates are checked here (og_template_check), so a typo in a placeholder
 * stops the daemon at start instead of mailing customers "{{contact.nmae}}".
 * Follow-up rules without an smtp section are an error: they could never be
 * sent. */
#include "og_config_int.h"
#include "og_smtp.h"
#include "og_template.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

#define DEF_TIMEOUT_MS 30000
#define DEF_RETRY_INITIAL_MS 30000
#define DEF_RETRY_MAX_MS 3600000
#define DEF_MAX_ATTEMPTS 8

struct og_config_followups *og_config_followups_new(void)
{
    struct og_config_followups *f = og_calloc(1, sizeof *f);
    f->smtp.starttls = og_strdup("auto");
    f->smtp.timeout_ms = DEF_TIMEOUT_MS;
    f->smtp.retry_initial_ms = DEF_RETRY_INITIAL_MS;
    f->smtp.retry_max_ms = DEF_RETRY_MAX_MS;
    f->smtp.max_attempts = DEF_MAX_ATTEMPTS;
    return f;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void og_config_followups_free(struct og_config_followups *f)
{
    if (!f)
        return;
    free(f->smtp.url);
    free(f->smtp.username);
    free(f->smtp.password);
    free(f->smtp.from);
    free(f->smtp.starttls);
    free(f->smtp.ca_file);
    for (size_t i = 0; i < f->n_rules; i++) {
        struct og_config_followup *r = &f->rules[i];
        free(r->id);
        free(r->when);
        free_list(r->channels, r->n_channels);
        free_list(r->reasons, r->n_reasons);
        free_list(r->success_codes, r->n_success_codes);
        free(r->subject);
        free(r->text);
        free(r->html);
    }
    free(f->rules);
    free(f);
}

/* ------------------------------------------------------------------ smtp */

static void take_url(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    size_t skip = strncmp(s, "smtp://", 7) == 0 ? 7 : strncmp(s, "smtps://", 8) == 0 ? 8 : 0;
    if (!skip || s[skip] == 0 || s[skip] == '/' || s[skip] == ':' || strpbrk(s, " \t\r\n@")) {
        og_errors_add(l->errs, "%s: must be smtp://host[:port] or smtps://host[:port] "
                      "(credentials go in username/password)", path);
        return;
    }
    og_cfg_replace(&l->cfg->followups->smtp.url, s);
}

static void take_username(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (s)
        og_cfg_replace(&l->cfg->followups->smtp.username, s);
}

static void take_password(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (s)
        og_cfg_replace(&l->cfg->followups->smtp.password, s);
}

static void take_from(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    char name[256], addr[256];
    if (og_smtp_parse_from(s, name, sizeof name, addr, sizeof addr) != 0) {
        og_errors_add(l->errs, "%s: must be an e-mail address, \"addr@example.com\" or "
                      "\"Name <addr@example.com>\"", path);
        return;
    }
    og_cfg_replace(&l->cfg->followups->smtp.from, s);
}

static void take_starttls(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (strcmp(s, "auto") && strcmp(s, "always") && strcmp(s, "never")) {
        og_errors_add(l->errs, "%s: must be one of auto, always, never", path);
        return;
    }
    og_cfg_replace(&l->cfg->followups->smtp.starttls, s);
}

static void take_ca_file(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_nonempty(l, v, path);
    if (s)
        og_cfg_replace(&l->cfg->followups->smtp.ca_file, s);
}

static void take_timeout(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 100, 600000, &l->cfg->followups->smtp.timeout_ms);
}

static void take_retry_initial(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 10, 86400000, &l->cfg->followups->smtp.retry_initial_ms);
}

static void take_retry_max(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 10, 7 * 86400000LL, &l->cfg->followups->smtp.retry_max_ms);
}

static void take_max_attempts(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 1, 100, &l->cfg->followups->smtp.max_attempts);
}

/* clang-format off */
static const struct og_key smtp_keys[] = {
    {"url", take_url},
    {"username", take_username},
    {"password", take_password},
    {"from", take_from},
    {"starttls", take_starttls},
    {"ca_file", take_ca_file},
    {"timeout_ms", take_timeout},
    {"retry_initial_ms", take_retry_initial},
    {"retry_max_ms", take_retry_max},
    {"max_attempts", take_max_attempts},
    {NULL, NULL},
};
/* clang-format on */

void og_config_take_smtp(struct og_load *l, json_object *v, const char *path)
{
    if (!og_cfg_object(l, v, path))
        return;
    l->cfg->followups->smtp_set = 1;
    og_cfg_walk(l, v, path, smtp_keys);
    if (!json_object_object_get_ex(v, "url", NULL))
        og_errors_add(l->errs, "%s.url: required", path);
    if (!json_object_object_get_ex(v, "from", NULL))
        og_errors_add(l->errs, "%s.from: required", path);
}

/* ------------------------------------------------------------- followups */

/* The rule being walked: og_load has no slot for it, and the loader is
 * single-threaded per load but may run in several threads (tests), hence
 * thread-local. */
static _Thread_local struct og_config_followup *cur;

static void take_id(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (!og_cfg_charset_ok(s, 64, "_-", 0)) {
        og_errors_add(l->errs, "%s: must be 1 to 64 of a-z, 0-9, _ and -", path);
        return;
    }
    og_cfg_replace(&cur->id, s);
}

static void take_when(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (strcmp(s, "session.closed") && strcmp(s, "customer_silent")) {
        og_errors_add(l->errs, "%s: must be session.closed or customer_silent", path);
        return;
    }
    og_cfg_replace(&cur->when, s);
}

static void take_after(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 0, 90 * 86400, &cur->after_s);
}

static void take_list(struct og_load *l, json_object *v, const char *path, char ***out, size_t *n)
{
    if (!json_object_is_type(v, json_type_array)) {
        og_errors_add(l->errs, "%s: must be an array of strings", path);
        return;
    }
    size_t len = json_object_array_length(v);
    free_list(*out, *n);
    *out = len ? og_calloc(len, sizeof **out) : NULL;
    *n = 0;
    for (size_t i = 0; i < len; i++) {
        char *ep = og_cfg_path_index(path, i);
        const char *s = og_cfg_nonempty(l, json_object_array_get_idx(v, i), ep);
        free(ep);
        if (s)
            (*out)[(*n)++] = og_strdup(s);
    }
}

static void take_channels(struct og_load *l, json_object *v, const char *path)
{
    take_list(l, v, path, &cur->channels, &cur->n_channels);
}

/* The close reasons POST /sessions/{id}/close accepts (og_api_sessions.c). */
static void take_reasons(struct og_load *l, json_object *v, const char *path)
{
    take_list(l, v, path, &cur->reasons, &cur->n_reasons);
    for (size_t i = 0; i < cur->n_reasons; i++) {
        const char *r = cur->reasons[i];
        if (strcmp(r, "solved") && strcmp(r, "no_response") && strcmp(r, "transferred") &&
            strcmp(r, "other")) {
            char *ep = og_cfg_path_index(path, i);
            og_errors_add(l->errs, "%s: must be one of solved, no_response, transferred, other",
                          ep);
            free(ep);
        }
    }
}

static void take_codes(struct og_load *l, json_object *v, const char *path)
{
    take_list(l, v, path, &cur->success_codes, &cur->n_success_codes);
}

static void take_template(struct og_load *l, json_object *v, const char *path, char **dst)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    char err[256];
    if (og_template_check(s, err, sizeof err) != 0) {
        og_errors_add(l->errs, "%s: %s", path, err);
        return;
    }
    og_cfg_replace(dst, s);
}

static void take_subject(struct og_load *l, json_object *v, const char *path)
{
    take_template(l, v, path, &cur->subject);
}

static void take_text(struct og_load *l, json_object *v, const char *path)
{
    take_template(l, v, path, &cur->text);
}

static void take_html(struct og_load *l, json_object *v, const char *path)
{
    take_template(l, v, path, &cur->html);
}

/* clang-format off */
static const struct og_key rule_keys[] = {
    {"id", take_id},
    {"when", take_when},
    {"after_s", take_after},
    {"channels", take_channels},
    {"reasons", take_reasons},
    {"success_codes", take_codes},
    {"subject", take_subject},
    {"text", take_text},
    {"html", take_html},
    {NULL, NULL},
};
/* clang-format on */

void og_config_take_followups(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_array)) {
        og_errors_add(l->errs, "%s: must be an array", path);
        return;
    }
    struct og_config_followups *f = l->cfg->followups;
    size_t n = json_object_array_length(v);
    f->rules = n ? og_calloc(n, sizeof *f->rules) : NULL;
    f->n_rules = n;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        char *rp = og_cfg_path_index(path, i);
        if (og_cfg_object(l, e, rp)) {
            cur = &f->rules[i];
            og_cfg_walk(l, e, rp, rule_keys);
            struct og_config_followup *r = cur;
            cur = NULL;
            if (!json_object_object_get_ex(e, "id", NULL))
                og_errors_add(l->errs, "%s.id: required", rp);
            if (!json_object_object_get_ex(e, "when", NULL))
                og_errors_add(l->errs, "%s.when: required", rp);
            if (r->when && strcmp(r->when, "customer_silent") == 0 && r->after_s <= 0)
                og_errors_add(l->errs, "%s.after_s: required and > 0 for customer_silent", rp);
            if (r->when && strcmp(r->when, "customer_silent") == 0 &&
                (r->n_channels || r->n_reasons || r->n_success_codes))
                og_errors_add(l->errs, "%s: channels, reasons and success_codes filter "
                              "session.closed rules only", rp);
            /* A template that failed its check was reported already. */
            if (!json_object_object_get_ex(e, "subject", NULL))
                og_errors_add(l->errs, "%s.subject: required", rp);
            else if (r->subject && !*r->subject)
                og_errors_add(l->errs, "%s.subject: must not be empty", rp);
            int has_text = json_object_object_get_ex(e, "text", NULL);
            int has_html = json_object_object_get_ex(e, "html", NULL);
            if (!has_text && !has_html)
                og_errors_add(l->errs, "%s: text or html required", rp);
            else if ((!has_text || (r->text && !*r->text)) && (!has_html || (r->html && !*r->html)))
                og_errors_add(l->errs, "%s: text or html must not be empty", rp);
            for (size_t j = 0; r->id && j < i; j++)
                if (f->rules[j].id && strcmp(f->rules[j].id, r->id) == 0)
                    og_errors_add(l->errs, "%s.id: \"%s\" is used twice", rp, r->id);
        }
        free(rp);
    }
}

void og_config_followups_check(struct og_load *l)
{
    struct og_config_followups *f = l->cfg->followups;
    if (f && f->n_rules && !f->smtp_set)
        og_errors_add(l->errs, "smtp: required when followups are configured");
    if (f && f->smtp.retry_max_ms < f->smtp.retry_initial_ms)
        og_errors_add(l->errs, "smtp.retry_max_ms: must be >= smtp.retry_initial_ms");
}
