/* og_err - see og_err.h. */
#include "og_err.h"

#include <string.h>

static const struct {
    const char *text, *name;
} names[OG_ERR__LAST] = {
    [OG_OK] = {"ok", "ok"},
    [OG_ERR_INVALID] = {"invalid input", "invalid"},
    [OG_ERR_SIGNATURE] = {"bad signature", "signature"},
    [OG_ERR_AUTH] = {"authentication failed", "auth"},
    [OG_ERR_RATE_LIMITED] = {"rate limited", "rate_limited"},
    [OG_ERR_RETRYABLE] = {"temporary failure", "retryable"},
    [OG_ERR_WINDOW_CLOSED] = {"messaging window closed", "window_closed"},
    [OG_ERR_PERMANENT] = {"permanent failure", "permanent"},
    [OG_ERR_NOMEM] = {"out of memory", "nomem"},
    [OG_ERR_UNAVAILABLE] = {"storage unavailable", "unavailable"},
    [OG_ERR_NOT_FOUND] = {"not found", "not_found"},
    [OG_ERR_CONFLICT] = {"conflict", "conflict"},
    [OG_ERR_TOO_LARGE] = {"too large", "too_large"},
    [OG_ERR_FORBIDDEN] = {"forbidden", "forbidden"},
    [OG_ERR_UNSUPPORTED] = {"unsupported", "unsupported"},
    [OG_ERR_INTERNAL] = {"internal error", "internal"},
};

const char *og_strerror(og_err e)
{
    return (unsigned)e < OG_ERR__LAST && names[e].text ? names[e].text : "unknown error";
}

const char *og_err_name(og_err e)
{
    return (unsigned)e < OG_ERR__LAST && names[e].name ? names[e].name : "error";
}

og_err og_err_from_name(const char *name)
{
    for (int e = 0; name && e < OG_ERR__LAST; e++)
        if (names[e].name && strcmp(names[e].name, name) == 0)
            return (og_err)e;
    return OG_ERR_INTERNAL;
}
