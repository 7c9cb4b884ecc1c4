/* og_model - names of the normalized model's enums as they appear in JSON
 * (docs/json.md: message kinds and statuses). */
#ifndef OG_MODEL_H
#define OG_MODEL_H
#include <omnigate/connector.h>

const char *og_kind_name(enum og_kind k);             /* "text", "image", ... */
const char *og_msg_status_name(enum og_msg_status s); /* "pending", ... */
#endif
