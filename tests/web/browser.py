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
import unittest

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


# U+2066 to U+2069: the isolates the page puts around every value it
# substitutes into a sentence (web/page/js/catalog.js, t()), so that a Latin
# name in Arabic or an Arabic name in French is laid out on its own.  They
# are invisible; a test that compares what a person reads compares the text
# without them (and test_web_i18n.py checks that they are there).
ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")


def plain(text):
    """Text as a person reads it: without the invisible isolates."""
    return text.translate(ISOLATES)


def shown(element):
    """The visible text of a selenium element, without the isolates."""
    return plain(element.text)


def xpath_literal(s):
    """`s` as an XPath string literal, whatever quotes it holds."""
    if "'" not in s:
        return "'%s'" % s
    if '"' not in s:
        return '"%s"' % s
    return "concat(%s)" % ", \"'\", ".join("'%s'" % p for p in s.split("'"))


def xpath(path, text):
    """An XPath to the elements `path` (such as "//button") whose whole text,
    spaces normalised and without the isolates, is `text`."""
    return "%s[translate(normalize-space(), '\u2066\u2067\u2068\u2069', '')=%s]" % (path, xpath_literal(text))


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

    def __init__(self, width=1280, height=900, language="en-US", prefs=None):
        """language: what the browser asks for first (navigator.languages),
        the same whatever the machine's locale; prefs: more Chromium
        preferences, as a person would set them (a larger default font
        size, for instance)."""
        self.profile = tempfile.mkdtemp(prefix="noaber-chromium-")
        opts = webdriver.ChromeOptions()
        opts.add_argument("--lang=" + language)
        opts.add_experimental_option("prefs", dict(prefs or {}, **{"intl.accept_languages": language}))
        opts.binary_location = chromium_binary()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    "--user-data-dir=" + self.profile,
                    "--window-size=%d,%d" % (width, height)):
            opts.add_argument(arg)
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

    def wait(self, what, fn, timeout=30):
        """Waits until fn(driver) is true and returns it, else fails saying
        what the page did not show, with its console."""
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # The page redraws lists and screens as records arrive: an element
        # found a moment ago may be gone; the wait then looks again.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=ignored).until(lambda d: fn(d))
        except Exception as e:
            raise AssertionError("the page did not show %s: %s\nconsole: %s"
                                 % (what, e, "\n".join(self.console())))

    def heading(self, text):
        """Waits for the screen whose heading is `text`."""
        from selenium.webdriver.common.by import By

        self.wait("the heading %r" % text,
                  lambda d: shown(d.find_element(By.ID, "screen-title")) == text)

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


def english():
    """The page's English texts by key, from the source catalog (the `en`
    object of web/page/js/catalog.js, as po/update_pot.py reads it)."""
    sys.path.insert(0, os.path.join(SOURCE_ROOT, "po"))
    import update_pot

    path = os.path.join(SOURCE_ROOT, "web", "page", "js", "catalog.js")
    return {key: text for key, text, _ in update_pot.page_messages(path)}


def page_catalog(lang):
    """The texts of `lang` as the built page gets them (/i18n/LANG.json,
    from po/LANG.po)."""
    import json

    with open(os.path.join(PAGE_DIR, "i18n", lang + ".json"), encoding="utf-8") as f:
        return json.load(f)


SHOTS = os.path.join(nb.BUILD_ROOT, "web-screenshots")
PHONE = (360, 800)
DESKTOP = (1280, 900)


