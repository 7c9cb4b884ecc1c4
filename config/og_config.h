/* og_config - the omnigate configuration: one JSON file.
 *
 * og_config_load() reads the file, substitutes "${ENV_NAME}" in every string
 * value (converted to the key's type where it wants an integer, a boolean or
 * a number), validates every key it knows and rejects every key it does not
 * know, and fills struct og_config. The keys, their types, defaults and
 * meanings are one table (config/og_config_int.h), which og_config_print_help
 * prints (omnigate --config-help). Each problem becomes one line in errs
 * naming the key path ("channels[2].connector: required"); the caller prints
 * them all and refuses to start. Channel options are kept as JSON here and
 * validated against the connector's own option table by og_channel_create(),
 * which reports under the same path ("channels[2].options.bot_token").
 *
 * Everything in struct og_config is owned by it; og_config_free() frees it. */
#ifndef OG_CONFIG_H
#define OG_CONFIG_H
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct og_errors;
struct og_webhook_sub; /* core/og_webhooks.h */
struct og_config_routing;

/* channels[].texts: automatic texts (core/og_texts.h), templates; NULL = not sent. */
struct og_config_texts {
    char *greeting, *queue, *assigned, *closing;
    int64_t timeout_after_s;    /* customer_timeout.after_s; 0 = no prompt */
    char *timeout_text;         /* customer_timeout.text */
    int64_t auto_close_after_s; /* auto_close.after_s; 0 = never */
};
/* channels[].goal: the channel's chat goal (core/og_goals.h). */
struct og_config_goal {
    char *event;         /* NULL = the file sets none */
    int64_t window_days; /* 1, 3, 7, 15 or 30 */
};

/* channels[].csat: the satisfaction survey (core/og_csat.h); scale 0 = none. */
struct og_config_csat {
    int64_t scale;     /* 5 (stars) or 2 (thumbs) */
    char *question;    /* NULL = the default question */
    char *thanks;      /* NULL = the default thanks */
    int comment;       /* a comment may come with the score */
    char *on;          /* "close" (when the session closes) | "silence" */
    int64_t silence_s; /* on "silence": seconds without a message after an agent's reply */
};

struct og_config_channel {
    char *id;                 /* required; [a-z0-9_-]{1,64}, unique */
    char *connector;          /* required; connector name */
    char *routing;            /* default "default" */
    json_object *options;     /* owned reference (json_object_put); may be NULL */
    char path[48];            /* "channels[2]" for error messages */
    double rate_limit_per_s;  /* sends per second; 0 = the connector's default_rate_per_s */
    char **fetch_allow_hosts; /* hosts fetched even at private addresses (core/og_fetch.h) */
    size_t n_fetch_allow_hosts;
    struct og_config_texts texts;
    struct og_config_goal goal;
    struct og_config_csat csat;
    char *store_raw; /* default NULL = the top-level store_raw */
};

/* "smtp" and "followups" (config/og_config_followups.c). */
struct og_config_followup {
    char *id;        /* required; [a-z0-9_-]{1,64}, unique */
    char *when;      /* required; "session.closed" | "customer_silent" */
    int64_t after_s; /* delay; required > 0 for customer_silent, default 0 */
    char **channels; /* filters (session.closed only); NULL/0 = any */
    size_t n_channels;
    char **reasons; /* close_reason one of these */
    size_t n_reasons;
    char **success_codes; /* at least one of these among the session's */
    size_t n_success_codes;
    char *subject, *text, *html; /* templates (og_template.h); subject required */
};
struct og_config_followups {
    int smtp_set; /* 1 when the "smtp" section is present */
    struct {
        char *url;                 /* required; smtp://host[:port] or smtps://host[:port] */
        char *username, *password; /* default NULL = no AUTH */
        char *from;                /* required; "Name <addr>" or "addr" */
        char *starttls;            /* auto (default) | always | never */
        char *ca_file;             /* default NULL = system CAs */
        int64_t timeout_ms;        /* default 30000 */
        int64_t retry_initial_ms;  /* first retry delay, default 30000 */
        int64_t retry_max_ms;      /* cap, default 3600000 */
        int64_t max_attempts;      /* default 8 */
    } smtp;
    struct og_config_followup *rules;
    size_t n_rules;
};

