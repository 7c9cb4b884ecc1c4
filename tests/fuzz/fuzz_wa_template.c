/* fuzz_wa_template - libFuzzer target for the rendering of a platform
 * message template with a request's parameters (gateway/og_api_templates.c,
 * og_api_template_render): the template comes from the platform's listing,
 * the parameters from an API client. The input is JSON
 * {"t": <a listed template>, "c": <the request's components>}.
 * Properties checked, beyond ASan/UBSan:
 *   - OG_OK comes with a text (a C string that ends) and no reason, a
 *     refusal (OG_ERR_INVALID, nothing else) with a reason and no text. */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_api_templates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    json_tokener *tok = json_tokener_new();
    json_object *in = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    if (!in)
        return 0;
    json_object *t = json_object_object_get(in, "t"), *c = json_object_object_get(in, "c");
    char *text = (char *)1, why[256];
    og_err e = og_api_template_render(t, c, &text, why, sizeof why);
    if (e == OG_OK) {
        if (!text || why[0])
            abort();
        (void)strlen(text);
    } else if (e != OG_ERR_INVALID || text || !why[0]) {
        abort();
    }
    free(text);
    json_object_put(in);
    return 0;
}
