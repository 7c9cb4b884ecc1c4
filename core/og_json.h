/* og_json - the services table's JSON API (json-c underneath). The core uses
 * json-c directly; this table exists for plugins. */
#ifndef OG_JSON_H
#define OG_JSON_H
#include <omnigate/connector.h>

extern const struct og_json_api og_json_api;
/* Strict parse of exactly one JSON value (trailing garbage is an error).
 * [xfer] json_object *, as struct og_json *; NULL when malformed. */
struct og_json *og_json_parse(const char *buf, size_t len);
#endif
