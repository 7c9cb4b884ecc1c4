/* og_model - see og_model.h. */
#include "og_model.h"

const char *og_kind_name(enum og_kind k)
{
    static const char *const n[OG_KIND__LAST] = {"text",        "image",    "video",    "audio",
                                                 "file",        "sticker",  "location", "contact",
                                                 "interactive", "reaction", "system"};
    return (unsigned)k < OG_KIND__LAST ? n[k] : "system";
}

const char *og_msg_status_name(enum og_msg_status s)
{
    static const char *const n[OG_STATUS__LAST] = {"pending", "sent", "delivered", "read",
                                                   "failed"};
    return (unsigned)s < OG_STATUS__LAST ? n[s] : "pending";
}
