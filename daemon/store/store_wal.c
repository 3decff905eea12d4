#include "daemon/store/store_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <noaber/error.h>

#define WAL_MAGIC       0x377f0682u /* | 1: checksums over big-endian words */
#define WAL_VERSION     3007000u
#define WAL_PAGE_MIN    512u
#define WAL_PAGE_MAX    65536u
#define WAL_FRAME_MAX   (NBD_WAL_FRAME_HEADER_SIZE + WAL_PAGE_MAX)
#define WAL_COPY_SUFFIX "-wal.damaged-"
#define WAL_SALT_OFFSET 8 /* in a frame header: page, commit size, salts, checksums */
#define WAL_MARK_SUFFIX "-wal.mark"
/* salt 1, salt 2 (as in the WAL header), frames: little-endian */
#define WAL_MARK_SIZE 16

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The WAL's running checksum: pairs of 32-bit words, in the byte order the
 * header's magic names, folded into two sums (len is a multiple of 8). */
static void checksum(bool big_endian, const uint8_t *p, size_t len, uint32_t sum[2])
{
    uint32_t s0 = sum[0], s1 = sum[1];
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint32_t x0 = big_endian ? be32(p + i) : le32(p + i);
        uint32_t x1 = big_endian ? be32(p + i + 4) : le32(p + i + 4);
        s0 += x0 + s1;
        s1 += x1 + s0;
    }
    sum[0] = s0;
    sum[1] = s1;
}

static bool current_salts(const struct nbd_wal_scan *w, const uint8_t *frame_header)
{
    return be32(frame_header + WAL_SALT_OFFSET) == w->salt[0] &&
           be32(frame_header + WAL_SALT_OFFSET + 4) == w->salt[1];
}

size_t nbd_wal_scan_begin(struct nbd_wal_scan *w, const uint8_t *header, size_t len)
{
    memset(w, 0, sizeof(*w));
    if (len < NBD_WAL_HEADER_SIZE)
        return 0;
    uint32_t magic = be32(header);
    if ((magic & ~1u) != WAL_MAGIC || be32(header + 4) != WAL_VERSION)
        return 0;
    uint32_t page = be32(header + 8);
    if (page < WAL_PAGE_MIN || page > WAL_PAGE_MAX || (page & (page - 1)) != 0)
        return 0;
    w->big_endian = (magic & 1u) != 0;
    uint32_t sum[2] = { 0, 0 };
    checksum(w->big_endian, header, 24, sum);
    if (sum[0] != be32(header + 24) || sum[1] != be32(header + 28))
        return 0;
    w->header_ok = true;
    w->page_size = page;
    w->salt[0] = be32(header + 16);
    w->salt[1] = be32(header + 20);
    w->sum[0] = sum[0];
    w->sum[1] = sum[1];
    return NBD_WAL_FRAME_HEADER_SIZE + (size_t)page;
}

void nbd_wal_scan_frame(struct nbd_wal_scan *w, const uint8_t *frame)
{
    if (!w->header_ok)
        return;
    w->frames++;
    bool current = current_salts(w, frame);
    bool commit = be32(frame + 4) != 0;
    if (w->stopped) {
        /* Written after the frame that ended the replay, in the same
         * generation: whatever it belongs to is dropped with it. */
        if (current) {
            w->after_bad++;
            w->lost_commits += commit;
        }
        return;
    }
    uint32_t sum[2] = { w->sum[0], w->sum[1] };
    checksum(w->big_endian, frame, 8, sum);
    checksum(w->big_endian, frame + NBD_WAL_FRAME_HEADER_SIZE, w->page_size, sum);
    if (current && be32(frame) != 0 && sum[0] == be32(frame + 16) && sum[1] == be32(frame + 20)) {
        w->sum[0] = sum[0];
        w->sum[1] = sum[1];
        w->valid++;
        if (commit) {
            w->kept = w->valid;
            w->commits++;
        }
        return;
    }
    /* The replay ends here.  A frame with other salts is left over from
     * before the WAL was last restarted (normal); one with this
     * generation's salts and a wrong checksum was damaged or torn. */
    w->stopped = true;
    if (current) {
        w->bad_frame = true;
        w->bad_commit = commit;
        w->lost_commits += commit;
    } else {
        w->old_gen_seen = true;
    }
}

