/* main - the omnigate daemon: command line, configuration, start-up in
 * dependency order (Redis, connectors, HTTP, pollers) and a clean shutdown
 * in reverse order on SIGTERM/SIGINT, exiting 0. */
#include "og_config.h"
#include "og_config_routing.h"
#include "og_gateway.h"
#include "og_http_client.h"
#include "og_log.h"
#include "og_plugin.h"
#include "og_routing.h"
#include "og_static.h"
#include "og_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef OG_VERSION
#define OG_VERSION "0.0.0"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: omnigate --config FILE [--check]\n"
               "       omnigate --connector-help NAME [--connector-dir DIR]\n"
               "       omnigate --version\n\n"
               "  --config FILE        the JSON configuration (see config/omnigate.example.json)\n"
               "  --check              validate the configuration (and every channel's\n"
               "                       connector options), print every problem, and exit\n"
               "  --connector-help N   list the options of connector N\n"
               "  --connector-dir DIR  where connector plugins are (default: next to the binary,\n"
               "                       ../lib/omnigate/connectors; or config connector_dir)\n");
}

static int connector_help(const char *dir, const char *name)
{
    char errbuf[512];
    struct og_plugin *p = og_plugin_load_by_name(dir, name, errbuf, sizeof errbuf);
    if (!p) {
        fprintf(stderr, "omnigate: %s\n", errbuf);
        return 1;
    }
    og_options_print_help(p->desc, stdout);
    og_plugin_unload(p);
    return 0;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *cli_dir = NULL, *help_name = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config_path = argv[++i];
        else if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (!strcmp(argv[i], "--connector-help") && i + 1 < argc)
            help_name = argv[++i];
        else if (!strcmp(argv[i], "--connector-dir") && i + 1 < argc)
            cli_dir = argv[++i];
        else if (!strcmp(argv[i], "--version")) {
            printf("omnigate %s (connector ABI %d.%d)\n", OG_VERSION, OG_CONNECTOR_ABI_MAJOR,
                   OG_CONNECTOR_ABI_MINOR);
            return 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "omnigate: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char *default_dir = og_plugin_default_dir();
    if (help_name) {
        int rc = connector_help(cli_dir ? cli_dir : default_dir, help_name);
        free(default_dir);
        return rc;
    }
    if (!config_path) {
        usage(stderr);
        free(default_dir);
        return 2;
    }

    /* Validate everything before starting anything: the config, then each
     * channel's connector and options (create() may check more). */
    struct og_config cfg = {0};
    struct og_errors errs = {0};
    og_config_load(config_path, &cfg, &errs);
    if (cfg.log_level && og_log_level_parse(cfg.log_level) >= 0)
        og_log_level = og_log_level_parse(cfg.log_level);
    const char *dir = cli_dir ? cli_dir : cfg.connector_dir ? cfg.connector_dir : default_dir;
    struct og_plugin_registry reg = {0};
    struct og_channel **chs = og_calloc(cfg.n_channels ? cfg.n_channels : 1, sizeof *chs);
    size_t nch = 0;
    struct og_core *core = NULL;
    struct og_embedded *emb = NULL;
    struct og_gateway g = {0};
    struct og_pollers *pollers = NULL;
    struct og_static *pages = NULL;
    int rc = 1, started = 0, workers_started = 0;

    og_http_client_global_init();
    /* Block the signals before any thread starts, so every thread inherits
     * the mask and sigwait() below is the one place that sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct og_channel_sink sink = {0};
    if (cfg.redis.url) {
        /* The core exists before the channels so their sink is real; it
         * connects lazily, so nothing touches Redis until after --check. The
         * embedded server's socket is known once it runs (retargeted below). */
        const struct og_config_routing *cr = cfg.routing;
        struct og_routing_opts ro = {
            .policies = cr->policies,
            .archive_after_s = cr->archive_after_s,
            .offline_returns_sessions = cr->offline_returns_sessions,
            .success_codes = (const char *const *)cr->success_codes,
            .n_success_codes = cr->n_success_codes,
            .allow_multiple_codes = cr->allow_multiple_codes,
            .require_success_code = cr->require_success_code,
        };
        struct og_core_opts copts = {
            .redis_url = strcmp(cfg.redis.url, "embedded") == 0 ? "unix:///nonexistent"
                                                                : cfg.redis.url,
            .redis_password = cfg.redis.password,
            .pool_size = (int)cfg.redis.pool_size,
            .prefix = cfg.redis.prefix,
            .routing = &ro,
        };
        char errbuf[256];
        core = og_core_new(&copts, errbuf, sizeof errbuf);
        if (!core)
            og_errors_add(&errs, "%s", errbuf);
        else
            sink = og_core_sink(core);
    }
    /* Every channel is checked, so one run reports every problem. */
    for (size_t i = 0; core && i < cfg.n_channels; i++) {
        struct og_config_channel *cc = &cfg.channels[i];
        if (!cc->id || !cc->connector)
            continue; /* already reported by the config loader */
        char errbuf[512], path[96];
        struct og_plugin *p = og_plugin_registry_get(&reg, dir, cc->connector, errbuf, sizeof errbuf);
        if (!p) {
            og_errors_add(&errs, "%s.connector: %s", cc->path, errbuf);
            continue;
        }
        snprintf(path, sizeof path, "%s.options", cc->path);
        struct og_channel *ch =
            og_channel_create(p, cc->id, cc->routing, cc->options, path, &sink, &errs);
        if (ch)
            chs[nch++] = ch;
    }
    if (errs.n) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s\n", config_path, errs.items[i]);
        fprintf(stderr, "omnigate: %zu configuration error%s; not starting\n", errs.n,
                errs.n == 1 ? "" : "s");
        goto out;
    }
    if (check) {
        printf("%s: ok (%zu channel%s)\n", config_path, nch, nch == 1 ? "" : "s");
        rc = 0;
        goto out;
    }

    if (strcmp(cfg.redis.url, "embedded") == 0) {
        const char *url = NULL;
        emb = og_embedded_start(cfg.data_dir, cfg.redis.server, &url);
        if (!emb)
            goto out;
        /* Re-point the (still unconnected) pool at the embedded server. */
        char errbuf[256];
        if (og_core_retarget(core, url, errbuf, sizeof errbuf) != OG_OK) {
            og_error("%s", errbuf);
            goto out;
        }
    }

    char *www = og_static_default_dir();
    pages = og_static_load(www);
    og_info("pages: %zu file%s from %s", og_static_count(pages),
            og_static_count(pages) == 1 ? "" : "s", www);
    free(www);
    g.cfg = &cfg;
    g.core = core;
    g.pages = pages;
    g.channels = chs;
    g.n_channels = nch;
    og_sha256(cfg.api.admin_token, strlen(cfg.api.admin_token), g.admin_token_sha);
    char host[256];
    int port = 0;
    og_config_listen_split(cfg.listen, host, sizeof host, &port);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg.http.threads > 0 ? (unsigned)cfg.http.threads
                                            : (unsigned)(ncpu > 0 ? ncpu * 4 : 8);
    og_id_new("gw_", og_now_ms(), g.instance_id, sizeof g.instance_id);
    if (og_workers_start(&g) != 0)
        goto out;
    workers_started = 1;
    if (og_http_start(&g, host, port, threads) != 0)
        goto out;
    pollers = og_pollers_start(chs, nch);
    atomic_store(&g.ready, 1);
    og_info("omnigate %s listening on %s:%d (%u threads, %zu channel%s, redis %s)", OG_VERSION,
            host, og_http_port(&g), threads, nch, nch == 1 ? "" : "s",
            emb ? "embedded" : "external");

    int sig = 0;
    sigwait(&sigs, &sig);
    og_info("signal %d: draining and stopping", sig);
    atomic_store(&g.stopping, 1);
    og_http_stop(&g, 2000);
    og_pollers_stop(pollers);
    pollers = NULL;
    rc = 0;
    started = 1;
out:
    og_pollers_stop(pollers);
    og_http_stop(&g, 0);
    if (workers_started)
        og_workers_stop(&g);
    for (size_t i = 0; i < nch; i++)
        og_channel_destroy(chs[i]);
    free(chs);
    og_core_free(core);
    og_static_free(pages);
    og_embedded_stop(emb);
    og_plugin_registry_free(&reg);
    og_errors_free(&errs);
    og_config_free(&cfg);
    free(default_dir);
    og_http_client_thread_cleanup();
    og_http_client_global_cleanup();
    if (started)
        og_info("stopped");
    return rc;
}
