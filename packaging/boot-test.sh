#!/bin/sh
# Boots a minimal Debian 12 with systemd as PID 1 in a container
# (debootstrap + systemd-nspawn), installs the packages built by `./dev deb`,
# and checks what an operator would: the hardened service starts as the
# noaber user, a member of the noaber group reaches the socket without flags,
# anyone else is told to ask for the group, a restart keeps the records, and
# noaber-web serves the page and the node's /api/info on 127.0.0.1:7480
# while the operator socket is out of its reach.
#
#   packaging/boot-test.sh DEB_DIR WORK_DIR
#
# Prints "N passed, N failed" last.  Exits 77 (skipped) when this machine
# cannot run a container, so the step says so instead of failing.
set -u

debs=$1
work=$2
root="$work/rootfs"
passed=0
failed=0
say() { printf 'boot-test: %s\n' "$*" >&2; }
ok() { passed=$((passed + 1)); say "ok: $*"; }
bad() { failed=$((failed + 1)); say "FAILED: $*"; }
skip() {
    say "SKIP: $*"
    exit 77
}

command -v debootstrap >/dev/null || skip "debootstrap is not installed"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed"

# The bootstrapped system is kept in $work/base and copied afresh for each
# run, so that a run never finds the users and records of the one before.
base="$work/base"
if [ ! -x "$base/lib/systemd/systemd" ]; then
    rm -rf "$base"
    mkdir -p "$work"
    say "debootstrap Debian 12 into $base (about a minute)"
    if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps \
        bookworm "$base" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        skip "debootstrap failed (no access to the Debian archive?)"
    fi
fi
rm -rf "$root"
cp -a "$base" "$root"
echo noaber-boot-test >"$root/etc/hostname"
cp "$debs"/noaberd_*.deb "$debs"/noaber_*.deb "$debs"/noaber-web_*.deb "$root/root/"

nspawn="systemd-nspawn --register=no --keep-unit --quiet -D $root"

# Installing resolves the libraries from the archive, like a real install;
# curl is the browser of the noaber-web checks.
if $nspawn --pipe /bin/sh -c 'apt-get update -qq && apt-get install -y -qq /root/noaberd_*.deb /root/noaber_*.deb /root/noaber-web_*.deb curl' \
    >"$work/install.log" 2>&1; then
    ok "apt-get install of noaberd, noaber and noaber-web in a fresh Debian 12"
else
    tail -n 20 "$work/install.log" >&2
    grep -q "Failed to\|Operation not permitted" "$work/install.log" &&
        skip "systemd-nspawn cannot run here"
    bad "apt-get install of the packages"
    echo "$passed passed, $failed failed"
    exit 1
fi

$nspawn -b --console=passive >"$work/boot.log" 2>&1 &
container=$!
init=""
for _ in $(seq 1 100); do
    init=$(pgrep -P "$container" | head -n 1)
    [ -n "$init" ] && break
    sleep 0.1
done
[ -n "$init" ] || skip "the container did not boot"

# in_container SCRIPT: runs a shell script inside the booted container.
in_container() { nsenter -t "$init" -a /bin/sh -c "$1"; }

active=false
for _ in $(seq 1 60); do
    if [ "$(in_container 'systemctl is-active noaberd' 2>/dev/null)" = active ]; then
        active=true
        break
    fi
    sleep 1
done
if $active; then
    ok "systemctl: noaberd.service is active after boot"
else
    bad "noaberd.service did not become active"
    in_container 'systemctl status noaberd --no-pager; journalctl -u noaberd --no-pager' >&2
fi

if [ "$(in_container 'systemctl show noaberd -p User --value')" = noaber ] &&
    [ "$(in_container 'stat -c %U:%a /var/lib/noaber')" = noaber:700 ] &&
    [ "$(in_container 'stat -c %G:%a /run/noaber/noaberd.sock')" = noaber:660 ] &&
    [ "$(in_container 'stat -c %G:%a /run/noaber/noaberd-member.sock')" = noaber:660 ]; then
    ok "runs as noaber; /var/lib/noaber 0700; both sockets 0660 for group noaber"
else
    bad "user, data directory or socket modes"
fi

in_container 'useradd -m -G noaber neighbour && useradd -m outsider'
if in_container "su neighbour -c 'cd && noaber id new >/dev/null && noaber neighbourhood create Marollen >/dev/null && noaber --json ask --title Groceries --category groceries --area Marollen'" \
    >"$work/ask.json" 2>&1 && grep -q '"id"' "$work/ask.json"; then
    ok "a member of group noaber posts a request with no --socket"
