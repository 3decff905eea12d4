/*
 * noaberd: one Noaber node.  Reads its settings, takes the data directory's
 * lock, opens the store, serves the control socket and purges expired
 * records until SIGTERM or SIGINT.  It never daemonizes: a service manager
 * (or a terminal) runs it in the foreground.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include <noaber/error.h>
#include <noaber/identity.h>

#include "daemon/admin/admin.h"
#include "daemon/config.h"
#include "daemon/control/control.h"
#include "daemon/net/discovery.h"
#include "daemon/lock.h"
#include "daemon/log.h"
#include "daemon/marker.h"
#include "daemon/net/net.h"
#include "daemon/node.h"
#include "daemon/store/store.h"
#include "daemon/store/store_wal.h"

struct daemon {
    uv_loop_t loop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t purge_timer;
    uv_timer_t quiet_timer;            /* gives memory back once the store is quiet */
    uint64_t quiet_changes;            /* the store's change count at the last tick */
    struct nbd_control control;        /* the operator's socket */
    struct nbd_control member_control; /* neighbours' programs */
    struct nbd_net *net;
    struct nbd_discovery *discovery; /* NULL when off or unavailable */
    struct nbd_node node;
    struct nbd_store *store;
    struct nbd_settings settings;
    bool stopping;
    /* The check of every page of the store, beside the loop. */
    uv_work_t check;
    char store_path[4200];
    char check_err[1024];
    int check_result;
    bool damaged; /* the check found damage: noaberd exits with 1 */
};

static uint64_t wall_clock(void)
{
    return (uint64_t)time(NULL);
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int make_dirs(const char *path, char *err, size_t err_size)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) {
        snprintf(err, err_size, "bad directory path '%s'", path);
        return NB_EINVAL;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
            snprintf(err, err_size, "cannot create %s: %s", buf, strerror(errno));
            return NB_EIO;
        }
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "%s is not a directory", path);
        return NB_EIO;
    }
    return 0;
}

static void purge(struct daemon *d)
{
    uint64_t records = 0, tombstones = 0;
    int r = nbd_node_purge(&d->node, wall_clock(), &records, &tombstones);
    if (r < 0) {
        nbd_error("purging expired and ended records failed: %s", nb_strerror(r));
        return;
    }
    if (records > 0)
        nbd_net_records_deleted(d->net);
    if (records > 0 || tombstones > 0)
        nbd_info("purged %llu expired or ended records and %llu old tombstones",
                 (unsigned long long)records, (unsigned long long)tombstones);
}

static void on_purge_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    purge(d);
    nbd_node_repair(&d->node);
}

/*
 * Memory for small machines (docs/operating.md, "Memory and cores"): the
 * store's cache and the heap grow during a catch-up or a reconciliation
 * and are given back once the store wrote nothing for a whole tick.  The
 * cache's pages come back from the kernel's page cache when next read, so
 * a quiet node pays little for a lean footprint, and a busy one keeps its
 * cache.  glibc keeps freed memory in its arenas (one per thread that
 * allocated, the signature checkers' too) until malloc_trim hands the
 * free pages back.
 */
static void on_quiet_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    uint64_t changes = nbd_store_changes(d->store);
    if (changes != d->quiet_changes) {
        d->quiet_changes = changes;
        return;
    }
    size_t freed = nbd_store_release_memory(d->store);
    malloc_trim(0);
    if (freed > 0)
        nbd_debug("the store is quiet: gave back %zu KiB of its cache", freed / 1024);
}

/* A record a read found damaged is gone from the store: said once, and
 * asked of the peers again. */
static void on_repaired(void *ctx, const uint8_t id[NB_ID_SIZE])
{
    struct daemon *d = ctx;
    char hex[2 * NB_ID_SIZE + 1];
    nb_hex(id, NB_ID_SIZE, hex);
    nbd_error("record %s was damaged in the store (its bytes no longer match its id); it was "
              "removed so that a peer that holds it sends it again; run `noaberd fsck` to look "
              "for more damage",
              hex);
    nbd_net_refetch(d->net);
}

/*
 * The store and the marker beside it (daemon/marker.h) must tell the same
 * story.  A store without a neighbourhood next to a marker is a lost store,
 * not a new node: starting would invite the operator to create a second
 * neighbourhood.
 */
