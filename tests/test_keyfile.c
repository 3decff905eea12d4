/*
 * Key files as a member or an operator meets them: written privately and
 * atomically, never replaced by accident, refused when others can read them,
 * and every damaged or missing file explained in a sentence naming it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <noaber/error.h>
#include <noaber/identity.h>

#include "common/keyfile.h"

struct fixture {
    char dir[256];
};

static void path_in(const struct fixture *fx, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", fx->dir, name);
    assert_true(n > 0 && (size_t)n < size);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *tmp = getenv("TMPDIR");

    if (fx == NULL || nb_init() < 0) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "%s/noaber-keyfile-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char sub[1024];
        if (d == NULL) {
            return -1;
        }
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    int r = remove_tree(fx->dir);
    free(fx);
    return r;
}

static void seed_from_counter(unsigned n, uint8_t seed[NB_SEED_SIZE])
{
    for (size_t i = 0; i < NB_SEED_SIZE; i++) {
        seed[i] = (uint8_t)(n * 37u + i * 3u + 5u);
    }
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static size_t entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

static void write_raw(const char *path, const char *bytes, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static size_t read_raw(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, size);
    assert_true(n > 0 && (size_t)n < size);
    close(fd);
    return (size_t)n;
}

static void identity_is_written_privately_and_read_back(void **state)
{
    struct fixture *fx = *state;
    char path[512], sub[512], msg[NB_KEYFILE_MSG_MAX];
    uint8_t seed[NB_SEED_SIZE], want_pk[NB_KEY_SIZE], want_sk[NB_SECRET_KEY_SIZE];
    uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE];

    /*
     * Whatever the umask, the key is 0600 and its new directories 0700: not
     * wider (a umask of 0), and not narrower either (0277 would leave a key
     * its owner cannot replace and directories they cannot write).
     */
    mode_t old = umask(0277);
    path_in(fx, "config/noaber/identity", path, sizeof(path));
    seed_from_counter(1, seed);
    assert_int_equal(nb_keyfile_write(path, NB_KEY_FILE_MEMBER, seed, 0, msg, sizeof(msg)), 0);
    umask(old);
    assert_int_equal(mode_of(path), 0600);
    path_in(fx, "config", sub, sizeof(sub));
    assert_int_equal(mode_of(sub), 0700);

    old = umask(0);
    path_in(fx, "other/identity", sub, sizeof(sub));
    assert_int_equal(nb_keyfile_write(sub, NB_KEY_FILE_MEMBER, seed, 0, msg, sizeof(msg)), 0);
    umask(old);
    assert_int_equal(mode_of(sub), 0600);
    path_in(fx, "other", sub, sizeof(sub));
    assert_int_equal(mode_of(sub), 0700);

    path_in(fx, "config", sub, sizeof(sub));
    assert_int_equal(mode_of(sub), 0700);
    path_in(fx, "config/noaber", sub, sizeof(sub));
    assert_int_equal(mode_of(sub), 0700);
    /* No temporary file is left next to it. */
    assert_int_equal(entries_in(sub), 1);

    assert_int_equal(nb_member_from_seed(seed, want_pk, want_sk), 0);
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), 0);
    assert_memory_equal(pk, want_pk, sizeof(pk));
    assert_memory_equal(sk, want_sk, sizeof(sk));

    /* A human opening the file sees what it is and whose it is. */
    char text[NB_KEY_FILE_MAX + 1], key_text[NB_MEMBER_KEY_TEXT_LEN + 1];
    size_t len = read_raw(path, text, sizeof(text));
    text[len] = '\0';
    assert_memory_equal(text, "noaber-identity 1\n", 18);
    nb_member_key_to_text(want_pk, key_text);
    assert_non_null(strstr(text, key_text));
}

static void node_key_is_written_and_read_back(void **state)
{
    struct fixture *fx = *state;
    char path[512], msg[NB_KEYFILE_MSG_MAX];
    uint8_t pk[NB_KEY_SIZE], sk[NB_NODE_SECRET_KEY_SIZE], want_pk[NB_KEY_SIZE];
    uint8_t want_sk[NB_NODE_SECRET_KEY_SIZE];

    path_in(fx, "node.key", path, sizeof(path));
    assert_int_equal(nb_keyfile_create(path, NB_KEY_FILE_NODE, 0, want_pk, msg, sizeof(msg)), 0);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(nb_node_keyfile_read(path, pk, sk, msg, sizeof(msg)), 0);
    assert_memory_equal(pk, want_pk, sizeof(pk));
    /* The pair fits together: X25519(sk) is the public key. */
    assert_int_equal(nb_node_from_seed(sk, pk, want_sk), 0);
    assert_memory_equal(pk, want_pk, sizeof(pk));
}