void nbd_wal_scan_tail(struct nbd_wal_scan *w, const uint8_t *tail, size_t len)
{
    w->tail = len;
    w->tail_current = w->header_ok && len >= WAL_SALT_OFFSET + 8 &&
                      be32(tail + WAL_SALT_OFFSET) == w->salt[0] &&
                      be32(tail + WAL_SALT_OFFSET + 4) == w->salt[1];
}

/* Frames of this generation SQLite drops: valid ones after the last
 * commit, the one that failed, and the ones written after it. */
static uint64_t lost_frames(const struct nbd_wal_scan *w)
{
    return (w->valid - w->kept) + (w->bad_frame ? 1 : 0) + w->after_bad;
}

/* Whether the partial frame at the end was cut short: it carries this
 * generation's salts (or is too short to tell, right after this
 * generation's frames) and is not a frame header alone, which is what a
 * process killed between SQLite's two writes of a frame leaves. */
static bool tail_cut(const struct nbd_wal_scan *w)
{
    if (w->tail == 0 || w->tail == NBD_WAL_FRAME_HEADER_SIZE || w->old_gen_seen)
        return false;
    return w->tail_current || w->tail < WAL_SALT_OFFSET + 8;
}

enum nbd_wal_verdict nbd_wal_scan_end(const struct nbd_wal_scan *w, uint64_t file_size)
{
    if (file_size == 0)
        return NBD_WAL_CLEAN;
    /* SQLite writes the 32-byte header whole before any frame and ignores
     * a WAL whose header is not valid: every frame in it is dropped. */
    if (!w->header_ok)
        return NBD_WAL_DAMAGED;
    /* The store never leaves frames of a transaction that did not commit
     * behind other frames (no cache spill, and a checkpoint after every
     * replay that dropped frames: nbd_store_open), so a failing frame
     * followed by later frames of its generation is damage, and so is a
     * partial frame that is not a bare frame header: committed
     * transactions are dropped.  A failing last frame is what a node
     * killed while writing it leaves, and is not told from a damaged one. */
    if (w->after_bad > 0 || tail_cut(w))
        return NBD_WAL_DAMAGED;
    if (lost_frames(w) > 0 || (w->tail > 0 && w->tail_current))
        return NBD_WAL_UNCOMMITTED;
    return NBD_WAL_CLEAN;
}

static int read_full(int fd, uint8_t *buf, size_t len, size_t *ret_n)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *ret_n = n;
    return 0;
}

/* Copies the WAL (at its start again) to `dst`, durably, never replacing
 * a file already there. */
static int copy_file(int src, const char *dst, uint8_t *buf, size_t cap)
{
    if (lseek(src, 0, SEEK_SET) < 0)
        return -errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        return -errno;
    int r = 0;
    for (;;) {
        size_t n = 0;
        r = read_full(src, buf, cap, &n);
        if (r < 0 || n == 0)
            break;
        for (size_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                r = -errno;
                goto out;
            }
            done += (size_t)w;
        }
    }
    if (r == 0 && fsync(out) < 0)
        r = -errno;
out:
    close(out);
    if (r < 0)
        unlink(dst);
    return r;
}

