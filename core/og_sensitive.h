/* og_sensitive - the sensitive-word lists of the config's "sensitive_words"
 * (one for customers' messages, one for agents'), compiled once, and the
 * matching of a message's text against one of them. Pure C, no Redis: the
 * ingest path (og_core.c) and the reply path (og_outbox.c) match before
 * their script runs and hand the script only the result, so a list of
 * thousands of terms costs the Lua side nothing.
 *
 * A term is a word or a phrase ("refund", "bank account", "идиот", "ばか"),
 * compared after folding both sides (og_fold.h: case, accents, width,
 * katakana/hiragana). It matches whole words: where the term begins and
 * ends with a letter or digit of a script written with spaces (Latin,
 * Greek, Cyrillic...), the text must not continue that word on that side,
 * so "ass" does not match "class". A "*" at the start and/or the end of a
 * term lets the word go on there: "idiot*" matches "idiots" and "idiotic",
 * "*bank" matches "databank", "*scam*" matches "scammers". An edge in a
 * script written without spaces (Japanese, Chinese, Thai) matches anywhere,
 * there being no word boundary to find. White space in a term matches any
 * run of white space in the text. That is the whole pattern language:
 * "*" elsewhere in a term is refused by og_sensitive_term_check. */
#ifndef OG_SENSITIVE_H
#define OG_SENSITIVE_H
#include <stddef.h>

#define OG_SENSITIVE_TERM_MAX 200 /* bytes of one term */

struct og_sensitive;

/* The config's two lists, for og_core_opts ([borrowed] during og_core_new). */
struct og_sensitive_opts {
    const char *const *customers; /* flag customers' messages */
    size_t n_customers;
    const char *const *agents; /* flag agents' messages, or block them */
    size_t n_agents;
    int block_agents; /* an agent's message that matches is refused */
};

/* 0 when term is a usable term; else -1 with why in err ("a \"*\" may
 * only begin or end a term"). */
int og_sensitive_term_check(const char *term, char *err, size_t errlen);

/* The list of terms compiled [xfer, og_sensitive_free]; terms that fail
 * og_sensitive_term_check (which the config has refused) and repeats are
 * left out. NULL when no term is left: nothing to match. */
struct og_sensitive *og_sensitive_new(const char *const *terms, size_t n);
void og_sensitive_free(struct og_sensitive *s);

/* The terms of s that text[0..n) matches, each once and as written in the
 * list (trimmed), in list order: a JSON array text [xfer], or NULL when
 * none matches (or s is NULL). */
char *og_sensitive_match(const struct og_sensitive *s, const char *text, size_t n);
#endif