static int check_marker(struct daemon *d, const char *store_path)
{
    const char *dir = d->settings.data_dir;
    uint8_t marked[NB_NEIGHBOURHOOD_ID_SIZE];
    char hex[2 * NB_NEIGHBOURHOOD_ID_SIZE + 1];
    int r = nbd_marker_read(dir, marked);
    if (r == NB_EDAMAGED || r == NB_EIO) {
        nbd_error("%s/%s cannot be read or does not hold a neighbourhood id; if the store is "
                  "sound, remove the file and noaberd writes it again",
                  dir, NBD_MARKER_NAME);
        return r;
    }
    if (r == NB_ENOENT) {
        if (d->node.has_neighbourhood && nbd_marker_write(dir, d->node.neighbourhood_id) < 0)
            nbd_warn("cannot write %s/%s: %s", dir, NBD_MARKER_NAME, strerror(errno));
        return 0;
    }
    if (r < 0)
        return r;
    nb_hex(marked, sizeof(marked), hex);
    if (!d->node.has_neighbourhood) {
        nbd_error("%s holds no neighbourhood, but this node belonged to neighbourhood %.16s… "
                  "(%s/%s): the store was lost or replaced.  Stop here and restore the store "
                  "from a backup (docs/operating.md, \"Restoring a backup\"); to make this a "
                  "new node on purpose, remove %s/%s",
                  store_path, hex, dir, NBD_MARKER_NAME, dir, NBD_MARKER_NAME);
        return NB_ESTATE;
    }
    if (sodium_memcmp(marked, d->node.neighbourhood_id, sizeof(marked)) != 0) {
        nbd_error("%s belongs to another neighbourhood than this node did (%.16s…, %s/%s): "
                  "the store was replaced.  Put this node's own store back, or remove %s/%s "
                  "if the node is meant to serve the store's neighbourhood now",
                  store_path, hex, dir, NBD_MARKER_NAME, dir, NBD_MARKER_NAME);
        return NB_ESTATE;
    }
    return 0;
}

/* When starting fails half-way: closes what was opened on the loop so far
 * and lets the loop finish closing it. */
static void close_loop(struct daemon *d)
{
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->purge_timer, NULL);
    uv_close((uv_handle_t *)&d->quiet_timer, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
}

