/* og_media_s3 - the S3 side of the media store (core/og_media.h): objects
 * in one bucket of any S3-compatible object store (path-style addressing,
 * <endpoint>/<bucket>/<key>), signed by libcurl's own SigV4
 * (CURLOPT_AWS_SIGV4), never by hand. Used only by og_media.c: an object's
 * body is the very file the directory store keeps (its small header and the
 * bytes), so a file downloaded into the local directory is served as any
 * other, and several instances sharing the bucket see each other's files.
 *
 * Each call makes its own curl handle: thread-safe; the handles share one
 * connection cache (a curl share with locks), so requests reuse idle
 * connections to the store. Errors are logged with the store's error code
 * (<Code> of its XML answer, e.g. InvalidAccessKeyId, SignatureDoesNotMatch,
 * NoSuchBucket). */
#ifndef OG_MEDIA_S3_H
#define OG_MEDIA_S3_H
#include <omnigate/connector.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct og_media_s3_opts {
    const char *endpoint; /* http(s)://host[:port][/prefix] */
    const char *bucket;
    const char *region; /* NULL or "" = us-east-1 */
    const char *access_key;
    const char *secret_key;
};

struct og_media_s3;

/* [xfer, og_media_s3_close]; checks the bucket and the credentials with one
 * ListObjectsV2 under a prefix no key has (the key needs s3:ListBucket
 * besides s3:GetObject, s3:PutObject and s3:DeleteObject): NULL with err naming the endpoint, the
 * bucket, the HTTP status and the store's error code when that fails. */
struct og_media_s3 *og_media_s3_open(const struct og_media_s3_opts *o, char *err, size_t errlen);
void og_media_s3_close(struct og_media_s3 *s);

/* Uploads the len bytes of fd from offset 0 as key. OG_ERR_UNAVAILABLE when
 * the store refused (logged with its error code). */
og_err og_media_s3_put(struct og_media_s3 *s, const char *key, int fd, int64_t len);

/* Downloads key into fd (at its position); at most max_bytes.
 * OG_ERR_NOT_FOUND when the bucket has no such key, OG_ERR_TOO_LARGE past
 * max_bytes, OG_ERR_UNAVAILABLE otherwise. */
og_err og_media_s3_get(struct og_media_s3 *s, const char *key, int fd, int64_t max_bytes);

/* Uploads buf[0..len) as key (the archive's objects, core/og_archive.h);
 * OG_OK once the store answered 200: the object is whole and durable. */
og_err og_media_s3_put_mem(struct og_media_s3 *s, const char *key, const void *buf, size_t len);

/* Downloads key into memory: *out [xfer, free] of *outlen bytes. len > 0:
 * only bytes off..off+len-1 (a ranged GET, "Range: bytes="), exactly len
 * bytes or an error; len <= 0: the whole object, at most max_bytes
 * (OG_ERR_TOO_LARGE past it). OG_ERR_NOT_FOUND when the bucket has no such
 * key, OG_ERR_UNAVAILABLE otherwise (logged). */
og_err og_media_s3_get_mem(struct og_media_s3 *s, const char *key, int64_t off, int64_t len,
                           int64_t max_bytes, unsigned char **out, size_t *outlen);

/* Deletes key (OG_OK also when it was not there). */
og_err og_media_s3_delete(struct og_media_s3 *s, const char *key);

/* The <Code> of an S3 error answer (len bytes of XML, outside input) into
 * out; "" when it has none. Reads only within body[0..len). */
void og_media_s3_error_code(const char *body, size_t len, char *out, size_t outsz);
#endif
