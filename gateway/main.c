/* main - the omnigate daemon: command line, configuration, start-up in
 * dependency order (Redis, connectors, HTTP, pollers) and a clean shutdown
 * in reverse order on SIGTERM/SIGINT, exiting 0; SIGHUP reopens the log and
 * reloads what can change (og_reload.c). "passwd EMAIL" sets a
 * person's password for the inbox's sign-in instead of running. */
#include "og_agents.h"
#include "og_archive.h"
#include "og_auth.h"
#include "og_config.h"
#include "og_config_routing.h"
#include "og_csat.h"
#include "og_gateway.h"
#include "og_goals.h"
#include "og_http_client.h"
#include "og_instance.h"
#include "og_log.h"
#include "og_media.h"
#include "og_media_s3.h"
#include "og_plugin.h"
#include "og_routing.h"
#include "og_sensitive.h"
#include "og_static.h"
#include "og_stats.h"
#include "og_texts.h"
#include "og_tls.h"
#include "og_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#ifndef OG_VERSION
#define OG_VERSION "0.0.0"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: omnigate --config FILE [--check]\n"
            "       omnigate --config FILE passwd EMAIL\n"
            "       omnigate --config FILE stats rebuild\n"
            "       omnigate --config-help\n"
            "       omnigate --connector-help NAME [--connector-dir DIR]\n"
            "       omnigate --version\n\n"
            "  --config FILE        the JSON configuration (see config/omnigate.example.json)\n"
            "  --check              validate the configuration (and every channel's\n"
            "                       connector options), print every problem, and exit\n"
            "  --config-help        list every configuration key: type, default, meaning\n"
            "  --connector-help N   list the options of connector N\n"
            "  --connector-dir DIR  where connector plugins are (default: next to the binary,\n"
            "                       ../lib/omnigate/connectors; or config connector_dir)\n"
            "  passwd EMAIL         set the inbox password of the person with that e-mail\n"
            "                       (created as an admin when nobody has it): read from\n"
            "                       standard input when it is not a terminal, else asked\n"
            "                       for twice without echo; at least %d characters\n"
            "  stats rebuild        count the statistics again from the stored sessions and\n"
            "                       presence intervals (upgrades, repairs; run it while\n"
            "                       omnigate is stopped)\n",
            OG_AUTH_PASSWORD_MIN);
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

/* ---------------------------------------------------------------- passwd */

/* One line of standard input without its line end into buf; 0 on success. */
static int read_line(char *buf, size_t n)
{
    if (!fgets(buf, (int)n, stdin))
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

/* Asks on the terminal with echo off. */
static int ask(const char *prompt, char *buf, size_t n)
{
    struct termios old, quiet;
    fputs(prompt, stderr);
    fflush(stderr);
    int tty = tcgetattr(0, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSAFLUSH, &quiet);
    }
    int rc = read_line(buf, n);
    if (tty)
        tcsetattr(0, TCSAFLUSH, &old);
    fputs("\n", stderr);
    return rc;
}

/* The new password: standard input's first line when it is not a terminal
 * (scripts, make run), else typed twice. 0 on success. */
static int read_password(const char *email, char *pw, size_t n)
{
    if (!isatty(0))
        return read_line(pw, n);
    char again[OG_AUTH_PASSWORD_MAX + 8], *prompt = og_sprintf("New password for %s: ", email);
    int rc = ask(prompt, pw, n) != 0 || ask("Repeat it: ", again, sizeof again) != 0 ? -1 : 0;
    free(prompt);
    if (rc == 0 && strcmp(pw, again) != 0) {
        fprintf(stderr, "omnigate: the two passwords differ; nothing changed\n");
        rc = -1;
    }
    memset(again, 0, sizeof again);
    return rc;
}

