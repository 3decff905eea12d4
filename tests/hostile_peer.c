/*
 * hostile-peer: a node of the neighbourhood (or a stranger) that means
 * harm, for the attack tests in tests/e2e/test_attacks.py and the figures
 * of bench/attacks.py.  It speaks the peer protocol through libnoaber, so
 * everything it sends is well framed and encrypted; what it says is the
 * attack.
 *
 *   hostile-peer neg-bomb  --key HEX --listen IP:PORT
 *       waits to be dialed; answers every `neg` with 1,990 made-up ids and
 *       a fingerprint that matches nothing, and every `want` with `missing`
 *   hostile-peer squat     --key HEX --from IP --to IP:PORT --sessions N
 *       holds N idle sessions (keepalives only), each under a fresh node
 *       key, opening a new one whenever the node closes one
 *   hostile-peer poison    --key HEX --from IP --to IP:PORT --sessions N
 *                          --fakes M --fake-base IP
 *       N sessions with fresh node keys, each announcing M addresses that
 *       lead nowhere (IP, IP+1, ... port 7447; then loopback and
 *       link-local ones)
 *   hostile-peer invalid   --key HEX --from IP --to IP:PORT --sessions N
 *       N sessions, one after the other, each under a fresh node key,
 *       each sending 17 messages that do not decode
 *
 * --key is the neighbourhood key (hex) the attacker holds; --from binds the
 * source address (any 127.x.y.z on loopback), so the node can tell the
 * attacker from honest nodes on 127.0.0.1.  It prints one line per event
 * ("up", "closed", "refused", "rounds N") and runs until --seconds pass
 * (default 30) or its standard input closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <noaber/frame.h>
#include <noaber/identity.h>
#include <noaber/noise.h>
#include <noaber/peerwire.h>

#define SESSIONS_MAX 64
#define BOMB_IDS     1990

struct session {
    int fd;
    bool up;
    struct nb_noise_handshake hs;
    struct nb_frame_link fl;
    uint8_t buf[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY];
    size_t have;
    uint64_t last_tx;
};

static struct {
    const char *mode;
    uint8_t psk[NB_NEIGHBOURHOOD_PSK_SIZE];
    const char *from, *to, *listen, *fake_base;
    unsigned sessions, fakes;
    double seconds;
} opt = { .sessions = 1, .fakes = 22, .seconds = 30 };

static uint64_t rounds; /* neg messages answered */

