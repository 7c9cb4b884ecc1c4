/* og_config_int - the loader's building blocks, shared by og_config.c and
 * the files that parse one section each (og_config_<section>.c), so a new
 * section is a new file plus one row in og_config.c's top-level key table.
 *
 * Every helper reports its own error ("<path>: must be a string") into
 * l->errs and returns NULL/-1/0; callers just skip the value then. */
#ifndef OG_CONFIG_INT_H
#define OG_CONFIG_INT_H
#include "og_config.h"
#include "og_plugin.h"

#include <json-c/json.h>
#include <stdint.h>

/* State of one load: the config being filled, where errors go, and the
 * channel whose keys are being walked (for the channel key table). */
struct og_load {
    struct og_config *cfg;
    struct og_errors *errs;
    struct og_config_channel *ch;
};

/* One known key of one object level, and what to do with its value. */
struct og_key {
    const char *name;
    void (*take)(struct og_load *l, json_object *v, const char *path);
};

/* "parent.key" / "parent[i]", with control characters escaped. [xfer] */
char *og_cfg_path_key(const char *parent, const char *key);
char *og_cfg_path_index(const char *parent, size_t i);
/* Hands each key of obj to its table row; unknown keys are errors. */
void og_cfg_walk(struct og_load *l, json_object *obj, const char *path, const struct og_key *keys);
/* The string in v [borrowed], or NULL after reporting "must be a string". */
const char *og_cfg_str(struct og_load *l, json_object *v, const char *path);
const char *og_cfg_nonempty(struct og_load *l, json_object *v, const char *path);
/* An integer in [lo, hi] into *out; 0 on success. */
int og_cfg_int(struct og_load *l, json_object *v, const char *path, int64_t lo, int64_t hi,
               int64_t *out);
/* 1 when v is an object (else reports it). */
int og_cfg_object(struct og_load *l, json_object *v, const char *path);
/* free(*dst); *dst = strdup(s). */
void og_cfg_replace(char **dst, const char *s);
/* 1 when s is 1..max characters of a-z, 0-9 (A-Z when upper) and extra. */
int og_cfg_charset_ok(const char *s, size_t max, const char *extra, int upper);
/* "send" and channels[i].rate_limit_per_s (og_config_send.c). */
void og_config_take_send(struct og_load *l, json_object *v, const char *path);
void og_config_take_ch_rate(struct og_load *l, json_object *v, const char *path);
void og_config_send_defaults(struct og_config *cfg);

/* Sections in their own files. */
void og_config_take_smtp(struct og_load *l, json_object *v, const char *path);
void og_config_take_followups(struct og_load *l, json_object *v, const char *path);
/* After the walk: checks that need several sections (followups need smtp). */
void og_config_followups_check(struct og_load *l);
/* "webhooks" and "webhook_dispatch" (og_config_webhooks.c). */
void og_cfg_take_webhooks(struct og_load *l, json_object *v, const char *path);
void og_cfg_take_webhook_dispatch(struct og_load *l, json_object *v, const char *path);
void og_cfg_free_webhooks(struct og_config *cfg);
#endif