/* The id of the agent with that e-mail into id ("" when none). */
static og_err find_agent(struct og_core *core, const char *email, char id[48])
{
    char *list = NULL;
    id[0] = 0;
    og_err e = og_agents_list(core, &list);
    if (e != OG_OK)
        return e;
    json_object *j = json_tokener_parse(list), *items, *v;
    if (json_object_object_get_ex(j, "items", &items))
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *a = json_object_array_get_idx(items, i);
            if (json_object_object_get_ex(a, "email", &v) &&
                strcmp(json_object_get_string(v), email) == 0 &&
                json_object_object_get_ex(a, "id", &v))
                snprintf(id, 48, "%s", json_object_get_string(v));
        }
    json_object_put(j);
    free(list);
    return OG_OK;
}

/* Creates an admin with that e-mail (named after its local part). */
static og_err create_admin(struct og_core *core, const char *email, char id[48], char *msg,
                           size_t msglen)
{
    json_object *j = json_object_new_object();
    char name[201];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(email, "@"), email);
    json_object_object_add(j, "email", json_object_new_string(email));
    json_object_object_add(j, "name", json_object_new_string(name));
    json_object_object_add(j, "role", json_object_new_string("admin"));
    struct og_agent_fields f;
    int rc = og_agents_fields_from_json(j, 1, &f, msg, msglen);
    json_object_put(j);
    if (rc != 0)
        return OG_ERR_INVALID;
    og_id_new("agt_", og_now_ms(), id, 48);
    struct og_routing_result res;
    og_agents_put(core, "create", id, NULL, &f, &res);
    og_agent_fields_free(&f);
    og_err e = res.err;
    if (e != OG_OK)
        snprintf(msg, msglen, "%s", res.message[0] ? res.message : og_strerror(e));
    og_routing_result_free(&res);
    return e;
}

/* The core on the configured Redis. With redis.url "embedded" it is the
 * running daemon's redis-server when one answers on data_dir's socket, or
 * one started for this command (*emb, stopped by the caller). */
static struct og_core *passwd_core(const struct og_config *cfg, struct og_embedded **emb)
{
    char errbuf[256], abs[4096];
    const char *url = cfg->redis.url;
    char *sock = NULL;
    if (!cfg->redis.n_sentinels && strcmp(url, "embedded") == 0) {
        sock = og_sprintf("unix://%s/redis/redis.sock",
                          realpath(cfg->data_dir, abs) ? abs : cfg->data_dir);
        url = sock;
    }
    struct og_core_opts o = {.redis_url = url,
                             .redis_password = cfg->redis.password,
                             .pool_size = 1,
                             .prefix = cfg->redis.prefix,
                             .sentinels = (const char *const *)cfg->redis.sentinels,
                             .n_sentinels = cfg->redis.n_sentinels,
                             .master_name = cfg->redis.master_name,
                             .sentinel_password = cfg->redis.sentinel_password};
    struct og_core *core = og_core_new(&o, errbuf, sizeof errbuf);
    if (core && cfg->redis.n_sentinels &&
        og_core_failover_resolve(core, errbuf, sizeof errbuf) != OG_OK) {
        og_core_free(core);
        core = NULL;
    } else if (core && sock && !og_core_ping(core)) {
        const char *eurl = NULL;
        *emb = og_embedded_start(cfg->data_dir, cfg->redis.server,
                                 strcmp(cfg->redis.durability, "fsync") == 0, &eurl);
        if (!*emb || og_core_retarget(core, eurl, errbuf, sizeof errbuf) != OG_OK) {
            og_core_free(core);
            core = NULL;
        }
    }
    if (!core)
        fprintf(stderr, "omnigate: cannot reach Redis: %s\n", errbuf);
    free(sock);
    return core;
}

