/* og_webchat - the state side of the visitor services (ABI 1.2's
 * og_services.visitor; core/lua/webchat.lua), and the visitor's view of
 * sessions, messages and events.
 *
 * A visitor is a contact of its channel whose external id is "v_<id>" and
 * whose one thread is that id, so its messages are stored by the ordinary
 * ingest (og_core_ingest: sensitive words, routing, webhooks, follow-ups and
 * automatic texts apply as to any channel). Its token (32 random bytes,
 * base64url) is kept only as its SHA-256 (P:wc:tok:<hex>). Rate limits are
 * fixed windows in Redis, shared by every instance.
 *
 * The visitor's view never carries agent ids, e-mail addresses or internal
 * fields: VS {"id","status":"queued|active|closed","agent":{"name"}|null,
 * "created_at","closed_at","csat"} and VM {"id","direction","kind","text",
 * "created_at","sender":{"type","name"},"client_id","attachments"}. */
#ifndef OG_WEBCHAT_H
#define OG_WEBCHAT_H
#include "og_channel.h"
#include "og_core.h"
#include "og_sessions.h"

#include <json-c/json.h>

/* The core's implementation of og_visitor_ops (og_core_sink installs it). */
extern const struct og_visitor_ops og_webchat_ops;

/* A message as the visitor sees it [xfer], or NULL for one the visitor does
 * not see (an outbound message not sent yet, or failed). */
char *og_webchat_vm(struct og_core *c, json_object *msg, const char *channel);
/* A session as the visitor sees it [xfer]. */
char *og_webchat_vs(struct og_core *c, json_object *session);
/* An agent's display name into out ("" when unknown); cached for a while. */
void og_webchat_agent_name(struct og_core *c, const char *agent_id, char *out, size_t outsz);

/* A file a visitor sent (GET /api/v1/files/{id}), for a viewer who may see
 * its session: *data, *mime, *name [xfer]. OG_ERR_NOT_FOUND otherwise. */
og_err og_webchat_file(struct og_core *c, const struct og_viewer *v, const char *id, char **data,
                       size_t *len, char **mime, char **name);

/* An agent types in session sid (on 1) or stopped (0): event "typing" for
 * the visitor's stream and the other agents. v must be allowed to act on
 * the session. */
og_err og_webchat_agent_typing(struct og_core *c, const struct og_viewer *v, const char *sid,
                               int on, char *msg, size_t msglen);

/* The visitor's side of one event of P:events. The channel and contact the
 * event is about ([borrowed] from ev) for matching streams: 0, or -1 when
 * the event concerns no visitor. */
int og_webchat_event_owner(json_object *ev, const char **channel, const char **contact_id);
/* The visitor event for ev: *vtype gets its name (message, typing,
 * assigned, closed), id (message events' id) its SSE id or ""; returns the
 * data JSON [xfer], or NULL when the visitor gets nothing from ev. For
 * "closed", closing_text and offer_csat come from the stream's options. */
char *og_webchat_visitor_event(struct og_core *c, const char *type, json_object *ev,
                               const char *closing_text, int offer_csat, const char **vtype,
                               char *id, size_t idsz);
#endif
