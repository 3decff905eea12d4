/*
 * Shared state and helpers of the noaber commands.  Each command group lives
 * in its own file (cmd_*.c) and is reached through main.c's table.
 */
#ifndef NOABER_CLIENT_CLIENT_H
#define NOABER_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>
#include <noaber/record.h>
#include <noaber/state.h>

#include "control.h"
#include "output.h"

/* Exit codes, documented in `noaber help` and docs/client.md. */
enum exit_code {
    EXIT_OK = 0,
    EXIT_ERROR = 1,       /* any other error */
    EXIT_USAGE = 2,       /* the command line is wrong */
    EXIT_UNREACHABLE = 3, /* noaberd cannot be reached */
    EXIT_REFUSED = 4,     /* the daemon refused the operation or record */
};

struct ctx {
    /* Global options. */
    bool json;
    const char *socket;   /* --socket, or NULL */
    const char *identity; /* --identity, or NULL */
    const char *command;  /* for usage messages, e.g. "ask" or "id new" */
    struct json j;
    uint64_t now; /* the local clock when the command started */
    /*
     * The earliest created_at the new record may carry: one second after
     * every record it acts on.  Nodes fold records in (created_at, id) order
     * with one-second resolution, so a response and its assignment made in
     * the same second could otherwise be folded in the wrong order.
     */
    uint64_t min_created_at;

    /* Set by session_open(). */
    struct ctl ctl;
    bool connected;
    bool have_neighbourhood;
    char neighbourhood[NB_NAME_MAX * 4 + 1];
    uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE];
    uint64_t daemon_now;
    uint64_t peers_now;    /* the node's peers' clock as it knows it; 0 if unknown */
    uint64_t peers_clocks; /* how many peers told it their time */

    /* Set by identity_load(); the secret key is wiped by ctx_done(). */
    bool have_key;
    uint8_t pk[NB_KEY_SIZE];
    uint8_t sk[NB_SECRET_KEY_SIZE];
    char key_text[NB_MEMBER_KEY_TEXT_LEN + 1];
};

/* A command's options, parsed by parse_args(). */
struct opt {
    const char *name;   /* without the leading "--" */
    const char **value; /* for options that take a value, else NULL */
    bool *flag;         /* for flags, else NULL */
};

/*
 * Parses the arguments after the command words.  Global options (--json,
 * --socket, --identity) are accepted anywhere.  Positional arguments go to
 * pos[0..*ret_npos).  Prints a usage error and returns EXIT_USAGE when an
 * option is unknown, lacks its value, or the positional count is outside
 * min..max; returns -1 when --help was given (usage already printed); else 0.
 */
int parse_args(struct ctx *ctx, int argc, char **argv, const struct opt *opts, const char **pos,
               size_t min_pos, size_t max_pos, const char *usage);

/* Prints "noaber: " and the sentence to stderr; returns `code` for chaining. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Connects to the daemon and says hello.  Returns EXIT_OK or
 * EXIT_UNREACHABLE/EXIT_ERROR (message printed).  With need_neighbourhood,
 * a node without a neighbourhood is an error that says how to create one.
 */
int session_open(struct ctx *ctx, bool need_neighbourhood);

/*
 * Compares three clocks: this computer's (`mine`), the node's and its peers'
 * (0 when the node knows none; the median of n_peers).  NULL when they agree within a couple of
 * minutes; else a sentence into buf that says which one is off, by how much,
 * and what follows from it.
 */
const char *clock_problem(uint64_t mine, uint64_t node, uint64_t peers, uint64_t n_peers, char *buf,
                          size_t size);

/*
 * Turns a failed reply into an exit code and a sentence on stderr: refused,
 * invalid or gone records give EXIT_REFUSED.
 */
int reply_failure(struct ctx *ctx, const struct ctl_reply *reply, const char *what);
/* Turns a control-layer error code into an exit code and a sentence. */
int call_failure(struct ctx *ctx, int rc);
/*
 * Sends req and reads its reply.  Returns EXIT_OK with a successful reply
 * that the caller frees (ctl_reply_free), or an exit code with the failure
 * told on stderr (call_failure, reply_failure with `what`) and nothing to free.
 */
int call_daemon(struct ctx *ctx, struct ctl_req *req, struct ctl_reply *reply, const char *what);

