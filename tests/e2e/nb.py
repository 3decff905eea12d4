"""Shared helpers for Noaber's end-to-end tests (python3 standard library only).

They drive the real binaries from NOABER_BUILD_ROOT: `Node` runs one noaberd in
a temporary directory and always kills it; `Member` runs noaber with its own
identity file against that node; `Control` speaks the control API directly
(docs/control-api.md), for what the client would never send.
"""

import glob
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BUILD_ROOT = os.environ.get("NOABER_BUILD_ROOT", "")
NOABERD = os.path.join(BUILD_ROOT, "daemon", "noaberd")
NOABER = os.path.join(BUILD_ROOT, "client", "noaber")

# Exit codes of noaber (docs/client.md).
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED = 0, 1, 2, 3, 4


def require_binaries():
    for exe in (NOABERD, NOABER):
        if not os.access(exe, os.X_OK):
            sys.exit("e2e: %s is not built (set NOABER_BUILD_ROOT to the build directory)" % exe)


# --- msgpack, just enough for the control API ---------------------------------


def mp_pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if v < 0:
            raise ValueError("negative integers are not used by the control API")
        if v < 0x80:
            return bytes([v])
        if v < 0x100:
            return b"\xcc" + struct.pack(">B", v)
        if v < 0x10000:
            return b"\xcd" + struct.pack(">H", v)
        if v < 0x100000000:
            return b"\xce" + struct.pack(">I", v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) < 0x100:
            return b"\xd9" + struct.pack(">B", len(b)) + b
        if len(b) < 0x10000:
            return b"\xda" + struct.pack(">H", len(b)) + b
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        if len(v) < 0x100:
            return b"\xc4" + struct.pack(">B", len(v)) + bytes(v)
        if len(v) < 0x10000:
            return b"\xc5" + struct.pack(">H", len(v)) + bytes(v)
        return b"\xc6" + struct.pack(">I", len(v)) + bytes(v)
    if isinstance(v, (list, tuple)):
        head = bytes([0x90 | len(v)]) if len(v) < 16 else b"\xdc" + struct.pack(">H", len(v))
        return head + b"".join(mp_pack(x) for x in v)
    if isinstance(v, dict):
        head = bytes([0x80 | len(v)]) if len(v) < 16 else b"\xde" + struct.pack(">H", len(v))
        return head + b"".join(mp_pack(k) + mp_pack(x) for k, x in v.items())
    raise TypeError("cannot pack %r" % type(v))