class PageTest(unittest.TestCase):
    """Nodes, noaber-web and browsers for a test, stopped at its end, and
    the ways a person uses the page: by heading, by keyboard, screenshots."""

    def setUp(self):
        nb.require_binaries()
        os.makedirs(SHOTS, exist_ok=True)

    def node(self, name):
        n = nb.NetNode(name, config=["peer_exchange = off"])
        self.addCleanup(n.cleanup)
        return n.start()

    def web(self, node, port=None):
        w = Web(node, port)
        self.addCleanup(w.stop)
        return w

    def browser(self, size):
        b = Browser(*size)
        self.addCleanup(b.quit)
        return b

    def welcome_link(self, node, web, name):
        out = node.operator.ok("welcome", "--name", name, "--host", web.host)
        self.assertTrue(out["link"].startswith(web.url + "/#welcome="), out)
        return out["link"]

    def wait(self, b, what, fn, timeout=30):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # The page redraws lists and screens as records arrive: an element
        # found a moment ago may be gone; the wait then looks again.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        try:
            return WebDriverWait(b.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=ignored).until(lambda d: fn(d))
        except Exception as e:
            try:
                text_now = plain(b.driver.find_element("id", "main").text)
            except Exception:  # a debugging aid only
                text_now = "?"
            raise AssertionError("the page did not show %s: %s\nthe page shows: %s\nconsole: %s"
                                 % (what, e, text_now, "\n".join(b.console())))

    def heading(self, b, text):
        from selenium.webdriver.common.by import By

        self.wait(b, "the heading %r" % text,
                  lambda d: shown(d.find_element(By.ID, "screen-title")) == text)

    def active(self, b):
        return b.driver.switch_to.active_element

    def type(self, b, *keys):
        """Keys sent to whatever has the focus, as a keyboard would."""
        self.active(b).send_keys(*keys)

    def tab_to(self, b, is_target, most=30):
        """Presses Tab until the focused element is the one wanted."""
        from selenium.webdriver.common.keys import Keys

        for _ in range(most):
            self.type(b, Keys.TAB)
            if is_target(self.active(b)):
                return
        self.fail("Tab never reached the element (last: %s)" % self.active(b).get_attribute("outerHTML"))

    def shoot(self, b, name):
        """Screenshots at phone and desktop width (the browser keeps its own
        size afterwards); at phone width the screen must also fit."""
        before = b.driver.get_window_size()
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            b.driver.set_window_size(*size)
            if label == "phone":
                self.assert_fits_a_phone(b, name)
            b.driver.save_screenshot(os.path.join(SHOTS, "%s-%s.png" % (name, label)))
        b.driver.set_window_size(before["width"], before["height"])

    # What WEB.md asks of every screen on a 360 px phone: nothing wider than
    # the screen, text of at least 18 px, touch targets of at least 44 px.
    LAYOUT = r"""
const bad = [];
const width = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth > width) bad.push('wider than the screen: ' + document.documentElement.scrollWidth);
const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0
  && getComputedStyle(e).visibility !== 'hidden' && !e.closest('.skip'); };
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const e = n.parentElement;
  if (!n.textContent.trim() || !visible(e) || e.closest('noscript')) continue;
  const px = parseFloat(getComputedStyle(e).fontSize);
  if (px < 18) bad.push('text of ' + px + ' px: ' + n.textContent.trim().slice(0, 40));
}
for (const e of document.querySelectorAll('a, button, input, select, textarea, summary')) {
  if (!visible(e)) continue;
  const r = e.getBoundingClientRect();
  const small = e.type === 'checkbox' ? r.height < 24 : r.height < 44;
  if (small) bad.push('a target of ' + Math.round(r.height) + ' px: ' + (e.textContent || e.id).trim().slice(0, 40));
}
return bad;
"""

    def assert_fits_a_phone(self, b, name):
        bad = b.driver.execute_script(self.LAYOUT)
        self.assertEqual(bad, [], "the screen %r at %d px" % (name, PHONE[0]))

    def join(self, b, link, name):
        """Opens a welcome link and joins with `name`, by keyboard only."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        b.driver.get(link)
        self.heading(b, "Welcome to Marollen")
        field = b.driver.find_element(By.ID, "welcome-name")
        self.assertEqual(b.driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), "en")
        field.send_keys(name, Keys.ENTER)
        self.heading(b, "Near you")
        self.assertNotIn("welcome=", b.driver.current_url, "the token stays in the address bar")