/* The identity file path: --identity, NOABER_IDENTITY, or the XDG default. */
int identity_path(const struct ctx *ctx, char *buf, size_t size);
/* Loads the member's key pair into ctx.  Returns EXIT_OK or EXIT_ERROR (printed). */
int identity_load(struct ctx *ctx);
/* Like identity_load(), silently: true when a key was loaded. */
bool identity_try_load(struct ctx *ctx);

/* A record fetched with `get`: its bytes, decoded form, status and timeline. */
struct fetched {
    struct ctl_reply reply; /* owns the bytes everything below points into */
    uint8_t id[NB_ID_SIZE];
    char hex[NB_ID_SIZE * 2 + 1];
    struct nb_record rec;
    char status[32];
    const msgpack_object *timeline; /* array of bin */
    size_t ntimeline;
};

/* Checks that an id argument is 4..64 hex digits; EXIT_OK or EXIT_USAGE (printed). */
int check_id(const char *prefix);

/*
 * Fetches the record whose id starts with `prefix` (at least 4 hex digits).
 * Returns EXIT_OK or an exit code (message printed).
 */
int fetch_record(struct ctx *ctx, const char *prefix, struct fetched *ret);
void fetched_free(struct fetched *f);

/* Decodes the i-th timeline entry; returns 0 or -1 (skip it). */
int timeline_record(const struct fetched *f, size_t i, struct nb_record *ret_rec,
                    uint8_t ret_id[NB_ID_SIZE]);

/*
 * Fills author and created_at, signs with the member's key for the
 * neighbourhood, submits, and prints the new id ({"id": ...} with --json, or
 * `human` followed by the short id).  Returns an exit code.
 */
int submit_record(struct ctx *ctx, struct nb_record *rec, const char *human,
                  uint8_t ret_id[NB_ID_SIZE]);

/* A new (or existing) record's id: {"id": HEX} with --json, else
 * "HUMAN (id 1234abcd)." (nothing when human is NULL). */
void print_record_id(struct ctx *ctx, const char *hex, const char *human);
/* The kind of a record in words for a sentence: "request", "done claim". */
const char *kind_words(unsigned kind);
/* Sets a text field from a C string. */
void set_text(struct nb_text *t, const char *s);
/* "nbm1abcdefgh…": a member key shortened for a table. */
void short_member(const uint8_t pk[NB_KEY_SIZE], char *buf, size_t size);

/*
 * A request or offer with everything that concerns it and its derived state.
 * `given` is the record the user named when that was not the root itself
 * (a response, an assignment...); the root is then fetched through targets.
 */
struct root_view {
    struct fetched root;
    struct fetched given;
    bool has_given;
    struct nb_record *related;
    uint8_t (*related_ids)[NB_ID_SIZE];
    size_t n_related;
    struct nb_state st;
};

/* Fetches and derives; returns EXIT_OK or an exit code (message printed). */
int root_load(struct ctx *ctx, const char *prefix, struct root_view *ret);
void root_free(struct root_view *v);
/* A record fetched by id without a word on failure (it may be gone already). */
struct looked_up {
    struct ctl_reply reply; /* owns what rec points into */
    struct nb_record rec;
    bool ok;
};
bool lookup_quiet(struct ctx *ctx, const uint8_t id[NB_ID_SIZE], struct looked_up *ret);
void looked_up_free(struct looked_up *l);

/*
 * An id prefix that several records start with: says so, lists the ones the
 * daemon's `ambiguous` reply names (id, kind, title) and returns EXIT_USAGE.
 */
int ambiguous_failure(struct ctx *ctx, const struct ctl_reply *reply, const char *prefix);

/*
 * Sends a `list` request and checks that the reply has its items.  Returns
 * EXIT_OK with the reply to free and *ret_items in it, or an exit code
 * (told on stderr) and nothing to free.
 */
int call_list(struct ctx *ctx, struct ctl_req *req, struct ctl_reply *ret, const char *what,
              const msgpack_object **ret_items);

/* The related record with this id, or NULL. */
const struct nb_record *root_find(const struct root_view *v, const uint8_t id[NB_ID_SIZE]);

/*
 * What the vouches and profiles on the node say, from this member's point of
 * view (client/cmd_trust.c).  Trusted are the member, the members they vouch
 * for, and the members those vouch for: two hops.
 */
struct vouch_edge {
    uint8_t id[NB_ID_SIZE];
    uint8_t by[NB_KEY_SIZE];
    uint8_t member[NB_KEY_SIZE];
    uint64_t created_at;
    char note[NB_NOTE_MAX + 1];
};

