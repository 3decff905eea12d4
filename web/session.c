/*
 * Sessions of noaber-web (see session.h).
 */
#include "web/session.h"

#include <sodium.h>
#include <string.h>

void web_sessions_init(struct web_sessions *s)
{
    memset(s, 0, sizeof(*s));
}

void web_challenge_new(struct web_sessions *s, uint64_t now,
                       uint8_t ret_challenge[WEB_CHALLENGE_SIZE])
{
    unsigned slot = s->next_challenge;

    for (unsigned i = 0; i < WEB_CHALLENGES_MAX; i++) {
        if (s->challenges[i].expires_at <= now) {
            slot = i;
            break;
        }
    }
    if (slot == s->next_challenge) {
        s->next_challenge = (s->next_challenge + 1) % WEB_CHALLENGES_MAX;
    }
    randombytes_buf(s->challenges[slot].challenge, WEB_CHALLENGE_SIZE);
    s->challenges[slot].expires_at = now + WEB_CHALLENGE_SECONDS;
    memcpy(ret_challenge, s->challenges[slot].challenge, WEB_CHALLENGE_SIZE);
}

int web_challenge_take(struct web_sessions *s, const uint8_t challenge[WEB_CHALLENGE_SIZE],
                       uint64_t now)
{
    for (unsigned i = 0; i < WEB_CHALLENGES_MAX; i++) {
        if (s->challenges[i].expires_at > now &&
            sodium_memcmp(s->challenges[i].challenge, challenge, WEB_CHALLENGE_SIZE) == 0) {
            /* One use only: a signed challenge seen by someone else is worthless. */
            memset(&s->challenges[i], 0, sizeof(s->challenges[i]));
            return 0;
        }
    }
    return -1;
}

bool web_challenge_signed(const uint8_t neighbourhood_id[NB_ID_SIZE],
                          const uint8_t challenge[WEB_CHALLENGE_SIZE],
                          const uint8_t member[NB_KEY_SIZE], const uint8_t signature[64])
{
    uint8_t msg[sizeof(WEB_SESSION_CONTEXT) - 1 + NB_ID_SIZE + WEB_CHALLENGE_SIZE];
    size_t n = sizeof(WEB_SESSION_CONTEXT) - 1;

    memcpy(msg, WEB_SESSION_CONTEXT, n);
    memcpy(msg + n, neighbourhood_id, NB_ID_SIZE);
    memcpy(msg + n + NB_ID_SIZE, challenge, WEB_CHALLENGE_SIZE);
    return crypto_sign_verify_detached(signature, msg, sizeof(msg), member) == 0;
}

int web_session_new(struct web_sessions *s, const uint8_t member[NB_KEY_SIZE],
                    const uint8_t *device_key, uint64_t now, uint8_t ret_token[WEB_TOKEN_SIZE])
{
    for (unsigned i = 0; i < WEB_SESSIONS_MAX; i++) {
        if (s->sessions[i].expires_at <= now) {
            randombytes_buf(s->sessions[i].token, WEB_TOKEN_SIZE);
            memcpy(s->sessions[i].member, member, NB_KEY_SIZE);
            s->sessions[i].has_device_key = device_key != NULL;
            if (device_key != NULL) {
                memcpy(s->sessions[i].device_key, device_key, NB_KEY_SIZE);
            } else {
                memset(s->sessions[i].device_key, 0, NB_KEY_SIZE);
            }
            s->sessions[i].expires_at = now + WEB_SESSION_SECONDS;
            s->sessions[i].checked_at = now;
            memcpy(ret_token, s->sessions[i].token, WEB_TOKEN_SIZE);
            return 0;
        }
    }
    return -1;
}

static int slot_of(const struct web_sessions *s, const char *cookie, uint64_t now)
{
    uint8_t token[WEB_TOKEN_SIZE];
    size_t n = 0;

    if (cookie == NULL || strlen(cookie) != 2 * WEB_TOKEN_SIZE ||
        sodium_hex2bin(token, sizeof(token), cookie, 2 * WEB_TOKEN_SIZE, NULL, &n, NULL) != 0 ||
        n != sizeof(token)) {
        return -1;
    }
    for (unsigned i = 0; i < WEB_SESSIONS_MAX; i++) {
        if (s->sessions[i].expires_at > now &&
            sodium_memcmp(s->sessions[i].token, token, WEB_TOKEN_SIZE) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int web_session_find(const struct web_sessions *s, const char *cookie, uint64_t now,
                     uint8_t ret_member[NB_KEY_SIZE], uint8_t *ret_device_key,
                     bool *ret_has_device_key)
{
    int i = slot_of(s, cookie, now);

    if (i < 0) {
        return -1;
    }
    memcpy(ret_member, s->sessions[i].member, NB_KEY_SIZE);
    if (ret_device_key != NULL) {
        memcpy(ret_device_key, s->sessions[i].device_key, NB_KEY_SIZE);
    }
    if (ret_has_device_key != NULL) {
        *ret_has_device_key = s->sessions[i].has_device_key;
    }
    return 0;
}

void web_session_drop(struct web_sessions *s, const char *cookie)
{
    int i = slot_of(s, cookie, 0);

    if (i >= 0) {
        memset(&s->sessions[i], 0, sizeof(s->sessions[i]));
    }
}

bool web_session_needs_check(const struct web_sessions *s, const char *cookie, uint64_t now)
{
    int i = slot_of(s, cookie, now);

    return i >= 0 && s->sessions[i].checked_at + WEB_RECHECK_SECONDS <= now;
}

void web_session_checked(struct web_sessions *s, const char *cookie, uint64_t now)
{
    int i = slot_of(s, cookie, now);

    if (i >= 0) {
        s->sessions[i].checked_at = now;
    }
}

void web_sessions_recheck_member(struct web_sessions *s, const uint8_t member[NB_KEY_SIZE])
{
    for (unsigned i = 0; i < WEB_SESSIONS_MAX; i++) {
        if (memcmp(s->sessions[i].member, member, NB_KEY_SIZE) == 0) {
            s->sessions[i].checked_at = 0;
        }
    }
}
