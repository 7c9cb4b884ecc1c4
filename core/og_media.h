/* og_media - the media store: the files of attachments (fetched from a
 * platform on first use, or uploaded by an agent), kept in a directory
 * (media.dir, by default <data_dir>/media) under a total size cap and an
 * age limit, least recently used first out.
 *
 * One file per key ("msg_<id>.<n>" for the n-th attachment of a message,
 * "upl_<id>" for an upload): a small text header (type, name, size) and the
 * bytes. A file is written to a temporary name (".tmp-...") and renamed into
 * place, so a reader sees a whole file or none, and two instances sharing
 * the directory (an NFS mount, a volume) can store the same key at once:
 * the last rename wins and both were whole. Reading a file sets its mtime
 * (its last use, at a 5 s grain); once the total passes the cap, eviction
 * removes the least recently used files until it is 10% under it, and
 * every file unused for longer than the age limit goes. A put scans the
 * directory only when the total it knows of passes the cap, or its last
 * scan is 10 s old (what another instance stored is seen by then). A reader holds its descriptor
 * open, so a file evicted by another instance while it is being served is still served whole.
 *
 * The type of a file is never what a URL or the platform claims:
 * og_media_sniff reads it from the first bytes (magic numbers).
 * og_media_sniff takes outside input and has a fuzz target
 * (tests/fuzz/fuzz_media.c). */
#ifndef OG_MEDIA_H
#define OG_MEDIA_H
#include <omnigate/connector.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct og_media_opts {
    const char *dir;        /* created when missing (with its parents) */
    int64_t max_bytes;      /* total cap; 0 = none */
    int64_t max_age_s;      /* a file unused this long goes; 0 = none */
    int64_t max_file_bytes; /* one file's cap; 0 = OG_MEDIA_MAX_FILE_BYTES */
    /* The shared store (core/og_media_s3.h): NULL or "" = none. With it,
     * every file is also an object of s3_bucket, put before og_media_put
     * returns; dir becomes this instance's read cache (its cap and age limit
     * apply to the cache only): a key missing there is downloaded from the
     * bucket into it. The bucket's own age limit is its lifecycle rule
     * (docs/operations.md); nothing here evicts objects. */
    const char *s3_endpoint; /* http(s)://host[:port], path-style */
    const char *s3_bucket;
    const char *s3_region; /* NULL or "" = us-east-1 */
    const char *s3_access_key;
    const char *s3_secret_key;
};

#define OG_MEDIA_MAX_FILE_BYTES (32 * 1024 * 1024)
#define OG_MEDIA_KEY_MAX 128

struct og_media_meta {
    char mime[128]; /* as sniffed when stored */
    char name[256]; /* the file's name (UTF-8, no control characters); "" = none */
    int64_t size;   /* bytes */
};

struct og_media_store; /* thread-safe: any number of threads may use one */

/* [xfer, og_media_close]; NULL with a reason in err when the directory cannot
 * be made or written, or the S3 bucket refuses the credentials (the reason
 * names the HTTP status and the store's error code). */
struct og_media_store *og_media_open(const struct og_media_opts *o, char *err, size_t errlen);
void og_media_close(struct og_media_store *s);
int64_t og_media_max_file_bytes(const struct og_media_store *s);

/* 1 when key is 1..OG_MEDIA_KEY_MAX characters of A-Z a-z 0-9 _ - . and does
 * not start with '.'. */
int og_media_key_valid(const char *key);

/* Stores len bytes under key (replacing what was there), with m's mime and
 * name (size is len). OG_ERR_INVALID for a bad key, OG_ERR_TOO_LARGE past
 * max_file_bytes, OG_ERR_UNAVAILABLE when the disk refused. Evicts after. */
og_err og_media_put(struct og_media_store *s, const char *key, const struct og_media_meta *m,
                    const void *data, size_t len);

/* Opens key for reading: *fd [xfer, close()] positioned nowhere in
 * particular, the bytes start at *offset and run m->size bytes. Marks the
 * file used. With S3, a key not in the directory is downloaded into it
 * first. OG_ERR_NOT_FOUND when the store does not have it. */
og_err og_media_open_file(struct og_media_store *s, const char *key, int *fd, off_t *offset,
                          struct og_media_meta *m);

