/*
 * noaber, the client a neighbour or an operator uses.  This file is the
 * command table, the argument parser shared by every command, and the help.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <noaber/identity.h>

#include "care.h"
#include "i18n.h"

/* In two parts: C17 compilers need only take string literals up to 4095 bytes. */
static const char usage_people[] =
    "usage: noaber [--json] [--socket PATH] [--identity FILE] COMMAND [ARGS]\n"
    "\n"
    "Your identity:\n"
    "  id new                     create your member key (kept in an 0600 file)\n"
    "  id show                    print your member key (nbm1...) to share\n"
    "\n"
    "Asking and offering help:\n"
    "  ask --title T --category C --area A [--details D] [--urgency U] [--when W]\n"
    "      [--expires DURATION] [--languages L,L] [--tags T,T]\n"
    "      [--mode in-person|remote|either] [--on-behalf-of NAME]\n"
    "  offer ...                  a standing offer, same options as ask\n"
    "  list [--kind K] [--status S] [--category C] [--area A] [--mine] [--helping]\n"
    "       [--trusted] [--limit N] [--all]\n"
    "                             the newest 50 (or N, or 500); --mine what you posted,\n"
    "                             --helping what you responded to\n"
    "  show ID                    one request or offer with its responses\n"
    "  respond ID [--note N]      offer to help with a request, or ask for an offer\n"
    "  withdraw ID                withdraw your response to ID, or your offer ID\n"
    "  assign ID MEMBER [--contact TEXT] [--again]\n"
    "                             pick a helper (or, on your offer, an asker): their\n"
    "                             key or its start, their response id or their name;\n"
    "                             the contact is sealed so only MEMBER can read it;\n"
    "                             --again to replace a helper already assigned\n"
    "  done ID                    say the task is done (the helper)\n"
    "  confirm ID [--thanks TEXT] confirm it was done (the one helped)\n"
    "  cancel ID                  cancel your request\n"
    "  retract ID                 delete one of your records everywhere\n"
    "  pause ID, resume ID        pause or resume your standing offer\n"
    "  renew ID [--expires DURATION]\n"
    "                             keep your standing offer up (a new offer, default 90 days)\n"
    "\n"
    "Messages:\n"
    "  message MEMBER|ID TEXT [--about ID] [--expires DURATION]\n"
    "                             a message sealed to MEMBER (or to the other party of\n"
    "                             request or offer ID); only they can read it\n"
    "  inbox                      open the messages sealed to you\n"
    "\n"
    "Coordinators (posting for people without a device):\n"
    "  intake LABEL TITLE --category C [--area A] [--urgency U] [--expires DURATION]\n"
    "      [--name N] [--phone P] [--address A] [--notes TEXT] [--contact person|me]\n"
    "                             a request taken by phone; the neighbourhood sees only\n"
    "                             LABEL (initials or a first name), the rest stays in\n"
    "                             your caseload, encrypted to your identity\n"
    "  people [LABEL] [--my-phone NUMBER] [--forget LABEL]\n"
    "                             your people and their requests\n"
    "  calls [--done ID]          who to phone, and about what\n"
    "  sheet --out FILE.pdf [--page URL] [--phone NUMBER]\n"
    "                             a printable sheet of open requests and offers\n"
    "  report [--since D] [--by category|area|month] [--format text|csv|json]\n"
    "      [--png FILE] [--out FILE]   the unmet-need overview (counts only)\n"
    "  report --verify FILE [--key nbm1...]   check a signed overview\n"
    "  export --valueflows        open requests as ValueFlows JSON-LD\n"
    "\n";

