/* og_upload - the body of POST /api/v1/uploads: multipart/form-data parsed
 * by libmicrohttpd's post processor (never by hand), with one part named
 * file (its bytes, file name and declared type) and an optional field
 * channel. The request's own connection gives the Content-Type and its
 * boundary. Fuzzed through a real connection (tests/fuzz/fuzz_upload.c). */
#ifndef OG_UPLOAD_H
#define OG_UPLOAD_H
#include "og_util.h"

#include <microhttpd.h>
#include <omnigate/connector.h>

struct og_upload_form {
    struct og_buf file; /* owned: the file's bytes */
    char name[256];     /* the part's filename as sent ("" = none) */
    char type[128];     /* the part's Content-Type as sent ("" = none) */
    char channel[72];   /* the channel field ("" = none; cut at 71 bytes) */
    int files;          /* parts named file */
    int too_large;      /* the file passed cap */
    int unknown;        /* a part of another name */
    size_t cap;         /* set by the caller: the largest file taken */
};

/* Parses body (len bytes, as received on conn) into f (whose cap the caller
 * set). OG_OK with exactly one non-empty file of at most cap bytes;
 * OG_ERR_UNSUPPORTED when the request is not multipart/form-data (415);
 * OG_ERR_TOO_LARGE past cap; OG_ERR_INVALID for a malformed body, another
 * part, no file, two files or an empty one. why gets a sentence. Release f
 * with og_upload_form_free either way. */
og_err og_upload_form_parse(struct MHD_Connection *conn, const char *body, size_t len,
                            struct og_upload_form *f, char *why, size_t whylen);
void og_upload_form_free(struct og_upload_form *f);
#endif
