/* fuzz_line - libFuzzer target for the LINE connector's webhook parser,
 * line_parse_body() (verified body bytes -> emitted messages).
 *
 * connectors/line/line_parse.c is #included, so the parser is built exactly
 * as in the plugin. The services table is the host's real one
 * (og_services_table: real JSON, allocator, logging), copied with
 * emit_message/emit_status replaced by no-ops that store nothing but read
 * every field of each message and trap when one breaks what the ABI promises
 * the core (dedup key and sender id set, a known kind, attachments with a
 * URL or media id, a location in range, raw present). A stand-in profile
 * callback hands back allocated strings, so the ownership path of sender
 * profiles is exercised too. The input is used as given, not NUL-terminated. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "og_channel.h"

#include "../../connectors/line/line_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fuzz_sink; /* keeps the reads below from being optimized out */

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static og_err fuzz_emit_message(void *host, const struct og_inbound *m)
{
    (void)host;
    if (m->struct_size != sizeof *m || !m->dedup_key || !*m->dedup_key || !m->from.external_id ||
        !*m->from.external_id || (unsigned)m->kind >= OG_KIND__LAST ||
        (m->n_attachments && !m->attachments) || !m->raw)
        __builtin_trap();
    size_t n = touch(m->dedup_key) + touch(m->provider_message_id) + touch(m->thread_id) +
               touch(m->from.external_id) + touch(m->from.name) + touch(m->from.avatar_url) +
               touch(m->text) + touch(m->reply_to_provider_id) + touch(m->reply_token);
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct og_attachment *a = &m->attachments[i];
        if ((!a->url && !a->media_id) || a->size < 0)
            __builtin_trap();
        n += touch(a->url) + touch(a->media_id) + touch(a->mime_type) + touch(a->name);
    }
    if (m->location) {
        const struct og_location *l = m->location;
        if (!(l->latitude >= -90 && l->latitude <= 90) ||
            !(l->longitude >= -180 && l->longitude <= 180))
            __builtin_trap();
        n += touch(l->name) + touch(l->address);
    }
    for (size_t i = 0; i < m->raw_len; i++)
        n += (unsigned char)m->raw[i];
    fuzz_sink += n;
    return OG_OK;
}

static og_err fuzz_emit_status(void *host, const struct og_status_update *s)
{
    (void)host, (void)s;
    __builtin_trap(); /* the LINE connector never emits statuses */
}

static void fuzz_profile(void *ud, const char *stype, const char *user, const char *chat,
                         struct line_profile *out)
{
    const struct og_services *svc = ud;
    if (!stype || !user || !*user)
        __builtin_trap();
    fuzz_sink += touch(chat);
    out->name = svc->strdup(user);
    out->avatar_url = chat ? svc->strdup(chat) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct og_services svc;
    if (!svc.struct_size) {
        svc = og_services_table;
        svc.emit_message = fuzz_emit_message;
        svc.emit_status = fuzz_emit_status;
    }
    struct line_parse_ctx ctx = {
        .svc = &svc,
        .host = NULL,
        .api_data_base = "https://api-data.line.me",
        .profile = fuzz_profile,
        .profile_ud = &svc,
    };
    og_err e = line_parse_body(&ctx, (const char *)data, size);
    if (e != OG_OK && e != OG_ERR_INVALID)
        __builtin_trap();
    return 0;
}
