/*
 * Sessions of noaber-web.  A browser proves it holds a member key by signing
 * a one-time challenge ("noaber/web-session/v1" || neighbourhood id ||
 * challenge); it then gets a random session token in an HttpOnly,
 * SameSite=Strict cookie.  Everything is in memory: after a restart the page
 * signs a new challenge, since the key is in the browser.  Time comes in as
 * a parameter.
 */
#ifndef NOABER_WEB_SESSION_H
#define NOABER_WEB_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <noaber/record.h>

#define WEB_SESSION_CONTEXT   "noaber/web-session/v1"
#define WEB_CHALLENGE_SIZE    32
#define WEB_TOKEN_SIZE        32
#define WEB_CHALLENGES_MAX    256
#define WEB_SESSIONS_MAX      1024
#define WEB_CHALLENGE_SECONDS 300
#define WEB_SESSION_SECONDS   (12 * 3600)
#define WEB_COOKIE_NAME       "noaber_session"
/* How long the node's word that a member is admitted holds: after that, the
 * next request of the session asks the node again, so that a revoked device
 * loses its session within a minute. */
#define WEB_RECHECK_SECONDS 60

struct web_sessions {
    struct {
        uint8_t challenge[WEB_CHALLENGE_SIZE];
        uint64_t expires_at;
    } challenges[WEB_CHALLENGES_MAX];
    unsigned next_challenge; /* the oldest slot, overwritten when all are taken */
    struct {
        uint8_t token[WEB_TOKEN_SIZE];
        uint8_t member[NB_KEY_SIZE];
        /* The key the browser proved it is this device with: each of a
         * member's devices is admitted, and revoked, on its own.  A browser
         * admitted before device keys has none (has_device_key false). */
        uint8_t device_key[NB_KEY_SIZE];
        bool has_device_key;
        uint64_t expires_at;
        uint64_t checked_at; /* when the node last said the member is admitted */
    } sessions[WEB_SESSIONS_MAX];
};

void web_sessions_init(struct web_sessions *s);
/* A new challenge, valid for WEB_CHALLENGE_SECONDS. */
void web_challenge_new(struct web_sessions *s, uint64_t now,
                       uint8_t ret_challenge[WEB_CHALLENGE_SIZE]);
/* Uses up a challenge: 0 if it was issued and has not expired, else -1. */
int web_challenge_take(struct web_sessions *s, const uint8_t challenge[WEB_CHALLENGE_SIZE],
                       uint64_t now);
/* Whether `signature` is the member's over the challenge for the neighbourhood. */
bool web_challenge_signed(const uint8_t neighbourhood_id[NB_ID_SIZE],
                          const uint8_t challenge[WEB_CHALLENGE_SIZE],
                          const uint8_t member[NB_KEY_SIZE], const uint8_t signature[64]);
/* A new session for the member's device (device_key NULL: a device without
 * a key); -1 when every slot holds a live session. */
int web_session_new(struct web_sessions *s, const uint8_t member[NB_KEY_SIZE],
                    const uint8_t *device_key, uint64_t now, uint8_t ret_token[WEB_TOKEN_SIZE]);
/* The member of a live session, from the cookie's hex text; -1 if none.
 * ret_device_key (may be NULL) gets the device key and ret_has_device_key
 * whether there is one. */
int web_session_find(const struct web_sessions *s, const char *cookie, uint64_t now,
                     uint8_t ret_member[NB_KEY_SIZE], uint8_t *ret_device_key,
                     bool *ret_has_device_key);
void web_session_drop(struct web_sessions *s, const char *cookie);
/* Whether the session's admission must be asked of the node again. */
bool web_session_needs_check(const struct web_sessions *s, const char *cookie, uint64_t now);
void web_session_checked(struct web_sessions *s, const char *cookie, uint64_t now);
/* Every session of the member asks the node again at its next request: one
 * of the member's devices was switched off, and its session ends now rather
 * than within WEB_RECHECK_SECONDS. */
void web_sessions_recheck_member(struct web_sessions *s, const uint8_t member[NB_KEY_SIZE]);

#endif
