/* fuzz_connector - what the connector fuzz targets share: the host's real
 * services table (JSON, allocator, logging) with emit_message/emit_status
 * replaced by stubs that store nothing but read every field and trap when an
 * item breaks what the ABI promises the core (dedup key and sender set, a
 * known kind, attachments with a url or media id, a location in range, raw
 * present; statuses with a dedup key, a known status and a provider id or
 * thread). Include it once, from the target's .c file. */
#ifndef FUZZ_CONNECTOR_H
#define FUZZ_CONNECTOR_H
#include "og_channel.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static volatile size_t fuzz_sink;

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
               touch(m->from.external_id) + touch(m->from.name) + touch(m->from.phone) +
               touch(m->from.avatar_url) + touch(m->from.username) + touch(m->text) +
               touch(m->reply_to_provider_id) + touch(m->reply_token);
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
    (void)host;
    if (s->struct_size != sizeof *s || !s->dedup_key || !*s->dedup_key ||
        (unsigned)s->status >= OG_STATUS__LAST || (!s->provider_message_id && !s->thread_id))
        __builtin_trap();
    fuzz_sink += touch(s->dedup_key) + touch(s->provider_message_id) + touch(s->thread_id) +
                 touch(s->error_code) + touch(s->error_message);
    return OG_OK;
}

/* The services table for a parser under fuzzing. */
static const struct og_services *fuzz_services(void)
{
    static struct og_services svc;
    if (!svc.struct_size) {
        svc = og_services_table;
        svc.emit_message = fuzz_emit_message;
        svc.emit_status = fuzz_emit_status;
    }
    return &svc;
}
#endif
