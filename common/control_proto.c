#include "common/control_proto.h"

#include <string.h>

#include <noaber/error.h>

static const char *const error_names[NB_CTL_E_COUNT_] = {
    [NB_CTL_E_UNKNOWN] = "unknown",     [NB_CTL_E_BAD_REQUEST] = "bad_request",
    [NB_CTL_E_VERSION] = "version",     [NB_CTL_E_UNKNOWN_OP] = "unknown_op",
    [NB_CTL_E_FORBIDDEN] = "forbidden", [NB_CTL_E_INVALID_RECORD] = "invalid_record",
    [NB_CTL_E_REFUSED] = "refused",     [NB_CTL_E_NOT_FOUND] = "not_found",
    [NB_CTL_E_AMBIGUOUS] = "ambiguous", [NB_CTL_E_GONE] = "gone",
    [NB_CTL_E_INTERNAL] = "internal",   [NB_CTL_E_DAMAGED] = "damaged",
    [NB_CTL_E_NO_SPACE] = "no_space",
};

const char *nb_ctl_role_name(enum nb_ctl_role role)
{
    return role == NB_CTL_ROLE_OPERATOR ? "operator" : "member";
}

const char *nb_ctl_error_name(enum nb_ctl_error e)
{
    if ((unsigned)e >= NB_CTL_E_COUNT_)
        return error_names[NB_CTL_E_UNKNOWN];
    return error_names[e];
}

enum nb_ctl_error nb_ctl_error_parse(const char *s, size_t len)
{
    for (int i = NB_CTL_E_UNKNOWN + 1; i < NB_CTL_E_COUNT_; i++) {
        if (strlen(error_names[i]) == len && memcmp(error_names[i], s, len) == 0)
            return (enum nb_ctl_error)i;
    }
    return NB_CTL_E_UNKNOWN;
}

void nb_ctl_header_encode(uint32_t len, uint8_t out[NB_CTL_HEADER_SIZE])
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}

int nb_ctl_header_decode(const uint8_t in[NB_CTL_HEADER_SIZE], uint32_t *ret_len)
{
    uint32_t len = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    if (len == 0 || len > NB_CTL_FRAME_MAX)
        return NB_ETOOBIG;
    *ret_len = len;
    return 0;
}
