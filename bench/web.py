"""The web page's figures (bench/README.md, "7. The page"), for bench/run.py.

Everything runs on the real code: noaberd with a store made by
bench-make-store, noaber-web on 127.0.0.1 in front of its member socket, the
built page in Debian's Chromium (headless, through selenium, as the browser
tests drive it).  Each figure has its baseline measured in the same run.
"""

import base64
import hashlib
import http.client
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "web"))

# The transfer sizes of the page's own files, from the Performance API: the
# document and every file but the API's answers (data, not the page), as the
# browser counted them: compressed bodies and headers; a 304 costs its
# headers only.
MEASURE_BYTES = """
const n = performance.getEntriesByType('navigation')[0];
const r = performance.getEntriesByType('resource').filter((e) => !e.name.includes('/api/'));
return {bytes: n.transferSize + r.reduce((s, e) => s + e.transferSize, 0), files: r.length + 1};
"""

# Installed in every new document before the page's code runs: notes the
# milliseconds from the start of the navigation until the list of requests
# near you has its cards.
LIST_WATCH = """
new MutationObserver((changes, observer) => {
  const cards = document.querySelectorAll('#near-list li[data-id]').length;
  if (cards > 0) {
    window.noaberBenchListShown = {ms: performance.now(), cards: cards};
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""

# The same list fetched and parsed by the page's origin, without verifying
# or drawing it: what the list costs before the page's own work.
LIST_FETCH = """
const done = arguments[arguments.length - 1];
const t0 = performance.now();
fetch('/api/list?kind=request&status=open&limit=100', {cache: 'no-store'})
  .then((r) => r.json())
  .then((j) => done({ms: performance.now() - t0, items: j.items.length}));
"""

BENCH_SEED = hashlib.blake2b(b"noaber/bench/member/0", digest_size=32).digest()


def browser_support():
    """None when Chromium, its driver and selenium are installed, else why
    the page's figures cannot be measured."""
    try:
        import browser
    except Exception as e:  # selenium's import can fail in many ways
        return "the browser harness cannot be loaded: %s" % e
    missing = [name for name, ok in (("python3-selenium", browser.webdriver is not None),
                                      ("chromium", browser.chromium_binary() is not None),
                                      ("chromium-driver", browser.driver_binary() is not None))
               if not ok]
    return "not installed: %s" % ", ".join(missing) if missing else None


def expected(p):
    return ["web.first_load_bytes", "web.cached_load_bytes",
            "web.list_shown_ms.open=%d" % p["web_open"],
            "web.list_rps", "web.file_rps", "web.submit_rps"]


class Http:
    """One keep-alive HTTP connection to noaber-web, as the page's origin."""

    def __init__(self, port):
        self.origin = "http://127.0.0.1:%d" % port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = None

    def call(self, method, path, body=None, decode=True):
        headers = {"Origin": self.origin}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        cookie = r.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        if r.status != 200:
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:200]))
        return json.loads(data) if decode else data

    def sign_in(self, nb, signer):
        """The page's sign-in (docs/web.md, "Sessions"), in Python."""
        nid = bytes.fromhex(self.call("GET", "/api/info")["neighbourhood_id"])
        ch = self.call("POST", "/api/session/challenge", {})
        msg = ch["context"].encode() + nid + base64.b64decode(ch["challenge"])
        self.call("POST", "/api/session", {"member": signer.pk.hex(), "challenge": ch["challenge"],
                                           "signature": base64.b64encode(signer.sign(msg)).decode()})

    def close(self):
        self.conn.close()


def control_raw(nb, c, op, **args):
    """One control call whose reply is read but not decoded: the benchmark
    clients of both sides leave the decoding of a reply to their user, so
    that Python's msgpack and JSON speeds are not what is compared."""
    c.send_frame(nb.mp_pack(dict({"v": 1, "id": 1, "op": op}, **args)))
    (n,) = struct.unpack(">I", c._read(4))
    body = c._read(n)
    if body is None or b"\xa2ok\xc3" not in body:
        raise RuntimeError("%s failed: %r" % (op, nb.mp_unpack(body) if body else None))
    return body


