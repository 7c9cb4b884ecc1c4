/* og_contacts - a contact as the business sees it and the fields it may set
 * (core/lua/contacts.lua): name, e-mail and phone (which inbound messages
 * then no longer overwrite with the platform's profile) and the follow-up
 * opt-out. */
#ifndef OG_CONTACTS_H
#define OG_CONTACTS_H
#include "og_core.h"

#include <stddef.h>

/* *json [xfer]. OG_ERR_NOT_FOUND when there is no such contact. */
og_err og_contact_get(struct og_core *c, const char *cid, char **json);
/* Sets fields (pairs field, value; value "" clears) in one step and returns
 * the contact [xfer]. Values must have been validated (og_contact_field_ok). */
og_err og_contact_patch(struct og_core *c, const char *cid, const char *const *pairs, size_t npairs,
                        char **json);
#endif
