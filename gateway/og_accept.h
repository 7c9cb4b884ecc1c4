/* og_accept - the HTTP server's listening socket and the one thread that
 * accepts its connections, each handed to libmicrohttpd with
 * MHD_add_connection (the daemon runs with MHD_USE_NO_LISTEN_SOCKET).
 *
 * Why not libmicrohttpd's own accepting: each of its pool threads waits on
 * the one listening socket and the first to wake takes the connection, so
 * a few threads ended up holding most connections (a run of 64 keep-alive
 * connections left 14 of 32 threads with none and some with seven), and a
 * thread answers its connections one after the other: a platform's webhook
 * waited behind the others on its thread while most threads slept.
 * MHD_add_connection gives a connection to the pool thread its descriptor
 * names (descriptor modulo pool size, the next one with room if that one
 * is full), which spreads connections that arrive together evenly.
 * The accept policy (og_edge_accept) still runs for every connection. */
#ifndef OG_ACCEPT_H
#define OG_ACCEPT_H
#include <microhttpd.h>
#include <stddef.h>
#include <sys/socket.h>

struct og_accept;

/* Binds addr (address reuse on; an IPv6 address does not take IPv4) and
 * listens. NULL with the reason in err. [xfer, og_accept_free] */
struct og_accept *og_accept_new(const struct sockaddr *addr, socklen_t addrlen, char *err,
                                size_t errlen);
/* The bound port (the one chosen for port 0). */
int og_accept_port(const struct og_accept *a);
/* Starts accepting into mhd (borrowed; started with MHD_USE_NO_LISTEN_SOCKET
 * and MHD_USE_ITC). 0, or -1 when the thread cannot start. */
int og_accept_start(struct og_accept *a, struct MHD_Daemon *mhd);
/* Stops accepting and closes the listening socket: new connections are
 * refused by the kernel from then on. Before MHD_stop_daemon; while the
 * daemon drains, the socket stays open and og_edge_drain's accept policy
 * closes what arrives. */
void og_accept_free(struct og_accept *a);
#endif
