/* og_err - the names of omnigate's one error enum (og_err, defined in the
 * connector ABI so plugins and the core share it): an English phrase for
 * people and log lines, and a short stable token for machines (a failed
 * message's error code, an event field). What an error means to an HTTP
 * client (status, API code) is the gateway's business: gateway/og_reply.c. */
#ifndef OG_ERR_H
#define OG_ERR_H
#include <omnigate/connector.h>

/* "rate limited"; never NULL ("unknown error" past the enum). */
const char *og_strerror(og_err e);
/* "rate_limited"; never NULL ("error" past the enum). */
const char *og_err_name(og_err e);
/* The og_err of a name og_err_name gives; OG_ERR_INTERNAL for any other. */
og_err og_err_from_name(const char *name);
#endif
