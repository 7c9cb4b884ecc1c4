/* fuzz_config - libFuzzer target for the configuration loader.
 *
 * Feeds arbitrary bytes to og_config_load_buffer(): JSON parsing, ${ENV}
 * substitution (with a few variables set, so that converting them to a key's
 * type is reached too) and every key's validation. The input is used as given
 * (not NUL-terminated), so a read past its end shows up under ASan. Whatever
 * the outcome, the config and the error list must free cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "og_config.h"
#include "og_plugin.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("OG_FUZZ_INT", "12", 1);
    setenv("OG_FUZZ_BOOL", "true", 1);
    setenv("OG_FUZZ_NUM", "2.5", 1);
    setenv("OG_FUZZ_WORD", "x-1", 1);
    setenv("OG_FUZZ_EMPTY", "", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    if (og_config_load_buffer((const char *)data, size, &cfg, &errs) == 0) {
        /* A config that loads must have a listen address that splits. */
        char host[256];
        int port;
        if (og_config_listen_split(cfg.listen, host, sizeof host, &port) != 0)
            __builtin_trap();
    }
    og_config_free(&cfg);
    og_errors_free(&errs);
    return 0;
}
