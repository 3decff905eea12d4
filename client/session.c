/*
 * What most commands share: the hello, fetching a record by id prefix,
 * signing and submitting a record, and turning daemon errors into sentences
 * and exit codes.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <noaber/error.h>
#include <noaber/identity.h>

#include "client.h"

int call_failure(struct ctx *ctx, int rc)
{
    switch (rc) {
    case CTL_ECLOSED:
        return fail(EXIT_ERROR, "noaberd at %s closed the connection before it answered.",
                    ctx->ctl.path);
    case CTL_ETIMEDOUT:
        return fail(EXIT_ERROR, "noaberd at %s did not answer within %d seconds.", ctx->ctl.path,
                    CTL_TIMEOUT_SECONDS);
    case CTL_EPROTO:
        return fail(EXIT_ERROR,
                    "noaberd at %s sent a reply this client cannot read (a different "
                    "version?).",
                    ctx->ctl.path);
    default:
        return fail(EXIT_ERROR, "talking to noaberd at %s failed: %s.", ctx->ctl.path,
                    nb_strerror(rc));
    }
}

int reply_failure(struct ctx *ctx, const struct ctl_reply *reply, const char *what)
{
    const char *msg = reply->message[0] != '\0' ? reply->message : reply->error_name;

    switch (reply->error) {
    case NB_CTL_E_REFUSED:
    case NB_CTL_E_INVALID_RECORD:
    case NB_CTL_E_GONE:
        return fail(EXIT_REFUSED, "noaberd refused %s: %s", what, msg);
    case NB_CTL_E_FORBIDDEN:
        /* The member socket: the message names the op and the socket it needs. */
        return fail(EXIT_REFUSED, "noaberd refused %s: %s.", what, msg);
    case NB_CTL_E_NOT_FOUND:
        return fail(EXIT_ERROR, "%s: nothing on this node has that id (%s).", what, msg);
    case NB_CTL_E_AMBIGUOUS:
        return fail(EXIT_ERROR, "%s: the id prefix matches several records; type more digits.",
                    what);
    default:
        return fail(EXIT_ERROR, "noaberd could not do %s: %s (%s).", what, msg, reply->error_name);
    }
}

int call_daemon(struct ctx *ctx, struct ctl_req *req, struct ctl_reply *reply, const char *what)
{
    int rc = ctl_call(&ctx->ctl, req, reply);
    if (rc != 0) {
        return call_failure(ctx, rc);
    }
    if (!reply->ok) {
        rc = reply_failure(ctx, reply, what);
        ctl_reply_free(reply);
        return rc;
    }
    return EXIT_OK;
}

int session_open(struct ctx *ctx, bool need_neighbourhood)
{
    struct ctl_req req;
    struct ctl_reply reply;
    const msgpack_object *r;
    int rc;

    if (ctl_connect(&ctx->ctl, ctx->socket) != 0) {
        ctl_print_unreachable(&ctx->ctl);
        return EXIT_UNREACHABLE;
    }
    ctx->connected = true;
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_HELLO, 0);
    rc = call_daemon(ctx, &req, &reply, "the hello");
    if (rc != EXIT_OK) {
        return rc;
    }
    r = reply.result;
    ctx->daemon_now = ctl_get_uint(r, "now", 0);
    ctx->peers_now = ctl_get_uint(r, "peers_now", 0);
    ctx->peers_clocks = ctl_get_uint(r, "peers_clocks", 0);
    ctx->have_neighbourhood = ctl_get_bin_exact(r, "neighbourhood_id", ctx->neighbourhood_id,
                                                NB_NEIGHBOURHOOD_ID_SIZE) == 0;
    ctl_get_str(r, "neighbourhood", ctx->neighbourhood, sizeof(ctx->neighbourhood));
    ctl_reply_free(&reply);
    char clocks[400];
    if (ctx->daemon_now != 0 && clock_problem(ctx->now, ctx->daemon_now, ctx->peers_now,
                                              ctx->peers_clocks, clocks, sizeof(clocks)) != NULL)
        fprintf(stderr, "noaber: warning: %s\n", clocks);
    if (need_neighbourhood && !ctx->have_neighbourhood) {
        return fail(EXIT_ERROR,
                    "the node at %s has no neighbourhood yet; an operator creates one with "
                    "`noaber neighbourhood create NAME`.",
                    ctx->ctl.path);
    }
    return EXIT_OK;
}

