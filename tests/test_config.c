/*
 * noaberd's settings: the config file an operator writes, the flags, and the
 * defaults from the environment.  Every mistake in the file must name the
 * file and the line, so an operator can fix it without guessing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <noaber/error.h>

#include "common/duration.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/node.h"

static int parse(const char *text, struct nbd_config *cfg, char *err, size_t err_size)
{
    nbd_config_init(cfg);
    return nbd_config_parse("noaberd.conf", text, strlen(text), cfg, err, err_size);
}

static void a_full_file_sets_every_key(void **state)
{
    (void)state;
    struct nbd_config cfg;
    char err[512] = "";
    const char *text = "# noaberd for the Marollen\n"
                       "\n"
                       "data_dir = /var/lib/noaber\n"
                       "  socket=/run/noaber/noaberd.sock  \n"
                       "log_level = debug\r\n"
                       "\t# indented comment\n"
                       "purge_grace = 1w\n"
                       "purge_interval = 90s";
    assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.data_dir, "/var/lib/noaber");
    assert_string_equal(cfg.socket_path, "/run/noaber/noaberd.sock");
    assert_int_equal(cfg.log_level, NBD_LOG_DEBUG);
    assert_int_equal(cfg.purge_grace, 7 * 24 * 3600);
    assert_int_equal(cfg.purge_interval, 90);
    nbd_config_clear(&cfg);
}

static void an_empty_file_sets_nothing(void **state)
{
    (void)state;
    struct nbd_config cfg;
    char err[512] = "";
    assert_int_equal(parse("", &cfg, err, sizeof(err)), 0);
    assert_null(cfg.data_dir);
    assert_null(cfg.socket_path);
    assert_int_equal(cfg.log_level, -1);
    assert_int_equal(cfg.purge_grace, -1);
    nbd_config_clear(&cfg);
}

struct bad_case {
    const char *text;
    const char *expected; /* the whole message */
};

static void every_error_names_the_file_and_line(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        { "# ok\n\n\n\n\n\nlisten_adress = 1\n", "noaberd.conf:7: unknown key 'listen_adress'" },
        { "sockte = /run/x.sock\n",
          "noaberd.conf:1: unknown key 'sockte' (did you mean 'socket'?)" },
        { "data_dir = /a\nlog_levle = info\n",
          "noaberd.conf:2: unknown key 'log_levle' (did you mean 'log_level'?)" },
        { "\n\ndata_dir /var/lib/noaber\n",
          "noaberd.conf:3: expected 'key = value', got 'data_dir /var/lib/noaber'" },
        { "log_level =\n", "noaberd.conf:1: missing value for 'log_level'" },
        { " = 3\n", "noaberd.conf:1: missing key before '='" },
        { "log_level = loud\n",
          "noaberd.conf:1: log_level must be error, warn, info or debug, not 'loud'" },
        { "purge_grace = 1fortnight\n",
          "noaberd.conf:1: purge_grace must be a duration like 90s, 15m, 12h, 1d or 1w (a number "
          "and one of the units s, m, h, d or w), not '1fortnight'" },
        { "purge_grace = 91d\n", "noaberd.conf:1: purge_grace must be between 0s and 90d" },
        { "purge_interval = 0\n", "noaberd.conf:1: purge_interval must be between 1s and 1d" },
        { "purge_interval = -5\n",
          "noaberd.conf:1: purge_interval must be a duration like 90s, 15m, 12h, 1d or 1w (a "
          "number and one of the units s, m, h, d or w), not '-5'" },
        { "purge_interval = 99999999999999999999\n",
          "noaberd.conf:1: purge_interval must be a duration like 90s, 15m, 12h, 1d or 1w (a "
          "number and one of the units s, m, h, d or w), not '99999999999999999999'" },
        { "socket = /a\n# again\nsocket = /b\n",
          "noaberd.conf:3: 'socket' is already set on line 1" },
        { "data_dir = noaber\n",
          "noaberd.conf:1: data_dir must be an absolute path, not 'noaber'" },
        { "Data_Dir = /x\n", "noaberd.conf:1: 'Data_Dir' is not a key (keys are lowercase_words)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct nbd_config cfg;
        char err[512] = "";
        assert_int_equal(parse(cases[i].text, &cfg, err, sizeof(err)), NB_EINVAL);
        assert_string_equal(err, cases[i].expected);
        nbd_config_clear(&cfg);
    }
}

