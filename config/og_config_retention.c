/* og_config_retention - the "retention" section: when closed sessions leave
 * Redis for the archive, where the archive is, and when archived ones are
 * deleted (core/og_archive.h).
 *
 *   "retention": {"archive_after_days": 30, "delete_after_days": 365,
 *                 "store": "s3"}
 *
 * archive_after_days: a session closed that many days ago (and its messages
 * and timeline) is moved out of Redis into compressed segments, keeping a
 * small index entry in Redis; it still answers through the API (status
 * "archived"), counts in the statistics and appears in the exports, and a
 * customer who writes again brings it back. 0 (the default) keeps
 * everything in Redis.
 * store: where the segments go. "data_dir" (the default): append-only files
 * under data_dir/archive/, which only that instance reads, so with several
 * instances behind one Redis it must be "s3": one immutable object per
 * archiving step in media.s3's bucket, which every instance reads (ranged
 * GETs). "s3" without media.s3 is a config error.
 * delete_after_days: archived sessions closed that many days ago are deleted
 * (whole segment files or objects, see docs/operations.md); 0 (the default)
 * never. */
#include "og_config_int.h"

#include <stddef.h>
#include <string.h>

#define RET(field) offsetof(struct og_config, retention.field)

/* "s3" needs the media store's bucket: checked against the file itself, so
 * the order of the sections does not matter. */
static int store_check(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                       const char *path, void *base)
{
    (void)row, (void)base;
    if (strcmp(json_object_get_string(v), "s3") != 0)
        return 0;
    json_object *media = NULL, *s3 = NULL, *ep = NULL;
    if (!l->cfg->root || !json_object_object_get_ex(l->cfg->root, "media", &media) ||
        !json_object_object_get_ex(media, "s3", &s3) ||
        !json_object_object_get_ex(s3, "endpoint", &ep) ||
        !json_object_is_type(ep, json_type_string) || !*json_object_get_string(ep)) {
        og_errors_add(l->errs,
                      "%s: \"s3\" needs media.s3 (endpoint, bucket, access_key, secret_key): "
                      "the archive's objects go to that bucket",
                      path);
        return -1;
    }
    return 0;
}

const struct og_cfg_row og_cfg_retention_rows[] = {
    {.name = "archive_after_days",
     .type = OG_CFG_INT,
     .offset = RET(archive_after_days),
     .def = "0",
     .min = 0,
     .max = 36500,
     .help = "closed sessions move from Redis to the archive (retention.store) after this many "
             "days; 0 = never"},
    {.name = "store",
     .type = OG_CFG_ENUM,
     .offset = RET(store),
     .def = "data_dir",
     .choices = "data_dir|s3",
     .check = store_check,
     .help = "where archived sessions go: \"data_dir\", append-only files under "
             "data_dir/archive (one instance only); \"s3\", one object per archiving step in "
             "media.s3's bucket (needs media.s3; several instances on one Redis)"},
    {.name = "delete_after_days",
     .type = OG_CFG_INT,
     .offset = RET(delete_after_days),
     .def = "0",
     .min = 0,
     .max = 36500,
     .help = "archived sessions closed this many days ago are deleted for good (with their "
             "files or objects); 0 = never"},
    {.name = "archive_batch",
     .type = OG_CFG_INT,
     .offset = RET(archive_batch),
     .def = "100",
     .min = 1,
     .max = 10000,
     .help = "sessions archived per step of the housekeeping worker"},
    {0},
};
