/* og_routes_list - prints what the daemon serves, for the docs' checks
 * (check_openapi.py compares it with docs/openapi.yaml):
 *
 *   route METHOD PATH ROLE    one line per route og_http_routes_each() lists,
 *                             with the pages of the www directory given
 *   error CODE STATUS         one line per row of og_reply's error table
 *
 * Usage: og_routes_list WWW_DIR [CONNECTOR_DIR]. With CONNECTOR_DIR, the
 * visitor routes (ABI 1.2) of every connector there are listed too, as the
 * daemon dispatches them under /webchat/{channel}/. The lists come from the tables the daemon
 * itself dispatches with, so a route added to the code shows up here
 * without anyone writing it down twice. */
#include "og_gateway.h"
#include "og_reply.h"
#include "og_static.h"

#include "og_plugin.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static void print_route(void *ud, const char *method, const char *path, const char *role)
{
    (void)ud;
    printf("route %s %s %s\n", method, path, role);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s WWW_DIR [CONNECTOR_DIR]\n", argv[0]);
        return 2;
    }
    struct og_static *pages = og_static_load(argv[1]);
    if (og_static_count(pages) == 0) {
        fprintf(stderr, "%s: no pages under %s\n", argv[0], argv[1]);
        og_static_free(pages);
        return 1;
    }
    og_http_routes_each(pages, print_route, NULL);
    og_static_free(pages);
    DIR *dir = argc == 3 ? opendir(argv[2]) : NULL;
    for (struct dirent *e; dir && (e = readdir(dir)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0)
            continue;
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/%s", argv[2], e->d_name);
        struct og_plugin *p = og_plugin_load(path, err, sizeof err);
        if (!p) {
            fprintf(stderr, "%s\n", err);
            continue;
        }
        og_http_visitor_routes_each(p->desc, print_route, NULL);
        og_plugin_unload(p);
    }
    if (dir)
        closedir(dir);
    for (const struct og_reply_row *r = og_reply_table(); r->code; r++)
        printf("error %s %d\n", r->code, r->status);
    return 0;
}
