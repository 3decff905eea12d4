#!/bin/sh
# `./dev run`: a small local neighbourhood of three nodes to try Noaber by hand.
#
# Starts three noaberd on loopback (north, centre and south), each with its
# own data directory and peer port.  North creates the neighbourhood "Marollen";
# centre joins with an invite from north, south with an invite from centre.
# Alice posts a request on north and Bob helps from south: every step is
# printed as a neighbour would type it, and the script waits (and says so)
# until the other node has it.  The nodes are left running, with the commands
# to try and how to stop them (`./dev stop`).  North also serves its page
# (noaber-web) on 127.0.0.1, and the script prints a welcome link to it.
#
# ./dev builds first; this script only uses the binaries in BUILD (default
# build/ next to the sources).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${NOABER_BUILD_ROOT:-$top/build}
noaberd=$build/daemon/noaberd
noaber=$build/client/noaber

for exe in "$noaberd" "$noaber"; do
    if [ ! -x "$exe" ]; then
        echo "demo: $exe is not built; run ./dev run (or ./dev test) first" >&2
        exit 1
    fi
done

# A demo that is still running is stopped first: its ports and its place in
# build/demo.dir are reused.
if [ -f "$build/demo.dir" ]; then
    old=$(cat "$build/demo.dir")
    for pidfile in "$old"/*/*.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    rm -rf "$old" "$build/demo.dir"
fi

demo=$(mktemp -d "${TMPDIR:-/tmp}/noaber-demo.XXXXXX")
echo "$demo" >"$build/demo.dir"
nodes="north centre south"

# Three free TCP ports on 127.0.0.1, one per node.
ports=$(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
')

# Stop every node again if the walk-through itself fails half-way.
cleanup_on_error() {
    for pidfile in "$demo"/*/*.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    echo "demo: failed; the nodes' logs are in $demo/*/noaberd.log" >&2
    rm -f "$build/demo.dir"
}
trap cleanup_on_error EXIT

set -- $ports
for n in $nodes; do
    mkdir -m 700 "$demo/$n"
    # Discovery and peer exchange stay off: the invites alone connect the
    # nodes, north - centre - south in a line, so whatever reaches south from
    # north went through centre; and the demo sends nothing to the network.
    cat >"$demo/$n/noaberd.conf" <<EOF
listen = 127.0.0.1:$1
sync_interval = 10s
discovery = off
peer_exchange = off
EOF
    shift
    "$noaberd" --config "$demo/$n/noaberd.conf" --data-dir "$demo/$n/data" \
        --socket "$demo/$n/noaberd.sock" >"$demo/$n/noaberd.log" 2>&1 &
    echo $! >"$demo/$n/noaberd.pid"
done

for n in $nodes; do
    i=0
    until "$noaber" --socket "$demo/$n/noaberd.sock" status >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 100 ] || ! kill -0 "$(cat "$demo/$n/noaberd.pid")" 2>/dev/null; then
            echo "demo: the $n node did not start:" >&2
            cat "$demo/$n/noaberd.log" >&2
            exit 1
        fi
        sleep 0.1
    done
done

if [ -t 1 ]; then
    bold=$(printf '\033[1m')
    dim=$(printf '\033[2m')
    plain=$(printf '\033[0m')
else
    bold=""
    dim=""
    plain=""
fi

# on NODE WHO ARGS...: prints the command as it would be typed on NODE, then runs it.
on() {
    node=$1
    who=$2
    shift 2
    shown=""
    for arg in "$@"; do
        case $arg in
        *" "* | *","*) shown="$shown \"$arg\"" ;;
        *) shown="$shown $arg" ;;
        esac
    done
    case $arg in
    nbi1*) shown=$(printf '%s' "$shown" | sed 's/nbi1[0-9a-z]*/nbi1…/') ;;
    esac
    printf '\n%s[%s] %s$ noaber%s%s\n' "$bold" "$node" "$who" "$shown" "$plain"
    quiet "$node" "$who" "$@"
}

# quiet NODE WHO ARGS...: the same without printing the command.
quiet() {
    node=$1
    who=$2
    shift 2
    "$noaber" --socket "$demo/$node/noaberd.sock" --identity "$demo/$who.identity" "$@"
}