static void die(const char *what)
{
    fprintf(stderr, "hostile-peer: %s\n", what);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void ip_port(const char *text, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
        die("addresses are IPv4 IP:PORT");
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        die("addresses are IPv4 IP:PORT");
    a->sin_port = htons((uint16_t)atoi(colon + 1));
}

static int write_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one frame body (handshake) or plaintext (transport), waiting up to
 * `wait` seconds.  Returns 1 with a frame, 0 on timeout, -1 when the node
 * closed the connection. */
static int read_frame(struct session *s, bool transport, double wait, const uint8_t **ret,
                      size_t *ret_len)
{
    double until = now_s() + wait;
    for (;;) {
        if (s->have > 0) {
            size_t used;
            const uint8_t *out = NULL;
            int r = transport
                        ? nb_frame_link_open(&s->fl, s->buf, s->have, &used, &out, ret_len)
                        : nb_frame_decoder_feed(&s->fl.dec, s->buf, s->have, &used, &out, ret_len);
            if (r < 0)
                return -1;
            memmove(s->buf, s->buf + used, s->have - used);
            s->have -= used;
            if (out != NULL) {
                *ret = out;
                return 1;
            }
        }
        double left = until - now_s();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        if (pr <= 0)
            continue;
        ssize_t n = recv(s->fd, s->buf + s->have, sizeof(s->buf) - s->have, 0);
        if (n <= 0)
            return -1;
        s->have += (size_t)n;
    }
}

static int send_msg(struct session *s, const uint8_t *msg, size_t len)
{
    static uint8_t out[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY];
    size_t n;
    if (nb_frame_link_seal(&s->fl, msg, len, out, sizeof(out), &n) < 0)
        return -1;
    s->last_tx = (uint64_t)now_s();
    return write_all(s->fd, out, n);
}

static void session_close(struct session *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->up = false;
    nb_noise_handshake_wipe(&s->hs);
    nb_frame_link_wipe(&s->fl);
}

/* Completes the handshake under a fresh node key.  Returns 0 when the node
 * accepted the session (its first transport frame arrived). */
static int handshake(struct session *s, bool initiator)
{
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_NODE_SECRET_KEY_SIZE];
    uint8_t out[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY], hello[NB_PEER_HELLO_MAX];
    uint8_t payload[NB_FRAME_MAX_BODY];
    const uint8_t *body;
    size_t n, blen, plen, hlen;
    struct nb_noise_cipher send_c, recv_c;
    randombytes_buf(seed, sizeof(seed));
    if (nb_node_from_seed(seed, pk, sk) < 0 ||
        nb_noise_handshake_init_peer(&s->hs, initiator ? NB_NOISE_INITIATOR : NB_NOISE_RESPONDER,
                                     sk, opt.psk) < 0 ||
        nb_peer_hello_encode(NULL, "hostile-peer", 0, hello, sizeof(hello), &hlen) < 0)
        return -1;
    nb_frame_decoder_init(&s->fl.dec, NB_FRAME_MAX_BODY);
    s->have = 0;
    while (nb_noise_handshake_next(&s->hs) != NB_NOISE_SPLIT) {
        if (nb_noise_handshake_next(&s->hs) == NB_NOISE_WRITE) {
            bool first = initiator && s->hs.msg_index == 0;
            if (nb_frame_handshake_write(&s->hs, first ? NULL : hello, first ? 0 : hlen, out,
                                         sizeof(out), &n) < 0 ||
                write_all(s->fd, out, n) < 0)
                return -1;
        } else {
            if (read_frame(s, false, 10, &body, &blen) != 1 ||
                nb_noise_handshake_read(&s->hs, body, blen, payload, sizeof(payload), &plen) < 0)
                return -1;
        }
    }
    if (nb_noise_handshake_split(&s->hs, &send_c, &recv_c, NULL) < 0 ||
        nb_frame_link_init(&s->fl, &send_c, &recv_c, 0) < 0)
        return -1;
    if (initiator) {
        /* The responder's first frame says it took message 3. */
        if (read_frame(s, true, 10, &body, &blen) != 1)
            return -1;
    } else {
        static const uint8_t empty[1];
        if (send_msg(s, empty, 0) < 0)
            return -1;
    }
    s->up = true;
    return 0;
}

