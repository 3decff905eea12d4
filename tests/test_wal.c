/*
 * What the store sees in a write-ahead log before SQLite replays it
 * (daemon/store/store_wal.h), on a WAL that SQLite itself wrote: three
 * commits, then damaged as a failing disk would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "daemon/store/store_wal.h"

#define PAGE  512
#define FRAME (NBD_WAL_FRAME_HEADER_SIZE + PAGE)

struct wal {
    uint8_t *bytes;
    size_t len;
};

/* A WAL of three committed transactions, read while the database is
 * still open (closing it would checkpoint and delete the WAL). */
static int setup(void **state)
{
    char dir[] = "/tmp/noaber-test-wal-XXXXXX";
    char path[64], wal_path[80];
    sqlite3 *db;
    struct wal *w = calloc(1, sizeof(*w));
    if (w == NULL || mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/s.sqlite", dir);
    snprintf(wal_path, sizeof(wal_path), "%s-wal", path);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA page_size = 512; PRAGMA journal_mode = WAL;"
                     " PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x);"
                     " INSERT INTO t VALUES (randomblob(300));"
                     " INSERT INTO t VALUES (randomblob(300));",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    FILE *f = fopen(wal_path, "rb");
    if (f == NULL)
        return -1;
    w->bytes = malloc(1 << 16);
    w->len = fread(w->bytes, 1, 1 << 16, f);
    fclose(f);
    sqlite3_close(db);
    unlink(path);
    unlink(wal_path);
    rmdir(dir);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct wal *w = *state;
    free(w->bytes);
    free(w);
    return 0;
}

static enum nbd_wal_verdict scan(const uint8_t *bytes, size_t len, struct nbd_wal_scan *ret)
{
    size_t frame = nbd_wal_scan_begin(ret, bytes, len < 32 ? len : 32);
    size_t at = 32;
    for (; frame > 0 && len >= at + frame; at += frame)
        nbd_wal_scan_frame(ret, bytes + at);
    if (frame > 0 && at < len)
        nbd_wal_scan_tail(ret, bytes + at, len - at);
    return nbd_wal_scan_end(ret, len);
}

/* The offset just after the n-th commit frame (1-based). */
static size_t after_commit(const struct wal *w, unsigned n)
{
    for (size_t at = 32; at + FRAME <= w->len; at += FRAME) {
        const uint8_t *h = w->bytes + at;
        if ((h[4] | h[5] | h[6] | h[7]) != 0 && --n == 0)
            return at + FRAME;
    }
    fail_msg("the WAL has fewer commits");
    return 0;
}

static void an_intact_wal_is_clean(void **state)
{
    struct wal *w = *state;
    struct nbd_wal_scan s;
    assert_int_equal((w->len - 32) % FRAME, 0);
    assert_int_equal(scan(w->bytes, w->len, &s), NBD_WAL_CLEAN);
    assert_int_equal(s.commits, 3);
    assert_int_equal(s.kept, s.frames);
    assert_int_equal(scan(w->bytes, 0, &s), NBD_WAL_CLEAN);
}

static void a_flipped_byte_before_later_commits_is_damage(void **state)
{
    struct wal *w = *state;
    struct nbd_wal_scan s;
    uint8_t *copy = malloc(w->len);
    memcpy(copy, w->bytes, w->len);
    size_t at = after_commit(w, 1); /* the second transaction's first frame */
    copy[at + NBD_WAL_FRAME_HEADER_SIZE + 100] ^= 0x04;
    assert_int_equal(scan(copy, w->len, &s), NBD_WAL_DAMAGED);
    assert_true(s.bad_frame);
    assert_int_equal(s.commits, 1);
    assert_int_equal(s.lost_commits, 2);
    /* A flipped bit of the header: SQLite ignores the whole WAL. */
    memcpy(copy, w->bytes, w->len);
    copy[17] ^= 0x01;
    assert_int_equal(scan(copy, w->len, &s), NBD_WAL_DAMAGED);
    assert_false(s.header_ok);
    free(copy);
}

static void a_cut_wal_is_damage_unless_cut_where_a_crash_could(void **state)
{
    struct wal *w = *state;
    struct nbd_wal_scan s;
    size_t second = after_commit(w, 1);
    /* 100 bytes into a frame: cut short. */
    assert_int_equal(scan(w->bytes, second + 100, &s), NBD_WAL_DAMAGED);
    assert_int_equal(s.tail, 100);
    assert_int_equal(s.commits, 1);
    /* A frame header alone is what a process killed between SQLite's two
     * writes of a frame leaves: not damage. */
    assert_int_equal(scan(w->bytes, second + NBD_WAL_FRAME_HEADER_SIZE, &s), NBD_WAL_UNCOMMITTED);
    /* Cut exactly after a commit frame, the WAL reads as a shorter one:
     * what docs/operating.md says cannot be seen. */
    assert_int_equal(scan(w->bytes, second, &s), NBD_WAL_CLEAN);
    /* Cut after a frame that is not a commit: an unfinished transaction. */
    if (after_commit(w, 2) - second > FRAME)
        assert_int_equal(scan(w->bytes, second + FRAME, &s), NBD_WAL_UNCOMMITTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_intact_wal_is_clean),
        cmocka_unit_test(a_flipped_byte_before_later_commits_is_damage),
        cmocka_unit_test(a_cut_wal_is_damage_unless_cut_where_a_crash_could),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