static void stop(struct daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    /* Requests run to completion on this thread, so no transaction is in
     * flight here: closing the handles is all that is left. */
    nbd_control_stop(&d->control);
    nbd_control_stop(&d->member_control);
    nbd_discovery_stop(d->discovery);
    nbd_net_stop(d->net);
    uv_timer_stop(&d->purge_timer);
    uv_close((uv_handle_t *)&d->purge_timer, NULL);
    uv_timer_stop(&d->quiet_timer);
    uv_close((uv_handle_t *)&d->quiet_timer, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

/*
 * What SQLite dropped from the write-ahead log when the store opened.
 * Nothing more is needed to get the records back: every link starts with a
 * reconciliation, which fetches what the store no longer holds from peers
 * that do, and `status` shows the loss until the node stops.
 */
static void log_wal(const char *path, const struct nbd_wal_report *wal)
{
    if (wal->verdict == NBD_WAL_DAMAGED)
        nbd_error("the store's write-ahead log %s-wal was damaged: %s.  A copy is kept in %s.  "
                  "The records in the lost transactions are gone from this node and are fetched "
                  "again from its peers (a node without peers: restore a backup, "
                  "docs/operating.md, \"A damaged store\")",
                  path, wal->what, wal->kept_copy);
    else if (wal->verdict == NBD_WAL_UNCOMMITTED)
        nbd_info("the store's write-ahead log %s-wal: %s", path, wal->what);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    if (d->stopping)
        return;
    nbd_info("%s received: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop(d);
}

/* On a thread of libuv's pool: the store's own connection there only reads
 * (nbd_store_check), beside the loop's. */
static void check_store(uv_work_t *w)
{
    struct daemon *d = w->data;
    d->check_result = nbd_store_check(d->store_path, d->check_err, sizeof(d->check_err));
}

static void store_checked(uv_work_t *w, int status)
{
    struct daemon *d = w->data;
    if (status < 0 || d->check_result == 0)
        return;
    /* What the node served meanwhile was checked against its ids record
     * by record; a store damaged below that stops the node as it would
     * have stopped at startup. */
    nbd_error("%s", d->check_err);
    d->damaged = true;
    stop(d);
}

static int run(struct daemon *d)
{
    char err[1024];
    char path[4200];
    int lock_fd = -1;
    int r;

    if (make_dirs(d->settings.data_dir, err, sizeof(err)) < 0) {
        nbd_error("%s", err);
        return 1;
    }
    r = nbd_lock_acquire(d->settings.data_dir, &lock_fd, err, sizeof(err));
    if (r < 0) {
        nbd_error("%s", err);
        return 1;
    }
    if (nb_init() < 0) {
        nbd_error("cannot initialise libsodium");
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/store.sqlite", d->settings.data_dir);
    r = nbd_store_open_with(path, NBD_STORE_CHECK_LATER, &d->store, err, sizeof(err));
    if (r < 0) {
        nbd_error("%s", err);
        goto fail;
    }
    log_wal(path, nbd_store_wal(d->store));
    r = nbd_node_init(&d->node, d->store, (uint64_t)d->settings.purge_grace);
    if (r == NB_EDAMAGED) {
        nbd_error("the neighbourhood key in %s does not match the neighbourhood's id: the store "
                  "is damaged.  Stop here and restore the store from a backup "
                  "(docs/operating.md, \"Restoring a backup\")",
                  path);
        goto fail;
    }
    if (r < 0) {
        char why[512];
        nbd_error("cannot read the neighbourhood from the store: %s",
                  nbd_store_explain(d->store, r, why, sizeof(why)));
        goto fail;
    }
    d->node.marker_dir = d->settings.data_dir;
    d->node.on_repaired = on_repaired;
    d->node.repaired_ctx = d;
    if (check_marker(d, path) < 0)
        goto fail;
    nbd_node_set_quota(&d->node, d->settings.quota_hour, d->settings.quota_day);
    r = nbd_store_set_cache(d->store, d->settings.store_cache);
    if (r < 0)
        nbd_warn("cannot set the store's cache to %u MiB: %s", d->settings.store_cache,
                 nb_strerror(r));

    r = uv_loop_init(&d->loop);
    if (r < 0) {
        nbd_error("cannot start the event loop: %s", uv_strerror(r));
        goto fail;
    }
    uv_signal_init(&d->loop, &d->sigterm);
    uv_signal_init(&d->loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_timer_init(&d->loop, &d->purge_timer);
    d->purge_timer.data = d;
    uv_timer_init(&d->loop, &d->quiet_timer);
    d->quiet_timer.data = d;

    const struct nbd_net_config net_cfg = {
        .data_dir = d->settings.data_dir,
        .listen = d->settings.listen,
        .advertise = d->settings.advertise,
        .peers = (const char *const *)d->settings.peers,
        .n_peers = d->settings.n_peers,
        .max_peers = d->settings.max_peers,
        .sync_interval = d->settings.sync_interval,
        .no_peer_exchange = !d->settings.peer_exchange,
        .peer_exchange_allow_loopback = d->settings.peer_exchange_allow_loopback,
        .riblt = d->settings.reconcile_riblt,
        .clock = wall_clock,
    };
    r = nbd_net_new(&d->loop, &d->node, &net_cfg, &d->net, err, sizeof(err));
    if (r < 0) {
        nbd_error("%s", err);
        close_loop(d);
        goto fail;
    }

    struct nbd_control_ctx ctx = {
        .net = d->net,
        .node = &d->node,
        .data_dir = d->settings.data_dir,
        .clock = wall_clock,
        .socket_group_access = d->settings.socket_group_access,
        .role = NB_CTL_ROLE_OPERATOR,
        .share_report = d->settings.share_report,
    };
    r = nbd_control_start(&d->control, &d->loop, &ctx, d->settings.socket_path, err, sizeof(err));
    if (r == 0) {
        ctx.role = NB_CTL_ROLE_MEMBER;
        r = nbd_control_start(&d->member_control, &d->loop, &ctx, d->settings.member_socket_path,
                              err, sizeof(err));
        if (r < 0)
            nbd_control_stop(&d->control);
    }
    if (r < 0) {
        nbd_error("%s", err);
        nbd_net_stop(d->net);
        close_loop(d);
        goto fail;
    }

    /* The check of every page runs beside the loop, so that starting takes
     * no longer as the store grows (bench footprint.startup). */
    snprintf(d->store_path, sizeof(d->store_path), "%s", path);
    d->check.data = d;
    r = uv_queue_work(&d->loop, &d->check, check_store, store_checked);
    if (r < 0)
        nbd_warn("cannot check the store beside the loop: %s", uv_strerror(r));

    purge(d);
    uint64_t every = (uint64_t)d->settings.purge_interval * 1000;
    uv_timer_start(&d->purge_timer, on_purge_timer, every, every);
    d->quiet_changes = nbd_store_changes(d->store);
    uv_timer_start(&d->quiet_timer, on_quiet_timer, NBD_QUIET_MS, NBD_QUIET_MS);

    if (d->node.has_neighbourhood) {
        char hex[2 * NB_NEIGHBOURHOOD_ID_SIZE + 1];
        nb_hex(d->node.neighbourhood_id, NB_NEIGHBOURHOOD_ID_SIZE, hex);
        nbd_info("neighbourhood %.16s…", hex);
    } else {
        nbd_info("no neighbourhood yet: run `noaber neighbourhood create NAME`");
    }
    nbd_info("listening on %s, for neighbours' programs on %s (data in %s)",
             d->settings.socket_path, d->settings.member_socket_path, d->settings.data_dir);
    /* Without a neighbourhood this does nothing yet; neighbourhood.create
     * and neighbourhood.join start the network then. */
    nbd_net_start(d->net);
    /* Discovery waits by itself until the node has a neighbourhood and
     * listens; without multicast the node runs on without it. */
    if (d->settings.discovery) {
        const struct nbd_discovery_config disc_cfg = {
            .listen = d->settings.listen,
            .clock = wall_clock,
        };
        if (nbd_discovery_start(&d->loop, &d->node, d->net, &disc_cfg, &d->discovery, err,
                                sizeof(err)) < 0)
            nbd_warn("%s", err);
    } else {
        nbd_info("LAN discovery is off");
    }

    uv_run(&d->loop, UV_RUN_DEFAULT);
    r = uv_loop_close(&d->loop);
    if (r < 0)
        nbd_warn("the event loop did not close cleanly: %s", uv_strerror(r));
    nbd_discovery_free(d->discovery);
    d->discovery = NULL;
    nbd_net_free(d->net);
    d->net = NULL;
    nbd_node_clear(&d->node);
    nbd_store_close(d->store);
    close(lock_fd);
    nbd_info("stopped");
    return d->damaged ? 1 : 0;
fail:
    nbd_net_free(d->net);
    d->net = NULL;
    nbd_node_clear(&d->node);
    nbd_store_close(d->store);
    close(lock_fd);
    return 1;
}

int main(int argc, char **argv)
{
    struct nbd_options opts;
    struct nbd_config file;
    struct daemon d;
    char err[1024];
    int status = 1;

    /* Operator commands (fsck, backup, erase-member, --check-config) run
     * instead of the daemon: daemon/admin/admin.c. */
    if (nbd_admin_dispatch(argc, argv, &status))
        return status;
    memset(&d, 0, sizeof(d));
    nbd_config_init(&file);
    if (nbd_options_parse(argc, argv, &opts, err, sizeof(err)) < 0) {
        fprintf(stderr, "noaberd: %s\n(see noaberd --help)\n", err);
        return 2;
    }
    if (opts.help) {
        fputs(nbd_usage, stdout);
        status = 0;
        goto out;
    }
    if (opts.version) {
        printf("noaberd %s\n", NOABER_VERSION);
        status = 0;
        goto out;
    }
    if (opts.config_path != NULL &&
        nbd_config_load(opts.config_path, &file, err, sizeof(err)) < 0) {
        fprintf(stderr, "noaberd: %s\n", err);
        goto out;
    }
    if (nbd_settings_resolve(&opts.flags, &file, &d.settings, err, sizeof(err)) < 0) {
        fprintf(stderr, "noaberd: %s\n", err);
        goto out;
    }
    nbd_log_set_level((enum nbd_log_level)d.settings.log_level);

    /* Everything the daemon creates (store, lock, socket) is for its own
     * user only; the store holds the neighbourhood key. */
    umask(077);
    /* A client that disappears mid-reply must not kill the node. */
    signal(SIGPIPE, SIG_IGN);

    status = run(&d);
out:
    nbd_settings_clear(&d.settings);
    nbd_config_clear(&file);
    nbd_options_clear(&opts);
    return status;
}