static void describe(struct nbd_wal_report *rep)
{
    const struct nbd_wal_scan *w = &rep->scan;
    unsigned long long lost = lost_frames(w), commits = w->lost_commits;
    if (rep->verdict == NBD_WAL_DAMAGED && !w->header_ok)
        snprintf(rep->what, sizeof(rep->what),
                 "its header is damaged, so SQLite ignores all of it (%llu bytes) and every "
                 "transaction in it since the last checkpoint",
                 (unsigned long long)rep->file_size);
    else if (rep->verdict == NBD_WAL_DAMAGED && w->bad_frame)
        snprintf(rep->what, sizeof(rep->what),
                 "frame %llu of %llu fails its checksum, so SQLite drops it and everything "
                 "after it: %llu frames holding %llu committed transaction%s",
                 (unsigned long long)(w->valid + 1), (unsigned long long)w->frames, lost, commits,
                 commits == 1 ? "" : "s");
    else if (rep->verdict == NBD_WAL_DAMAGED && rep->marked > w->kept)
        snprintf(rep->what, sizeof(rep->what),
                 "it holds %llu committed frames, but the node had committed %llu to it: its "
                 "end was cut off, so SQLite never sees the last %llu frames and the "
                 "transactions in them",
                 (unsigned long long)w->kept, (unsigned long long)rep->marked,
                 (unsigned long long)(rep->marked - w->kept));
    else if (rep->verdict == NBD_WAL_DAMAGED)
        snprintf(rep->what, sizeof(rep->what),
                 "it ends %llu bytes into a frame: it was cut short, so SQLite drops the last "
                 "%llu frame%s and whatever was committed in the part that was cut off",
                 (unsigned long long)w->tail, lost + 1, lost + 1 == 1 ? "" : "s");
    else if (rep->verdict == NBD_WAL_UNCOMMITTED)
        snprintf(rep->what, sizeof(rep->what),
                 "it ends with %llu frame%s of a transaction that did not complete: the node "
                 "stopped while writing it (nothing acknowledged is lost)%s",
                 lost + (w->tail > 0), lost + (w->tail > 0) == 1 ? "" : "s",
                 w->bad_frame ? ", or its last frame was damaged" : "");
    else
        rep->what[0] = '\0';
}