static const char usage_node[] =
    "Trust:\n"
    "  vouch MEMBER [--note N]    say you know MEMBER: you trust them and the members\n"
    "                             they vouch for (list --trusted, show)\n"
    "  vouch --retract MEMBER     take your vouch back\n"
    "  vouches [MEMBER]           who vouched for whom (default: by and for you)\n"
    "  profile --name NAME [--about TEXT] [--languages L,L] [--area A]\n"
    "                             the name shown next to your key (the newest counts)\n"
    "\n"
    "The node:\n"
    "  neighbourhood create NAME  start a neighbourhood on this node\n"
    "  invite [--expires DURATION] [--qr]\n"
    "                             a code another node joins with (default 7 days);\n"
    "                             it holds the neighbourhood key: keep it secret;\n"
    "                             --qr also draws it as a QR code to scan\n"
    "  join CODE                  make this node join the neighbourhood of an invite\n"
    "                             (`join -` reads the code from standard input)\n"
    "  watch [--kind K] [--category C] [--area A] [--trusted]\n"
    "                             print new records as they arrive, and what is for you\n"
    "  status                     the node's neighbourhood, records and peers\n"
    "  peers                      the other nodes this node knows and its links to them\n"
    "  peer add HOST:PORT         connect to another node of the neighbourhood\n"
    "  peer remove HOST:PORT      forget a node's address and close the link there\n"
    "  block MEMBER               delete a member's records from this node and refuse\n"
    "                             their new ones (other nodes keep theirs)\n"
    "  unblock MEMBER             accept the member's new records again\n"
    "  blocked                    the members blocked on this node\n"
    "  welcome [--name N] [--expires DURATION] [--host HOST[:PORT]|https://NAME]\n"
    "          [--qr] [--print FILE.html]\n"
    "                             a one-time link that admits one neighbour's browser\n"
    "                             to this node's page (noaber-web); --qr also draws it\n"
    "                             as a QR code, --print writes a page to print\n"
    "  devices                    the browsers welcomed on this node\n"
    "  device revoke ID           a welcomed browser may not sign in any more\n"
    "  help                       this text\n"
    "\n"
    "IDs may be shortened to any unique prefix of at least 4 hex digits.\n"
    "DURATION is a number and a unit: 90m, 12h, 3d, 2w (default 7d, at most 90 days).\n"
    "Categories: groceries transport meals company paperwork repairs care childcare\n"
    "pets other.  Urgency: today this-week this-month whenever.\n"
    "--area matches by word or postcode, without case or accents: Schaerbeek finds\n"
    "\"Schaerbeek 1030\".  Languages are codes: fr, nl, en, ar, tr.\n"
    "Text limits count bytes: --title at most 120 characters, --details 2000,\n"
    "--area 64, --when 100, --note 500 -- fewer with accented letters (é is 2 bytes).\n"
    "\n"
    "Options, before or after the command:\n"
    "  --json             print JSON instead of text\n"
    "  --socket PATH      the daemon's socket (or NOABER_SOCKET; default\n"
    "                     $XDG_RUNTIME_DIR/noaber/noaberd.sock, then\n"
    "                     $XDG_DATA_HOME/noaber/noaberd.sock, then /run/noaber/noaberd.sock)\n"
    "  --identity FILE    your identity file (or NOABER_IDENTITY; default\n"
    "                     $XDG_CONFIG_HOME/noaber/identity)\n"
    "  --version          print the version\n"
    "\n"
    "Exit codes: 0 ok, 1 other error, 2 usage error, 3 noaberd unreachable,\n"
    "4 refused by noaberd (the reason is printed).\n";

static void print_usage(FILE *out)
{
    fputs(usage_people, out);
    fputs(usage_node, out);
}

struct command {
    const char *group; /* "id", "neighbourhood", or NULL for one-word commands */
    const char *name;
    int (*run)(struct ctx *ctx, int argc, char **argv);
};