def mp_unpack(data):
    """Decodes one msgpack object; raises ValueError on anything else."""
    v, end = _unpack(data, 0, 0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return v


def _take(data, pos, n):
    if pos + n > len(data):
        raise ValueError("truncated")
    return data[pos : pos + n], pos + n


def _unpack(data, pos, depth):
    if depth > 32:
        raise ValueError("too deep")
    b, pos = _take(data, pos, 1)
    t = b[0]
    if t < 0x80:
        return t, pos
    if t >= 0xE0:
        return t - 0x100, pos
    if 0x80 <= t <= 0x8F:
        return _map(data, pos, t & 0x0F, depth)
    if 0x90 <= t <= 0x9F:
        return _array(data, pos, t & 0x0F, depth)
    if 0xA0 <= t <= 0xBF:
        s, pos = _take(data, pos, t & 0x1F)
        return s.decode(), pos
    if t == 0xC0:
        return None, pos
    if t == 0xC2:
        return False, pos
    if t == 0xC3:
        return True, pos
    sizes = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
    if t in sizes:
        fmt = sizes[t]
        raw, pos = _take(data, pos, struct.calcsize(fmt))
        return struct.unpack(fmt, raw)[0], pos
    lens = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I", 0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}
    if t in lens:
        fmt = lens[t]
        raw, pos = _take(data, pos, struct.calcsize(fmt))
        n = struct.unpack(fmt, raw)[0]
        body, pos = _take(data, pos, n)
        return (bytes(body) if t in (0xC4, 0xC5, 0xC6) else body.decode()), pos
    if t in (0xDC, 0xDD, 0xDE, 0xDF):
        fmt = ">H" if t in (0xDC, 0xDE) else ">I"
        raw, pos = _take(data, pos, struct.calcsize(fmt))
        n = struct.unpack(fmt, raw)[0]
        if n > len(data) - pos:
            raise ValueError("count larger than the input")
        return (_array if t in (0xDC, 0xDD) else _map)(data, pos, n, depth)
    raise ValueError("unsupported msgpack type 0x%02x" % t)


def _array(data, pos, n, depth):
    out = []
    for _ in range(n):
        v, pos = _unpack(data, pos, depth + 1)
        out.append(v)
    return out, pos


def _map(data, pos, n, depth):
    out = {}
    for _ in range(n):
        k, pos = _unpack(data, pos, depth + 1)
        v, pos = _unpack(data, pos, depth + 1)
        out[k] = v
    return out, pos


class Control:
    """A raw control-API connection, for tests that bypass the client."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.next_id = 1

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_frame(self, body):
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def read_frame(self):
        """The next reply map, or None when the daemon closed the connection."""
        head = self._read(4)
        if head is None:
            return None
        (n,) = struct.unpack(">I", head)
        if n == 0 or n > 1 << 20:
            raise ValueError("bad frame length %d" % n)
        body = self._read(n)
        if body is None:
            return None
        return mp_unpack(body)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def call(self, op, **args):
        msg = {"v": 1, "id": self.next_id, "op": op}
        msg.update(args)
        self.next_id += 1
        self.send_frame(mp_pack(msg))
        reply = self.read_frame()
        if reply is None:
            raise ConnectionError("noaberd closed the connection")
        if reply.get("id") != msg["id"]:
            raise ValueError("reply id %r for request %r" % (reply.get("id"), msg["id"]))
        return reply


# --- signed records, for tests that bypass the client --------------------------
#
# Ed25519 (RFC 8032) in pure Python: slow, but enough to sign a few records.

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _x_from_y(y):
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * SQRT_M1 % P
    return P - x if x & 1 else x


_BY = 4 * pow(5, P - 2, P) % P
_BX = _x_from_y(_BY)
BASE = (_BX, _BY, 1, _BX * _BY % P)


def _add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _encode_point(pt):
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


class Signer:
    """A member key signing in Python, as libsodium derives it from the
    32-byte seed (or from one seed byte repeated): for tests that submit what
    the client would never sign -- records dated on purpose, another member's
    retraction, a flood."""

    def __init__(self, seed):
        if isinstance(seed, int):
            seed = bytes([seed]) * 32
        h = hashlib.sha512(seed).digest()
        a = int.from_bytes(h[:32], "little")
        a &= (1 << 254) - 8
        a |= 1 << 254
        self.scalar = a
        self.prefix = h[32:]
        self.pk = _encode_point(_mul(a, BASE))

    def sign(self, msg):
        r = int.from_bytes(hashlib.sha512(self.prefix + msg).digest(), "little") % L
        big_r = _encode_point(_mul(r, BASE))
        k = int.from_bytes(hashlib.sha512(big_r + self.pk + msg).digest(), "little") % L
        return big_r + ((r + k * self.scalar) % L).to_bytes(32, "little")


KIND = {"request": 1, "offer": 2, "response": 3, "retraction": 9, "profile": 10}
F_TITLE, F_CATEGORY, F_AREA, F_EXPIRES_AT, F_TARGET, F_NOTE = 1, 3, 9, 10, 12, 14


def make_record(signer, nid, kind, body, created_at=None):
    """A signed record (docs/protocol.md, "Records") and its id: canonical
    msgpack, the signature over the neighbourhood id and the prefix."""
    created_at = int(time.time()) if created_at is None else created_at
    unsigned = b"\x96" + mp_pack(1) + mp_pack(KIND[kind]) + mp_pack(signer.pk) + \
        mp_pack(created_at) + mp_pack(dict(sorted(body.items())))
    sig = signer.sign(b"noaber/record/v1" + nid + unsigned)
    data = unsigned + mp_pack(sig)
    return data, hashlib.blake2b(data, digest_size=32).digest()


def request_body(title, expires_in=3600, now=None):
    now = int(time.time()) if now is None else now
    return {F_TITLE: title, F_CATEGORY: 0, F_AREA: "Marollen", F_EXPIRES_AT: now + expires_in}


# --- processes -----------------------------------------------------------------



# libfaketime, preloaded straight into the program.  libfaketime (and the
# `faketime` wrapper, a process of its own) keeps a semaphore and shared
# memory named by pid in /dev/shm, removed when the process exits properly.
# The wrapper never exits properly when the test stops the node, and a node
# killed with SIGKILL cannot; once the pid comes round again, the next
# faked process fails ("sem_open: File exists").  So the program is
# preloaded through `env` (it is the process the test signals, and it exits
# properly on SIGTERM), and what dead processes left is removed first.
FAKETIME_LIBS = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))


def _remove_dead_faketime_leftovers():
    for path in glob.glob("/dev/shm/faketime_shm_*") + glob.glob("/dev/shm/sem.faketime_sem_*"):
        try:
            pid = int(path.rsplit("_", 1)[1])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            try:
                os.unlink(path)
            except OSError:
                pass
        except OSError:
            continue


def faketime(clock):
    """The argv prefix that runs a program with its wall clock `clock` off
    (libfaketime's relative form: "+365d", "-1d", "+25h")."""
    if not FAKETIME_LIBS:
        raise unittest.SkipTest("libfaketime is not installed (Debian package faketime)")
    return ["env", "LD_PRELOAD=" + FAKETIME_LIBS[0], "FAKETIME=" + clock]


class Node:
    """One noaberd in a fresh temporary directory; use as a context manager."""

    def __init__(self, name="node", peer_port=None, discovery=False, config=(), tmp=None,
                 clock=None):
        """peer_port: accept other nodes on 127.0.0.1:peer_port (see NetNode).
        discovery: leave LAN discovery on (every other test turns it off).
        config: extra lines for the node's config file.
        tmp: a directory of the caller's for the node's files (else a new one).
        clock: an offset such as "+1d" or "-365d": noaberd, and the noaber of
        its members, run under libfaketime with their clocks that far off."""
        self.tmp = tmp if tmp is not None else tempfile.mkdtemp(prefix="nb-e2e-")
        self.name = name
        self.peer_port = peer_port
        self.discovery = discovery
        self.config_lines = list(config)
        self.data_dir = os.path.join(self.tmp, "data")
        self.socket = os.path.join(self.tmp, "noaberd.sock")
        # The member socket's default place: beside the operator's socket.
        self.member_socket = os.path.join(self.tmp, "noaberd-member.sock")
        self.log_path = os.path.join(self.tmp, "noaberd.log")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home, exist_ok=True)
        self.proc = None
        self._log = None
        self.wrapper = faketime(clock) if clock else []

    def env(self):
        env = dict(os.environ)
        env["HOME"] = self.home
        env["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        env["XDG_DATA_HOME"] = os.path.join(self.home, ".local", "share")
        env["XDG_RUNTIME_DIR"] = os.path.join(self.home, "run")
        # Nor the places systemd would give a service.
        for k in ("NOABER_SOCKET", "NOABER_IDENTITY", "STATE_DIRECTORY", "RUNTIME_DIRECTORY"):
            env.pop(k, None)
        # noaber speaks English unless a test asks for a language (Member.run's
        # env), from the catalogs of this build, not the installed ones.
        env.pop("LANGUAGE", None)
        env.pop("LC_MESSAGES", None)
        env["LC_ALL"] = "C.UTF-8"
        env["NOABER_LOCALEDIR"] = os.path.join(BUILD_ROOT, "po")
        if self.wrapper:
            # Only the wall clock is off: timers run on the monotonic one.
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
            # faketime preloads libfaketime before ASan's runtime; ASan then
            # refuses to start unless told that the order is deliberate.
            if "ASAN_OPTIONS" in env:
                env["ASAN_OPTIONS"] += ":verify_asan_link_order=0"
        return env

    @property
    def address(self):
        """Where other nodes reach this one ("127.0.0.1:PORT")."""
        return "127.0.0.1:%d" % self.peer_port

    def argv(self):
        if self.wrapper:
            _remove_dead_faketime_leftovers()
        argv = self.wrapper + [NOABERD, "--data-dir", self.data_dir, "--socket", self.socket, "--log-level", "debug"]
        # Tests never send beacons to the machine's network unless they are
        # about discovery.
        if not self.discovery:
            argv.append("--no-discovery")
        lines = list(self.config_lines)
        if self.peer_port is not None:
            lines.append("listen = %s" % self.address)
        else:
            # A port of its own, never the machine's 7447: tests run side by side.
            argv += ["--listen", "127.0.0.1:0"]
        if lines:
            path = os.path.join(self.tmp, "noaberd.conf")
            with open(path, "w") as f:
                f.write("".join(line + "\n" for line in lines))
            argv += ["--config", path]
        return argv

    def start(self, timeout=20):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            # A node under a fake clock is signalled as a group (stop(),
            # kill9()), whatever runs it.
            start_new_session=bool(self.wrapper),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("noaberd exited with %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                with Control(self.socket, timeout=5) as c:
                    if c.call("hello").get("ok"):
                        return self
            except (OSError, ValueError, ConnectionError):
                pass
            time.sleep(0.05)
        raise RuntimeError("noaberd did not answer on %s:\n%s" % (self.socket, self.log()))

    def _signal(self, sig):
        if self.wrapper:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        else:
            self.proc.send_signal(sig)

    def _wait_group(self, timeout):
        """Waits for the process and, under a wrapper, for its whole group."""
        self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while self.wrapper:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.argv(), timeout)
            time.sleep(0.05)

    def stop(self):
        """SIGTERM, then SIGKILL if it does not stop within 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._wait_group(10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._wait_group(10)
        self.stopped()

    def kill9(self):
        if self.proc is not None:
            self._signal(signal.SIGKILL)
            self._wait_group(10)
        self.stopped()

    def stopped(self):
        """Forgets the process, which has exited, and closes its log."""
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def control(self):
        return Control(self.socket)

    def files(self):
        """Every file the node wrote: its data directory and its log."""
        paths = [self.log_path]
        for top, _, names in os.walk(self.data_dir):
            paths += [os.path.join(top, n) for n in names]
        return paths

    def assert_nowhere_in_clear(self, needles, extra=()):
        """None of the texts (nor their UTF-16 form) is in any file of the
        node, its database's WAL included, or in the extra paths."""
        paths = self.files()
        if not [p for p in paths if p.endswith("-wal")]:
            raise AssertionError("%s: no WAL file among %r" % (self.name, paths))
        for path in list(paths) + list(extra):
            with open(path, "rb") as f:
                data = f.read()
            for needle in needles:
                for form in (needle.encode(), needle.encode("utf-16-le")):
                    if form in data:
                        raise AssertionError("%r found in %s" % (needle, path))

    def member_control(self):
        """A connection on the member socket (the member role)."""
        return Control(self.member_socket)

    def member(self, name, socket=None):
        """socket: the socket its noaber uses (default the operator's)."""
        return Member(self, name, socket)

    def create_neighbourhood(self, name="Marollen"):
        m = Member(self, "operator")
        return m.ok("neighbourhood", "create", name)

    def cleanup(self):
        try:
            self.kill9()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class Result:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "noaber %s -> exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(self.args),
            self.rc,
            self.out,
            self.err,
        )


class Member:
    """A neighbour with an identity file, running noaber against one node."""

    def __init__(self, node, name, socket=None):
        self.node = node
        self.name = name
        self.socket = socket if socket is not None else node.socket
        self.identity = os.path.join(node.tmp, "identity-" + name)
        self._key = None

    def run(self, *args, json_out=True, timeout=60, stdin=None, env=None):
        """stdin: text for noaber's standard input (else it reads nothing);
        env: variables to add, such as {"LANGUAGE": "fr"}."""
        if self.node.wrapper:
            _remove_dead_faketime_leftovers()
        argv = self.node.wrapper + [NOABER, "--socket", self.socket, "--identity", self.identity]
        if json_out:
            argv.append("--json")
        argv += list(args)
        proc = subprocess.run(
            argv,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(self.node.env(), **(env or {})),
        )
        return Result(list(args), proc)

    def ok(self, *args):
        """Runs a command that must succeed; returns its parsed JSON."""
        r = self.run(*args)
        if r.rc != 0:
            raise AssertionError("%s failed: %r" % (self.name, r))
        try:
            return r.json()
        except ValueError:
            raise AssertionError("%s: not JSON: %r" % (self.name, r))

    def new_identity(self):
        self._key = self.ok("id", "new")["key"]
        return self._key

    @property
    def key(self):
        if self._key is None:
            self._key = self.ok("id", "show")["key"]
        return self._key

    def signer(self):
        """A Signer with this member's seed, read from the identity file."""
        with open(self.identity) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "secret":
                    return Signer(base32_checked_decode(parts[1], "nbs1", "noaber/secret-seed/v1"))
        raise AssertionError("%s: the identity file has no secret line" % self.name)

    def ask(self, title="Groceries from the market", category="groceries", area="Marollen", *extra):
        return self.ok("ask", "--title", title, "--category", category, "--area", area, *extra)["id"]

    def offer(self, title="Lifts to the hospital on Tuesdays", category="transport", area="Marollen", *extra):
        return self.ok("offer", "--title", title, "--category", category, "--area", area, *extra)["id"]

    def show(self, rid):
        return self.ok("show", rid)

    def watch(self, *args):
        """Starts `noaber --json watch ARGS`; use the Watch as a context manager."""
        return Watch(self, args)


class Watch:
    """A running `noaber --json watch`, read one JSON line at a time."""

    def __init__(self, member, args):
        argv = [NOABER, "--socket", member.node.socket, "--identity", member.identity, "--json", "watch"]
        self.proc = subprocess.Popen(argv + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=member.node.env())

    def next(self, timeout=20, skip=()):
        """The next event whose kind is not in `skip`, or None when none
        arrives within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                return None
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("watch ended: %s" % self.proc.stderr.read())
            event = json.loads(line)
            if event.get("kind") not in skip:
                return event

    def started(self, poke, timeout=20):
        """Calls poke() until an event arrives (the daemon has then begun to
        send events to this watch); returns that event."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            poke()
            event = self.next(0.5)
            if event is not None:
                return event
        raise AssertionError("watch printed nothing within %d s" % timeout)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- several nodes -------------------------------------------------------------

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def base32_checked_encode(prefix, context, payload):
    """docs/protocol.md, "Textual form": prefix || base32(payload || checksum)."""
    data = payload + hashlib.blake2b(context.encode() + payload, digest_size=32).digest()[:4]
    bits = "".join("{:08b}".format(b) for b in data)
    bits += "0" * (-len(bits) % 5)
    return prefix + "".join(ALPHABET[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def base32_checked_decode(text, prefix, context):
    text = text.strip().lower()
    if not text.startswith(prefix):
        raise ValueError("not a %s text" % prefix)
    text = text[len(prefix) :].replace("o", "0").replace("i", "1").replace("l", "1")
    bits = "".join("{:05b}".format(ALPHABET.index(c)) for c in text)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits) - 7, 8))
    payload, checksum = data[:-4], data[-4:]
    if hashlib.blake2b(context.encode() + payload, digest_size=32).digest()[:4] != checksum:
        raise ValueError("checksum")
    return payload


