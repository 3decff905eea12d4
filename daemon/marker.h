/*
 * The neighbourhood marker: a small file beside the store, DATA_DIR/
 * neighbourhood.id, that holds the id (hex) of the neighbourhood the node
 * belongs to.  It lives outside the store on purpose: when store.sqlite is
 * lost, truncated or replaced by an empty one, the marker is the evidence
 * that this data directory had a neighbourhood, so the node refuses to start
 * as a new one (which would lead its operator to create a second
 * neighbourhood) and `noaberd fsck` reports the loss.
 */
#ifndef NOABERD_MARKER_H
#define NOABERD_MARKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>

#define NBD_MARKER_NAME "neighbourhood.id"

/* Writes the marker durably (a temporary file renamed over it). */
int nbd_marker_write(const char *data_dir, const uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE]);

/* Reads the marker: 0 with the id, NB_ENOENT when there is none, NB_EDAMAGED
 * when the file does not hold an id, NB_EIO when it cannot be read. */
int nbd_marker_read(const char *data_dir, uint8_t ret_id[NB_NEIGHBOURHOOD_ID_SIZE]);

#endif