static void a_nul_byte_or_a_huge_line_is_refused_with_its_line(void **state)
{
    (void)state;
    struct nbd_config cfg;
    char err[512] = "";
    static const char with_nul[] = "log_level = info\nsocket = /a\0b\n";
    nbd_config_init(&cfg);
    assert_int_equal(
        nbd_config_parse("noaberd.conf", with_nul, sizeof(with_nul) - 1, &cfg, err, sizeof(err)),
        NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:2: line contains a NUL byte");
    nbd_config_clear(&cfg);

    size_t n = NBD_CONFIG_LINE_MAX + 10;
    char *text = malloc(n + 3);
    assert_non_null(text);
    memcpy(text, "\n\n", 2);
    memset(text + 2, '#', n);
    text[n + 2] = '\0';
    assert_int_equal(parse(text, &cfg, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:3: line is longer than 4096 bytes");
    nbd_config_clear(&cfg);
    free(text);
}

static void a_missing_file_is_named(void **state)
{
    (void)state;
    struct nbd_config cfg;
    char err[512] = "";
    nbd_config_init(&cfg);
    assert_int_equal(nbd_config_load("/nonexistent/noaberd.conf", &cfg, err, sizeof(err)), NB_EIO);
    assert_string_equal(err, "/nonexistent/noaberd.conf: cannot open: No such file or directory");
}

static void a_file_on_disk_names_its_path(void **state)
{
    (void)state;
    char path[] = "/tmp/noaberd-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("log_level = info\nlisen = 0.0.0.0:7000\n", f);
    fclose(f);
    struct nbd_config cfg;
    char err[512] = "";
    char expected[600];
    nbd_config_init(&cfg);
    assert_int_equal(nbd_config_load(path, &cfg, err, sizeof(err)), NB_EINVAL);
    snprintf(expected, sizeof(expected), "%s:2: unknown key 'lisen' (did you mean 'listen'?)",
             path);
    assert_string_equal(err, expected);
    nbd_config_clear(&cfg);
    unlink(path);
}

static int options(struct nbd_options *o, char *err, size_t err_size, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    return nbd_options_parse(argc, argv, o, err, err_size);
}

static void flags_override_the_file(void **state)
{
    (void)state;
    struct nbd_options o;
    struct nbd_config file;
    struct nbd_settings s;
    char err[512] = "";
    assert_int_equal(options(&o, err, sizeof(err), 6, "noaberd", "--data-dir", "/flag/data",
                             "--log-level", "warn", "--foreground"),
                     0);
    assert_true(o.foreground);
    assert_int_equal(parse("data_dir = /file/data\nsocket = /file/s.sock\nlog_level = debug\n"
                           "purge_grace = 1h\n",
                           &file, err, sizeof(err)),
                     0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_string_equal(s.data_dir, "/flag/data");
    assert_string_equal(s.socket_path, "/file/s.sock");
    assert_int_equal(s.log_level, NBD_LOG_WARN);
    assert_int_equal(s.purge_grace, 3600);
    assert_int_equal(s.purge_interval, NBD_PURGE_INTERVAL_DEFAULT);
    nbd_settings_clear(&s);
    nbd_config_clear(&file);
    nbd_options_clear(&o);
}

static void defaults_follow_the_environment(void **state)
{
    (void)state;
    struct nbd_config none;
    struct nbd_settings s;
    char err[512] = "";
    nbd_config_init(&none);

    unsetenv("STATE_DIRECTORY");
    unsetenv("RUNTIME_DIRECTORY");
    setenv("XDG_DATA_HOME", "/home/an/.data", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    assert_int_equal(nbd_settings_resolve(&none, &none, &s, err, sizeof(err)), 0);
    assert_string_equal(s.data_dir, "/home/an/.data/noaber");
    assert_string_equal(s.socket_path, "/run/user/1000/noaber/noaberd.sock");
    assert_int_equal(s.log_level, NBD_LOG_INFO);
    assert_int_equal(s.purge_grace, NBD_PURGE_GRACE_DEFAULT);
    nbd_settings_clear(&s);

    /* Without XDG_RUNTIME_DIR the socket lives in the data directory. */
    unsetenv("XDG_RUNTIME_DIR");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/an", 1);
    assert_int_equal(nbd_settings_resolve(&none, &none, &s, err, sizeof(err)), 0);
    assert_string_equal(s.data_dir, "/home/an/.local/share/noaber");
    assert_string_equal(s.socket_path, "/home/an/.local/share/noaber/noaberd.sock");
    nbd_settings_clear(&s);

    /* As a systemd service. */
    setenv("STATE_DIRECTORY", "/var/lib/noaber:/var/lib/other", 1);
    setenv("RUNTIME_DIRECTORY", "/run/noaber", 1);
    assert_int_equal(nbd_settings_resolve(&none, &none, &s, err, sizeof(err)), 0);
    assert_string_equal(s.data_dir, "/var/lib/noaber");
    assert_string_equal(s.socket_path, "/run/noaber/noaberd.sock");
    nbd_settings_clear(&s);
    unsetenv("STATE_DIRECTORY");
    unsetenv("RUNTIME_DIRECTORY");
}

/* The member socket sits beside the operator's unless it is set, and may
 * not be the operator's socket itself. */
static void the_member_socket_goes_beside_the_operators(void **state)
{
    (void)state;
    struct nbd_options o;
    struct nbd_config file;
    struct nbd_settings s;
    char err[512] = "";

    assert_int_equal(options(&o, err, sizeof(err), 3, "noaberd", "--socket", "/run/n/a.sock"), 0);
    nbd_config_init(&file);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_string_equal(s.member_socket_path, "/run/n/a-member.sock");
    nbd_settings_clear(&s);
    nbd_options_clear(&o);

    assert_int_equal(options(&o, err, sizeof(err), 3, "noaberd", "--socket", "/run/n/control"), 0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_string_equal(s.member_socket_path, "/run/n/control-member.sock");
    nbd_settings_clear(&s);
    nbd_options_clear(&o);

    assert_int_equal(options(&o, err, sizeof(err), 3, "noaberd", "--member-socket", "/srv/m.sock"),
                     0);
    assert_int_equal(
        parse("socket = /run/n/a.sock\nmember_socket = /run/n/b.sock\n", &file, err, sizeof(err)),
        0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_string_equal(s.socket_path, "/run/n/a.sock");
    assert_string_equal(s.member_socket_path, "/srv/m.sock");
    nbd_settings_clear(&s);
    nbd_options_clear(&o);
    nbd_config_clear(&file);

    assert_int_equal(
        parse("socket = /run/n/a.sock\nmember_socket = /run/n/a.sock\n", &file, err, sizeof(err)),
        0);
    nbd_config_init(&o.flags);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "member_socket and socket are both /run/n/a.sock: the member socket "
                             "must be another path");
    nbd_config_clear(&file);
    assert_int_equal(parse("member_socket = relative.sock\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(
        err, "noaberd.conf:1: member_socket must be an absolute path, not 'relative.sock'");
    nbd_config_clear(&file);
}

static void bad_flags_are_named(void **state)
{
    (void)state;
    struct nbd_options o;
    char err[512] = "";
    assert_int_equal(options(&o, err, sizeof(err), 3, "noaberd", "--bind", "0.0.0.0:7000"),
                     NB_EINVAL);
    assert_string_equal(err, "unknown option '--bind'");
    assert_int_equal(options(&o, err, sizeof(err), 3, "noaberd", "--listen", "0.0.0.0"), NB_EINVAL);
    assert_string_equal(err, "listen must be HOST:PORT (an IPv6 host in brackets, port "
                             "1..65535 or 0 for any), not '0.0.0.0'");
    assert_int_equal(options(&o, err, sizeof(err), 2, "noaberd", "--data-dir"), NB_EINVAL);
    assert_string_equal(err, "option '--data-dir' needs a value");
    assert_int_equal(options(&o, err, sizeof(err), 3, "noaberd", "--log-level", "chatty"),
                     NB_EINVAL);
    assert_string_equal(err, "log_level must be error, warn, info or debug, not 'chatty'");
    assert_int_equal(options(&o, err, sizeof(err), 2, "noaberd", "extra"), NB_EINVAL);
    assert_string_equal(err, "unexpected argument 'extra'");
    assert_int_equal(
        options(&o, err, sizeof(err), 4, "noaberd", "--config", "/etc/n.conf", "--version"), 0);
    assert_string_equal(o.config_path, "/etc/n.conf");
    assert_true(o.version);
    nbd_options_clear(&o);
}

static void durations_have_units(void **state)
{
    (void)state;
    uint64_t s = 1;
    assert_int_equal(nb_duration_parse("45", &s), 0);
    assert_int_equal(s, 45);
    assert_int_equal(nb_duration_parse("15m", &s), 0);
    assert_int_equal(s, 900);
    assert_int_equal(nb_duration_parse("12h", &s), 0);
    assert_int_equal(s, 43200);
    /* Weeks, as the client's --expires takes them: one syntax for both. */
    assert_int_equal(nb_duration_parse("1w", &s), 0);
    assert_int_equal(s, 7 * 86400);
    assert_int_equal(nb_duration_parse("0", &s), 0);
    assert_int_equal(s, 0);
    const char *bad[] = { "", "5 m", "1dd", "1.5h", "-1d", "d", "99999999999999999999s" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = 43200;
        assert_int_equal(nb_duration_parse(bad[i], &s), -1);
        assert_int_equal(s, 43200);
    }
}

/* LAN discovery and peer exchange are on unless the operator turns them off. */
static void discovery_and_peer_exchange_are_on_unless_turned_off(void **state)
{
    (void)state;
    struct nbd_options o;
    struct nbd_config file;
    struct nbd_settings s;
    char err[512] = "";

    assert_int_equal(options(&o, err, sizeof(err), 1, "noaberd"), 0);
    assert_int_equal(parse("", &file, err, sizeof(err)), 0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_true(s.discovery);
    assert_true(s.peer_exchange);
    nbd_settings_clear(&s);
    nbd_config_clear(&file);
    nbd_options_clear(&o);

    assert_int_equal(options(&o, err, sizeof(err), 1, "noaberd"), 0);
    assert_int_equal(parse("discovery = off\npeer_exchange = off\n", &file, err, sizeof(err)), 0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_false(s.discovery);
    assert_false(s.peer_exchange);
    nbd_settings_clear(&s);
    nbd_config_clear(&file);
    nbd_options_clear(&o);

    /* The flag wins over a file that turns discovery on. */
    assert_int_equal(options(&o, err, sizeof(err), 2, "noaberd", "--no-discovery"), 0);
    assert_int_equal(parse("discovery = on\n", &file, err, sizeof(err)), 0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_false(s.discovery);
    assert_true(s.peer_exchange);
    nbd_settings_clear(&s);
    nbd_config_clear(&file);
    nbd_options_clear(&o);

    assert_int_equal(parse("\ndiscovery = no\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:2: discovery must be on or off, not 'no'");
    nbd_config_clear(&file);
    assert_int_equal(parse("peer_exchange = Off\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:1: peer_exchange must be on or off, not 'Off'");
    nbd_config_clear(&file);
    assert_int_equal(parse("discovery = on\ndiscovery = off\n", &file, err, sizeof(err)),
                     NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:2: 'discovery' is already set on line 1");
    nbd_config_clear(&file);
}

/* The peer network's keys: `peer` repeats (file and flags together), the
 * others are single; every address is checked where it is written. */
static void peer_settings(void **state)
{
    (void)state;
    struct nbd_options o;
    struct nbd_config file;
    struct nbd_settings s;
    char err[512] = "";

    assert_int_equal(options(&o, err, sizeof(err), 1, "noaberd"), 0);
    assert_int_equal(parse("", &file, err, sizeof(err)), 0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_null(s.listen); /* the network layer's default, 0.0.0.0:7447 */
    assert_null(s.advertise);
    assert_int_equal(s.n_peers, 0);
    assert_int_equal(s.max_peers, 16);
    assert_int_equal(s.quota_hour, NBD_QUOTA_HOUR_DEFAULT);
    assert_int_equal(s.quota_day, NBD_QUOTA_DAY_DEFAULT);
    assert_int_equal(s.store_cache, NBD_STORE_CACHE_DEFAULT);
    assert_int_equal(s.sync_interval, 300);
    assert_false(s.share_report); /* the neighbourhood decides to share: off until then */
    nbd_settings_clear(&s);
    nbd_config_clear(&file);
    nbd_options_clear(&o);

    assert_int_equal(options(&o, err, sizeof(err), 5, "noaberd", "--listen", "127.0.0.1:0",
                             "--peer", "[::1]:7001"),
                     0);
    assert_int_equal(parse("listen = 0.0.0.0:7447\n"
                           "advertise = node.example.org:7447\n"
                           "peer = 10.0.0.2:7447\n"
                           "peer = 10.0.0.3:7447\n"
                           "max_peers = 4\n"
                           "quota_hour = 0\n"
                           "quota_day = 2000\n"
                           "store_cache = 64\n"
                           "share_report = on\n"
                           "sync_interval = 2s\n",
                           &file, err, sizeof(err)),
                     0);
    assert_int_equal(nbd_settings_resolve(&o.flags, &file, &s, err, sizeof(err)), 0);
    assert_string_equal(s.listen, "127.0.0.1:0");
    assert_string_equal(s.advertise, "node.example.org:7447");
    assert_int_equal(s.n_peers, 3);
    assert_string_equal(s.peers[0], "[::1]:7001");
    assert_string_equal(s.peers[1], "10.0.0.2:7447");
    assert_string_equal(s.peers[2], "10.0.0.3:7447");
    assert_int_equal(s.max_peers, 4);
    assert_int_equal(s.quota_hour, 0); /* off */
    assert_int_equal(s.quota_day, 2000);
    assert_int_equal(s.store_cache, 64);
    assert_true(s.share_report);
    assert_int_equal(s.sync_interval, 2);
    nbd_settings_clear(&s);
    nbd_config_clear(&file);
    nbd_options_clear(&o);

    assert_int_equal(parse("peer = 10.0.0.2\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:1: peer must be HOST:PORT (an IPv6 host in "
                             "brackets, port 1..65535), not '10.0.0.2'");
    nbd_config_clear(&file);
    assert_int_equal(parse("advertise = 10.0.0.2:0\n", &file, err, sizeof(err)), NB_EINVAL);
    nbd_config_clear(&file);
    assert_int_equal(parse("quota_hour = lots\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(
        err, "noaberd.conf:1: quota_hour must be a number from 0 to 1000000, not 'lots'");
    nbd_config_clear(&file);
    assert_int_equal(parse("store_cache = 0\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err,
                        "noaberd.conf:1: store_cache must be a number from 1 to 4096, not '0'");
    nbd_config_clear(&file);
    /* The cache is bounded above as well as below. */
    assert_int_equal(parse("store_cache = 4097\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err,
                        "noaberd.conf:1: store_cache must be a number from 1 to 4096, not '4097'");
    nbd_config_clear(&file);
    assert_int_equal(parse("share_report = yes\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:1: share_report must be on or off, not 'yes'");
    nbd_config_clear(&file);
    assert_int_equal(parse("max_peers = 0\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:1: max_peers must be a number from 1 to 1024, not '0'");
    nbd_config_clear(&file);
    assert_int_equal(parse("max_peers = 8x\n", &file, err, sizeof(err)), NB_EINVAL);
    nbd_config_clear(&file);
    assert_int_equal(parse("sync_interval = 0\n", &file, err, sizeof(err)), NB_EINVAL);
    nbd_config_clear(&file);
    assert_int_equal(parse("listen = a:1\nlisten = b:2\n", &file, err, sizeof(err)), NB_EINVAL);
    assert_string_equal(err, "noaberd.conf:2: 'listen' is already set on line 1");
    nbd_config_clear(&file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_full_file_sets_every_key),
        cmocka_unit_test(an_empty_file_sets_nothing),
        cmocka_unit_test(every_error_names_the_file_and_line),
        cmocka_unit_test(a_nul_byte_or_a_huge_line_is_refused_with_its_line),
        cmocka_unit_test(a_missing_file_is_named),
        cmocka_unit_test(a_file_on_disk_names_its_path),
        cmocka_unit_test(flags_override_the_file),
        cmocka_unit_test(defaults_follow_the_environment),
        cmocka_unit_test(the_member_socket_goes_beside_the_operators),
        cmocka_unit_test(bad_flags_are_named),
        cmocka_unit_test(durations_have_units),
        cmocka_unit_test(discovery_and_peer_exchange_are_on_unless_turned_off),
        cmocka_unit_test(peer_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