def base32_sized_encode(prefix, context, payload):
    """docs/protocol.md, "Invites": the payload's length in two characters
    after the prefix, then the checked form."""
    n = len(payload)
    return base32_checked_encode(prefix + ALPHABET[n >> 5] + ALPHABET[n & 31], context, payload)


def base32_sized_decode(text, prefix, context):
    text = text.strip().lower()
    if not text.startswith(prefix) or len(text) < len(prefix) + 2:
        raise ValueError("not a %s text" % prefix)
    n = ALPHABET.index(text[len(prefix)]) << 5 | ALPHABET.index(text[len(prefix) + 1])
    payload = base32_checked_decode(text, text[: len(prefix) + 2], context)
    if len(payload) != n:
        raise ValueError("length")
    return payload


def invite_decode(code):
    """An invite code's contents (docs/protocol.md, "Invites")."""
    fields = mp_unpack(base32_sized_decode(code, "nbi1", "noaber/invite/v1"))
    if fields[0] != 1:
        raise ValueError("invite version %r" % fields[0])
    return {
        "name": fields[1],
        "key": fields[2],
        "expires_at": fields[3],
        "addresses": [(bytes(k), a) for k, a in fields[4]],
    }


def invite_encode(name, key, expires_at, addresses):
    payload = mp_pack([1, name, key, expires_at, [[k, a] for k, a in addresses]])
    return base32_sized_encode("nbi1", "noaber/invite/v1", payload)