static int passwd_cmd(const struct og_config *cfg, const char *email)
{
    char pw[OG_AUTH_PASSWORD_MAX + 8], msg[200], id[48];
    if (read_password(email, pw, sizeof pw) != 0) {
        fprintf(stderr, "omnigate: no password given\n");
        return 1;
    }
    if (og_auth_password_check(pw, msg, sizeof msg) != 0) {
        fprintf(stderr, "omnigate: %s; nothing changed\n", msg);
        return 1;
    }
    struct og_embedded *emb = NULL;
    struct og_core *core = passwd_core(cfg, &emb);
    int created = 0, rc = 1;
    long revoked = 0;
    og_err e = core ? find_agent(core, email, id) : OG_ERR_UNAVAILABLE;
    msg[0] = 0;
    if (e == OG_OK && !id[0]) {
        e = create_admin(core, email, id, msg, sizeof msg);
        created = e == OG_OK;
    }
    if (e == OG_OK)
        e = og_auth_set_password(core, id, pw, &revoked, msg, sizeof msg);
    memset(pw, 0, sizeof pw);
    if (e == OG_OK) {
        if (created)
            printf("omnigate: created the admin %s (%s) with that password\n", email, id);
        else
            printf("omnigate: password set for %s (%s); %ld session%s signed out\n", email, id,
                   revoked, revoked == 1 ? "" : "s");
        rc = 0;
    } else if (core) {
        fprintf(stderr, "omnigate: %s: %s\n", email, msg[0] ? msg : og_strerror(e));
    }
    og_core_free(core);
    og_embedded_stop(emb);
    return rc;
}

/* media.s3's bucket for the archive (retention.store "s3"); NULL with err. */
static struct og_media_s3 *open_archive_s3(const struct og_config *cfg, char *err, size_t errlen)
{
    struct og_media_s3_opts so = {
        .endpoint = cfg->media.s3.endpoint,
        .bucket = cfg->media.s3.bucket ? cfg->media.s3.bucket : "",
        .region = cfg->media.s3.region,
        .access_key = cfg->media.s3.access_key ? cfg->media.s3.access_key : "",
        .secret_key = cfg->media.s3.secret_key ? cfg->media.s3.secret_key : ""};
    return og_media_s3_open(&so, err, errlen);
}

static int stats_rebuild_cmd(const struct og_config *cfg)
{
    struct og_embedded *emb = NULL;
    struct og_core *core = passwd_core(cfg, &emb);
    if (!core)
        return 1;
    /* archived sessions are counted from their records (og_archive.h) */
    char *arch_dir = og_sprintf("%s/archive", cfg->data_dir);
    struct og_archive_opts ao = {.dir = arch_dir};
    struct og_media_s3 *s3 = NULL;
    if (cfg->retention.store && strcmp(cfg->retention.store, "s3") == 0) {
        char err[320];
        if (!(ao.s3 = s3 = open_archive_s3(cfg, err, sizeof err))) {
            fprintf(stderr, "omnigate: retention.store s3: %s\n", err);
            free(arch_dir);
            og_core_free(core);
            og_embedded_stop(emb);
            return 1;
        }
    }
    og_archive_configure(core, &ao);
    free(arch_dir);
    long sessions = 0, intervals = 0;
    int64_t t0 = og_mono_ms();
    og_err e = og_stats_rebuild(core, &sessions, &intervals);
    if (e == OG_OK)
        printf("omnigate: statistics rebuilt from %ld sessions and %ld presence intervals in "
               "%lld ms\n",
               sessions, intervals, (long long)(og_mono_ms() - t0));
    else
        fprintf(stderr, "omnigate: stats rebuild: %s\n", og_strerror(e));
    og_core_free(core);
    og_media_s3_close(s3);
    og_embedded_stop(emb);
    return e == OG_OK ? 0 : 1;
}

/* OMNIGATE_TEST_DAY_S (tests only, honoured only when set): a chat goal
 * window's day in seconds instead of 86400, so a "1 day" window passes in
 * a test. 0 = unset. */
static int64_t goal_day_ms(void)
{
    const char *s = getenv("OMNIGATE_TEST_DAY_S");
    if (!s || !*s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 1 || v > 86400) {
        og_warn("OMNIGATE_TEST_DAY_S=%s is not 1..86400 seconds; ignored", s);
        return 0;
    }
    og_warn("OMNIGATE_TEST_DAY_S=%lld: a chat goal window's day lasts %lld s (tests only)", v, v);
    return v * 1000;
}

