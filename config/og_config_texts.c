/* og_config_texts - a channel's automatic texts and chat goal:
 *
 *   "texts": {"greeting": "Hi {{contact.name}}!", "queue": "You are number
 *             {{queue.position}} in line.", "assigned": "{{agent.name}} will
 *             help you.", "closing": "Thanks for chatting with us.",
 *             "customer_timeout": {"after_s": 300, "text": "Are you still
 *             there?"}, "auto_close": {"after_s": 120}},
 *   "goal":  {"event": "order_placed", "window_days": 7}
 *
 * core/og_texts.h says when each text goes out and core/og_goals.h how a
 * goal is measured. Texts are templates checked here against the names the
 * core renders (og_texts_names), so a typo in a placeholder stops the start
 * instead of reaching a customer. Durations are seconds, any value from 1,
 * so tests can run them in seconds. */
#include "og_config_int.h"
#include "og_goals.h"
#include "og_template.h"
#include "og_texts.h"
#include "og_util.h"

#include <stddef.h>
#include <string.h>

#define TEXT_MAX 4096 /* bytes: below every messenger's limit for one text message */
#define TX(field) offsetof(struct og_config_texts, field)
#define GOAL(field) offsetof(struct og_config_goal, field)

static int check_names(struct og_load *l, json_object *v, const char *path,
                       const char *const *names)
{
    const char *s = json_object_get_string(v);
    char err[256];
    if (strlen(s) > TEXT_MAX) {
        og_errors_add(l->errs, "%s: must be at most %d bytes", path, TEXT_MAX);
        return -1;
    }
    if (og_template_check_names(s, names, err, sizeof err) != 0) {
        og_errors_add(l->errs, "%s: %s", path, err);
        return -1;
    }
    return 0;
}

static int check_text(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                      const char *path, void *base)
{
    (void)row, (void)base;
    return check_names(l, v, path, og_texts_names);
}

static int check_queue_text(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                            const char *path, void *base)
{
    (void)row, (void)base;
    return check_names(l, v, path, og_texts_queue_names);
}

static int check_days(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                      const char *path, void *base)
{
    (void)base;
    return og_goal_days_valid(json_object_get_int64(v)) ? 0 : og_cfg_expect(l, row, path);
}

/* auto_close counts from the timeout prompt, so it needs one. */
int og_cfg_texts_done(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                      const char *path, void *base)
{
    (void)row, (void)base;
    if (json_object_object_get_ex(v, "auto_close", NULL) &&
        !json_object_object_get_ex(v, "customer_timeout", NULL))
        og_errors_add(l->errs,
                      "%s.auto_close: needs customer_timeout (it closes after_s after that "
                      "prompt)",
                      path);
    return 0;
}

static const struct og_cfg_row timeout_rows[] = {
    {.name = "after_s",
     .type = OG_CFG_INT,
     .offset = TX(timeout_after_s),
     .min = 1,
     .max = 31536000,
     .flags = OG_CFG_REQUIRED,
     .help = "seconds an agent's message waits for the customer's answer before the prompt"},
    {.name = "text",
     .type = OG_CFG_STR,
     .offset = TX(timeout_text),
     .flags = OG_CFG_REQUIRED | OG_CFG_NONEMPTY,
     .help = "the prompt (emits session.timeout_prompted)",
     .check = check_text},
    {0},
};

static const struct og_cfg_row auto_close_rows[] = {
    {.name = "after_s",
     .type = OG_CFG_INT,
     .offset = TX(auto_close_after_s),
     .min = 1,
     .max = 31536000,
     .flags = OG_CFG_REQUIRED,
     .help = "seconds after the prompt without an answer: closed with reason customer_timeout"},
    {0},
};

const struct og_cfg_row og_cfg_texts_rows[] = {
    {.name = "greeting",
     .type = OG_CFG_STR,
     .offset = TX(greeting),
     .flags = OG_CFG_NONEMPTY,
     .def_doc = "none",
     .help = "sent when a customer's message creates a session",
     .check = check_text},
    {.name = "queue",
     .type = OG_CFG_STR,
     .offset = TX(queue),
     .flags = OG_CFG_NONEMPTY,
     .def_doc = "none",
     .help = "sent when the customer's new or reopened session still waits for an agent a "
             "second later; may use {{queue.position}} (not on e-mail-like channels)",
     .check = check_queue_text},
    {.name = "assigned",
     .type = OG_CFG_STR,
     .offset = TX(assigned),
     .flags = OG_CFG_NONEMPTY,
     .def_doc = "none",
     .help = "sent when an agent is given the session (\"{{agent.name}} will help you\")",
     .check = check_text},
    {.name = "closing",
     .type = OG_CFG_STR,
     .offset = TX(closing),
     .flags = OG_CFG_NONEMPTY,
     .def_doc = "none",
     .help = "sent when the session is closed",
     .check = check_text},
    {.name = "customer_timeout",
     .type = OG_CFG_OBJECT,
     .children = timeout_rows,
     .help = "a prompt when the customer has not answered an agent's message for after_s"},
    {.name = "auto_close",
     .type = OG_CFG_OBJECT,
     .children = auto_close_rows,
     .help = "closes the session after_s after the timeout prompt without an answer"},
    {0},
};

