/* og_config_media - the "media" section: the media store (core/og_media.h)
 * that keeps the files of attachments, and the signed links to them.
 *
 *   "media": {"dir": "/var/lib/omnigate/media", "max_bytes": 1073741824,
 *             "max_age_s": 2592000, "max_file_bytes": 33554432,
 *             "link_ttl_s": 604800}
 */
#include "og_config_int.h"

#include <stddef.h>

#define MEDIA(field) offsetof(struct og_config, media.field)

const struct og_cfg_row og_cfg_media_rows[] = {
    {.name = "dir",
     .type = OG_CFG_STR,
     .offset = MEDIA(dir),
     .def_doc = "<data_dir>/media",
     .flags = OG_CFG_NONEMPTY,
     .help = "the directory attachments' files are kept in (several instances may share one)"},
    {.name = "max_bytes",
     .type = OG_CFG_INT,
     .offset = MEDIA(max_bytes),
     .def = "1073741824",
     .min = 0,
     .max = 1e15,
     .help = "the store's size cap: the least recently used files go first (0 = no cap)"},
    {.name = "max_age_s",
     .type = OG_CFG_INT,
     .offset = MEDIA(max_age_s),
     .def = "2592000",
     .min = 0,
     .max = 1e10,
     .help = "a file not read for this long is removed (0 = kept while the cap allows); "
             "it is fetched from the platform again when asked for, while the platform keeps it"},
    {.name = "max_file_bytes",
     .type = OG_CFG_INT,
     .offset = MEDIA(max_file_bytes),
     .def = "33554432",
     .min = 1024,
     .max = 268435456,
     .help = "the largest file fetched from a platform or uploaded (413 past it)"},
    {.name = "link_ttl_s",
     .type = OG_CFG_INT,
     .offset = MEDIA(link_ttl_s),
     .def = "604800",
     .min = 60,
     .max = 31536000,
     .help = "how long the signed attachment links in messages and events work without a "
             "token (with a token they always do)"},
    {0},
};
