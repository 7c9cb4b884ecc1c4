/* fuzz_json - the services table's strict JSON parser (og_json_parse) and the
 * accessors plugins use on its result (find, str, at, key_at, serialize):
 * every connector's parse function goes through these. */
#include "og_json.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct og_json_api *j = &og_json_api;
    struct og_json *root = j->parse((const char *)data, size);
    if (!root)
        return 0;
    /* Walk a little of whatever came in, the way connectors do. */
    static const char *const paths[] = {"entry.0.changes.0.value",
                                        "events.0.message.text",
                                        "message.from.id",
                                        "object.message.attachments.0",
                                        "0",
                                        "a.b.c"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        struct og_json *v = j->find(root, paths[i]);
        (void)j->str(v);
        (void)j->int64(v);
        (void)j->dbl(v);
    }
    for (size_t i = 0; i < j->len(root) && i < 16; i++) {
        (void)j->key_at(root, i);
        (void)j->str(j->at(root, i));
    }
    size_t n = 0;
    const char *s = j->serialize(root, &n);
    if (!s || strlen(s) != n)
        __builtin_trap();
    j->put(root);
    return 0;
}
