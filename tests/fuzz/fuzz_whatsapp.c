/* fuzz_whatsapp - libFuzzer target for the WhatsApp connector's webhook parser,
 * whatsapp_parse() (signed body bytes -> emitted messages and statuses). The
 * parser's source is #included, so it is built exactly as in the plugin
 * (og_graph linked as in the plugin); fuzz_connector.h checks every emitted
 * item. The input is used as given, not NUL-terminated. */
#include "fuzz_connector.h"

#include "../../connectors/whatsapp/whatsapp_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    og_err e = whatsapp_parse(fuzz_services(), NULL, (const char *)data, size);
    if (e != OG_OK && e != OG_ERR_INVALID)
        __builtin_trap();
    return 0;
}
