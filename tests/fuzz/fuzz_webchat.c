/* fuzz_webchat - libFuzzer target for the web chat connector's parsers of
 * visitor input (connectors/webchat/webchat_parse.c): the bodies of start,
 * messages, typing, read, csat and offline, and the option syntaxes
 * (origins, pre-chat fields, theme, attachments), and a file's X-Filename
 * and Content-Type.
 *
 * The connector's source is #included, so the parsers are reached exactly
 * as the plugin builds them, with the host's real JSON services. The first
 * byte picks the parser; the rest is the input, used as given (not
 * NUL-terminated: a copy is made for the string parsers). Traps when a
 * parser accepts what it promises to refuse: a message text that is empty,
 * over WC_TEXT_MAX or not UTF-8, a client_id or read id out of its
 * alphabet, a score parsed from a non-integer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_channel.h"

#include "../../connectors/webchat/webchat_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fuzz_sink;

static void check_text(const char *s, size_t max)
{
    if (!s)
        return;
    size_t n = strlen(s);
    if (n == 0 || n > max || !webchat_utf8_ok(s, n))
        __builtin_trap();
    fuzz_sink += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct og_services *svc = &og_services_table;
    unsigned which = data[0] % 12;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[160];
    struct og_json *doc = NULL;
    switch (which) {
    case 0: {
        struct wc_start st;
        if (webchat_parse_start(svc, body, len, &st, &doc, err, sizeof err) == OG_OK) {
            for (int i = 0; i < WC_F__N; i++)
                check_text(st.field[i], i == WC_F_QUESTION ? WC_TEXT_MAX : WC_FIELD_MAX);
            if (st.field[WC_F_EMAIL] && !webchat_email_ok(st.field[WC_F_EMAIL]))
                __builtin_trap();
        }
        break;
    }
    case 1: {
        struct wc_message m;
        if (webchat_parse_message(svc, body, len, &m, &doc, err, sizeof err) == OG_OK) {
            if (!m.text)
                __builtin_trap();
            check_text(m.text, WC_TEXT_MAX);
            if (m.client_id) {
                check_text(m.client_id, WC_CLIENT_ID_MAX);
                if (m.client_id[strspn(m.client_id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                    "abcdefghijklmnopqrstuvwxyz-_")])
                    __builtin_trap();
            }
        }
        break;
    }
    case 2: {
        int on = -1;
        if (webchat_parse_typing(svc, body, len, &on, err, sizeof err) == OG_OK && on != 0 &&
            on != 1)
            __builtin_trap();
        break;
    }
    case 3: {
        char until[80];
        if (webchat_parse_read(svc, body, len, until, sizeof until, err, sizeof err) == OG_OK &&
            !webchat_msg_id_ok(until))
            __builtin_trap();
        break;
    }
    case 4: {
        struct wc_csat c;
        if (webchat_parse_csat(svc, body, len, &c, &doc, err, sizeof err) == OG_OK)
            check_text(c.comment, WC_COMMENT_MAX);
        break;
    }
    case 5: {
        struct wc_offline o;
        if (webchat_parse_offline(svc, body, len, &o, &doc, err, sizeof err) == OG_OK) {
            check_text(o.text, WC_TEXT_MAX);
            check_text(o.email, WC_FIELD_MAX);
            if (!o.email || !o.text || !webchat_email_ok(o.email))
                __builtin_trap();
        }
        break;
    }
    default: {
        /* the option syntaxes take C strings */
        char *s = malloc(len + 1);
        memcpy(s, body, len);
        s[len] = 0;
        if (which == 6) {
            char *origins[WC_MAX_ORIGINS];
            size_t n = 0;
            if (webchat_parse_origins(s, origins, WC_MAX_ORIGINS, &n, err, sizeof err) == 0)
                for (size_t i = 0; i < n; i++) {
                    if (strncmp(origins[i], "http", 4) != 0)
                        __builtin_trap();
                    free(origins[i]);
                }
        } else if (which == 7) {
            struct webchat_prechat p;
            webchat_parse_prechat(s, &p, err, sizeof err);
        } else if (which == 10) {
            char name[256];
            webchat_filename(s, name, sizeof name);
            size_t n = strlen(name);
            if (n == 0 || strchr(name, '/') || strchr(name, '\\') || !webchat_utf8_ok(name, n))
                __builtin_trap();
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)name[i] < 0x20)
                    __builtin_trap();
        } else if (which == 11) {
            char type[128];
            if (webchat_media_type(s, type, sizeof type) == 0 &&
                (!strchr(type, '/') || strpbrk(type, "; \tABCDEFGHIJKLMNOPQRSTUVWXYZ")))
                __builtin_trap();
        } else if (which == 8) {
            struct webchat_theme t;
            if (webchat_parse_theme(s, &t, err, sizeof err) == 0 && t.color[0] != '#')
                __builtin_trap();
        } else {
            struct webchat_attach a;
            if (webchat_parse_attachments(s, &a, err, sizeof err) == 0) {
                if (a.max_bytes < 1)
                    __builtin_trap();
                webchat_attach_free(&a);
            }
        }
        free(s);
    }
    }
    svc->json->put(doc);
    return 0;
}
