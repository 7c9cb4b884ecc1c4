/* og_probe - asking a redis-server that no core uses yet (or any more)
 * through its unix socket, one short connection each: whether it is up or
 * still loading its data, its INFO, and to shut down. The embedded Redis
 * supervisor (gateway/og_embedded.c) uses these while it starts and stops
 * its redis-server; everything else talks to Redis through the core. */
#ifndef OG_PROBE_H
#define OG_PROBE_H
#include <stddef.h>

enum og_probe { OG_PROBE_OK, OG_PROBE_LOADING, OG_PROBE_ERROR, OG_PROBE_SILENT };
/* PINGs the server; an error reply other than LOADING is copied to err. */
enum og_probe og_probe_ping(const char *sock, char *err, size_t errlen);
/* The text of INFO section (Redis answers it while loading), or NULL when
 * the server does not answer. [xfer] */
char *og_probe_info(const char *sock, const char *section);
/* Sends SHUTDOWN (Redis fsyncs the AOF and exits). 1 when the server took
 * it: a SHUTDOWN that works gets no reply, the connection just closes. */
int og_probe_shutdown(const char *sock);
#endif
