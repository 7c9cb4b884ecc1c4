/* fuzz_signed_json - libFuzzer target for the signed_json example connector's
 * inbound parser, signed_json_parse() (body bytes -> emitted messages).
 *
 * The plugin source is #included, so the parser is reached exactly as the
 * plugin builds it, with no header of its own (see the comment on
 * signed_json_parse in examples/signed_json/signed_json.c). The services
 * table is the host's real one (og_services_table: real JSON, allocator),
 * copied with emit_message/emit_status replaced: the replacement stores
 * nothing, but reads every field of each message and traps when one breaks
 * what the ABI promises the core (a dedup key and sender id that are set, a
 * known kind, attachments with a URL, a location in range), so the fuzzer
 * checks those properties as well as memory safety. The input is used as
 * given, not NUL-terminated. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "og_channel.h"

#include "../../examples/signed_json/signed_json.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fuzz_sink; /* keeps the reads below from being optimized out */

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static og_err fuzz_emit_message(void *host, const struct og_inbound *m)
{
    if (m->struct_size != sizeof *m || !m->dedup_key || !*m->dedup_key || !m->from.external_id ||
        !*m->from.external_id || (unsigned)m->kind >= OG_KIND__LAST ||
        (m->n_attachments && !m->attachments) || !m->raw)
        __builtin_trap();
    size_t n = touch(m->dedup_key) + touch(m->provider_message_id) + touch(m->thread_id) +
               touch(m->from.external_id) + touch(m->from.name) + touch(m->from.username) +
               touch(m->from.avatar_url) + touch(m->from.phone) + touch(m->from.email) +
               touch(m->text) + touch(m->reply_to_provider_id) + touch(m->reply_token);
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct og_attachment *a = &m->attachments[i];
        if (!a->url || a->size < 0)
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
    __builtin_trap(); /* signed_json never emits statuses */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct og_services svc;
    if (!svc.struct_size) {
        svc = og_services_table;
        svc.emit_message = fuzz_emit_message;
        svc.emit_status = fuzz_emit_status;
    }
    og_err e = signed_json_parse(&svc, NULL, (const char *)data, size);
    if (e != OG_OK && e != OG_ERR_INVALID)
        __builtin_trap();
    return 0;
}