static int read_mark(const char *db_path, uint8_t mark[WAL_MARK_SIZE])
{
    char path[4200];
    snprintf(path, sizeof(path), "%s" WAL_MARK_SUFFIX, db_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NB_ENOENT;
    size_t n = 0;
    int r = read_full(fd, mark, WAL_MARK_SIZE, &n);
    close(fd);
    return r == 0 && n == WAL_MARK_SIZE ? 0 : NB_ENOENT;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void nbd_wal_mark_open(struct nbd_wal_mark *m, const char *db_path)
{
    char path[4200];
    memset(m, 0, sizeof(*m));
    snprintf(m->wal_path, sizeof(m->wal_path), "%s-wal", db_path);
    snprintf(path, sizeof(path), "%s" WAL_MARK_SUFFIX, db_path);
    m->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

static void write_mark(struct nbd_wal_mark *m)
{
    uint8_t mark[WAL_MARK_SIZE];
    put_le32(mark, m->salt[0]);
    put_le32(mark + 4, m->salt[1]);
    put_le32(mark + 8, (uint32_t)m->frames);
    put_le32(mark + 12, (uint32_t)(m->frames >> 32));
    /* One small write, not synced: a lost or stale mark only misses a cut,
     * never reports one that did not happen (store_wal.h). */
    if (pwrite(m->fd, mark, sizeof(mark), 0) != (ssize_t)sizeof(mark))
        return;
}

void nbd_wal_mark_commit(struct nbd_wal_mark *m, uint64_t frames)
{
    if (m->fd < 0)
        return;
    /* Fewer frames than at the last commit: SQLite started the WAL over,
     * with new salts.  Reading them is the rare path; every other commit
     * is one pwrite. */
    if (frames < m->frames || (m->salt[0] == 0 && m->salt[1] == 0)) {
        uint8_t header[NBD_WAL_HEADER_SIZE];
        int fd = open(m->wal_path, O_RDONLY | O_CLOEXEC);
        size_t n = 0;
        if (fd < 0)
            return;
        int r = read_full(fd, header, sizeof(header), &n);
        close(fd);
        if (r < 0 || n < sizeof(header))
            return;
        m->salt[0] = be32(header + 16);
        m->salt[1] = be32(header + 20);
    }
    m->frames = frames;
    write_mark(m);
}

void nbd_wal_mark_reset(struct nbd_wal_mark *m)
{
    if (m->fd < 0)
        return;
    m->salt[0] = m->salt[1] = 0;
    m->frames = 0;
    write_mark(m);
}

void nbd_wal_mark_close(struct nbd_wal_mark *m)
{
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}

int nbd_wal_check(const char *db_path, uint64_t now, bool keep_copy, struct nbd_wal_report *ret,
                  char *err, size_t err_size)
{
    char wal[4200];
    uint8_t *buf = NULL;
    int r = 0;
    memset(ret, 0, sizeof(*ret));
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    int fd = open(wal, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot read the store's write-ahead log: %s", wal,
                 strerror(errno));
        return NB_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (buf = malloc(WAL_FRAME_MAX)) == NULL) {
        snprintf(err, err_size, "%s: cannot read the store's write-ahead log: %s", wal,
                 strerror(errno));
        r = NB_EIO;
        goto out;
    }
    ret->file_size = (uint64_t)st.st_size;

    size_t n = 0;
    r = read_full(fd, buf, NBD_WAL_HEADER_SIZE, &n);
    size_t frame = r == 0 ? nbd_wal_scan_begin(&ret->scan, buf, n) : 0;
    while (r == 0 && frame > 0) {
        r = read_full(fd, buf, frame, &n);
        if (r < 0)
            break;
        if (n < frame) {
            nbd_wal_scan_tail(&ret->scan, buf, n);
            break;
        }
        nbd_wal_scan_frame(&ret->scan, buf);
    }
    if (r < 0) {
        snprintf(err, err_size, "%s: cannot read the store's write-ahead log: %s", wal,
                 strerror(-r));
        r = NB_EIO;
        goto out;
    }
    ret->verdict = nbd_wal_scan_end(&ret->scan, ret->file_size);
    /* The mark of the same WAL generation claiming more committed frames
     * than the replay keeps: the WAL was cut at a commit. */
    uint8_t mark[WAL_MARK_SIZE];
    if (ret->verdict != NBD_WAL_DAMAGED && ret->scan.header_ok && read_mark(db_path, mark) == 0 &&
        le32(mark) == ret->scan.salt[0] && le32(mark + 4) == ret->scan.salt[1]) {
        uint64_t marked = (uint64_t)le32(mark + 8) | (uint64_t)le32(mark + 12) << 32;
        if (marked > ret->scan.kept) {
            ret->marked = marked;
            ret->verdict = NBD_WAL_DAMAGED;
        }
    }
    describe(ret);

    if (ret->verdict == NBD_WAL_DAMAGED && keep_copy) {
        /* SQLite drops the frames the moment it opens the store; the copy
         * keeps them for whoever wants to look, or to recover by hand. */
        time_t t = (time_t)now;
        struct tm tm;
        char stamp[32];
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        snprintf(ret->kept_copy, sizeof(ret->kept_copy), "%s" WAL_COPY_SUFFIX "%s", db_path, stamp);
        r = copy_file(fd, ret->kept_copy, buf, WAL_FRAME_MAX);
        if (r < 0) {
            snprintf(err, err_size,
                     "%s is damaged (%s), and a copy cannot be kept in %s: %s; free space or "
                     "fix the directory and start again (opening the store now would drop "
                     "the damaged part for good)",
                     wal, ret->what, ret->kept_copy, strerror(-r));
            r = r == -ENOSPC || r == -EDQUOT || r == -EROFS ? NB_ENOSPC : NB_EIO;
            goto out;
        }
    }
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}