/* The bytes of key in memory: *data [xfer] (free), m filled. */
og_err og_media_read(struct og_media_store *s, const char *key, char **data,
                     struct og_media_meta *m);

/* Removes key (OG_OK also when it was not there), from the bucket too. */
og_err og_media_remove(struct og_media_store *s, const char *key);

struct og_media_usage {
    int64_t files, bytes;     /* what is left */
    int64_t evicted, expired; /* files removed by the cap, by age */
};
/* Applies the age limit and the cap now (og_media_put does after each
 * store; the housekeeping worker now and then). usage may be NULL. */
og_err og_media_sweep(struct og_media_store *s, struct og_media_usage *usage);

/* The type of a file from its first bytes: "image/jpeg", "image/png",
 * "image/gif", "image/webp", "application/pdf", "audio/ogg", "audio/mpeg",
 * "audio/mp4", "audio/amr", "audio/wav", "video/mp4", "video/3gpp",
 * "video/quicktime", "video/webm", "application/zip", ... [static]; NULL when
 * the bytes match none of them. */
const char *og_media_sniff(const void *data, size_t len);

/* The type a file is served with: the sniffed one; for a zip container the
 * declared type when it is one built on zip (OOXML, ODF, EPUB, APK); for
 * bytes no magic names, "text/plain" when they are UTF-8 text without
 * control characters and declared text/plain or text/csv (then the declared
 * one), else "application/octet-stream". Never text/html, SVG or any type a
 * browser runs. [static] */
const char *og_media_type(const void *data, size_t len, const char *declared);

/* The usual file name extension of a type ("jpg" for image/jpeg, "pdf",
 * "ogg"...), "bin" for one it does not know. [static] */
const char *og_media_ext(const char *mime);

/* A file name as it may be stored and shown: the last path segment of name
 * (after '/' or '\\'), control characters, quotes and backslashes dropped,
 * valid UTF-8, at most outsz - 1 bytes (cut at a character boundary);
 * "" when nothing is left. */
void og_media_clean_name(const char *name, char *out, size_t outsz);

/* Content-Disposition for a file named name ("" = "file"): attachment, an
 * ASCII fallback in filename="..." and the exact name in RFC 5987/6266
 * filename*=UTF-8''.... [xfer] */
char *og_media_disposition(const char *name);

/* Whether the connector's upload_limits (ABI 1.3; NULL = any type up to the
 * store's max_file_bytes) take a file of type mime and size bytes: OG_OK, or
 * OG_ERR_TOO_LARGE / OG_ERR_INVALID (a type the platform does not take)
 * with why naming the limit. */
og_err og_media_limit_check(const struct og_media_limit *limits, const char *mime, int64_t size,
                            char *why, size_t whylen);

/* ---------------------------------------------------------- signed links */

/* An upload's path; its signed link is og_media_link of OG_MEDIA_UPLOAD_PATH
 * + id. */
#define OG_MEDIA_UPLOAD_PATH "/api/v1/uploads/"

/* A link to a message's attachment that works without a token until it
 * expires (webhook consumers, a platform fetching an upload):
 *   <origin>/api/v1/messages/<mid>/attachments/<n>?exp=<unix s>&sig=<mac>
 * mac = the first 16 bytes, hex, of HMAC-SHA256(key, "media\n<path>\n<exp>")
 * where path is the link's path ("/api/v1/messages/<mid>/attachments/<n>"
 * or "/media/<key>") and key = HMAC-SHA256(api.admin_token, "omnigate media
 * link v1") (og_media_link_key): changing the admin token voids them. */
void og_media_link_key(const char *secret, unsigned char key[32]);
/* origin + path + "?exp=..&sig=..", origin "" or NULL = a relative link. [xfer] */
char *og_media_link(const unsigned char key[32], const char *origin, const char *path,
                    int64_t exp_s);
/* OG_OK when sig is path's signature for exp (both as the query gave them)
 * and exp is still ahead of now_s; OG_ERR_SIGNATURE otherwise (*expired 1
 * when only the time passed). */
og_err og_media_link_check(const unsigned char key[32], const char *path, const char *exp,
                           const char *sig, int64_t now_s, int *expired);
#endif