static int dial(struct session *s)
{
    struct sockaddr_in from, to;
    ip_port(opt.to, &to);
    char f[80];
    snprintf(f, sizeof(f), "%s:0", opt.from);
    ip_port(f, &from);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0)
        return -1;
    if (bind(s->fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
        connect(s->fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
        session_close(s);
        return -1;
    }
    if (handshake(s, true) < 0) {
        session_close(s);
        return -1;
    }
    return 0;
}

/* A `neg` answer that lists BOMB_IDS ids nobody has, then a fingerprint
 * for the rest of the range that matches nothing, so the initiator must
 * answer again. */
static size_t make_bomb(uint8_t *neg, size_t cap)
{
    size_t n = 0;
    neg[n++] = 0x61;
    neg[n++] = 2; /* bound: timestamp 1 (encoded 1 + 1) */
    neg[n++] = 0; /* empty prefix */
    neg[n++] = 2; /* IdList */
    neg[n++] = (uint8_t)(0x80 | (BOMB_IDS >> 7));
    neg[n++] = (uint8_t)(BOMB_IDS & 0x7f);
    if (n + BOMB_IDS * 32 + 20 > cap)
        die("bomb too large");
    randombytes_buf(neg + n, BOMB_IDS * 32);
    n += BOMB_IDS * 32;
    neg[n++] = 0; /* bound: infinity */
    neg[n++] = 0;
    neg[n++] = 1; /* Fingerprint */
    randombytes_buf(neg + n, 16);
    n += 16;
    return n;
}

/* Answers what the node sends on an established session.  Returns -1 when
 * the node closed it. */
static int serve(struct session *s, double wait)
{
    static struct nb_peer_msg m;
    static uint8_t out[NB_PEER_MSG_MAX], neg[NB_PEER_MSG_MAX];
    const uint8_t *plain;
    size_t len, n;
    int r = read_frame(s, true, wait, &plain, &len);
    if (r <= 0)
        return r;
    if (len == 0 || nb_peer_msg_decode(plain, len, &m) < 0)
        return 1;
    switch (m.type) {
    case NB_PEER_PING:
        if (nb_peer_encode_ping(NB_PEER_PONG, m.nonce, out, sizeof(out), &n) == 0)
            return send_msg(s, out, n) < 0 ? -1 : 1;
        break;
    case NB_PEER_NEG:
        if (strcmp(opt.mode, "neg-bomb") == 0) {
            size_t bl = make_bomb(neg, sizeof(neg));
            if (nb_peer_encode_neg(neg, bl, out, sizeof(out), &n) < 0 || send_msg(s, out, n) < 0)
                return -1;
            if (++rounds % 50 == 0) {
                printf("rounds %llu\n", (unsigned long long)rounds);
                fflush(stdout);
            }
        }
        break;
    case NB_PEER_WANT:
        if (nb_peer_encode_ids(NB_PEER_MISSING, (const uint8_t(*)[NB_PEER_ID_SIZE])m.ids, m.n_ids,
                               out, sizeof(out), &n) == 0)
            return send_msg(s, out, n) < 0 ? -1 : 1;
        break;
    default:
        break;
    }
    return 1;
}

static bool stdin_closed(void)
{
    struct pollfd p = { .fd = 0, .events = POLLIN };
    char c[64];
    return poll(&p, 1, 0) > 0 && read(0, c, sizeof(c)) <= 0;
}

static void event(const char *what, unsigned i)
{
    printf("%s %u\n", what, i);
    fflush(stdout);
}

static void run_neg_bomb(double end)
{
    struct sockaddr_in a;
    ip_port(opt.listen, &a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 8) < 0)
        die("cannot listen");
    event("listening", 0);
    unsigned count = 0;
    while (now_s() < end && !stdin_closed()) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        if (poll(&p, 1, 200) <= 0)
            continue;
        struct session s = { .fd = accept(lfd, NULL, NULL) };
        if (s.fd < 0)
            continue;
        count++;
        if (handshake(&s, false) < 0) {
            event("refused", count);
            session_close(&s);
            continue;
        }
        event("up", count);
        while (now_s() < end && serve(&s, 0.2) >= 0 && !stdin_closed())
            ;
        printf("rounds %llu\n", (unsigned long long)rounds);
        event("closed", count);
        session_close(&s);
    }
    close(lfd);
}

