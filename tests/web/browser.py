"""Helpers for the browser tests: Chromium through selenium, headless.

Every test here skips (exit code 77, with a message) where Debian's chromium,
chromium-driver or python3-selenium is not installed, as ./dev installs them.
Chromium runs headless; as root it needs --no-sandbox.  127.0.0.1 is a secure
context, so the page's crypto (WebAssembly, crypto.getRandomValues) works
there without TLS.
"""

import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import nb  # noqa: E402

SKIP = 77
PAGE_DIR = os.path.join(nb.BUILD_ROOT, "web", "page")
SOURCE_ROOT = os.environ.get("NOABER_SOURCE_ROOT", "")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError:
    # Debian's python3-selenium, when the python3 running the tests is not
    # Debian's own (a pyenv or venv interpreter of the same version).
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:  # the test skips in require_chromium()
        webdriver = None


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def driver_binary():
    return shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.access("/usr/bin/chromedriver", os.X_OK) else None
    )


def require_chromium():
    missing = []
    if webdriver is None:
        missing.append("python3-selenium")
    if chromium_binary() is None:
        missing.append("chromium")
    if driver_binary() is None:
        missing.append("chromium-driver")
    if missing:
        print("skipped: the browser tests need %s (apt-get install %s; ./dev installs them)"
              % (", ".join(missing), " ".join(missing)))
        sys.exit(SKIP)
    if not os.path.isdir(PAGE_DIR):
        sys.exit("browser: %s is not built" % PAGE_DIR)


class Browser:
    """One headless Chromium with its own profile (its own site data, so two
    Browsers are two devices).  Always quit() it (tests use addCleanup)."""

    def __init__(self, width=1280, height=900, prefs=None, lang=None):
        """prefs: Chromium preferences, as a person would set them (a larger
        default font size, for instance); lang: the browser's language."""
        self.profile = tempfile.mkdtemp(prefix="noaber-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium_binary()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    "--user-data-dir=" + self.profile,
                    "--window-size=%d,%d" % (width, height)):
            opts.add_argument(arg)
        if prefs:
            opts.add_experimental_option("prefs", prefs)
        if lang:
            opts.add_argument("--lang=" + lang)
        # Console messages of the page, for a test that fails to say why.
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(driver_binary()), options=opts)
        self.driver.set_script_timeout(120)

    def emulate(self, width, height, mobile=True):
        """Lays the page out `width` CSS pixels wide, as a phone does: a
        headless window is never narrower than 500 pixels."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height,
                                     "deviceScaleFactor": 1, "mobile": mobile})

    def console(self):
        try:
            return [e["message"] for e in self.driver.get_log("browser")]
        except Exception:  # the log is a debugging aid only
            return []

    def run_async(self, script, *args):
        """Runs `script` as the body of an async function with `args` as
        `args` and returns what it returns, or raises with its error."""
        wrapper = (
            "const done = arguments[arguments.length - 1];"
            "const args = Array.from(arguments).slice(0, -1);"
            "(async (args) => {" + script + "})(args)"
            ".then((v) => done({ok: v}), (e) => done({error: String(e) + '\\n' + (e && e.stack)}));"
        )
        out = self.driver.execute_async_script(wrapper, *args)
        if out is None or "error" in out:
            raise AssertionError("in the browser: %s\nconsole: %s"
                                 % (out and out["error"], "\n".join(self.console())))
        return out["ok"]

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map,
                          **{".mjs": "text/javascript", ".js": "text/javascript"})

    def log_message(self, *args):
        pass


class StaticServer:
    """Serves a directory on 127.0.0.1 (a free port), for testing the page's
    modules without noaber-web.  Call close()."""

    def __init__(self, directory):
        handler = functools.partial(_Quiet, directory=directory)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


NOABER_WEB = os.path.join(nb.BUILD_ROOT, "web", "noaber-web")


class Web:
    """One noaber-web for a node, on a free port of 127.0.0.1; always
    stop() it (tests use addCleanup)."""

    def __init__(self, node, port=None):
        """port: the port of an earlier noaber-web of the node (a restart
        keeps the page's origin), else a free one."""
        import subprocess
        import time

        self.node = node
        self.port = port or nb.free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.url = "http://" + self.host
        self.log_path = os.path.join(node.tmp, "noaber-web.log")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [NOABER_WEB, "--listen", self.host, "--control-socket", node.member_socket,
             "--page-dir", PAGE_DIR, "--log-level", "debug"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("noaber-web exited with %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                if self.request("GET", "/api/info")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("noaber-web did not answer on %s:\n%s" % (self.url, self.log()))
            time.sleep(0.05)

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes) of one HTTP request."""
        import http.client

        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """Stops noaber-web with SIGTERM; it must exit cleanly (0), which
        under ASan also means no leak and no error."""
        import subprocess

        killed = False
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                killed = True
        self._log.close()
        if killed or self.proc.returncode != 0:
            raise AssertionError("noaber-web did not stop cleanly (%s):\n%s"
                                 % ("killed" if killed else "exit %d" % self.proc.returncode, self.log()))
