/* og_attachments - a message's attachment as the media route needs it
 * (gateway/og_api_media.c): where it came from, which channel and thread,
 * and whether the caller may see it (the session's access rule,
 * og_sessions.h). Read-only: the message and its session are as the ingest
 * and the outbox stored them. */
#ifndef OG_ATTACHMENTS_H
#define OG_ATTACHMENTS_H
#include "og_sessions.h"

#include <stddef.h>
#include <stdint.h>

struct og_msg_attachment {
    char session_id[48];
    char channel[72];
    char direction[4]; /* "in" | "out" */
    /* [owned] NULL = absent; free with og_msg_attachment_free */
    char *thread_id, *provider_message_id;
    char *source_url; /* the connector's (or the agent's) url, as given */
    char *media_id, *mime_type, *name;
    char *upload_id; /* an agent's upload (POST /api/v1/uploads) */
    int64_t size;
    char *raw; /* the inbound message's raw payload (an e-mail's parts) */
    size_t raw_len;
};

/* Attachment n of message mid, for v (NULL: a signed link vouched for it).
 * OG_ERR_NOT_FOUND when there is no such message or attachment, or v may
 * not see its session; OG_ERR_UNAVAILABLE. */
og_err og_message_attachment(struct og_core *c, const struct og_viewer *v, const char *mid,
                             size_t n, struct og_msg_attachment *out);
void og_msg_attachment_free(struct og_msg_attachment *a);
#endif