struct member_name {
    uint8_t member[NB_KEY_SIZE];
    char name[NB_NAME_MAX + 1];
};

struct trust {
    bool have_me; /* without an identity nobody is trusted */
    uint8_t me[NB_KEY_SIZE];
    struct vouch_edge *vouches;
    size_t n_vouches;
    struct member_name *names; /* each member's newest profile name */
    size_t n_names;
    uint8_t (*trusted)[NB_KEY_SIZE];
    size_t n_trusted;
};

/*
 * Lists the vouches and profiles on the node (an open session; ctx's key if
 * loaded).  Returns EXIT_OK or an exit code (message printed).
 */
int trust_load(struct ctx *ctx, struct trust *ret);
void trust_free(struct trust *t);
bool trust_is_trusted(const struct trust *t, const uint8_t pk[NB_KEY_SIZE]);
/* How many trusted members vouch for pk. */
size_t trust_vouchers(const struct trust *t, const uint8_t pk[NB_KEY_SIZE]);
/* The member's profile name, or NULL. */
const char *trust_name(const struct trust *t, const uint8_t pk[NB_KEY_SIZE]);
/* "nbm1abcdefgh… (Alice)": the (short or full) key and the name where known. */
void member_label(const struct trust *t, const uint8_t pk[NB_KEY_SIZE], bool full, char *buf,
                  size_t size);

/*
 * The filters `list` and `watch` share (client/cmd_list.c): a request or offer
 * of this kind, category and area (by the word rule of noaber/area.h), and
 * with --trusted by a trusted author.  NULL means any.
 */
struct list_filters {
    const char *kind, *status, *category, *area;
    bool trusted;
};

/* Checks the values; EXIT_OK or EXIT_USAGE with the option named (printed). */
int list_filters_check(const struct list_filters *f);
/* Whether a request or offer passes kind, category, area and trust. */
bool list_filters_match(const struct ctx *ctx, const struct list_filters *f,
                        const struct trust *trust, const struct nb_record *rec);
/*
 * Whether the member is the one to confirm: the requester of a done-claimed
 * request (`mine`), or the asker whose ask on an offer is done-claimed
 * (`response` is the member's own response status, or NULL).
 */
bool confirmation_waits(const char *status, bool mine, const char *response, bool is_offer);
/* Whether an available or paused offer ends within a week (time to renew). */
bool offer_nears_end(const struct ctx *ctx, const char *status, uint64_t expires_at);

/*
 * Whether this member was assigned to the request earlier (and may hold its
 * sealed contact) while someone else is assigned now.
 */
bool reassigned_from_me(const struct ctx *ctx, const struct root_view *v);

/*
 * The members a command may mean (client/members.c): those who responded to a
 * request or offer (with their response ids), or everyone with a profile.
 */
struct member_candidates {
    const uint8_t (*keys)[NB_KEY_SIZE];
    const uint8_t (*response_ids)[NB_ID_SIZE]; /* parallel to keys, or NULL */
    size_t n;
    const char *hint; /* appended to "not found", e.g. "; `noaber show ID` lists them" */
};

/*
 * Finds the member `text` names: a full member key (taken as it is), the
 * start of a candidate's key as tables print it ("nbm1abcdefgh…"), the id
 * (or its start) of a candidate's response, or a candidate's profile name
 * (without case).  `who` says in words who the candidates are ("the members
 * who responded").  Returns EXIT_OK, or EXIT_USAGE with the problem told on
 * stderr: nobody matches, or several do (each listed).
 */
int member_resolve(const struct member_candidates *c, const struct trust *t, const char *text,
                   const char *who, uint8_t ret[NB_KEY_SIZE]);

/*
 * Seals `text` to `member` into `sealed` (NB_SEALED_MAX bytes, the caller
 * wipes it) and sets rec's sealed field.  `what` names the text in an error
 * ("the contact").  Returns EXIT_OK or EXIT_ERROR (printed).
 */
int seal_text(const char *text, const uint8_t member[NB_KEY_SIZE], struct nb_record *rec,
              uint8_t sealed[NB_SEALED_MAX], const char *what);

/*
 * Opens a message sealed to this member into buf (NUL-terminated, checked as
 * text).  Returns 0, or -1 when it is not to this member or does not open.
 */
int open_message(const struct ctx *ctx, const struct nb_record *rec, char *buf, size_t size);