/* OMNIGATE_TEST_CLOCK (tests only): og_now_ms reads the time from that file
 * (og_util.h); said loudly, as it must never be set in production. */
static void test_clock_warn(void)
{
    const char *s = getenv("OMNIGATE_TEST_CLOCK");
    if (s && *s)
        og_warn("OMNIGATE_TEST_CLOCK=%s: the clock is read from that file (tests only)", s);
}

/* redis.durability against an external Redis: "fsync" needs AOF (else
 * omnigate refuses to start) and warns about appendfsync everysec;
 * "relaxed" takes any Redis, with a warning when it keeps nothing;
 * "replicated" relies on WAIT. A Redis not reachable yet is checked when it
 * is (by the start-up retry below, up to a few seconds), else warned about. */
static int check_durability(struct og_core *core, const char *mode)
{
    char msg[400] = "";
    og_err e = OG_ERR_UNAVAILABLE;
    for (int i = 0; i < 25 && e == OG_ERR_UNAVAILABLE; i++) {
        e = og_core_check_persistence(core, msg, sizeof msg);
        if (e == OG_ERR_UNAVAILABLE)
            usleep(200000);
    }
    if (e == OG_ERR_UNAVAILABLE) {
        og_warn("redis.durability %s: %s; not checked", mode, msg);
        return 0;
    }
    if (strcmp(mode, "fsync") == 0 && e == OG_ERR_PERMANENT) {
        og_error("redis.durability fsync: %s; not starting", msg);
        return -1;
    }
    if (e != OG_OK && strcmp(mode, "replicated") != 0)
        og_warn("redis.durability %s: %s", mode, msg);
    return 0;
}

/* redis.sentinels: the master before anything else, as an external
 * Redis's persistence is checked before starting: asked for a few seconds
 * (sentinels starting together with omnigate), then a clear refusal. */
