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

/* Safe-practice hints (DOMAIN.md), printed after ask and assign. */
void print_safety_hints(FILE *out);

#endif
