/* fuzz_telegram - libFuzzer target for the Telegram connector's inbound
 * parsers: telegram_parse_update_body() (a webhook body, one Update) and
 * telegram_parse_updates() (a getUpdates answer), plus the text splitter
 * used when sending.
 *
 * The connector sources are #included, so the parser is reached exactly as
 * the plugin builds it. The services table is the host's real one
 * (og_services_table: real JSON, allocator), copied with emit_message /
 * emit_status replaced by checks that trap when an emitted message breaks
 * what the ABI promises the core: a dedup key and sender id that are set, a
 * known kind, attachments with a media id, a location in range. The input is
 * used as given, not NUL-terminated. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "og_channel.h"

#include "../../connectors/telegram/telegram_parse.c"
#include "../../connectors/telegram/telegram_send.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fuzz_sink;

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static og_err fuzz_emit_message(void *host, const struct og_inbound *m)
{
    if (m->struct_size != sizeof *m || !m->dedup_key || !*m->dedup_key || !m->from.external_id ||
        !*m->from.external_id || (unsigned)m->kind >= OG_KIND__LAST ||
        (m->n_attachments && !m->attachments) || !m->raw || !m->thread_id)
        __builtin_trap();
    size_t n = touch(m->dedup_key) + touch(m->provider_message_id) + touch(m->thread_id) +
               touch(m->from.name) + touch(m->from.username) + touch(m->text) +
               touch(m->reply_to_provider_id);
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct og_attachment *a = &m->attachments[i];
        if (!a->media_id || a->size < 0)
            __builtin_trap();
        n += touch(a->media_id) + touch(a->mime_type) + touch(a->name) + touch(a->url);
    }
    if (m->location && (!(m->location->latitude >= -90 && m->location->latitude <= 90) ||
                        !(m->location->longitude >= -180 && m->location->longitude <= 180)))
        __builtin_trap();
    for (size_t i = 0; i < m->raw_len; i++)
        n += (unsigned char)m->raw[i];
    fuzz_sink += n;
    return OG_OK;
}

static og_err fuzz_emit_status(void *host, const struct og_status_update *s)
{
    __builtin_trap(); /* Telegram has no delivery statuses */
}

static void fuzz_log(void *host, enum og_log_level lvl, const char *fmt, ...) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct og_services svc;
    if (!svc.struct_size) {
        svc = og_services_table;
        svc.emit_message = fuzz_emit_message;
        svc.emit_status = fuzz_emit_status;
        svc.log = fuzz_log;
    }
    const char *s = (const char *)data;
    og_err e = telegram_parse_update_body(&svc, NULL, s, size);
    if (e != OG_OK && e != OG_ERR_INVALID)
        __builtin_trap();
    int64_t off = 7, before = off;
    e = telegram_parse_updates(&svc, NULL, s, size, &off);
    if ((e != OG_OK && e != OG_ERR_INVALID) || off < before)
        __builtin_trap();
    /* The splitter: every chunk is non-empty, fits, and the chunks cover the input. */
    size_t max = size ? 2 + data[0] % 64 : 4;
    for (size_t pos = 0; pos < size;) {
        size_t n = og_text_split_len(s + pos, size - pos, max);
        if (n == 0 || n > size - pos || og_text_utf16_len(s + pos, n) > max)
            __builtin_trap();
        pos += n;
    }
    return 0;
}
