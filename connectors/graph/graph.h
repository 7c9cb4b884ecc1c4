/* graph.h - the Meta Graph API pieces shared by the WhatsApp Business Cloud
 * API connector and the Messenger Platform connector (Graph API v25.0).
 *
 * Both platforms deliver webhooks the same way: a GET verification handshake
 * (hub.mode / hub.verify_token / hub.challenge) and POSTs signed with
 * X-Hub-Signature-256 (HMAC-SHA256 of the raw body keyed with the App
 * Secret). Both answer sends with the same Graph error object
 * {"error":{"message","type","code","error_subcode","fbtrace_id"}}. This
 * library implements those once, on top of the host services table only: it
 * links no JSON, HTTP or crypto library of its own.
 *
 * Every function is thread-safe (it keeps no state). Strings passed in are
 * [borrowed]; strings returned are [xfer] and freed with svc->free. */
#ifndef OG_GRAPH_H
#define OG_GRAPH_H

#include <omnigate/connector.h>

/* The customer-service window of both platforms: free-form messages may be
 * sent only this long after the customer last wrote. */
#define OG_GRAPH_WINDOW_MS (24LL * 60 * 60 * 1000)

/* Answers the GET verification handshake. When hub.mode is "subscribe" and
 * hub.verify_token equals verify_token (compared in constant time), responds
 * 200 with the raw hub.challenge as text/plain and returns OG_OK; otherwise
 * responds 403 and returns OG_ERR_FORBIDDEN. */
og_err og_graph_handshake(const struct og_services *svc, const struct og_http_req *req,
                          struct og_http_resp *resp, const char *verify_token);

/* Checks one X-Hub-Signature-256 header value ("sha256=" + 64 hex digits,
 * either case) against HMAC-SHA256(app_secret, body) in constant time.
 * Returns OG_OK or OG_ERR_SIGNATURE (also when header is NULL or malformed). */
og_err og_graph_check_signature(const struct og_services *svc, const char *header, const void *body,
                                size_t len, const char *app_secret);

/* og_graph_check_signature() on the request's X-Hub-Signature-256 header and
 * raw body. The legacy SHA-1 X-Hub-Signature header is never accepted. */
og_err og_graph_verify_request(const struct og_services *svc, const struct og_http_req *req,
                               const char *app_secret);

/* The one table from a Graph error to the ABI error enum:
 *   code 190                                  -> OG_ERR_AUTH
 *   code 4, 80007, 130429, 613                -> OG_ERR_RATE_LIMITED
 *   code 131047; code 10 + subcode 2018278    -> OG_ERR_WINDOW_CLOSED
 *   code 2; HTTP 5xx                          -> OG_ERR_RETRYABLE
 *   no Graph code: HTTP 401 -> AUTH, 429 -> RATE_LIMITED
 *   anything else                             -> OG_ERR_PERMANENT
 * code and subcode are -1 when absent. A known code wins over the status. */
og_err og_graph_map_error(long http_status, int64_t code, int64_t subcode);

/* A Graph webhook body parser: emits every item, returns the first error. */
typedef og_err (*og_graph_parse_fn)(const struct og_services *svc, void *host, const char *body,
                                    size_t len);
/* The whole inbound side of a Graph webhook, the same for WhatsApp and
 * Messenger: GET is the verification handshake, POST must carry a valid
 * X-Hub-Signature-256 and is handed to parse, anything else is 405.
 * name prefixes log lines ("whatsapp"). */
og_err og_graph_handle_http(const struct og_services *svc, void *host, const char *name,
                            const char *verify_token, const char *app_secret,
                            og_graph_parse_fn parse, const struct og_http_req *req,
                            struct og_http_resp *resp);

/* Fills res from a non-2xx answer (error_code = the Graph code as text, or
 * "http_<status>" when the body holds no Graph error; error_message = the
 * Graph message; retry_after_ms = Retry-After for OG_ERR_RATE_LIMITED) and
 * returns the mapped error. */
og_err og_graph_error_result(const struct og_services *svc, const struct og_http_result *r,
                             struct og_send_result *res);

/* The answer of a file upload (WhatsApp media, Messenger attachments): e and
 * r as svc->http returned them (r is released here). OG_OK with *id [xfer]
 * the member field of the 2xx answer; else res says why ("what" names the
 * upload in the message): OG_ERR_RETRYABLE without an answer, the Graph
 * error's mapping for a non-2xx one (a 404 is permanent), OG_ERR_PERMANENT
 * for a 2xx answer without the id. */
og_err og_graph_upload_id(const struct og_services *svc, og_err e, struct og_http_result *r,
                          const char *what, const char *field, char **id,
                          struct og_send_result *res);

/* POSTs body (serialized, application/json) to url with "Authorization:
 * Bearer <token>" (body NULL: a GET). On a 2xx answer returns OG_OK and *reply [xfer, put with
 * svc->json->put] holds the parsed JSON (OG_ERR_PERMANENT if it is not
 * JSON). Otherwise fills res as og_graph_error_result() does and returns its
 * error; a transport failure is OG_ERR_RETRYABLE. The token is never logged.
 * host is the handle given to create(). */
og_err og_graph_post(const struct og_services *svc, void *host, const char *url, const char *token,
                     struct og_json *body, struct og_json **reply, struct og_send_result *res);

/* GETs url with "Authorization: Bearer <token>": as og_graph_post, without
 * a body. */
og_err og_graph_get(const struct og_services *svc, void *host, const char *url, const char *token,
                    struct og_json **reply, struct og_send_result *res);

/* Fails fast when the 24-hour window is closed (last_inbound_age_ms is -1
 * or more than 24 h): fills res and returns OG_ERR_WINDOW_CLOSED; otherwise
 * OG_OK. No platform call is made either way. */
og_err og_graph_window_check(const struct og_outbound *msg, struct og_send_result *res);

/* 1 when latitude/longitude are finite and in range (-90..90, -180..180). */
int og_graph_location_ok(double latitude, double longitude);

/* "<base>/<version>/<id>/<edge>" without doubled slashes; edge NULL or ""
 * = "<base>/<version>/<id>". [xfer] */
char *og_graph_url(const struct og_services *svc, const char *base, const char *version,
                   const char *id, const char *edge);

/* printf into a fresh string. [xfer] */
char *og_graph_sprintf(const struct og_services *svc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A JSON number, or a string holding a decimal integer (WhatsApp sends its
 * timestamps as strings), as int64; def when absent or not a number. */
int64_t og_graph_json_i64(const struct og_json_api *js, const struct og_json *j, int64_t def);

/* The string member key of obj, or NULL. [borrowed] from obj. */
const char *og_graph_json_str(const struct og_json_api *js, const struct og_json *obj,
                              const char *key);
#endif /* OG_GRAPH_H */