const struct og_cfg_row og_cfg_goal_rows[] = {
    {.name = "event",
     .type = OG_CFG_STR,
     .offset = GOAL(event),
     .max = 64,
     .flags = OG_CFG_REQUIRED | OG_CFG_UPPER,
     .chars = "_-.",
     .help = "the goal event: a contact event's name (POST /api/v1/contacts/{id}/events) or a "
             "success code recorded at close",
     .expect = "must be 1-64 of A-Z a-z 0-9 _ - ."},
    {.name = "window_days",
     .type = OG_CFG_INT,
     .offset = GOAL(window_days),
     .min = 1,
     .max = 30,
     .flags = OG_CFG_REQUIRED,
     .help = "days from the agent's first reply in which the event counts: 1, 3, 7, 15 or 30",
     .expect = "must be 1, 3, 7, 15 or 30",
     .check = check_days},
    {0},
};

size_t og_config_channel_ops(const struct og_config *cfg, struct og_texts_conf **texts,
                             struct og_goal_seed **goals)
{
    size_t n = cfg->n_channels;
    *texts = og_calloc(n + 1, sizeof **texts);
    *goals = og_calloc(n + 1, sizeof **goals);
    for (size_t i = 0; i < n; i++) {
        const struct og_config_channel *c = &cfg->channels[i];
        const struct og_config_texts *t = &c->texts;
        (*texts)[i] = (struct og_texts_conf){.channel = c->id,
                                             .greeting = t->greeting,
                                             .queue = t->queue,
                                             .assigned = t->assigned,
                                             .closing = t->closing,
                                             .timeout_text = t->timeout_text,
                                             .timeout_after_s = t->timeout_after_s,
                                             .auto_close_after_s = t->auto_close_after_s};
        /* The survey as a message (og_csat.h): everywhere but in the web chat
         * widget, which shows its own survey when the session closes (the
         * widget is connector webchat's); after silence, there too. */
        const struct og_config_csat *cs = &c->csat;
        int widget = c->connector && !strcmp(c->connector, "webchat");
        if (cs->scale && cs->on && (!widget || !strcmp(cs->on, "silence"))) {
            (*texts)[i].csat_scale = (int)cs->scale;
            (*texts)[i].csat_question = cs->question;
            (*texts)[i].csat_thanks = cs->thanks ? cs->thanks : "Thank you for your feedback!";
            (*texts)[i].csat_on = cs->on;
            (*texts)[i].csat_silence_s = cs->silence_s;
        }
        (*goals)[i] = (struct og_goal_seed){c->id, c->goal.event, (int)c->goal.window_days};
    }
    return n;
}

#define CSAT(field) offsetof(struct og_config_csat, field)

static int check_scale(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                       const char *path, void *base)
{
    (void)base;
    int64_t s = json_object_get_int64(v);
    return s == 5 || s == 2 ? 0 : og_cfg_expect(l, row, path);
}

const struct og_cfg_row og_cfg_csat_rows[] = {
    {.name = "scale",
     .type = OG_CFG_INT,
     .offset = CSAT(scale),
     .min = 2,
     .max = 5,
     .flags = OG_CFG_REQUIRED,
     .help = "5 (1-5 stars) or 2 (thumbs down 1, up 2)",
     .expect = "must be 5 or 2",
     .check = check_scale},
    {.name = "question",
     .type = OG_CFG_STR,
     .offset = CSAT(question),
     .max = 500,
     .flags = OG_CFG_NONEMPTY,
     .def = "How would you rate this conversation?",
     .help = "the survey's question"},
    {.name = "thanks",
     .type = OG_CFG_STR,
     .offset = CSAT(thanks),
     .max = 500,
     .flags = OG_CFG_NONEMPTY,
     .def = "Thank you for your feedback!",
     .help = "shown once the customer answered"},
    {.name = "comment",
     .type = OG_CFG_BOOL,
     .offset = CSAT(comment),
     .def = "true",
     .help = "a comment may come with the score"},
    {.name = "on",
     .type = OG_CFG_ENUM,
     .offset = CSAT(on),
     .def = "close",
     .choices = "close|silence",
     .help = "when the survey is offered: close (when the session closes) or silence (when "
             "no message was written for silence_s after an agent's reply, the session open "
             "or closed); once per session either way"},
    {.name = "silence_s",
     .type = OG_CFG_INT,
     .offset = CSAT(silence_s),
     .min = 1,
     .max = 31536000,
     .def_doc = "none",
     .help = "with on \"silence\": the seconds of silence (required then, refused otherwise)"},
    {0},
};

/* silence_s goes with on "silence", and only with it. */
int og_cfg_csat_done(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                     const char *path, void *base)
{
    (void)row, (void)base;
    json_object *on = NULL;
    int silence = json_object_object_get_ex(v, "on", &on) &&
                  json_object_is_type(on, json_type_string) &&
                  !strcmp(json_object_get_string(on), "silence");
    int has_s = json_object_object_get_ex(v, "silence_s", NULL);
    if (silence && !has_s)
        og_errors_add(l->errs, "%s.silence_s: required with \"on\": \"silence\"", path);
    else if (!silence && has_s)
        og_errors_add(l->errs, "%s.silence_s: only with \"on\": \"silence\"", path);
    return 0;
}
