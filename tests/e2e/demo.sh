#!/bin/sh
# `./dev run`: a small local neighbourhood to try Noaber by hand.
#
# Starts one noaberd with a fresh data directory in the background, creates a
# neighbourhood, makes two identities (Alice and Bob), walks a request through
# its lifecycle printing each command and its output, then leaves the node
# running and prints the commands to try and how to stop it.
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

demo=$(mktemp -d "${TMPDIR:-/tmp}/noaber-demo.XXXXXX")
socket=$demo/noaberd.sock
alice=$demo/alice.identity
bob=$demo/bob.identity

"$noaberd" --data-dir "$demo/data" --socket "$socket" >"$demo/noaberd.log" 2>&1 &
pid=$!
echo "$pid" >"$demo/noaberd.pid"

# Stop the node again if the walk-through itself fails half-way.
cleanup_on_error() {
    kill "$pid" 2>/dev/null || true
    echo "demo: failed; the node's log is $demo/noaberd.log" >&2
}
trap cleanup_on_error EXIT

i=0
until "$noaber" --socket "$socket" status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "demo: noaberd did not start:" >&2
        cat "$demo/noaberd.log" >&2
        exit 1
    fi
    sleep 0.1
done

if [ -t 1 ]; then
    bold=$(printf '\033[1m')
    plain=$(printf '\033[0m')
else
    bold=""
    plain=""
fi

# run WHO ARGS...: prints the command as a neighbour would type it, then runs it.
run() {
    who=$1
    shift
    shown=""
    for arg in "$@"; do
        case $arg in
        *" "* | *","*) shown="$shown \"$arg\"" ;;
        *) shown="$shown $arg" ;;
        esac
    done
    printf '\n%s%s$ noaber%s%s\n' "$bold" "$who" "$shown" "$plain"
    case $who in
    alice) "$noaber" --socket "$socket" --identity "$alice" "$@" ;;
    bob) "$noaber" --socket "$socket" --identity "$bob" "$@" ;;
    *) "$noaber" --socket "$socket" "$@" ;;
    esac
}

# json_field NAME: prints one field of the JSON object on stdin.
json_field() {
    field=$1
    shift
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$field"
}

echo "A Noaber node is running in $demo (pid $pid)."
run operator neighbourhood create "Marollen"
run alice id new
run bob id new
bob_key=$("$noaber" --json --identity "$bob" id show | json_field key)

run alice ask --title "Groceries for Mrs Peeters" --category groceries --area Marollen \
    --urgency today --details "Bread, milk and apples." --languages nl,fr
request=$("$noaber" --socket "$socket" --identity "$alice" --json list --mine | python3 -c \
    'import json, sys; print(json.load(sys.stdin)[0]["id"][:8])')
run bob list
run bob respond "$request" --note "I can go at five"
run alice show "$request"
run alice assign "$request" "$bob_key" --contact "Rue Haute 12, 3rd floor, +32 470 12 34 56"
run bob show "$request"
run bob done "$request"
run alice confirm "$request" --thanks "Dank je wel, Bob!"
run alice show "$request"
run operator status

trap - EXIT
cat <<EOF

The node keeps running.  Try, for example:

  $noaber --socket $socket --identity $alice ask --title "A lift to the hospital" --category transport --area Marollen
  $noaber --socket $socket --identity $bob list
  $noaber --socket $socket --identity $bob watch
  $noaber --socket $socket help

or set NOABER_SOCKET=$socket and NOABER_IDENTITY=$alice once.

Stop the node and remove its data with:

  kill $pid && rm -rf $demo
EOF
