/* og_json - the one strict JSON parser (every JSON omnigate reads from
 * outside: platform payloads, API bodies, the config file), and the
 * services table's JSON API for plugins (json-c underneath; the core uses
 * json-c directly). */
#ifndef OG_JSON_H
#define OG_JSON_H
#include <json-c/json.h>
#include <omnigate/connector.h>
#include <stddef.h>

#define OG_JSON_MAX_DEPTH 64
#define OG_JSON_UTF8 (1u << 0)      /* refuse invalid UTF-8 */
#define OG_JSON_ALLOW_BOM (1u << 1) /* skip a leading UTF-8 byte order mark */

struct og_json_error {
    size_t offset;    /* byte offset of the problem */
    const char *what; /* [static] what is wrong there */
};
/* Exactly one JSON value: strict (double quotes only, no comments, no
 * trailing data but whitespace, a bare top-level number is fine), no NUL
 * byte, at most OG_JSON_MAX_DEPTH deep. [xfer] or NULL with err set (err
 * may be NULL). */
json_object *og_json_parse_strict(const char *buf, size_t len, unsigned flags,
                                  struct og_json_error *err);

extern const struct og_json_api og_json_api;
/* Strict parse of exactly one JSON value (trailing garbage is an error).
 * [xfer] json_object *, as struct og_json *; NULL when malformed. */
struct og_json *og_json_parse(const char *buf, size_t len);
#endif