struct og_config {
    char *listen;        /* "127.0.0.1:8080" (host:port; [v6]:port) */
    char *public_url;    /* default "" */
    char *webchat_demo;  /* default "": /webchat/demo is off; a web chat channel id: on */
    char *store_raw;     /* default "24h": og_config_store_raw_s */
    char *data_dir;      /* default "./var" */
    char *log_level;     /* error|warn|info|debug, default "info" */
    char *log_file;      /* default NULL = standard error; reopened on SIGHUP */
    char *log_format;    /* text (default) | json */
    char *connector_dir; /* default NULL = next to the executable */
    struct {
        int64_t max_body_bytes; /* default 1048576, 1..64 MiB */
        int64_t threads;        /* HTTP thread pool, default 0 = 4 per CPU, at least 64 */
        /* The edge (gateway/og_edge.h): connections, slow clients, proxies. */
        int64_t max_connections;          /* 0 = from the descriptor limit */
        int64_t connection_memory_bytes;  /* libmicrohttpd's memory per connection */
        int64_t reserved_connections;     /* for platform_ranges and health checks */
        int64_t per_address_connections;  /* 0 = no limit */
        int64_t header_timeout_ms;        /* 0 = no bound */
        int64_t min_body_bytes_per_s;     /* 0 = no bound */
        int64_t max_messages_per_request; /* 0 = no bound */
        char **trusted_proxies;           /* CIDRs whose forwarded header is believed */
        size_t n_trusted_proxies;
        char *forwarded_header; /* "x-forwarded-for" | "forwarded" */
        char **platform_ranges; /* CIDRs: no per-address limit, the reserve */
        size_t n_platform_ranges;
        char *tls_cert, *tls_key; /* PEM files: HTTPS on listen; both or neither */
    } http;
    struct {
        char *url;             /* "embedded" (default), "redis://host:port[/db]", "unix:///path" */
        char *prefix;          /* key prefix and hash tag, default "og"; [A-Za-z0-9_.-]{1,32} */
        char *password;        /* default NULL */
        int64_t pool_size;     /* connections, default 16, 1..256 */
        char *server;          /* embedded only: redis-server binary, default "redis-server" */
        char *durability;      /* fsync (default) | replicated | relaxed */
        int64_t wait_replicas; /* replicated: replicas a write must reach, default 1 */
        int64_t wait_timeout_ms; /* replicated: WAIT's timeout, default 1000 */
        /* Sentinel (core/og_sentinel.h): the master is asked of these
         * "host:port" sentinels instead of url (mutually exclusive). */
        char **sentinels;
        size_t n_sentinels;
        char *master_name;       /* required with sentinels */
        char *sentinel_password; /* AUTH to the sentinels; default NULL */
    } redis;
    struct {
        char *admin_token;   /* required, >= 16 characters */
        char **cors_origins; /* origins whose browsers may call the API with credentials */
        size_t n_cors_origins;
    } api;
    struct {
        char *token; /* default NULL = /metrics is open; else its bearer token */
    } metrics;
    struct og_config_channel *channels;
    size_t n_channels;
    struct og_webhook_sub *webhooks; /* config/og_config_webhooks.c */
    size_t n_webhooks;
    struct {
        int64_t concurrency; /* parallel deliveries per instance, default 64, 1..1024 */
    } webhook_dispatch;
    struct {
        int64_t retain_s;  /* events kept at least this long (SSE resume), default 3600 */
        int64_t max_bytes; /* the stream's memory bound, default 256 MiB */
    } events;
    struct og_config_followups *followups; /* never NULL after load */
    struct {                               /* "send" (config/og_config_send.c) */
        int64_t workers;                   /* sender threads per instance, default 4, 1..64 */
        int64_t max_attempts;     /* tries before a retryable failure is final, default 8 */
        int64_t retry_backoff_ms; /* first retry delay, doubling, default 2000 */
        int64_t retry_max_ms;     /* back-off cap, default 300000 */
        int64_t claim_idle_ms;    /* a dead sender's entries are claimed after, 30000 */
    } send;
    struct {                    /* "media" (config/og_config_media.c; core/og_media.h) */
        char *dir;              /* default NULL = <data_dir>/media */
        int64_t max_bytes;      /* the store's cap, default 1 GiB; 0 = none */
        int64_t max_age_s;      /* unused this long: removed, default 30 days; 0 = never */
        int64_t max_file_bytes; /* one file, default 32 MiB */
        int64_t link_ttl_s;     /* signed links, default 7 days */
        struct {                /* "media.s3": the shared store; endpoint NULL = none */
            char *endpoint;     /* http(s)://host[:port] */
            char *bucket;
            char *region; /* default "us-east-1" */
            char *access_key;
            char *secret_key;
        } s3;
    } media;
    struct {              /* "sensitive_words" (config/og_config_sensitive.c) */
        char **customers; /* terms that flag a customer's message */
        size_t n_customers;
        char **agents; /* terms that flag (or block) an agent's message */
        size_t n_agents;
        int block_agents; /* default 0: flag only */
    } sensitive_words;
    struct {                        /* "retention" (config/og_config_retention.c) */
        int64_t archive_after_days; /* 0 = closed sessions stay in Redis */
        int64_t delete_after_days;  /* 0 = archived sessions are kept */
        int64_t archive_batch;      /* sessions per archiving step, default 100 */
        char *store;                /* "data_dir" (default) | "s3" (media.s3's bucket) */
    } retention;
    struct og_config_routing *routing; /* og_config_routing.h; never NULL after load */
    json_object *root;                 /* the parsed file after substitution (owned) */
};

