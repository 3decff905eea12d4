/*
 * LAN discovery beacons.
 *
 * A node with discovery on multicasts a beacon every 30 seconds so that the
 * other nodes of its neighbourhood on the same network find it without any
 * configured address.  A beacon is 78 bytes:
 *
 *     "NBB1" || timestamp (u64 BE) || node key (32) || port (u16 BE) || mac (32)
 *     mac = BLAKE2b-256(key = beacon key, the 46 bytes before it)
 *
 * where the beacon key is nb_neighbourhood_beacon_key() of the neighbourhood
 * key.  Only nodes holding the neighbourhood key can make or check a beacon,
 * so nodes of other neighbourhoods (and everyone else on the network) see
 * only random-looking bytes and learn nothing about this neighbourhood
 * beyond the fact that a Noaber node is there.  docs/protocol.md
 * ("LAN discovery") is normative.
 *
 * These functions are pure: the caller passes the clock.
 */
#ifndef NOABER_BEACON_H
#define NOABER_BEACON_H

#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>
#include <noaber/record.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_BEACON_MAGIC    "NBB1"
#define NB_BEACON_SIZE     78
#define NB_BEACON_MAC_SIZE 32
/* A beacon whose timestamp is further than this from the receiver's clock
 * is dropped: it limits how long a recorded beacon can be replayed. */
#define NB_BEACON_MAX_SKEW 300

/* What a beacon that verified says. */
struct nb_beacon {
    uint64_t timestamp;
    uint8_t node_key[NB_KEY_SIZE];
    uint16_t port; /* the TCP port the node accepts peers on */
};

/*
 * Writes the beacon of the node `node_key` listening on `port` at time
 * `now`.  Returns 0, NB_EINVAL (port 0) or NB_ECRYPTO.
 */
int nb_beacon_build(const uint8_t beacon_key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE], uint64_t now,
                    const uint8_t node_key[NB_KEY_SIZE], uint16_t port,
                    uint8_t out[NB_BEACON_SIZE]);

/*
 * Checks `len` received bytes against this neighbourhood's beacon key and
 * the receiver's clock `now`.  Returns 0 and fills *ret, or:
 *   NB_EMALFORMED  not 78 bytes, not starting with "NBB1", or port 0
 *   NB_EBADSIG     the mac does not verify (another neighbourhood, or
 *                  tampered)
 *   NB_EEXPIRED    the timestamp is more than NB_BEACON_MAX_SKEW seconds
 *                  before `now`
 *   NB_EFUTURE     the timestamp is more than NB_BEACON_MAX_SKEW seconds
 *                  after `now`
 * The mac is checked before the clock, so that a beacon of another
 * neighbourhood is always NB_EBADSIG.  Beacons carrying the receiver's own
 * node key verify: dropping them is the caller's business.
 */
int nb_beacon_verify(const uint8_t beacon_key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE],
                     const uint8_t *bytes, size_t len, uint64_t now, struct nb_beacon *ret);

#ifdef __cplusplus
}
#endif

#endif
