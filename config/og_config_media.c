/* og_config_media - the "media" section: the media store (core/og_media.h)
 * that keeps the files of attachments, and the signed links to them.
 *
 *   "media": {"dir": "/var/lib/omnigate/media", "max_bytes": 1073741824,
 *             "max_age_s": 2592000, "max_file_bytes": 33554432,
 *             "link_ttl_s": 604800,
 *             "s3": {"endpoint": "https://s3.example.com", "bucket": "omnigate-media",
 *                    "region": "us-east-1", "access_key": "${S3_ACCESS_KEY}",
 *                    "secret_key": "${S3_SECRET_KEY}"}}
 */
#include "og_config_int.h"

#include "og_fetch.h"

#include <stddef.h>
#include <string.h>

#define MEDIA(field) offsetof(struct og_config, media.field)
#define S3(field)                                                                                  \
    (offsetof(struct og_config, media.s3.field) - offsetof(struct og_config, media.s3))

static int check_endpoint(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                          const char *path, void *base)
{
    (void)base;
    const char *s = json_object_get_string(v);
    int scheme = !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
    return scheme && og_url_valid(s) ? 0 : og_cfg_expect(l, row, path);
}

/* With an endpoint the bucket and both keys are needed: named, not found
 * missing at the first file. */
static int s3_done(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                   const char *path, void *base)
{
    (void)row, (void)base;
    json_object *ep;
    if (!json_object_is_type(v, json_type_object) ||
        !json_object_object_get_ex(v, "endpoint", &ep) ||
        !json_object_is_type(ep, json_type_string) || !*json_object_get_string(ep))
        return 0;
    static const char *const need[] = {"bucket", "access_key", "secret_key"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
        json_object *x;
        if (!json_object_object_get_ex(v, need[i], &x) ||
            !json_object_is_type(x, json_type_string) || !*json_object_get_string(x))
            og_errors_add(l->errs, "%s.%s: required with %s.endpoint", path, need[i], path);
    }
    return 0;
}

static const struct og_cfg_row s3_rows[] = {
    {.name = "endpoint",
     .type = OG_CFG_STR,
     .offset = S3(endpoint),
     .def_doc = "none: the directory store only",
     .check = check_endpoint,
     .expect = "must be an http:// or https:// URL (http(s)://host[:port])",
     .help = "an S3-compatible object store shared by several instances (path-style "
             "<endpoint>/<bucket>/<key>); media.dir is then this instance's read cache"},
    {.name = "bucket",
     .type = OG_CFG_STR,
     .offset = S3(bucket),
     .min = 3,
     .max = 63,
     .chars = ".-",
     .expect = "must be an S3 bucket name: 3 to 63 of a-z 0-9 . -",
     .help = "the bucket (it must exist; its lifecycle rule is the age limit of the shared "
             "store)"},
    {.name = "region",
     .type = OG_CFG_STR,
     .offset = S3(region),
     .def = "us-east-1",
     .flags = OG_CFG_NONEMPTY,
     .max = 64,
     .chars = "-_",
     .help = "the region requests are signed for (SigV4)"},
    {.name = "access_key",
     .type = OG_CFG_STR,
     .offset = S3(access_key),
     .help = "the access key id (\"${NAME}\" takes it from the environment)"},
    {.name = "secret_key",
     .type = OG_CFG_STR,
     .offset = S3(secret_key),
     .flags = OG_CFG_SECRET,
     .help = "the secret access key (\"${NAME}\" takes it from the environment)"},
    {0},
};

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
    {.name = "s3",
     .type = OG_CFG_OBJECT,
     .offset = MEDIA(s3),
     .children = s3_rows,
     .check = s3_done,
     .help = "the shared store: files also kept in an S3-compatible bucket (docs/operations.md)"},
    {0},
};