static const struct command commands[] = {
    { "id", "new", cmd_id_new },
    { "id", "show", cmd_id_show },
    { "neighbourhood", "create", cmd_neighbourhood_create },
    { NULL, "ask", cmd_ask },
    { NULL, "offer", cmd_offer },
    { NULL, "list", cmd_list },
    { NULL, "show", cmd_show },
    { NULL, "respond", cmd_respond },
    { NULL, "withdraw", cmd_withdraw },
    { NULL, "assign", cmd_assign },
    { NULL, "done", cmd_done },
    { NULL, "confirm", cmd_confirm },
    { NULL, "cancel", cmd_cancel },
    { NULL, "retract", cmd_retract },
    { NULL, "pause", cmd_pause },
    { NULL, "resume", cmd_resume },
    { NULL, "renew", cmd_renew },
    { NULL, "watch", cmd_watch },
    { NULL, "status", cmd_status },
    { NULL, "invite", cmd_invite },
    { NULL, "join", cmd_join },
    { "peer", "add", cmd_peer_add },
    { "peer", "remove", cmd_peer_remove },
    { NULL, "peers", cmd_peers },
    { NULL, "block", cmd_block },
    { NULL, "unblock", cmd_unblock },
    { NULL, "blocked", cmd_blocked },
    { NULL, "welcome", cmd_welcome },
    { NULL, "devices", cmd_devices },
    { "device", "revoke", cmd_device_revoke },
    { NULL, "vouch", cmd_vouch },
    { NULL, "vouches", cmd_vouches },
    { NULL, "profile", cmd_profile },
    { NULL, "message", cmd_message },
    { NULL, "inbox", cmd_inbox },
    { NULL, "intake", cmd_intake },
    { NULL, "people", cmd_people },
    { NULL, "calls", cmd_calls },
    { NULL, "sheet", cmd_sheet },
    { NULL, "report", cmd_report },
    { NULL, "export", cmd_export },
};

/*
 * The subcommands of `group` in the table, as words ("new or show"), or ""
 * when `group` is not a group.
 */
static void subcommands(const char *group, char *buf, size_t size)
{
    size_t n = 0, k = 0, used = 0;

    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        n += commands[c].group != NULL && strcmp(commands[c].group, group) == 0;
    }
    buf[0] = '\0';
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]) && used < size; c++) {
        if (commands[c].group == NULL || strcmp(commands[c].group, group) != 0) {
            continue;
        }
        const char *sep = k == 0 ? "" : k + 1 == n ? " or " : ", ";
        int w = snprintf(buf + used, size - used, "%s%s", sep, commands[c].name);
        used += w > 0 ? (size_t)w : 0;
        k++;
    }
}

int fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("noaber: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* Handles a global option at argv[*i]; returns 1 if it was one, -1 on error. */
static int global_option(struct ctx *ctx, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char **target = NULL;
    const char *name = NULL;
    size_t n;

    if (strcmp(a, "--json") == 0) {
        ctx->json = true;
        return 1;
    }
    if (strncmp(a, "--socket", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
        target = &ctx->socket;
        name = "--socket";
    } else if (strncmp(a, "--identity", 10) == 0 && (a[10] == '\0' || a[10] == '=')) {
        target = &ctx->identity;
        name = "--identity";
    } else {
        return 0;
    }
    n = strlen(name);
    if (a[n] == '=') {
        *target = a + n + 1;
    } else if (*i + 1 < argc) {
        *target = argv[++*i];
    } else {
        fail(EXIT_USAGE, "%s needs a value.", name);
        return -1;
    }
    if ((*target)[0] == '\0') {
        fail(EXIT_USAGE, "%s needs a non-empty value.", name);
        return -1;
    }
    return 1;
}

static void print_command_usage(const char *usage)
{
    fprintf(stderr, "usage: noaber %s\n", usage);
}

int parse_args(struct ctx *ctx, int argc, char **argv, const struct opt *opts, const char **pos,
               size_t min_pos, size_t max_pos, const char *usage)
{
    size_t npos = 0;
    bool only_positional = false;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int g;

        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (npos >= max_pos) {
                fail(EXIT_USAGE, "unexpected argument \"%s\".", a);
                print_command_usage(usage);
                return EXIT_USAGE;
            }
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: noaber %s\n", usage);
            return -1;
        }
        g = global_option(ctx, argc, argv, &i);
        if (g < 0) {
            return EXIT_USAGE;
        }
        if (g > 0) {
            continue;
        }
        if (strncmp(a, "--", 2) == 0) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
            const struct opt *o = NULL;

            for (const struct opt *p = opts; p != NULL && p->name != NULL; p++) {
                if (strlen(p->name) == len && strncmp(p->name, name, len) == 0) {
                    o = p;
                    break;
                }
            }
            if (o == NULL) {
                fail(EXIT_USAGE, "unknown option \"%s\" for %s.", a, ctx->command);
                print_command_usage(usage);
                return EXIT_USAGE;
            }
            if (o->flag != NULL) {
                if (eq != NULL) {
                    fail(EXIT_USAGE, "--%s takes no value.", o->name);
                    return EXIT_USAGE;
                }
                *o->flag = true;
            } else if (eq != NULL) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                fail(EXIT_USAGE, "--%s needs a value.", o->name);
                print_command_usage(usage);
                return EXIT_USAGE;
            }
            continue;
        }
        fail(EXIT_USAGE, "unknown option \"%s\" for %s.", a, ctx->command);
        print_command_usage(usage);
        return EXIT_USAGE;
    }
    if (npos < min_pos) {
        fail(EXIT_USAGE, "%s needs more arguments.", ctx->command);
        print_command_usage(usage);
        return EXIT_USAGE;
    }
    return 0;
}

