/* og_upload - see og_upload.h. */
#include "og_upload.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* libmicrohttpd's post processor hands each part's pieces here. */
static enum MHD_Result form_part(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    struct og_upload_form *f = cls;
    (void)kind, (void)transfer_encoding;
    if (key && !strcmp(key, "file")) {
        if (off == 0) {
            f->files++;
            if (f->files == 1) {
                snprintf(f->name, sizeof f->name, "%s", filename ? filename : "");
                snprintf(f->type, sizeof f->type, "%s", content_type ? content_type : "");
            }
        }
        if (f->files > 1)
            return MHD_YES; /* counted; refused after */
        if (f->file.len + size > f->cap) {
            f->too_large = 1;
            return MHD_NO;
        }
        og_buf_append(&f->file, data, size);
        return MHD_YES;
    }
    if (key && !strcmp(key, "channel")) {
        size_t have = strlen(f->channel);
        size_t take = size < sizeof f->channel - 1 - have ? size : sizeof f->channel - 1 - have;
        memcpy(f->channel + have, data, take);
        f->channel[have + take] = 0;
        return MHD_YES;
    }
    f->unknown = 1;
    return MHD_YES;
}

og_err og_upload_form_parse(struct MHD_Connection *conn, const char *body, size_t len,
                            struct og_upload_form *f, char *why, size_t whylen)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        snprintf(why, whylen, "an upload is multipart/form-data with a part named file");
        return OG_ERR_UNSUPPORTED;
    }
    struct MHD_PostProcessor *pp = MHD_create_post_processor(conn, 64 * 1024, form_part, f);
    if (!pp) {
        snprintf(why, whylen, "the multipart body has no boundary");
        return OG_ERR_INVALID;
    }
    enum MHD_Result ok = len ? MHD_post_process(pp, body, len) : MHD_YES;
    enum MHD_Result done = MHD_destroy_post_processor(pp);
    if (f->too_large) {
        snprintf(why, whylen, "the file is larger than media.max_file_bytes (%zu bytes)", f->cap);
        return OG_ERR_TOO_LARGE;
    }
    if (ok != MHD_YES || done != MHD_YES) {
        snprintf(why, whylen, "the multipart body is malformed");
        return OG_ERR_INVALID;
    }
    if (f->unknown) {
        snprintf(why, whylen, "an upload takes the parts file and channel only");
        return OG_ERR_INVALID;
    }
    if (f->files != 1) {
        snprintf(why, whylen, "an upload has exactly one part named file");
        return OG_ERR_INVALID;
    }
    if (f->file.len == 0) {
        snprintf(why, whylen, "the file is empty");
        return OG_ERR_INVALID;
    }
    return OG_OK;
}

void og_upload_form_free(struct og_upload_form *f)
{
    og_buf_free(&f->file);
}