/* Loads and validates path. Returns 0 when errs stayed empty; the config is
 * filled as far as it could be either way and must be freed. */
int og_config_load(const char *path, struct og_config *cfg, struct og_errors *errs);
/* Same, from a buffer (for tests and the fuzz target). */
int og_config_load_buffer(const char *buf, size_t len, struct og_config *cfg,
                          struct og_errors *errs);
void og_config_free(struct og_config *cfg);
/* A section with its defaults, and its release. [xfer] */
struct og_config_followups *og_config_followups_new(void);
void og_config_followups_free(struct og_config_followups *f);
/* The channels' automatic texts and goals as og_core_opts takes them (one
 * of each per channel, in order; strings borrowed from cfg). Returns the
 * count; both arrays [xfer] (free). */
struct og_texts_conf; /* core/og_texts.h */
struct og_goal_seed;  /* core/og_goals.h */
size_t og_config_channel_ops(const struct og_config *cfg, struct og_texts_conf **texts,
                             struct og_goal_seed **goals);
/* A store_raw value: "none" (-1), "always" (0) or a retention in hours
 * ("24h", 1 to 87600 hours: seconds). 0 on success, -1 for anything else. */
int og_config_store_raw_s(const char *s, int64_t *keep_s);
/* Splits cfg->listen into host and port. 0 on success. */
int og_config_listen_split(const char *listen, char *host, size_t hostsz, int *port);
/* Every key of the file with its type, default and meaning, from the table
 * the loader validates with (omnigate --config-help). file is a FILE *. */
void og_config_print_help(void *file);
/* The same as Markdown tables: readme 0 = docs/config.md (every key),
 * 1 = README.md's table (the keys outside arrays and maps). */
void og_config_print_markdown(void *file, int readme);
#endif