class WebBench:
    def __init__(self, bench, nb, error, read_records, log):
        self.b = bench
        self.nb = nb
        self.error = error
        self.read_records = read_records
        self.log = log
        self.p = bench.p
        self.exe = os.path.join(bench.build, "web", "noaber-web")
        self.page = os.path.join(bench.build, "web", "page")
        self.procs = []

    def start_web(self, daemon):
        port = self.free_port()
        log = open(os.path.join(daemon.dir, "noaber-web.log"), "ab")
        member = daemon.socket[: -len(".sock")] + "-member.sock"
        proc = subprocess.Popen([self.exe, "--listen", "127.0.0.1:%d" % port,
                                 "--control-socket", member, "--page-dir", self.page,
                                 "--log-level", "warn"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        deadline = time.monotonic() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/api/info")
                if c.getresponse().status == 200:
                    c.close()
                    return port, member
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise self.error("noaber-web did not start (see %s)" % log.name)
            time.sleep(0.02)

    def free_port(self):
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def stop(self):
        for proc, log in self.procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()

    def run(self):
        import browser

        p = self.p
        d = self.b.node_with("web", p["web_open"])
        d.start()
        try:
            port, member = self.start_web(d)
            self.page_figures(browser, d, port)
            self.rates(d, port, member)
        finally:
            self.stop()
            d.stop()

    def page_figures(self, browser, d, port):
        """First load, cached load and the list of open requests, in Chromium."""
        token = d.call("welcome", expires=3600)["token"]
        url = "http://127.0.0.1:%d" % port
        b = browser.Browser(360, 800)
        try:
            b.driver.get(url + "/#welcome=" + token)
            self.wait(b, "the welcome screen",
                      "return !!document.getElementById('welcome-name');")
            first = b.driver.execute_script(MEASURE_BYTES)
            sodium = sum(os.path.getsize(os.path.join(self.page, "vendor", f))
                         for f in os.listdir(os.path.join(self.page, "vendor"))
                         if f.endswith(".mjs.gz"))
            self.b.add("web.first_load_bytes", first["bytes"], "bytes",
                       "libsodium.js alone, gzipped", sodium)

            from selenium.webdriver.common.keys import Keys
            from selenium.webdriver.common.by import By

            b.driver.find_element(By.ID, "welcome-name").send_keys("Bench", Keys.ENTER)
            self.wait(b, "the list near you",
                      "return document.querySelectorAll('#near-list li[data-id]').length > 0;")
            b.driver.get(url + "/#near")
            b.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LIST_WATCH})
            b.driver.refresh()
            self.wait(b, "the list near you, after a reload",
                      "return window.noaberBenchListShown !== undefined;")
            shown = b.driver.execute_script("return window.noaberBenchListShown;")
            cached = b.driver.execute_script(MEASURE_BYTES)
            self.b.add("web.cached_load_bytes", cached["bytes"], "bytes",
                       "the first load", first["bytes"])
            fetched = min((b.driver.execute_async_script(LIST_FETCH)["ms"] for _ in range(5)))
            self.b.add("web.list_shown_ms.open=%d" % self.p["web_open"], shown["ms"], "ms",
                       "fetching the same list as JSON in the page (best of 5)", fetched)
            self.log("the page shows %d of the %d open requests" % (shown["cards"], self.p["web_open"]))
        finally:
            b.quit()

    def wait(self, b, what, script, timeout=60):
        deadline = time.monotonic() + timeout
        while not b.driver.execute_script(script):
            if time.monotonic() > deadline:
                raise self.error("the page did not show %s: %s" % (what, "\n".join(b.console())))
            time.sleep(0.05)

    def rates(self, d, port, member):
        """Requests per second of list and submit through noaber-web and on
        the member socket directly, one client each, one request at a time."""
        nb = self.nb
        n = self.p["web_calls"]
        signer = nb.Signer(BENCH_SEED)
        token = d.call("welcome", expires=3600)["token"]
        with nb.Control(member, timeout=60) as c:
            r = c.call("welcome.redeem", token=token, member=signer.pk, device="bench")
            if not r.get("ok"):
                raise self.error("welcome.redeem: %s" % r)
        web = Http(port)
        try:
            web.sign_in(nb, signer)
            path = "/api/list?kind=request&status=open&limit=100"
            want = min(100, self.p["web_open"])
            if len(web.call("GET", path)["items"]) != want:
                raise self.error("the list through noaber-web has not %d items" % want)
            t0 = time.monotonic()
            for _ in range(n):
                web.call("GET", path, decode=False)
            web_list = n / (time.monotonic() - t0)
            with nb.Control(member, timeout=60) as c:
                r = c.call("list", kind="request", status="open", limit=100)
                if len(r["result"]["items"]) != want:
                    raise self.error("the list on the member socket has not %d items" % want)
                t0 = time.monotonic()
                for _ in range(n):
                    control_raw(nb, c, "list", kind="request", status="open", limit=100)
                control_list = n / (time.monotonic() - t0)
            self.b.add("web.list_rps", web_list, "requests/s",
                       "list on the member socket directly", control_list)

            # HTTP alone: a page file of about the list's size through the
            # same connection, no call to the node.  What list through
            # noaber-web could reach if turning the node's reply into JSON
            # cost nothing.
            size = len(web.call("GET", path, decode=False))
            page_file = "/js/app.js"
            t0 = time.monotonic()
            for _ in range(n):
                body = web.call("GET", page_file, decode=False)
            web_file = n / (time.monotonic() - t0)
            self.log("the list is %d bytes of JSON, %s %d bytes" % (size, page_file, len(body)))
            self.b.add("web.file_rps", web_file, "requests/s",
                       "list on the member socket directly", control_list)

            # Records signed by the welcomed member, made beforehand: the
            # first half through noaber-web, the second on the socket.
            path = os.path.join(self.b.tmp, "web.records")
            subprocess.run([self.b.tool("make-store"), "--store", self.b.template(), "--first",
                            str(5 * 10**8), "--count", str(2 * n), "--members", "1", "--out",
                            path, "--time", self.b.epoch], check=True, capture_output=True)
            records = self.read_records(path)
            t0 = time.monotonic()
            for rec in records[:n]:
                web.call("POST", "/api/records", {"record": base64.b64encode(rec).decode()},
                         decode=False)
            web_submit = n / (time.monotonic() - t0)
            with nb.Control(member, timeout=60) as c:
                t0 = time.monotonic()
                for rec in records[n:]:
                    control_raw(nb, c, "submit", record=rec)
                control_submit = n / (time.monotonic() - t0)
            self.b.add("web.submit_rps", web_submit, "records/s",
                       "submit on the member socket directly", control_submit)
        finally:
            web.close()
