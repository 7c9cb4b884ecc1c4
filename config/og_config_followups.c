/* og_config_followups - the "smtp" and "followups" sections: their rows and
 * the checks that do not fit in a row.
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

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct og_config_followups *og_config_followups_new(void)
{
    struct og_config_followups *f = og_calloc(1, sizeof *f);
    og_cfg_defaults(og_cfg_smtp_rows, f);
    return f;
}

void og_config_followups_free(struct og_config_followups *f)
{
    if (!f)
        return;
    og_cfg_section_release(offsetof(struct og_config, followups), f);
    free(f);
}

/* ------------------------------------------------------------------ smtp */

static int check_url(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                     const char *path, void *base)
{
    (void)base;
    const char *s = json_object_get_string(v);
    size_t skip = strncmp(s, "smtp://", 7) == 0 ? 7 : strncmp(s, "smtps://", 8) == 0 ? 8 : 0;
    if (!skip || s[skip] == 0 || s[skip] == '/' || s[skip] == ':' || strpbrk(s, " \t\r\n@"))
        return og_cfg_expect(l, row, path);
    return 0;
}

static int check_from(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                      const char *path, void *base)
{
    (void)base;
    char name[256], addr[256];
    if (og_smtp_parse_from(json_object_get_string(v), name, sizeof name, addr, sizeof addr) != 0)
        return og_cfg_expect(l, row, path);
    return 0;
}

/* The section is there (an object): follow-ups may use it. */
int og_cfg_smtp_seen(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                     const char *path, void *base)
{
    (void)l, (void)row, (void)v, (void)path;
    ((struct og_config_followups *)base)->smtp_set = 1;
    return 0;
}

#define SMTP(field) offsetof(struct og_config_followups, smtp.field)

const struct og_cfg_row og_cfg_smtp_rows[] = {
    {.name = "url",
     .type = OG_CFG_STR,
     .offset = SMTP(url),
     .flags = OG_CFG_REQUIRED,
     .help = "smtp://host[:port] (STARTTLS as starttls says) or smtps://host[:port]",
     .expect = "must be smtp://host[:port] or smtps://host[:port] (credentials go in "
               "username/password)",
     .check = check_url},
    {.name = "username",
     .type = OG_CFG_STR,
     .offset = SMTP(username),
     .help = "AUTH user; none = no AUTH"},
    {.name = "password",
     .type = OG_CFG_STR,
     .offset = SMTP(password),
     .flags = OG_CFG_SECRET,
     .help = "AUTH password"},
    {.name = "from",
     .type = OG_CFG_STR,
     .offset = SMTP(from),
     .flags = OG_CFG_REQUIRED,
     .help = "the sender: \"addr@example.com\" or \"Name <addr@example.com>\"",
     .expect = "must be an e-mail address, \"addr@example.com\" or \"Name <addr@example.com>\"",
     .check = check_from},
    {.name = "starttls",
     .type = OG_CFG_ENUM,
     .offset = SMTP(starttls),
     .def = "auto",
     .choices = "auto|always|never",
     .help = "smtp:// only: auto = when the server offers it"},
    {.name = "ca_file",
     .type = OG_CFG_STR,
     .offset = SMTP(ca_file),
     .def_doc = "the system's CAs",
     .flags = OG_CFG_NONEMPTY,
     .help = "CA certificates (PEM) to verify the server with"},
    {.name = "timeout_ms",
     .type = OG_CFG_INT,
     .offset = SMTP(timeout_ms),
     .def = "30000",
     .min = 100,
     .max = 600000,
     .help = "one SMTP conversation, connect to QUIT"},
    {.name = "retry_initial_ms",
     .type = OG_CFG_INT,
     .offset = SMTP(retry_initial_ms),
     .def = "30000",
     .min = 10,
     .max = 86400000,
     .help = "first retry delay after a temporary failure, doubling"},
    {.name = "retry_max_ms",
     .type = OG_CFG_INT,
     .offset = SMTP(retry_max_ms),
     .def = "3600000",
     .min = 10,
     .max = 604800000,
     .help = "longest retry delay (>= retry_initial_ms)"},
    {.name = "max_attempts",
     .type = OG_CFG_INT,
     .offset = SMTP(max_attempts),
     .def = "8",
     .min = 1,
     .max = 100,
     .help = "tries before a follow-up is given up"},
    {0},
};

/* ------------------------------------------------------------- followups */

static int check_template(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                          const char *path, void *base)
{
    (void)row, (void)base;
    char err[256];
    if (og_template_check(json_object_get_string(v), err, sizeof err) != 0) {
        og_errors_add(l->errs, "%s: %s", path, err);
        return -1;
    }
    return 0;
}

