/*
 * What SQLite would throw away from the store's write-ahead log.
 *
 * SQLite replays the WAL (store.sqlite-wal) when it opens a store that was
 * not closed cleanly, and keeps only the frames up to the last valid commit
 * frame: a frame whose checksum fails ends the replay, and every
 * transaction after it is dropped without a word.  A byte flipped or a file
 * truncated by a failing disk thus loses committed records silently.
 * nbd_wal_check reads the WAL before SQLite does (format: sqlite.org
 * fileformat2.html, "The WAL File Format"), says what would be dropped, and
 * keeps a copy of a WAL that loses committed transactions beside the store.
 *
 * The decoder (nbd_wal_scan_*) takes the file's bytes in pieces: the
 * 32-byte header, then each frame (24-byte header and one page), then the
 * tail shorter than a frame.  It never reads past what it is given.
 */
#ifndef NOABERD_STORE_WAL_H
#define NOABERD_STORE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NBD_WAL_HEADER_SIZE       32
#define NBD_WAL_FRAME_HEADER_SIZE 24

enum nbd_wal_verdict {
    NBD_WAL_CLEAN,       /* nothing after the last commit (or no WAL) */
    NBD_WAL_UNCOMMITTED, /* only a transaction that never committed: the node
                          * stopped while writing; nothing acknowledged is lost */
    NBD_WAL_DAMAGED,     /* committed transactions are dropped */
};

struct nbd_wal_scan {
    /* From the header. */
    bool header_ok;
    bool big_endian;
    uint32_t page_size;
    uint32_t salt[2];
    /* Replay state. */
    uint32_t sum[2];
    bool stopped;      /* a frame failed: the replay ends before it */
    bool old_gen_seen; /* a frame of an earlier generation (other salts) */
    bool bad_frame;    /* the replay ended at a frame of this generation */
    bool bad_commit;   /* ... and that frame carried a commit mark */
    /* Counts. */
    uint64_t frames;       /* every whole frame in the file */
    uint64_t kept;         /* frames SQLite replays: up to the last valid commit */
    uint64_t commits;      /* commit frames among them */
    uint64_t valid;        /* valid frames of this generation, committed or not */
    uint64_t lost_frames;  /* frames of this generation after the last valid commit */
    uint64_t lost_commits; /* commit marks among them (each a transaction) */
    uint64_t after_bad;    /* frames of this generation after the failing one */
    uint64_t tail;         /* bytes of a partial frame at the end */
    bool tail_current;     /* the partial frame carries this generation's salts */
};

/* Starts a scan with the file's first 32 bytes (fewer for a short file).
 * Returns the size of a frame (24 + page size), or 0 when the header is
 * not a valid WAL header: SQLite then ignores the whole file. */
size_t nbd_wal_scan_begin(struct nbd_wal_scan *w, const uint8_t *header, size_t len);
/* One whole frame of the size nbd_wal_scan_begin returned. */
void nbd_wal_scan_frame(struct nbd_wal_scan *w, const uint8_t *frame);
/* The bytes after the last whole frame (len < frame size). */
void nbd_wal_scan_tail(struct nbd_wal_scan *w, const uint8_t *tail, size_t len);
/* The verdict once every piece was given; `file_size` is the WAL's size. */
enum nbd_wal_verdict nbd_wal_scan_end(const struct nbd_wal_scan *w, uint64_t file_size);

/*
 * A WAL cut exactly at a commit reads as a shorter valid WAL.  To see that
 * too, the store keeps a mark beside it (`db_path`-wal.mark, 16 bytes):
 * after every commit, the WAL's salts and how many frames it holds
 * (SQLite's WAL hook).  The mark is written after the commit's fsync and is
 * not synced itself, so it never claims more frames than are durable in
 * the WAL of those salts; a WAL of the same salts with fewer committed
 * frames than the mark says lost its end.
 */
struct nbd_wal_mark {
    int fd; /* -1: no mark kept */
    char wal_path[4200];
    uint32_t salt[2];
    uint64_t frames; /* as last written */
};

/* Opens (creating) the mark of the store at db_path; fd -1 on failure. */
void nbd_wal_mark_open(struct nbd_wal_mark *m, const char *db_path);
/* After a commit: the WAL now holds `frames` frames. */
void nbd_wal_mark_commit(struct nbd_wal_mark *m, uint64_t frames);
/* The WAL was emptied (a checkpoint that truncated it, or a clean close). */
void nbd_wal_mark_reset(struct nbd_wal_mark *m);
void nbd_wal_mark_close(struct nbd_wal_mark *m);

/* What nbd_wal_check found and did. */
struct nbd_wal_report {
    enum nbd_wal_verdict verdict;
    struct nbd_wal_scan scan;
    uint64_t file_size;
    uint64_t marked;      /* frames the mark says were committed, when it applies */
    char kept_copy[4200]; /* the copy of a damaged WAL, or "" */
    char what[512];       /* one sentence: what is dropped, and why */
};

/*
 * Checks `db_path`-wal before SQLite opens the store; a missing WAL is
 * clean.  For a damaged WAL and `keep_copy`, copies it to
 * `db_path`-wal.damaged-<UTC time> (`now`, seconds) first.  0, or a negative code with a sentence
 * in err when the WAL cannot be read or the copy cannot be written (the store is then not opened:
 * SQLite would drop the frames).
 */
int nbd_wal_check(const char *db_path, uint64_t now, bool keep_copy, struct nbd_wal_report *ret,
                  char *err, size_t err_size);

#endif
