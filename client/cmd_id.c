/*
 * The member's identity: `noaber id new` and `noaber id show`, and loading
 * the key for the commands that sign.  The file format and its 0600 handling
 * belong to common/keyfile.c; this file only decides which path to use and
 * how to talk about it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>

#include "client.h"
#include "common/keyfile.h"

int identity_path(const struct ctx *ctx, char *buf, size_t size)
{
    const char *env = getenv("NOABER_IDENTITY");
    const char *config = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    if (ctx->identity != NULL) {
        n = snprintf(buf, size, "%s", ctx->identity);
    } else if (env != NULL && env[0] != '\0') {
        n = snprintf(buf, size, "%s", env);
    } else if (config != NULL && config[0] == '/') {
        n = snprintf(buf, size, "%s/noaber/identity", config);
    } else if (home != NULL && home[0] != '\0') {
        n = snprintf(buf, size, "%s/.config/noaber/identity", home);
    } else {
        return fail(EXIT_ERROR, "neither XDG_CONFIG_HOME nor HOME is set; name the identity "
                                "file with --identity FILE.");
    }
    if (n < 0 || (size_t)n >= size) {
        return fail(EXIT_USAGE, "the identity path is too long.");
    }
    return EXIT_OK;
}

static int load(struct ctx *ctx, bool quiet)
{
    char path[4096];
    char msg[NB_KEYFILE_MSG_MAX];
    int rc;

    if (ctx->have_key) {
        return EXIT_OK;
    }
    rc = identity_path(ctx, path, sizeof(path));
    if (rc != EXIT_OK) {
        return rc;
    }
    msg[0] = '\0';
    rc = nb_keyfile_read(path, ctx->pk, ctx->sk, msg, sizeof(msg));
    if (rc != 0) {
        sodium_memzero(ctx->sk, sizeof(ctx->sk));
        if (quiet) {
            return EXIT_ERROR;
        }
        if (rc == NB_ENOENT) {
            return fail(EXIT_ERROR,
                        "you have no identity at %s yet; create one with `noaber id new` "
                        "(or choose another file with --identity FILE).",
                        path);
        }
        return fail(EXIT_ERROR, "%s", msg[0] != '\0' ? msg : nb_strerror(rc));
    }
    ctx->have_key = true;
    nb_member_key_to_text(ctx->pk, ctx->key_text);
    return EXIT_OK;
}

int identity_load(struct ctx *ctx)
{
    return load(ctx, false);
}

bool identity_try_load(struct ctx *ctx)
{
    return load(ctx, true) == EXIT_OK;
}

static void print_key(struct ctx *ctx, const char *path, bool created)
{
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "key");
        json_string(&ctx->j, ctx->key_text);
        json_key(&ctx->j, "path");
        json_string(&ctx->j, path);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
        return;
    }
    if (created) {
        printf("Created your identity in %s (readable by you only).\n"
               "Your member key, to give to whoever assigns you or vouches for you:\n\n"
               "    %s\n\n"
               "Keep the file safe: whoever has it can post as you.\n",
               path, ctx->key_text);
    } else {
        printf("%s\n", ctx->key_text);
    }
}

int cmd_id_new(struct ctx *ctx, int argc, char **argv)
{
    char path[4096];
    char msg[NB_KEYFILE_MSG_MAX];
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "id new");
    if (rc != 0) {
        return rc;
    }
    rc = identity_path(ctx, path, sizeof(path));
    if (rc != EXIT_OK) {
        return rc;
    }
    msg[0] = '\0';
    rc = nb_keyfile_create(path, NB_KEY_FILE_MEMBER, 0, ctx->pk, msg, sizeof(msg));
    if (rc == NB_EEXIST) {
        return fail(EXIT_ERROR,
                    "an identity already exists at %s; noaber never replaces one, because "
                    "everything you posted is signed with it.  `noaber id show` prints its key; "
                    "use --identity FILE for a second identity.",
                    path);
    }
    if (rc != 0) {
        return fail(EXIT_ERROR, "cannot create the identity: %s",
                    msg[0] != '\0' ? msg : nb_strerror(rc));
    }
    nb_member_key_to_text(ctx->pk, ctx->key_text);
    print_key(ctx, path, true);
    return EXIT_OK;
}

int cmd_id_show(struct ctx *ctx, int argc, char **argv)
{
    char path[4096];
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "id show");
    if (rc != 0) {
        return rc;
    }
    rc = identity_path(ctx, path, sizeof(path));
    if (rc == EXIT_OK) {
        rc = identity_load(ctx);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    print_key(ctx, path, false);
    return EXIT_OK;
}