static int find_master(struct og_core *core)
{
    char why[320] = "";
    og_err e = OG_ERR_UNAVAILABLE;
    for (int i = 0; i < 25 && e != OG_OK; i++) {
        e = og_core_failover_resolve(core, why, sizeof why);
        if (e != OG_OK)
            usleep(200000);
    }
    if (e != OG_OK) {
        og_error("redis.sentinels: %s; not starting", why);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *cli_dir = NULL, *help_name = NULL, *passwd_email = NULL;
    int check = 0, stats_rebuild = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config_path = argv[++i];
        else if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (!strcmp(argv[i], "--config-help")) {
            og_config_print_help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--connector-help") && i + 1 < argc)
            help_name = argv[++i];
        else if (!strcmp(argv[i], "--connector-dir") && i + 1 < argc)
            cli_dir = argv[++i];
        else if (!strcmp(argv[i], "passwd") && i + 1 < argc)
            passwd_email = argv[++i];
        else if (!strcmp(argv[i], "stats") && i + 1 < argc && !strcmp(argv[i + 1], "rebuild"))
            stats_rebuild = 1, i++;
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
    if (stats_rebuild) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s\n", config_path, errs.items[i]);
        int src = 1;
        if (!errs.n) {
            og_log_level = OG_LOG_WARN;
            src = stats_rebuild_cmd(&cfg);
        }
        og_errors_free(&errs);
        og_config_free(&cfg);
        free(default_dir);
        return src;
    }
    if (passwd_email) {
        int prc = 1;
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s\n", config_path, errs.items[i]);
        if (!errs.n) {
            og_log_level = OG_LOG_WARN; /* the command's own lines, not the embedded server's */
            prc = passwd_cmd(&cfg, passwd_email);
        }
        og_errors_free(&errs);
        og_config_free(&cfg);
        free(default_dir);
        return prc;
    }
    const char *dir = cli_dir ? cli_dir : cfg.connector_dir ? cfg.connector_dir : default_dir;
    struct og_plugin_registry reg = {0};
    struct og_channel **chs = og_calloc(cfg.n_channels ? cfg.n_channels : 1, sizeof *chs);
    size_t nch = 0;
    struct og_core *core = NULL;
    struct og_embedded *emb = NULL;
    struct og_gateway g = {0};
    struct og_media_s3 *arch_s3 = NULL; /* retention.store "s3" */
    pthread_mutex_init(&g.cfg_mu, NULL);
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
    sigaddset(&sigs, SIGHUP); /* og_reload, never a stop */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct og_channel_sink sink = {0};
    if (cfg.redis.url) {
        /* The core exists before the channels so their sink is real; it
         * connects lazily, so nothing touches Redis until after --check. The
         * embedded server's socket is known once it runs (retargeted below). */
        struct og_routing_opts ro;
        og_reload_routing_opts(&cfg, &ro);
        struct og_sensitive_opts so = {
            .customers = (const char *const *)cfg.sensitive_words.customers,
            .n_customers = cfg.sensitive_words.n_customers,
            .agents = (const char *const *)cfg.sensitive_words.agents,
            .n_agents = cfg.sensitive_words.n_agents,
            .block_agents = cfg.sensitive_words.block_agents,
        };
        struct og_texts_conf *texts;
        struct og_goal_seed *goals;
        size_t n_ops = og_config_channel_ops(&cfg, &texts, &goals);
        test_clock_warn();
        char *arch_dir = og_sprintf("%s/archive", cfg.data_dir);
        struct og_archive_opts ao = {
            .dir = arch_dir,
            .after_ms = cfg.retention.archive_after_days * 86400000,
            .delete_after_ms = cfg.retention.delete_after_days * 86400000,
            .batch = (int)cfg.retention.archive_batch,
        };
        struct og_core_opts copts = {
            .redis_url =
                strcmp(cfg.redis.url, "embedded") == 0 ? "unix:///nonexistent" : cfg.redis.url,
            .redis_password = cfg.redis.password,
            .sentinels = (const char *const *)cfg.redis.sentinels,
            .n_sentinels = cfg.redis.n_sentinels,
            .master_name = cfg.redis.master_name,
            .sentinel_password = cfg.redis.sentinel_password,
            .pool_size = (int)cfg.redis.pool_size,
            .prefix = cfg.redis.prefix,
            .routing = &ro,
            .wait_replicas =
                strcmp(cfg.redis.durability, "replicated") == 0 ? (int)cfg.redis.wait_replicas : 0,
            .wait_timeout_ms = (int)cfg.redis.wait_timeout_ms,
            .sensitive = &so,
            .texts = texts,
            .n_texts = n_ops,
            .goals = goals,
            .n_goals = n_ops,
            .goal_day_ms = goal_day_ms(),
            .public_url = cfg.public_url,
            .media_secret = cfg.api.admin_token,
            .media_link_ttl_s = cfg.media.link_ttl_s,
            .archive = &ao,
        };
        char errbuf[256];
        core = og_core_new(&copts, errbuf, sizeof errbuf);
        free(arch_dir);
        free(texts);
        free(goals);
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
        struct og_plugin *p =
            og_plugin_registry_get(&reg, dir, cc->connector, errbuf, sizeof errbuf);
        if (!p) {
            og_errors_add(&errs, "%s.connector: %s", cc->path, errbuf);
            continue;
        }
        snprintf(path, sizeof path, "%s.options", cc->path);
        struct og_channel *ch =
            og_channel_create(p, cc->id, cc->routing, cc->options, path, &sink, &errs);
        if (ch) {
            og_channel_set_fetch_allow(ch, (const char *const *)cc->fetch_allow_hosts,
                                       cc->n_fetch_allow_hosts);
            ch->max_items = (int)cfg.http.max_messages_per_request;
            ch->media_max_bytes = cfg.media.max_file_bytes;
            og_channel_set_survey(ch, (int)cc->csat.scale, cc->csat.question, cc->csat.thanks,
                                  cc->csat.comment);
            int64_t keep = OG_STORE_RAW_DEFAULT_S; /* both were checked by the loader */
            og_config_store_raw_s(cc->store_raw ? cc->store_raw : cfg.store_raw, &keep);
            ch->store_raw_s = keep < 0 ? OG_STORE_RAW_NONE : keep == 0 ? OG_STORE_RAW_ALWAYS : keep;
            /* the survey message taps a score where the platform has enough
             * buttons (ABI 1.3) */
            if (core && cc->csat.scale && p->desc->max_buttons >= cc->csat.scale &&
                p->desc->button_title_max >= 1 && p->desc->button_id_max >= 8)
                og_texts_set_survey_buttons(core, cc->id);
            chs[nch++] = ch;
        }
        if (cc->csat.scale && (p->desc->caps & OG_CAP_NON_REALTIME))
            og_errors_add(&errs,
                          "%s.csat: not on an e-mail-like channel (an answer would come quoted "
                          "in a reply); follow-up e-mails offer the survey with {{survey_url}}",
                          cc->path);
        if ((p->desc->caps & OG_CAP_NON_REALTIME) && !og_texts_realtime_ok(cc->texts.queue))
            og_errors_add(&errs,
                          "%s.texts.queue: {{queue.position}} is for real-time channels "
                          "(a position in an e-mail would be stale when read)",
                          cc->path);
    }
    if (cfg.http.tls_cert && cfg.http.tls_key) { /* readable, and a pair */
        char err[512];
        struct og_tls *tls = og_tls_new(cfg.http.tls_cert, cfg.http.tls_key, err, sizeof err);
        if (!tls)
            og_errors_add(&errs, "http.tls_cert: %s", err);
        og_tls_free(tls);
    }
    if (cfg.webchat_demo && *cfg.webchat_demo) {
        size_t i = 0;
        while (i < nch && strcmp(chs[i]->id, cfg.webchat_demo) != 0)
            i++;
        if (i == nch || !chs[i]->plugin->desc->handle_visitor)
            og_errors_add(&errs, "webchat_demo: \"%s\" is not a channel of connector webchat",
                          cfg.webchat_demo);
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
    og_log_json = cfg.log_format && strcmp(cfg.log_format, "json") == 0;
    if (cfg.log_file && og_log_open(cfg.log_file) != 0) {
        fprintf(stderr, "omnigate: log_file %s: %s; not starting\n", cfg.log_file, strerror(errno));
        goto out;
    }

    if (cfg.redis.n_sentinels) {
        if (find_master(core) != 0 || check_durability(core, cfg.redis.durability) != 0)
            goto out;
    } else if (strcmp(cfg.redis.url, "embedded") == 0) {
        const char *url = NULL;
        emb = og_embedded_start(cfg.data_dir, cfg.redis.server,
                                strcmp(cfg.redis.durability, "fsync") == 0, &url);
        if (!emb)
            goto out;
        /* Re-point the (still unconnected) pool at the embedded server. */
        char errbuf[256];
        if (og_core_retarget(core, url, errbuf, sizeof errbuf) != OG_OK) {
            og_error("%s", errbuf);
            goto out;
        }
    } else if (check_durability(core, cfg.redis.durability) != 0) {
        goto out;
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
    og_csat_key(cfg.api.admin_token, g.csat_key);
    og_media_link_key(cfg.api.admin_token, g.media_key);
    {
        char *mdir =
            cfg.media.dir ? og_strdup(cfg.media.dir) : og_sprintf("%s/media", cfg.data_dir);
        struct og_media_opts mo = {.dir = mdir,
                                   .max_bytes = cfg.media.max_bytes,
                                   .max_age_s = cfg.media.max_age_s,
                                   .max_file_bytes = cfg.media.max_file_bytes,
                                   .s3_endpoint = cfg.media.s3.endpoint,
                                   .s3_bucket = cfg.media.s3.bucket,
                                   .s3_region = cfg.media.s3.region,
                                   .s3_access_key = cfg.media.s3.access_key,
                                   .s3_secret_key = cfg.media.s3.secret_key};
        char merr[320];
        g.media = og_media_open(&mo, merr, sizeof merr);
        free(mdir);
        if (!g.media) {
            og_error("%s", merr);
            goto out;
        }
        og_media_sweep(g.media, NULL);     /* what the age limit let go while we were down */
        for (size_t i = 0; i < nch; i++) { /* svc->upload_get reads agents' uploads */
            chs[i]->media = g.media;
            memcpy(chs[i]->media_key, g.media_key, sizeof g.media_key);
        }
    }
    if (cfg.retention.store && strcmp(cfg.retention.store, "s3") == 0) {
        /* the archive's own handle on media.s3's bucket (og_archive.h) */
        char aerr[320];
        arch_s3 = open_archive_s3(&cfg, aerr, sizeof aerr);
        if (!arch_s3) {
            og_error("retention.store s3: %s", aerr);
            goto out;
        }
        og_archive_use_s3(core, arch_s3);
    }
    char host[256];
    int port = 0;
    og_config_listen_split(cfg.listen, host, sizeof host, &port);
    /* 0: 4 per CPU, at least 64. An ingest holds its thread until Redis has
     * its group commit (og_batch.h), so the threads bound how many messages
     * one commit can take: 8 threads gave ~2 messages a commit at 64
     * connections, 32 gave ~5 (bench_footprint part 2, 2 CPUs: +21% req/s,
     * -21% Redis CPU per message, medians of 5 alternating runs); once
     * connections were spread evenly (og_accept.h), 64 gave ~14 against
     * 32's ~7.5 (bench_ingest, three pairs: ~+5% req/s). An idle thread
     * costs a sleeping epoll_wait. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg.http.threads > 0 ? (unsigned)cfg.http.threads
                                            : (unsigned)(ncpu * 4 > 64 ? ncpu * 4 : 64);
    snprintf(g.instance_id, sizeof g.instance_id, "%s", og_core_instance(core));
    {
        /* a script Redis refuses (a syntax error, too many upvalues) is a
         * broken build: say so now rather than 500 at every call */
        char lerr[600];
        og_err le = og_core_load_scripts(core, lerr, sizeof lerr);
        if (le == OG_ERR_INTERNAL) {
            og_error("redis: the scripts do not load: %s; not starting", lerr);
            goto out;
        }
        if (le != OG_OK)
            og_warn("redis: scripts not loaded yet (%s): loaded at first use", lerr);
    }
    og_instance_beat(core); /* before any claim in its name */
    if (og_workers_start(&g) != 0)
        goto out;
    workers_started = 1;
    if (og_http_start(&g, host, port, threads) != 0)
        goto out;
    pollers = og_pollers_start(chs, nch);
    atomic_store(&g.ready, 1);
    og_info("omnigate %s listening on %s%s:%d (%u threads, %zu channel%s, redis %s)", OG_VERSION,
            g.tls ? "https://" : "", host, og_http_port(&g), threads, nch, nch == 1 ? "" : "s",
            emb                     ? "embedded"
            : cfg.redis.n_sentinels ? "through sentinels"
                                    : "external");

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        og_reload(&g, config_path);
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
    if (workers_started) {
        og_workers_stop(&g);
        struct og_reap rp;
        if (og_instance_leave(core, &rp) == OG_OK && (rp.entries || rp.leases))
            og_info("handed back %lld pending entr%s and %lld lease%s to the other instances",
                    rp.entries, rp.entries == 1 ? "y" : "ies", rp.leases,
                    rp.leases == 1 ? "" : "s");
    }
    for (size_t i = 0; i < nch; i++)
        og_channel_destroy(chs[i]);
    free(chs);
    og_core_free(core);
    og_media_s3_close(arch_s3);
    og_media_close(g.media);
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