static void an_existing_key_is_not_replaced(void **state)
{
    struct fixture *fx = *state;
    char path[512], msg[NB_KEYFILE_MSG_MAX];
    uint8_t first[NB_SEED_SIZE], second[NB_SEED_SIZE], got[NB_SEED_SIZE];

    path_in(fx, "identity", path, sizeof(path));
    seed_from_counter(2, first);
    seed_from_counter(3, second);
    assert_int_equal(nb_keyfile_write(path, NB_KEY_FILE_MEMBER, first, 0, msg, sizeof(msg)), 0);

    msg[0] = '\0';
    assert_int_equal(nb_keyfile_write(path, NB_KEY_FILE_MEMBER, second, 0, msg, sizeof(msg)),
                     NB_EEXIST);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "already exists"));
    assert_int_equal(nb_keyfile_read_seed(path, NB_KEY_FILE_MEMBER, got, msg, sizeof(msg)), 0);
    assert_memory_equal(got, first, sizeof(got));
    uint8_t pk[NB_KEY_SIZE];
    assert_int_equal(nb_keyfile_create(path, NB_KEY_FILE_MEMBER, 0, pk, msg, sizeof(msg)),
                     NB_EEXIST);

    /* Asked explicitly, the replacement is atomic and stays private. */
    assert_int_equal(
        nb_keyfile_write(path, NB_KEY_FILE_MEMBER, second, NB_KEYFILE_OVERWRITE, msg, sizeof(msg)),
        0);
    assert_int_equal(nb_keyfile_read_seed(path, NB_KEY_FILE_MEMBER, got, msg, sizeof(msg)), 0);
    assert_memory_equal(got, second, sizeof(got));
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(entries_in(fx->dir), 1);
}

static void a_file_others_can_access_is_refused(void **state)
{
    struct fixture *fx = *state;
    char path[512], msg[NB_KEYFILE_MSG_MAX];
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE];
    static const mode_t loose[] = { 0644, 0640, 0604, 0620, 0602, 0660, 0666 };

    path_in(fx, "identity", path, sizeof(path));
    seed_from_counter(4, seed);
    assert_int_equal(nb_keyfile_write(path, NB_KEY_FILE_MEMBER, seed, 0, msg, sizeof(msg)), 0);
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        msg[0] = '\0';
        assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), NB_EPERM);
        assert_non_null(strstr(msg, "chmod 600"));
        assert_non_null(strstr(msg, path));
    }
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), 0);
    /* Read-only for the owner is fine too. */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), 0);
}

static void a_missing_file_is_reported(void **state)
{
    struct fixture *fx = *state;
    char path[512], msg[NB_KEYFILE_MSG_MAX];
    uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE];

    path_in(fx, "nowhere/identity", path, sizeof(path));
    msg[0] = '\0';
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), NB_ENOENT);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "no identity file"));

    /* A directory where the file should be is not mistaken for a key. */
    assert_int_equal(nb_keyfile_read(fx->dir, pk, sk, msg, sizeof(msg)), NB_EIO);
    assert_non_null(strstr(msg, fx->dir));
}

static void truncated_and_corrupted_files_are_explained(void **state)
{
    struct fixture *fx = *state;
    char path[512], msg[NB_KEYFILE_MSG_MAX], text[NB_KEY_FILE_MAX + 1];
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE];

    path_in(fx, "identity", path, sizeof(path));
    seed_from_counter(5, seed);
    assert_int_equal(nb_keyfile_write(path, NB_KEY_FILE_MEMBER, seed, 0, msg, sizeof(msg)), 0);
    size_t len = read_raw(path, text, sizeof(text));

    /* Cut off anywhere before the end of the secret (e.g. a full disk). */
    for (size_t cut = 0; cut + 1 < len; cut += 5) {
        write_raw(path, text, cut, 0600);
        msg[0] = '\0';
        assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), NB_EMALFORMED);
        assert_non_null(strstr(msg, path));
        assert_non_null(strstr(msg, "damaged or truncated"));
    }

    /* One character of the secret changed. */
    char *secret = strstr(text, "secret nbs1") + strlen("secret nbs1") + 10;
    *secret = *secret == 'q' ? 'r' : 'q';
    write_raw(path, text, len, 0600);
    msg[0] = '\0';
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), NB_ECHECKSUM);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "checksum"));

    /* Something else entirely, and something too large to be a key. */
    write_raw(path, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36, 0600);
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), NB_EMALFORMED);
    static char big[NB_KEY_FILE_MAX + 100];
    memset(big, '#', sizeof(big));
    write_raw(path, big, sizeof(big), 0600);
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), NB_ETOOBIG);
    assert_non_null(strstr(msg, path));
}

static void the_other_kind_of_key_file_is_named(void **state)
{
    struct fixture *fx = *state;
    char path[512], msg[NB_KEYFILE_MSG_MAX];
    uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], node_sk[NB_NODE_SECRET_KEY_SIZE];

    path_in(fx, "node.key", path, sizeof(path));
    assert_int_equal(nb_keyfile_create(path, NB_KEY_FILE_NODE, 0, pk, msg, sizeof(msg)), 0);
    assert_int_equal(nb_keyfile_read(path, pk, sk, msg, sizeof(msg)), NB_EPREFIX);
    assert_non_null(strstr(msg, "is a node key file, not an identity file"));

    path_in(fx, "identity", path, sizeof(path));
    assert_int_equal(nb_keyfile_create(path, NB_KEY_FILE_MEMBER, 0, pk, msg, sizeof(msg)), 0);
    assert_int_equal(nb_node_keyfile_read(path, pk, node_sk, msg, sizeof(msg)), NB_EPREFIX);
    assert_non_null(strstr(msg, "is a member's identity file, not a node key file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity_is_written_privately_and_read_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(node_key_is_written_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(an_existing_key_is_not_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(a_file_others_can_access_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_missing_file_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_and_corrupted_files_are_explained, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_other_kind_of_key_file_is_named, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