/* Clocks further apart than this are worth a word: well inside the 600 s a
 * record may be ahead of a node (NB_FUTURE_SKEW), so people hear of it
 * before posts are refused. */
#define CLOCK_APART_MAX 120

static uint64_t apart(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* "3 min", "2 hours", "365 days": how far apart, rounded to the nearest
 * unit.  The clocks are read a moment apart (the node's in its reply, this
 * computer's after it), so a clock a year off reads as a few milliseconds
 * short of 365 days; rounding down would call it 364. */
static void amount(uint64_t d, char *buf, size_t size)
{
    if (d < 120)
        snprintf(buf, size, "%llu s", (unsigned long long)d);
    else if (d < 7200)
        snprintf(buf, size, "%llu min", (unsigned long long)((d + 30) / 60));
    else if (d < 2 * 86400)
        snprintf(buf, size, "%llu hours", (unsigned long long)((d + 1800) / 3600));
    else
        snprintf(buf, size, "%llu days", (unsigned long long)((d + 43200) / 86400));
}

const char *clock_problem(uint64_t mine, uint64_t node, uint64_t peers, uint64_t n_peers, char *buf,
                          size_t size)
{
    char by[32];
    if (peers != 0 && apart(node, peers) > CLOCK_APART_MAX) {
        const char *dir = node > peers ? "ahead of" : "behind";
        amount(apart(node, peers), by, sizeof(by));
        if (apart(mine, peers) <= CLOCK_APART_MAX)
            /* This computer sides with the peers: the node is the odd one. */
            snprintf(buf, size,
                     "noaberd's clock is %s %s its peers' and this computer's: its operator "
                     "should set it right (NTP); until then it refuses records%s",
                     by, dir,
                     node > peers ? " and takes new posts for expired ones"
                                  : " as dated in the future");
        else if (apart(mine, node) <= CLOCK_APART_MAX && n_peers == 1)
            /* This computer sides with the node: the one peer is the odd one. */
            snprintf(buf, size,
                     "noaberd's only peer has a clock %s %s this node's and this computer's: "
                     "its operator should set it right (NTP); records are refused between the "
                     "two until then",
                     by, peers > node ? "ahead of" : "behind");
        else if (n_peers == 1)
            snprintf(buf, size,
                     "noaberd's clock is %s %s its only peer's: one of the two is wrong; check "
                     "both (NTP), as records are refused between them until they agree",
                     by, dir);
        else
            snprintf(buf, size,
                     "noaberd's clock is %s %s its peers'%s: set it right (NTP); until then "
                     "records are refused between them",
                     by, dir,
                     apart(mine, node) <= CLOCK_APART_MAX ? ", and so is this computer's" : "");
        return buf;
    }
    if (apart(mine, node) <= CLOCK_APART_MAX)
        return NULL;
    amount(apart(mine, node), by, sizeof(by));
    if (peers != 0)
        snprintf(buf, size,
                 "this computer's clock is %s %s noaberd's and its peers': set it right (NTP); "
                 "until then the node refuses what you post%s",
                 by, mine > node ? "ahead of" : "behind",
                 mine > node ? " as dated in the future" : " as already expired");
    else
        snprintf(buf, size,
                 "this computer's clock is %s %s noaberd's, and the node has no peer to tell "
                 "which one is right: check both (NTP)",
                 by, mine > node ? "ahead of" : "behind");
    return buf;
}

static bool is_hex(const char *s)
{
    for (; *s != '\0'; s++) {
        if (!isxdigit((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

/* Makes the next record sort after one created at `t`. */
static void after(struct ctx *ctx, uint64_t t)
{
    if (t + 1 > ctx->min_created_at) {
        ctx->min_created_at = t + 1;
    }
}

int check_id(const char *prefix)
{
    size_t n = strlen(prefix);
    if (n < 4 || n > NB_ID_SIZE * 2 || !is_hex(prefix)) {
        return fail(EXIT_USAGE,
                    "\"%s\" is not a record id: use at least 4 (and at most 64) hex digits, "
                    "as `noaber list` shows them.",
                    prefix);
    }
    return EXIT_OK;
}

int fetch_record(struct ctx *ctx, const char *prefix, struct fetched *ret)
{
    struct ctl_req req;
    const msgpack_object *r;
    const uint8_t *bytes;
    size_t len;
    char lower[NB_ID_SIZE * 2 + 1];
    size_t n = strlen(prefix);
    int rc;

    memset(ret, 0, sizeof(*ret));
    if (check_id(prefix) != EXIT_OK) {
        return EXIT_USAGE;
    }
    for (size_t i = 0; i <= n; i++) {
        lower[i] = (char)tolower((unsigned char)prefix[i]);
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_GET, 1);
    if (n == NB_ID_SIZE * 2) {
        uint8_t id[NB_ID_SIZE];
        nb_unhex(lower, id, sizeof(id));
        ctl_req_bin(&req, "record_id", id, sizeof(id));
    } else {
        ctl_req_str(&req, "prefix", lower);
    }
    rc = ctl_call(&ctx->ctl, &req, &ret->reply);
    if (rc != 0) {
        return call_failure(ctx, rc);
    }
    if (!ret->reply.ok && ret->reply.error == NB_CTL_E_GONE) {
        fetched_free(ret);
        return fail(EXIT_ERROR,
                    "%s was retracted by its author or has expired; nodes no longer keep it.",
                    lower);
    }
    if (!ret->reply.ok && ret->reply.error == NB_CTL_E_NOT_FOUND) {
        fetched_free(ret);
        return fail(EXIT_ERROR,
                    "nothing on this node has that id: no record starts with %s (`noaber list` "
                    "shows the ids).",
                    lower);
    }
    if (!ret->reply.ok && ret->reply.error == NB_CTL_E_AMBIGUOUS) {
        rc = ambiguous_failure(ctx, &ret->reply, lower);
        fetched_free(ret);
        return rc;
    }
    if (!ret->reply.ok) {
        char what[96];
        snprintf(what, sizeof(what), "looking up %s", lower);
        rc = reply_failure(ctx, &ret->reply, what);
        fetched_free(ret);
        return rc;
    }
    r = ret->reply.result;
    if (ctl_get_bin(r, "record", &bytes, &len) != 0 ||
        ctl_get_bin_exact(r, "id", ret->id, NB_ID_SIZE) != 0 ||
        nb_record_decode(bytes, len, &ret->rec) != 0) {
        fetched_free(ret);
        return fail(EXIT_ERROR, "noaberd sent a record for %s that does not decode.", lower);
    }
    nb_hex(ret->id, NB_ID_SIZE, ret->hex);
    ctl_get_str(r, "status", ret->status, sizeof(ret->status));
    ret->timeline = ctl_get(r, "timeline");
    if (ret->timeline != NULL && ret->timeline->type == MSGPACK_OBJECT_ARRAY) {
        ret->ntimeline = ret->timeline->via.array.size;
    } else {
        ret->timeline = NULL;
    }
    /* Whatever the member does next acts on this record and its timeline. */
    after(ctx, ret->rec.created_at);
    for (size_t i = 0; i < ret->ntimeline; i++) {
        struct nb_record rec;
        if (timeline_record(ret, i, &rec, NULL) == 0) {
            after(ctx, rec.created_at);
        }
    }
    return EXIT_OK;
}

void fetched_free(struct fetched *f)
{
    ctl_reply_free(&f->reply);
    memset(f, 0, sizeof(*f));
}

int timeline_record(const struct fetched *f, size_t i, struct nb_record *ret_rec,
                    uint8_t ret_id[NB_ID_SIZE])
{
    const msgpack_object *o;
    struct nb_record rec;

    if (f->timeline == NULL || i >= f->ntimeline) {
        return -1;
    }
    o = &f->timeline->via.array.ptr[i];
    if (o->type != MSGPACK_OBJECT_BIN ||
        nb_record_decode((const uint8_t *)o->via.bin.ptr, o->via.bin.size, &rec) != 0) {
        return -1;
    }
    if (ret_id != NULL) {
        nb_record_id((const uint8_t *)o->via.bin.ptr, o->via.bin.size, ret_id);
    }
    *ret_rec = rec;
    return 0;
}

/* How long noaber waits for a daemon that dropped the connection before
 * answering a submit (a restart) to come back, and how often it tries. */
#define RESUBMIT_SECONDS 30
#define RESUBMIT_TRIES   3

/*
 * Hands the signed bytes to the daemon.  When the connection drops before
 * the answer, the record may or may not be stored: the same bytes go again
 * (a node stores a record once, whatever number of times it is submitted),
 * never a record signed anew, which would be a second post.
 */
static int submit_bytes(struct ctx *ctx, const uint8_t *buf, size_t len,
                        const uint8_t id[NB_ID_SIZE], const char *what, struct ctl_reply *reply)
{
    char path[CTL_PATH_LEN];
    char hex[NB_ID_SIZE * 2 + 1];
    nb_hex(id, NB_ID_SIZE, hex);
    snprintf(path, sizeof(path), "%s", ctx->ctl.path);
    for (int attempt = 1;; attempt++) {
        struct ctl_req req;
        ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_SUBMIT, 1);
        ctl_req_bin(&req, "record", buf, len);
        int rc = ctl_call(&ctx->ctl, &req, reply);
        if (rc == 0 && reply->ok) {
            if (attempt > 1) {
                fprintf(stderr, "noaber: noaberd took %s on attempt %d (id %.16s).\n", what,
                        attempt, hex);
            }
            return EXIT_OK;
        }
        if (rc == 0) {
            rc = reply_failure(ctx, reply, what);
            ctl_reply_free(reply);
            return rc;
        }
        if ((rc != CTL_ECLOSED && rc != CTL_ETIMEDOUT) || attempt == RESUBMIT_TRIES) {
            if (attempt > 1) {
                fprintf(stderr,
                        "noaber: %s (id %.16s) may or may not be stored: `noaber show %.12s` "
                        "tells; running the same command again would sign a second one.\n",
                        what, hex, hex);
            }
            return call_failure(ctx, rc);
        }
        fprintf(stderr,
                "noaber: noaberd at %s %s; sending the same signed bytes of %s again (id "
                "%.16s), which a node stores only once.\n",
                path,
                rc == CTL_ECLOSED ? "closed the connection before it answered"
                                  : "did not answer in time",
                what, hex);
        ctl_close(&ctx->ctl);
        int waited_ms = 0;
        while (ctl_connect(&ctx->ctl, path) != 0) {
            if (waited_ms >= RESUBMIT_SECONDS * 1000) {
                return fail(EXIT_UNREACHABLE,
                            "noaberd at %s did not come back within %d seconds; %s (id %.16s) "
                            "may or may not be stored: `noaber show %.12s` tells once it is "
                            "back; running the same command again would sign a second one.",
                            path, RESUBMIT_SECONDS, what, hex, hex);
            }
            struct timespec pause = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
            nanosleep(&pause, NULL);
            waited_ms += 200;
        }
    }
}

int submit_record(struct ctx *ctx, struct nb_record *rec, const char *human,
                  uint8_t ret_id[NB_ID_SIZE])
{
    uint8_t buf[NB_RECORD_MAX];
    uint8_t id[NB_ID_SIZE];
    uint8_t echoed[NB_ID_SIZE];
    char hex[NB_ID_SIZE * 2 + 1];
    char what[64];
    size_t len = 0;
    struct ctl_reply reply;
    int rc;

    memcpy(rec->author, ctx->pk, NB_KEY_SIZE);
    rec->created_at = ctx->now > ctx->min_created_at ? ctx->now : ctx->min_created_at;
    rc = nb_record_sign(rec, ctx->sk, ctx->neighbourhood_id, buf, &len);
    if (rc == NB_EFIELD || rc == NB_EUTF8 || rc == NB_ETOOBIG || rc == NB_EEXPIRY) {
        return fail(EXIT_USAGE,
                    "the %s is not valid: %s.  Limits: title 1-%d bytes, details %d, area "
                    "1-%d, when %d, note %d, name %d, up to %d tags of %d and %d languages; "
                    "no control characters (details may have line breaks).",
                    kind_words(rec->kind), nb_strerror(rc), NB_TITLE_MAX, NB_DETAILS_MAX,
                    NB_AREA_MAX, NB_WHEN_MAX, NB_NOTE_MAX, NB_NAME_MAX, NB_TAGS_MAX, NB_TAG_MAX,
                    NB_LANGUAGES_MAX);
    }
    if (rc != 0) {
        return fail(EXIT_ERROR, "the %s cannot be signed: %s.", kind_words(rec->kind),
                    nb_strerror(rc));
    }
    snprintf(what, sizeof(what), "the %s", kind_words(rec->kind));
    nb_record_id(buf, len, id);
    rc = submit_bytes(ctx, buf, len, id, what, &reply);
    if (rc != EXIT_OK) {
        return rc;
    }
    /* The id is ours to compute; the daemon's echo must agree with it. */
    if (ctl_get_bin_exact(reply.result, "id", echoed, NB_ID_SIZE) == 0 &&
        memcmp(echoed, id, NB_ID_SIZE) != 0) {
        ctl_reply_free(&reply);
        return fail(EXIT_ERROR, "noaberd stored the %s under an unexpected id.",
                    kind_words(rec->kind));
    }
    ctl_reply_free(&reply);
    if (ret_id != NULL) {
        memcpy(ret_id, id, NB_ID_SIZE);
    }
    nb_hex(id, NB_ID_SIZE, hex);
    print_record_id(ctx, hex, human);
    return EXIT_OK;
}

void print_record_id(struct ctx *ctx, const char *hex, const char *human)
{
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "id");
        json_string(&ctx->j, hex);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (human != NULL) {
        printf("%s (id %.8s).\n", human, hex);
    }
}

const char *kind_words(unsigned kind)
{
    switch (kind) {
    case NB_KIND_DONE_CLAIM:
        return "done claim";
    case NB_KIND_PAUSE:
        return "pause";
    default:
        return nb_kind_name(kind) != NULL ? nb_kind_name(kind) : "record";
    }
}

void set_text(struct nb_text *t, const char *s)
{
    t->ptr = s;
    t->len = strlen(s);
}

void short_member(const uint8_t pk[NB_KEY_SIZE], char *buf, size_t size)
{
    char text[NB_MEMBER_KEY_TEXT_LEN + 1];
    nb_member_key_to_text(pk, text);
    snprintf(buf, size, "%.12s\xe2\x80\xa6", text);
}

void print_safety_hints(FILE *out)
{
    fputs("Safe practice: don't announce that a house will be empty; never hand over keys or\n"
          "bank cards; work in pairs for tasks inside someone's home; refer medical care to\n"
          "professionals.\n",
          out);
}
