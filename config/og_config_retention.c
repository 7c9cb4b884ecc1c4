/* og_config_retention - the "retention" section: when closed sessions leave
 * Redis for the archive, and when archived ones are deleted (core/og_archive.h).
 *
 *   "retention": {"archive_after_days": 30, "delete_after_days": 365}
 *
 * archive_after_days: a session closed that many days ago (and its messages
 * and timeline) is moved out of Redis into compressed segment files under
 * data_dir/archive/, keeping a small index entry in Redis; it still answers
 * through the API (status "archived"), counts in the statistics and appears
 * in the exports, and a customer who writes again brings it back. 0 (the
 * default) keeps everything in Redis. The files live on one instance: with
 * several instances behind one Redis leave it at 0.
 * delete_after_days: archived sessions closed that many days ago are deleted
 * (whole segment files, see docs/operations.md); 0 (the default) never. */
#include "og_config_int.h"

#include <stddef.h>

#define RET(field) offsetof(struct og_config, retention.field)

const struct og_cfg_row og_cfg_retention_rows[] = {
    {.name = "archive_after_days",
     .type = OG_CFG_INT,
     .offset = RET(archive_after_days),
     .def = "0",
     .min = 0,
     .max = 36500,
     .help = "closed sessions move from Redis to the archive under data_dir after this many "
             "days; 0 = never (one instance only)"},
    {.name = "delete_after_days",
     .type = OG_CFG_INT,
     .offset = RET(delete_after_days),
     .def = "0",
     .min = 0,
     .max = 36500,
     .help = "archived sessions closed this many days ago are deleted for good; 0 = never"},
    {.name = "archive_batch",
     .type = OG_CFG_INT,
     .offset = RET(archive_batch),
     .def = "100",
     .min = 1,
     .max = 10000,
     .help = "sessions archived per step of the housekeeping worker"},
    {0},
};
