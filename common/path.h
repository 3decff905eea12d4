/*
 * File paths built from parts, for the daemon's defaults and the operator
 * commands alike.
 */
#ifndef NOABER_COMMON_PATH_H
#define NOABER_COMMON_PATH_H

/* "dir/name" in a new allocation (free()); NULL when out of memory. */
char *nb_path_join(const char *dir, const char *name);

#endif