# wait_for NODE WHAT PYTHON-CONDITION ARGS...: runs `noaber --json ARGS` on
# NODE until the condition holds for its parsed output `o`.
wait_for() {
    node=$1
    what=$2
    cond=$3
    shift 3
    printf '%s  … waiting until %s%s\n' "$dim" "$what" "$plain"
    start=$(date +%s)
    until quiet "$node" operator --json "$@" 2>/dev/null |
        python3 -c "import json, sys; o = json.load(sys.stdin); sys.exit(0 if ($cond) else 1)" 2>/dev/null; do
        if [ $(($(date +%s) - start)) -gt 60 ]; then
            echo "demo: after 60 s, still not $what" >&2
            exit 1
        fi
        sleep 0.3
    done
    printf '%s  … done after %ss%s\n' "$dim" "$(($(date +%s) - start))" "$plain"
}

echo "Three Noaber nodes are running on this machine, in $demo:"
set -- $ports
for n in $nodes; do
    printf '  %-7s peers on 127.0.0.1:%s, pid %s\n' "$n" "$1" "$(cat "$demo/$n/noaberd.pid")"
    shift
done

on north operator neighbourhood create "Marollen"

printf '\n%sNorth invites centre; centre invites south.  Each code is a house key.%s\n' "$bold" "$plain"
code=$(quiet north operator --json invite --expires 1h | python3 -c 'import json, sys; print(json.load(sys.stdin)["code"])')
on centre operator join "$code"
code=$(quiet centre operator --json invite --expires 1h | python3 -c 'import json, sys; print(json.load(sys.stdin)["code"])')
on south operator join "$code"
wait_for south "south is connected and up to date" 'o["peers"] >= 1 and o["in_sync"]' status
wait_for centre "centre is linked to both" 'o["peers"] == 2 and o["in_sync"]' status
on centre operator peers

on north alice id new
on south bob id new
bob_key=$(quiet south bob --json id show | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')

on north alice ask --title "Groceries for Mrs Peeters" --category groceries --area Marollen \
    --urgency today --details "Bread, milk and apples." --languages nl,fr
request=$(quiet north alice --json list --mine | python3 -c \
    'import json, sys; print(json.load(sys.stdin)[0]["id"])')
short=$(echo "$request" | cut -c1-8)

wait_for south "the request has crossed centre to south" "any(x['id'] == '$request' for x in o)" list
on south bob list
on south bob respond "$short" --note "I can go at five"

wait_for north "Bob's response is back on north" "len(o['responses']) == 1" show "$short"
on north alice show "$short"
on north alice assign "$short" "$bob_key" --contact "Rue Haute 12, 3rd floor, +32 470 12 34 56"

wait_for south "the assignment, with its sealed contact, is on south" "o['status'] == 'assigned'" show "$short"
on south bob show "$short"
on south bob done "$short"

wait_for north "Bob's done claim is on north" "o['status'] == 'done_claimed'" show "$short"
on north alice confirm "$short" --thanks "Dank je wel, Bob!"

for n in centre south; do
    wait_for "$n" "$n shows the request done" "o['status'] == 'done'" show "$short"
done
for n in $nodes; do
    on "$n" operator status
done

# North's page: noaber-web on 127.0.0.1 (7480 when it is free), and a
# welcome link that admits one browser.
web=$build/web/noaber-web
page=""
if [ -x "$web" ]; then
    webport=$(python3 -c '
import socket
s = socket.socket()
try:
    s.bind(("127.0.0.1", 7480))
except OSError:
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
')
    "$web" --listen "127.0.0.1:$webport" --control-socket "$demo/north/noaberd-member.sock" \
        --page-dir "$build/web/page" >"$demo/north/noaber-web.log" 2>&1 &
    echo $! >"$demo/north/noaber-web.pid"
    link=$(quiet north operator --json welcome --name "you" --host "127.0.0.1:$webport" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["link"])')
    page="
North serves its page to neighbours at http://127.0.0.1:$webport/ (noaber-web).
Open this welcome link in a browser on this machine to join as a neighbour
(it works once; \`$noaber --socket $demo/north/noaberd.sock welcome\` makes another):

  $link
"
fi

trap - EXIT
cat <<EOF
$page
The three nodes keep running.  Try, for example:

  $noaber --socket $demo/north/noaberd.sock --identity $demo/alice.identity ask --title "A lift to the hospital" --category transport --area Marollen
  $noaber --socket $demo/south/noaberd.sock --identity $demo/bob.identity watch
  $noaber --socket $demo/centre/noaberd.sock status
  $noaber --socket $demo/centre/noaberd.sock help

or set NOABER_SOCKET=$demo/north/noaberd.sock and NOABER_IDENTITY=$demo/alice.identity once.
The nodes' logs are $demo/*/noaberd.log.

Stop the nodes and remove their data with:

  ./dev stop        (or: kill $(cat "$demo"/*/*.pid | tr '\n' ' ')&& rm -rf $demo)
EOF