else
    cat "$work/ask.json" >&2
    bad "a member of group noaber could not post"
fi

if in_container "su neighbour -c 'noaber --socket /run/noaber/noaberd-member.sock list'" \
    >"$work/member.log" 2>&1 && grep -q Groceries "$work/member.log"; then
    ok "the member socket lists the request"
else
    cat "$work/member.log" >&2
    bad "noaber --socket /run/noaber/noaberd-member.sock list failed"
fi

in_container "su outsider -c 'noaber status'" >"$work/outsider.log" 2>&1
rc=$?
if [ "$rc" -eq 3 ] && grep -q "noaber group" "$work/outsider.log"; then
    ok "an account outside the group gets exit 3 and is told to ask for the group"
else
    cat "$work/outsider.log" >&2
    bad "outsider: exit $rc"
fi

in_container 'systemctl restart noaberd'
sleep 1
if in_container "su neighbour -c 'noaber --json status'" | grep -q '"records":1'; then
    ok "systemctl restart keeps the record"
else
    bad "the record is missing after a restart"
fi

# noaber-web: it starts after noaberd (and again with it, PartOf=).
active=false
for _ in $(seq 1 60); do
    if [ "$(in_container 'systemctl is-active noaber-web' 2>/dev/null)" = active ] &&
        in_container 'curl -fsS http://127.0.0.1:7480/api/info' >"$work/info.json" 2>/dev/null; then
        active=true
        break
    fi
    sleep 1
done
if $active && grep -q Marollen "$work/info.json"; then
    ok "noaber-web.service is active; GET http://127.0.0.1:7480/api/info names the neighbourhood"
else
    cat "$work/info.json" >&2
    bad "noaber-web.service is not active or /api/info failed"
    in_container 'systemctl status noaber-web --no-pager; journalctl -u noaber-web --no-pager' >&2
fi
if in_container 'curl -fsS http://127.0.0.1:7480/' >"$work/page.html" 2>&1 &&
    grep -q '<html' "$work/page.html" &&
    in_container 'curl -fsSI http://127.0.0.1:7480/' | grep -qi '^content-security-policy:'; then
    ok "GET http://127.0.0.1:7480/ serves the page with its Content-Security-Policy"
else
    head -c 400 "$work/page.html" >&2
    bad "the page is not served"
fi
# Inside the service's mount namespace the member socket answers and the
# operator socket is one nobody can connect to (curl: 7, cannot connect):
# the page can do no more than a neighbour.
pid=$(in_container 'systemctl show noaber-web -p MainPID --value')
uid=$(in_container "stat -c %u /proc/$pid")
if [ "$(in_container 'systemctl show noaber-web -p User --value')" = noaber-web ] &&
    [ -n "$uid" ] && [ "$uid" != 0 ] && [ "$uid" != "$(in_container 'id -u noaber')" ]; then
    ok "noaber-web runs as its own dynamic user (uid $uid)"
else
    bad "noaber-web's user (uid ${uid:-none})"
fi
in_container "nsenter -t $pid -m curl -s --max-time 5 --unix-socket /run/noaber/noaberd-member.sock http://node/" >/dev/null 2>&1
member_rc=$?
in_container "nsenter -t $pid -m curl -s --max-time 5 --unix-socket /run/noaber/noaberd.sock http://node/" >/dev/null 2>&1
operator_rc=$?
if [ "$member_rc" -ne 7 ] && [ "$operator_rc" -eq 7 ]; then
    ok "noaber-web reaches the member socket and not the operator socket"
else
    bad "noaber-web's view of /run/noaber (curl: member $member_rc, operator $operator_rc)"
fi
# Listening sockets in /proc/net/tcp: local address 127.0.0.1:7480 is
# 0100007F:1D38, every address 00000000:1D38; state 0A is LISTEN.
listening=$(in_container 'cat /proc/net/tcp /proc/net/tcp6' | awk '$4 == "0A" { print $2 }')
if echo "$listening" | grep -qx '0100007F:1D38' && ! echo "$listening" | grep -v '^0100007F:' | grep -q ':1D38$'; then
    ok "noaber-web listens on 127.0.0.1:7480 only"
else
    bad "noaber-web does not listen on 127.0.0.1:7480 alone: $(echo "$listening" | tr '\n' ' ')"
fi

in_container 'systemctl poweroff' >/dev/null 2>&1
for _ in $(seq 1 30); do
    kill -0 "$container" 2>/dev/null || break
    sleep 1
done
kill "$container" 2>/dev/null
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
