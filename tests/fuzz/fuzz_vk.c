/* fuzz_vk - libFuzzer target for the VK connector's inbound parsers:
 * vk_parse_callback() (a Callback API body, with the confirmation and secret
 * checks), vk_parse_event() on any JSON (as if the secret matched) and
 * vk_parse_longpoll() (an a_check answer), plus the text splitter.
 *
 * The connector sources are #included, so the parser is reached exactly as
 * the plugin builds it. The services table is the host's real one, copied
 * with emit_message/emit_status replaced by checks that trap when an emitted
 * message breaks what the ABI promises the core (a dedup key and sender id,
 * a known kind, attachments with a url or media id, a location in range). A
 * stub profile lookup answers for even user ids so that path runs too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "og_channel.h"

#include "../../connectors/vk/vk_parse.c"
#include "../../connectors/vk/vk_send.c"

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
        (m->n_attachments && !m->attachments) || m->n_attachments > VK_MAX_ATTACH || !m->raw ||
        !m->thread_id)
        __builtin_trap();
    size_t n = touch(m->dedup_key) + touch(m->provider_message_id) + touch(m->thread_id) +
               touch(m->from.name) + touch(m->from.username) + touch(m->from.avatar_url) +
               touch(m->text) + touch(m->reply_to_provider_id);
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct og_attachment *a = &m->attachments[i];
        if ((!a->url && !a->media_id) || a->size < 0)
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
    __builtin_trap(); /* the VK connector emits no statuses */
}

static void fuzz_log(void *host, enum og_log_level lvl, const char *fmt, ...) {}

static int fuzz_profile(void *ud, int64_t id, struct vk_profile *out)
{
    if (id % 2)
        return 0;
    snprintf(out->name, sizeof out->name, "User %lld", (long long)id);
    snprintf(out->username, sizeof out->username, "id%lld", (long long)id);
    return 1;
}

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
    static const struct vk_callback_conf cc = {199493573, "my_secret", "693d0ba9"};
    const char *answer = NULL;
    og_err e = vk_parse_callback(&svc, NULL, &cc, s, size, fuzz_profile, NULL, &answer);
    if (e != OG_OK && e != OG_ERR_INVALID && e != OG_ERR_FORBIDDEN)
        __builtin_trap();
    if (e == OG_OK && (!answer || (strcmp(answer, "ok") != 0 && answer != cc.confirmation)))
        __builtin_trap();
    struct og_json *j = svc.json->parse(s, size);
    if (j) {
        e = vk_parse_event(&svc, NULL, j, s, size, NULL, NULL);
        if (e != OG_OK && e != OG_ERR_INVALID)
            __builtin_trap();
        svc.json->put(j);
    }
    struct vk_lp_answer a;
    e = vk_parse_longpoll(&svc, NULL, s, size, fuzz_profile, NULL, &a);
    if (e != OG_OK && e != OG_ERR_INVALID)
        __builtin_trap();
    size_t max = size ? 2 + data[0] % 64 : 4;
    for (size_t pos = 0; pos < size;) {
        size_t n = og_text_split_len(s + pos, size - pos, max);
        if (n == 0 || n > size - pos || (max >= 2 && og_text_utf16_len(s + pos, n) > max))
            __builtin_trap();
        pos += n;
    }
    return 0;
}
