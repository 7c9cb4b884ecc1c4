/* og_config_send - the "send" section: the outbound send queue's knobs
 * (gateway/og_send_worker.c).
 *
 *   "send": {"workers": 4, "max_attempts": 8, "retry_backoff_ms": 2000,
 *            "retry_max_ms": 300000, "claim_idle_ms": 30000}
 *
 * A channel's own rate is channels[].rate_limit_per_s (a row in og_config.c);
 * without it the connector's descriptor says (default_rate_per_s). */
#include "og_config_int.h"

#include <stddef.h>

#define SEND(field) offsetof(struct og_config, send.field)

const struct og_cfg_row og_cfg_send_rows[] = {
    {.name = "workers",
     .type = OG_CFG_INT,
     .offset = SEND(workers),
     .def = "4",
     .min = 1,
     .max = 64,
     .help = "sender threads per instance"},
    {.name = "max_attempts",
     .type = OG_CFG_INT,
     .offset = SEND(max_attempts),
     .def = "8",
     .min = 1,
     .max = 100,
     .help = "tries before a retryable failure is final"},
    {.name = "retry_backoff_ms",
     .type = OG_CFG_INT,
     .offset = SEND(retry_backoff_ms),
     .def = "2000",
     .min = 10,
     .max = 3600000,
     .help = "first retry delay, doubling"},
    {.name = "retry_max_ms",
     .type = OG_CFG_INT,
     .offset = SEND(retry_max_ms),
     .def = "300000",
     .min = 10,
     .max = 86400000,
     .help = "longest retry delay"},
    {.name = "claim_idle_ms",
     .type = OG_CFG_INT,
     .offset = SEND(claim_idle_ms),
     .def = "30000",
     .min = 100,
     .max = 3600000,
     .help = "a dead sender's messages are taken over after this long"},
    {0},
};