def invite_only_maker(code):
    """The same invite naming only the node that made it (its first address).

    An invite also names up to four nodes its maker is connected to; tests
    that build a fixed topology (a line, a ring) keep only the maker."""
    inv = invite_decode(code)
    return invite_encode(inv["name"], inv["key"], inv["expires_at"], inv["addresses"][:1])


def qr_from_blocks(lines):
    """The module matrix (True = dark) drawn with half blocks, as `noaber
    invite --qr` and `noaber welcome --qr` draw it: a block is light, a space
    dark, two rows per line."""
    top = {"\u2588": False, "\u2580": False, "\u2584": True, " ": True}
    bottom = {"\u2588": False, "\u2580": True, "\u2584": False, " ": True}
    rows = []
    for line in lines:
        rows.append([top[c] for c in line])
        rows.append([bottom[c] for c in line])
    return rows


def qr_blocks(text):
    """The lines of `text` that are a half-block QR drawing."""
    return [l for l in text.split("\n")
            if l and set(l) <= set("\u2588\u2580\u2584 ") and "\u2588" in l]


def qrencode_modules(text, level="L", margin=4):
    """The module matrix (True = dark, with a quiet zone of `margin`) that
    libqrencode's own tool draws for `text` in byte mode at `level`, or None
    when the qrencode tool is not installed."""
    if shutil.which("qrencode") is None:
        return None
    art = subprocess.run(["qrencode", "-l", level, "-8", "-m", str(margin), "-t", "ASCII", text],
                         capture_output=True, text=True, check=True).stdout
    return [[line[i : i + 2] == "##" for i in range(0, len(line), 2)]
            for line in art.rstrip("\n").split("\n")]