/* A rule's cross-key checks, after its keys; base is the rule. Templates
 * that failed their check were reported already. */
int og_cfg_followup_done(struct og_load *l, const struct og_cfg_row *row, json_object *e,
                         const char *rp, void *base)
{
    (void)row;
    struct og_config_followup *r = base;
    struct og_config_followups *f = l->cfg->followups;
    if (!json_object_is_type(e, json_type_object))
        return 0;
    if (r->when && strcmp(r->when, "customer_silent") == 0 && r->after_s <= 0)
        og_errors_add(l->errs, "%s.after_s: required and > 0 for customer_silent", rp);
    if (r->when && strcmp(r->when, "customer_silent") == 0 &&
        (r->n_channels || r->n_reasons || r->n_success_codes))
        og_errors_add(l->errs,
                      "%s: channels, reasons and success_codes filter session.closed rules only",
                      rp);
    if (r->subject && !*r->subject)
        og_errors_add(l->errs, "%s.subject: must not be empty", rp);
    int has_text = json_object_object_get_ex(e, "text", NULL);
    int has_html = json_object_object_get_ex(e, "html", NULL);
    if (!has_text && !has_html)
        og_errors_add(l->errs, "%s: text or html required", rp);
    else if ((!has_text || (r->text && !*r->text)) && (!has_html || (r->html && !*r->html)))
        og_errors_add(l->errs, "%s: text or html must not be empty", rp);
    for (struct og_config_followup *o = f->rules; r->id && o < r; o++)
        if (o->id && strcmp(o->id, r->id) == 0)
            og_errors_add(l->errs, "%s.id: \"%s\" is used twice", rp, r->id);
    return 0;
}

#define RULE(field) offsetof(struct og_config_followup, field)

const struct og_cfg_row og_cfg_followup_rows[] = {
    {.name = "id",
     .type = OG_CFG_STR,
     .offset = RULE(id),
     .max = 64,
     .flags = OG_CFG_REQUIRED,
     .chars = "_-",
     .help = "unique name of the rule",
     .expect = "must be 1 to 64 of a-z, 0-9, _ and -"},
    {.name = "when",
     .type = OG_CFG_ENUM,
     .offset = RULE(when),
     .flags = OG_CFG_REQUIRED,
     .choices = "session.closed|customer_silent",
     .help = "after a session closes, or when the customer has not written for after_s",
     .expect = "must be session.closed or customer_silent"},
    {.name = "after_s",
     .type = OG_CFG_INT,
     .offset = RULE(after_s),
     .def = "0",
     .min = 0,
     .max = 7776000,
     .help = "delay in seconds (> 0 for customer_silent)"},
    {.name = "channels",
     .type = OG_CFG_LIST,
     .offset = RULE(channels),
     .count = RULE(n_channels),
     .def_doc = "any",
     .help = "session.closed only: the session's channel is one of these"},
    {.name = "reasons",
     .type = OG_CFG_LIST,
     .offset = RULE(reasons),
     .count = RULE(n_reasons),
     .def_doc = "any",
     .choices = "solved|no_response|transferred|other",
     .help = "session.closed only: the close reason is one of these"},
    {.name = "success_codes",
     .type = OG_CFG_LIST,
     .offset = RULE(success_codes),
     .count = RULE(n_success_codes),
     .def_doc = "any",
     .help = "session.closed only: the session has one of these success codes"},
    {.name = "subject",
     .type = OG_CFG_STR,
     .offset = RULE(subject),
     .flags = OG_CFG_REQUIRED,
     .help = "subject template ({{contact.name}}, {{session.id}}, ...)",
     .check = check_template},
    {.name = "text",
     .type = OG_CFG_STR,
     .offset = RULE(text),
     .help = "plain text body template (text or html required)",
     .check = check_template},
    {.name = "html",
     .type = OG_CFG_STR,
     .offset = RULE(html),
     .help = "HTML body template ({{transcript}}, {{survey_url}}, ...)",
     .check = check_template},
    {0},
};

void og_config_followups_check(struct og_load *l)
{
    struct og_config_followups *f = l->cfg->followups;
    if (f && f->n_rules && !f->smtp_set)
        og_errors_add(l->errs, "smtp: required when followups are configured");
    if (f && f->smtp.retry_max_ms < f->smtp.retry_initial_ms)
        og_errors_add(l->errs, "smtp.retry_max_ms: must be >= smtp.retry_initial_ms");
}