static void run_sessions(double end)
{
    static struct session s[SESSIONS_MAX];
    static uint8_t out[NB_PEER_MSG_MAX];
    unsigned opened = 0;
    bool once = strcmp(opt.mode, "squat") != 0;
    bool sequential = strcmp(opt.mode, "invalid") == 0;
    for (unsigned i = 0; i < opt.sessions; i++)
        s[i].fd = -1;
    double next_open = 0;
    while (now_s() < end && !stdin_closed()) {
        for (unsigned i = 0; i < opt.sessions; i++) {
            if (s[i].fd >= 0 || now_s() < next_open || (once && opened > i))
                continue;
            /* The invalid sessions come one after the other: the next only
             * once the node closed the last one (which it does when it bans),
             * so the test asks whether a fresh key escapes the ban, not
             * whether it outruns a busy node. */
            if (sequential && i > 0 && s[i - 1].fd >= 0)
                continue;
            /* At most ten new sessions a second, as a patient attacker. */
            next_open = now_s() + 0.1;
            opened++;
            if (dial(&s[i]) < 0) {
                event("refused", opened);
                continue;
            }
            event("up", opened);
            if (strcmp(opt.mode, "poison") == 0) {
                struct nb_peer_addr addrs[NB_PEER_ADDRS_MAX];
                struct in_addr base;
                size_t n;
                if (inet_pton(AF_INET, opt.fake_base, &base) != 1)
                    die("--fake-base is an IPv4 address");
                for (unsigned k = 0; k < opt.fakes && k < NB_PEER_ADDRS_MAX; k++) {
                    randombytes_buf(addrs[k].node_key, NB_KEY_SIZE);
                    struct in_addr ip = { htonl(ntohl(base.s_addr) + opened * 64 + k) };
                    char text[32];
                    inet_ntop(AF_INET, &ip, text, sizeof(text));
                    /* Two in every eleven lead back to the node's machine
                     * or link. */
                    if (k % 11 == 9)
                        snprintf(text, sizeof(text), "127.0.0.%u", 2 + k);
                    if (k % 11 == 10)
                        snprintf(text, sizeof(text), "169.254.%u.%u", opened % 250, k);
                    snprintf(addrs[k].address, sizeof(addrs[k].address), "%s:7447", text);
                }
                unsigned nf = opt.fakes < NB_PEER_ADDRS_MAX ? opt.fakes : NB_PEER_ADDRS_MAX;
                if (nb_peer_encode_peers(addrs, nf, out, sizeof(out), &n) < 0 ||
                    send_msg(&s[i], out, n) < 0)
                    session_close(&s[i]);
            } else if (strcmp(opt.mode, "invalid") == 0) {
                static const uint8_t junk[] = { 0xc1, 0xc1, 0xc1 };
                for (int k = 0; k < 17 && s[i].fd >= 0; k++)
                    if (send_msg(&s[i], junk, sizeof(junk)) < 0)
                        session_close(&s[i]);
            }
        }
        bool any = false;
        for (unsigned i = 0; i < opt.sessions; i++) {
            if (s[i].fd < 0)
                continue;
            any = true;
            if (serve(&s[i], 0.01) < 0) {
                event("closed", i + 1);
                session_close(&s[i]);
                continue;
            }
            /* An empty frame now and then keeps the session from going
             * silent. */
            if ((uint64_t)now_s() - s[i].last_tx >= 10 && send_msg(&s[i], out, 0) < 0) {
                event("closed", i + 1);
                session_close(&s[i]);
            }
        }
        if (!any && once && opened >= opt.sessions)
            break;
        if (!any)
            usleep(20000);
    }
    for (unsigned i = 0; i < opt.sessions; i++)
        if (s[i].fd >= 0)
            session_close(&s[i]);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || argc < 2)
        die("usage: hostile-peer MODE --key HEX [options] (see tests/hostile_peer.c)");
    opt.mode = argv[1];
    bool have_key = false;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--key") == 0) {
            uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE];
            if (strlen(v) != 2 * sizeof(key) || nb_unhex(v, key, sizeof(key)) != 0 ||
                nb_neighbourhood_psk(key, opt.psk) < 0)
                die("--key is the neighbourhood key in hex");
            have_key = true;
        } else if (strcmp(k, "--from") == 0) {
            opt.from = v;
        } else if (strcmp(k, "--to") == 0) {
            opt.to = v;
        } else if (strcmp(k, "--listen") == 0) {
            opt.listen = v;
        } else if (strcmp(k, "--sessions") == 0) {
            opt.sessions = (unsigned)atoi(v);
        } else if (strcmp(k, "--fakes") == 0) {
            opt.fakes = (unsigned)atoi(v);
        } else if (strcmp(k, "--fake-base") == 0) {
            opt.fake_base = v;
        } else if (strcmp(k, "--seconds") == 0) {
            opt.seconds = atof(v);
        } else {
            die("unknown option");
        }
    }
    if (!have_key)
        die("--key is required");
    if (opt.sessions == 0 || opt.sessions > SESSIONS_MAX)
        die("--sessions is 1 to 64");
    double end = now_s() + opt.seconds;
    if (strcmp(opt.mode, "neg-bomb") == 0) {
        if (opt.listen == NULL)
            die("neg-bomb needs --listen");
        run_neg_bomb(end);
    } else if (strcmp(opt.mode, "squat") == 0 || strcmp(opt.mode, "poison") == 0 ||
               strcmp(opt.mode, "invalid") == 0) {
        if (opt.from == NULL || opt.to == NULL)
            die("this mode needs --from and --to");
        if (strcmp(opt.mode, "poison") == 0 && opt.fake_base == NULL)
            die("poison needs --fake-base");
        run_sessions(end);
    } else {
        die("unknown mode");
    }
    return 0;
}
