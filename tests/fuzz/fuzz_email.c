/* fuzz_email - libFuzzer target for the e-mail connector's inbound path:
 * email_parse() (libetpan's RFC 5322 and MIME parsers, charsets, HTML to
 * text, quote and signature split, classification), the threading
 * decision, the Message-ID reader of a FETCHed header, and a reply built
 * from what was read and read back.
 *
 * Traps when a result breaks what the connector relies on: valid UTF-8
 * without NUL or CR in every text, a Message-ID that is a usable key, a
 * sender address that passes email_addr_ok, limits kept, a thread id for
 * every message, a reply that reads back with the same Message-ID, and
 * listed attachments' bytes (the first, a middle one, the last) found
 * again by email_part (the attachment route's fetch, ABI 1.3) with their
 * listed size, a section never listed not found. The input is used as given, not NUL-terminated. */
#include "email.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    if (!email_utf8_valid(s, n) || memchr(s, '\r', n))
        __builtin_trap();
}

static int no_lookup(void *ud, const char *key, char **thread)
{
    (void)ud, (void)key;
    *thread = NULL;
    return 0;
}

static void check_msg(const struct email_msg *m)
{
    size_t idl = m->message_id ? strlen(m->message_id) : 0;
    if (idl == 0 || idl > EMAIL_MSGID_MAX + 1 || strpbrk(m->message_id, " \t\r\n<>"))
        __builtin_trap();
    if (m->from_addr && !email_addr_ok(m->from_addr))
        __builtin_trap();
    if (m->reply_to && !email_addr_ok(m->reply_to))
        __builtin_trap();
    if (!m->subject || !m->text || m->n_refs > EMAIL_MAX_REFS ||
        m->n_atts > EMAIL_MAX_ATTACHMENTS || m->n_atts > m->n_atts_total ||
        (unsigned)m->cls > EMAIL_CLASS_BOUNCE)
        __builtin_trap();
    if (strchr(m->subject, '\n') || strlen(m->text) > EMAIL_MAX_TEXT)
        __builtin_trap();
    check_text(m->subject), check_text(m->text), check_text(m->quoted);
    check_text(m->signature), check_text(m->from_name), check_text(m->bounce_reason);
    for (size_t i = 0; i < m->n_atts; i++) {
        if (!m->atts[i].mime_type || m->atts[i].size < 0 || !m->atts[i].section[0])
            __builtin_trap();
        check_text(m->atts[i].name);
    }
    if (m->cls != EMAIL_CLASS_BOUNCE && (m->bounce_of || m->bounce_status))
        __builtin_trap();
}

/* A reply to m, built and read back. */
static void check_reply(const struct email_msg *m)
{
    char *base = email_subject_base(m->subject);
    if (!*base)
        __builtin_trap();
    const char *refs[EMAIL_MAX_REFS];
    for (size_t i = 0; i < m->n_refs; i++)
        refs[i] = m->refs[i];
    struct email_out_att att = {.name = m->n_atts ? m->atts[0].name : NULL,
                                .mime_type = m->n_atts ? m->atts[0].mime_type : NULL,
                                .data = m->text,
                                .len = strlen(m->text)};
    struct email_out o = {.from_name = m->from_name,
                          .from_addr = "support@example.com",
                          .to = m->from_addr ? m->from_addr : "customer@example.com",
                          .subject = base,
                          .message_id = "og.msg_fuzz@example.com",
                          .in_reply_to = m->message_id,
                          .refs = refs,
                          .n_refs = m->n_refs,
                          .text = m->text,
                          .atts = &att,
                          .n_atts = m->n_atts ? 1 : 0,
                          .date_s = 1700000000};
    size_t len = 0;
    char why[160];
    char *raw = email_build(&o, &len, why, sizeof why);
    if (raw) {
        struct email_msg back;
        int r = email_parse(raw, len, &back, why, sizeof why);
        /* a text quoting more Content-Type: multipart/ lines than the
         * nesting limit is refused like any such mail: nothing else is */
        if (r != 0 && !strstr(why, "nested MIME"))
            __builtin_trap();
        if (r == 0 && (strcmp(back.message_id, "og.msg_fuzz@example.com") != 0 ||
                       !back.in_reply_to || strcmp(back.in_reply_to, m->message_id) != 0))
            __builtin_trap();
        if (r == 0)
            email_msg_free(&back);
        free(raw);
    }
    free(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct email_msg m;
    char why[200];
    if (email_parse(s, size, &m, why, sizeof why) == 0) {
        check_msg(&m);
        struct email_lookup lk = {no_lookup, no_lookup, NULL};
        enum email_thread_how how;
        char *thread = email_thread_decide(&m, &lk, &how);
        if (!thread || how != EMAIL_THREAD_NEW || strncmp(thread, "e:", 2) != 0)
            __builtin_trap();
        free(thread);
        check_reply(&m);
        /* the first, a middle and the last attachment: each email_part is
         * a whole parse, and a mail may list 100 */
        size_t pick[3] = {0, m.n_atts / 2, m.n_atts ? m.n_atts - 1 : 0};
        for (size_t pi = 0; pi < 3 && m.n_atts; pi++) {
            size_t i = pick[pi];
            if (pi && pick[pi] == pick[pi - 1])
                continue;
            /* a section too deep to name reads "1": only unique ones are
             * held to their size */
            int unique = 1;
            for (size_t k = 0; k < m.n_atts; k++)
                if (k != i && !strcmp(m.atts[k].section, m.atts[i].section))
                    unique = 0;
            if (!unique)
                continue;
            char *d = NULL, *nm = NULL, *ty = NULL;
            size_t dl = 0;
            if (email_part(s, size, m.atts[i].section, &d, &dl, &nm, &ty) != 0 ||
                (int64_t)dl != m.atts[i].size)
                __builtin_trap();
            free(d), free(nm), free(ty);
        }
        char *d = NULL, *nm = NULL, *ty = NULL;
        size_t dl = 0;
        if (email_part(s, size, "999.999", &d, &dl, &nm, &ty) == 0)
            __builtin_trap();
        email_msg_free(&m);
    } else if (!why[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    char *id = email_msgid_from_header(s, size);
    if (id && (strpbrk(id, " \t\r\n<>") || strlen(id) > EMAIL_MSGID_MAX + 1))
        __builtin_trap();
    free(id);
    char *t = email_html_to_text(s, size);
    check_text(t);
    char *fresh = NULL, *quoted = NULL, *sig = NULL;
    email_split_reply(t, &fresh, &quoted, &sig);
    check_text(fresh), check_text(quoted), check_text(sig);
    free(fresh), free(quoted), free(sig), free(t);
    return 0;
}