/*
 * Option checks that name the option (client/options.c).  text_option names
 * the option as given ("--title", or "TEXT" for an argument): UTF-8
 * without control characters (line breaks allowed when multiline), min..max
 * bytes, the limit said in characters and bytes; NULL passes.
 */
int text_option(const char *option, const char *value, size_t min, size_t max, bool multiline);
/* Names exactly the required options that are missing ("ask needs --title
 * and --area."), then the usage; EXIT_OK when none is. */
int missing_options(const struct ctx *ctx, const char *usage, const char *const *names,
                    const char *const *values, size_t n);

enum list_kind { LIST_LANGUAGES, LIST_TAGS };
/*
 * Splits a comma list ("nl, fr,en") into `out` (at most `max` items, pointing
 * into buf) and checks each item: language codes, or tags.  NULL passes.
 * Returns EXIT_OK or EXIT_USAGE with the option and the item named.
 */
int list_option(const char *option, const char *value, enum list_kind kind, char *buf, size_t size,
                struct nb_text *out, size_t max, uint8_t *ret_n);

/*
 * The identity (required with need_key, else if there is one), the session
 * (see session_open), and the trust it derives: what reading commands begin
 * with.  Returns EXIT_OK (with *ret to free) or an exit code (printed).
 */
int session_with_trust(struct ctx *ctx, bool need_key, bool need_neighbourhood, struct trust *ret);

/*
 * An --expires value: a duration from 1 second to 90 days.  Returns EXIT_OK
 * with *ret_seconds set (left alone when value is NULL), or EXIT_USAGE.
 */
int expires_option(const char *value, uint64_t *ret_seconds);

/* Whether s is nothing but hex digits (either case). */
bool is_hex_text(const char *s);

/* The commands.  Each gets the arguments after its command words. */
int cmd_id_new(struct ctx *ctx, int argc, char **argv);
int cmd_id_show(struct ctx *ctx, int argc, char **argv);
int cmd_neighbourhood_create(struct ctx *ctx, int argc, char **argv);
int cmd_ask(struct ctx *ctx, int argc, char **argv);
int cmd_offer(struct ctx *ctx, int argc, char **argv);
int cmd_list(struct ctx *ctx, int argc, char **argv);
int cmd_show(struct ctx *ctx, int argc, char **argv);
int cmd_respond(struct ctx *ctx, int argc, char **argv);
int cmd_withdraw(struct ctx *ctx, int argc, char **argv);
int cmd_assign(struct ctx *ctx, int argc, char **argv);
int cmd_done(struct ctx *ctx, int argc, char **argv);
int cmd_confirm(struct ctx *ctx, int argc, char **argv);
int cmd_cancel(struct ctx *ctx, int argc, char **argv);
int cmd_retract(struct ctx *ctx, int argc, char **argv);
int cmd_pause(struct ctx *ctx, int argc, char **argv);
int cmd_resume(struct ctx *ctx, int argc, char **argv);
int cmd_watch(struct ctx *ctx, int argc, char **argv);
int cmd_status(struct ctx *ctx, int argc, char **argv);
int cmd_invite(struct ctx *ctx, int argc, char **argv);
int cmd_join(struct ctx *ctx, int argc, char **argv);
int cmd_peer_add(struct ctx *ctx, int argc, char **argv);
int cmd_peer_remove(struct ctx *ctx, int argc, char **argv);
int cmd_peers(struct ctx *ctx, int argc, char **argv);
int cmd_block(struct ctx *ctx, int argc, char **argv);
int cmd_unblock(struct ctx *ctx, int argc, char **argv);
int cmd_blocked(struct ctx *ctx, int argc, char **argv);
int cmd_welcome(struct ctx *ctx, int argc, char **argv);
int cmd_devices(struct ctx *ctx, int argc, char **argv);
int cmd_device_revoke(struct ctx *ctx, int argc, char **argv);
int cmd_vouch(struct ctx *ctx, int argc, char **argv);
int cmd_vouches(struct ctx *ctx, int argc, char **argv);
int cmd_profile(struct ctx *ctx, int argc, char **argv);
int cmd_message(struct ctx *ctx, int argc, char **argv);
int cmd_renew(struct ctx *ctx, int argc, char **argv);
int cmd_inbox(struct ctx *ctx, int argc, char **argv);

/* Safe-practice hints (DOMAIN.md), printed after ask and assign. */
void print_safety_hints(FILE *out);

#endif