def free_port():
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, fn, timeout=60, interval=0.2):
    """Polls fn() until it returns something true; returns it, or fails
    saying what did not happen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except AssertionError as e:
            last = e
        if last and not isinstance(last, AssertionError):
            return last
        if time.monotonic() > deadline:
            raise AssertionError("after %d s, still not %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


class NetNode(Node):
    """A node that accepts other nodes on 127.0.0.1 at a fixed free port (so
    it comes back at the same address after a restart), with a short
    reconciliation interval; LAN discovery off unless asked.  Every node of
    a test listens on loopback, so it dials loopback addresses other nodes
    name (peer_exchange_allow_loopback, off by default)."""

    def __init__(self, name, sync_interval="2s", config=(), allow_loopback=True, **kw):
        config = ["sync_interval = " + sync_interval] + list(config)
        if allow_loopback:
            config.append("peer_exchange_allow_loopback = on")
        super().__init__(name, peer_port=free_port(), config=config, **kw)
        self.operator = Member(self, "operator")

    def __repr__(self):
        return "<node %s %s>" % (self.name, self.address)

    @property
    def node_key(self):
        """The node's public key (bytes), from its key file."""
        with open(os.path.join(self.data_dir, "node.key")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "node":
                    return base32_checked_decode(parts[1], "nbn1", "noaber/node-key/v1")
        raise AssertionError("%s: node.key has no node line" % self.name)

    def invite(self, *args):
        return self.operator.ok("invite", *args)["code"]

    def join(self, code):
        return self.operator.ok("join", code)

    def status(self):
        return self.operator.ok("status")

    def call(self, op, **args):
        """One control-API call that must succeed; returns its result."""
        with self.control() as c:
            reply = c.call(op, **args)
        if not reply.get("ok"):
            raise AssertionError("%s: %s failed: %r" % (self.name, op, reply))
        return reply["result"]

    def peers(self):
        """The rows of the control API's `peers` (node keys as bytes)."""
        return self.call("peers")

    def connected_keys(self):
        """Node keys (bytes) this node has an established link with."""
        return {p["node"] for p in self.peers() if p["state"] == "connected" and p["node"]}

    def has(self, rid):
        """Whether the node holds the record with this id (or id prefix)."""
        with self.control() as c:
            return c.call("get", prefix=rid).get("ok", False)

    def ids(self, **filters):
        """Ids of the requests and offers `list` shows (up to 500)."""
        return {item["id"].hex() for item in self.call("list", limit=500, **filters)["items"]}


class Relay:
    """A TCP relay on 127.0.0.1 to `port` that counts the bytes each way and,
    with `rate` (bytes a second each way), paces them as a slow link would:
    nodes that dial the relay's address reach the node at `port`."""

    def __init__(self, port, rate=None, keep=False):
        self.target = port
        self.rate = rate
        # With `keep`, every byte that crossed is kept (both ways, in
        # order of arrival) for tests that search a capture of the wire.
        self.kept = bytearray() if keep else None
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.up = self.down = 0
        self.lock = threading.Lock()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.server.accept()
            except OSError:
                return
            try:
                t = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            self.socks += [c, t]
            threading.Thread(target=self._pump, args=(c, t, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(t, c, "down"), daemon=True).start()

    def _pump(self, src, dst, way):
        chunk = 1 << 16 if self.rate is None else max(1, min(1 << 16, self.rate // 50))
        due = time.monotonic()
        while True:
            try:
                data = src.recv(chunk)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:
                if way == "up":
                    self.up += len(data)
                else:
                    self.down += len(data)
                if self.kept is not None:
                    self.kept += data
            if self.rate is not None:
                # Each chunk leaves when the link would have carried it.
                due = max(due, time.monotonic()) + len(data) / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
            try:
                dst.sendall(data)
            except OSError:
                return

    def counts(self):
        with self.lock:
            return self.up, self.down

    def capture(self):
        """The bytes kept so far (`keep=True`)."""
        with self.lock:
            return bytes(self.kept)

    def close(self):
        self.server.close()
        for s in self.socks:
            s.close()


class NodeTest(unittest.TestCase):
    """A test case with one running node with a neighbourhood and three members.
    A subclass sets `config` to lines of noaberd.conf its node needs."""

    config = ()

    def setUp(self):
        require_binaries()
        self.node = Node(config=list(self.config))
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.node.create_neighbourhood("Marollen")
        self.alice = self.node.member("alice")
        self.bob = self.node.member("bob")
        self.carol = self.node.member("carol")
        for m in (self.alice, self.bob, self.carol):
            m.new_identity()

    def assertRefused(self, result, *words):
        """Exit code 4 and a sentence on stderr that mentions the reason."""
        self.assertEqual(result.rc, EXIT_REFUSED, repr(result))
        self.assertIn("refused", result.err, repr(result))
        self.assertEqual(result.out, "", repr(result))
        for w in words:
            self.assertIn(w.lower(), result.err.lower(), repr(result))


def main():
    require_binaries()
    unittest.main(verbosity=2)