static void ctx_done(struct ctx *ctx)
{
    if (ctx->connected) {
        ctl_close(&ctx->ctl);
        ctx->connected = false;
    }
    /* The secret key lives in this process only as long as the command. */
    sodium_memzero(ctx->sk, sizeof(ctx->sk));
    ctx->have_key = false;
}

int main(int argc, char **argv)
{
    struct ctx ctx;
    const struct command *cmd = NULL;
    char command_name[64];
    int i = 1;
    int rc;

    i18n_init();
    memset(&ctx, 0, sizeof(ctx));
    json_init(&ctx.j, stdout);
    ctx.now = (uint64_t)time(NULL);

    /* Global options may come before the command as well as after it. */
    for (; i < argc; i++) {
        int g = global_option(&ctx, argc, argv, &i);
        if (g < 0) {
            return EXIT_USAGE;
        }
        if (g == 0) {
            break;
        }
    }
    if (i >= argc) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[i], "--version") == 0) {
        printf("noaber %s\n", NOABER_VERSION);
        return EXIT_OK;
    }
    if (strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0 ||
        strcmp(argv[i], "-h") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        const struct command *c = &commands[k];
        if (c->group == NULL && strcmp(argv[i], c->name) == 0) {
            cmd = c;
            break;
        }
        if (c->group != NULL && strcmp(argv[i], c->group) == 0 && i + 1 < argc &&
            strcmp(argv[i + 1], c->name) == 0) {
            cmd = c;
            break;
        }
    }
    if (cmd == NULL) {
        char subs[128];
        subcommands(argv[i], subs, sizeof(subs));
        if (subs[0] == '\0') {
            fail(EXIT_USAGE, "unknown command \"%s\"; `noaber help` lists them.", argv[i]);
        } else if (i + 1 < argc) {
            fail(EXIT_USAGE, "\"%s\" has no subcommand \"%s\"; use %s.", argv[i], argv[i + 1],
                 subs);
        } else {
            fail(EXIT_USAGE, "\"%s\" needs a subcommand: %s.", argv[i], subs);
        }
        return EXIT_USAGE;
    }
    if (cmd->group != NULL) {
        snprintf(command_name, sizeof(command_name), "%s %s", cmd->group, cmd->name);
        i += 2;
    } else {
        snprintf(command_name, sizeof(command_name), "%s", cmd->name);
        i += 1;
    }
    ctx.command = command_name;
    if (nb_init() != 0) {
        return fail(EXIT_ERROR, "the cryptography library failed to start.");
    }
    rc = cmd->run(&ctx, argc - i, argv + i);
    ctx_done(&ctx);
    return rc < 0 ? EXIT_OK : rc;
}
