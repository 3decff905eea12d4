// Keeping a member on more than one phone or computer (docs/web.md, "Another
// phone or computer, and the recovery card"):
//
// - a one-time link from a signed-in device to the next one: the member's
//   seed is encrypted here with a fresh random key K (crypto_secretbox); the
//   node keeps only the ciphertext, and K travels in the link's fragment,
//   which no browser sends to a server;
// - a copy protected by a password, as a file or text, and the same copy as
//   a printable recovery card with a QR code: the seed and a device key of
//   the card's own, encrypted with a key derived from the password
//   (PBKDF2 of WebCrypto, below).  The card is a device of its own on the node:
//   it admits the next browser, and the operator can revoke it.
//
// Each browser gets a device key of its own, so that the node admits and
// revokes each device apart from the member's others.

import sodium from '../vendor/libsodium-wrappers.mjs';
import * as R from './record.js';
import * as api from './api.js';
import * as keys from './keystore.js';
import * as Q from './qr.js';
import { t, language, formatDate } from './catalog.js';
import { el, show, field, showErrors } from './ui.js';

const B64 = () => sodium.base64_variants.URLSAFE_NO_PADDING;
const utf8 = new TextEncoder();

// The copy's format, version 1: PBKDF2-HMAC-SHA-256 with 600,000 rounds
// (the browser's own WebCrypto) over the password and a 16-byte salt, a
// 24-byte nonce, then crypto_secretbox of seed || card seed || name.
// Argon2id (crypto_pwhash) would be better against guessing on graphics
// cards, but the vendored libsodium.js is the standard build, which does
// not have it (only the "sumo" build does): docs/web.md says so, and a
// later version of the copy can move to it.  tests/web/test_transfer.py
// measures the time in Chromium.
const COPY_VERSION = 1;
const PBKDF2_ROUNDS = 600000;
const SALT_BYTES = 16;
const PASSWORD_MIN = 8;

async function passwordKey(password, salt) {
  const base = await crypto.subtle.importKey('raw', utf8.encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ROUNDS },
    base, 8 * sodium.crypto_secretbox_KEYBYTES);
  return new Uint8Array(bits);
}

// seed || second seed || name, as both the link and the copy carry them.
function secrets(seed, second, name) {
  return R.concat(seed, second, utf8.encode(name || ''));
}

function unpack(plain) {
  if (plain.length < 64) throw new Error('short');
  return {
    seed: plain.slice(0, 32),
    second: plain.slice(32, 64),
    name: new TextDecoder('utf-8', { fatal: true }).decode(plain.slice(64)),
  };
}

// Lets the page draw the next screen before a slow step (the password's
// key takes a moment on a phone).
const nextFrame = () => new Promise((resolve) => setTimeout(resolve, 30));

// ---------------------------------------------------------------------------
// Another phone or computer: the old device makes the link

export function moveScreen(app) {
  const out = el('div', { id: 'move-out', 'aria-live': 'polite' });
  const errors = el('div');
  const button = el('button', { type: 'button', class: 'primary', id: 'move-make', text: t('move_button') });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const link = await makeTransferLink(app);
      out.replaceChildren(...linkPart(app, link.url, link.expiresAt));
      button.hidden = true;
    } catch (e) {
      button.disabled = false;
      showErrors(errors, [['move-make', app.problem(e)]]);
    }
  });
  show(t('move_title'), errors, el('p', { text: t('move_intro') }), button, out);
}

async function makeTransferLink(app) {
  const saved = await keys.load();
  const k = sodium.crypto_secretbox_keygen();
  const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
  // The new device gets the member's seed and name, not this device's key:
  // it makes a key of its own.
  const box = sodium.crypto_secretbox_easy(secrets(saved.seed, new Uint8Array(32), saved.name), nonce, k);
  const res = await api.transferPut(R.toBase64(R.concat(nonce, box)));
  return {
    url: location.origin + '/#transfer=' + res.token + '.' + sodium.to_base64(k, B64()),
    expiresAt: res.expires_at,
  };
}

function linkPart(app, url, expiresAt) {
  const time = new Date((expiresAt - app.state.clockOffset) * 1000)
    .toLocaleTimeString(language(), { hour: '2-digit', minute: '2-digit' });
  const text = el('p', { class: 'link-text', id: 'move-link', dir: 'ltr', text: url });
  const copy = el('button', { type: 'button', class: 'secondary', text: t('move_copy') });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url);
      app.say(t('move_copied'));
    } catch (e) {
      // Without the clipboard (plain HTTP, or refused) the link stays to select.
      window.getSelection().selectAllChildren(text);
    }
  });
  return [
    el('p', { role: 'status', text: t('move_ready', { time }) }),
    el('div', { class: 'qr-box' }, Q.svg(url, t('move_qr_label'))),
    text, copy,
    el('p', { class: 'notice', text: t('move_warning') }),
  ];
}

// ---------------------------------------------------------------------------
// Another phone or computer: the new device opens the link

export function takeScreen(app, fragment) {
  const [token, k64] = fragment.split('.');
  const errors = el('div');
  const button = el('button', { type: 'button', class: 'primary', id: 'take-button', text: t('take_button') });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await takeLink(app, token, k64);
    } catch (e) {
      button.disabled = false;
      showErrors(errors, [['take-button', takeProblem(app, e)]]);
    }
  });
  show(t('take_title'), errors, el('p', { text: t('take_intro') }), button);
}

function takeProblem(app, e) {
  if (e instanceof api.ApiError && e.status === 404) return t('take_used');
  if (e instanceof api.ApiError && e.status === 410) return t('take_expired');
  if (e instanceof BrokenLink) return t('take_broken');
  return app.problem(e);
}

class BrokenLink extends Error {}

async function takeLink(app, token, k64) {
  let k;
  try {
    k = sodium.from_base64(k64 || '', B64());
  } catch (e) {
    throw new BrokenLink();
  }
  if (!/^[0-9a-f]{40}$/.test(token || '') || k.length !== sodium.crypto_secretbox_KEYBYTES) throw new BrokenLink();
  const device = R.newMember();
  const res = await api.transferTake(token, R.toHex(device.publicKey), app.deviceLabel());
  const sealed = R.fromHex(res.sealed);
  let got;
  try {
    const n = sodium.crypto_secretbox_NONCEBYTES;
    got = unpack(sodium.crypto_secretbox_open_easy(sealed.slice(n), sealed.slice(0, n), k));
  } catch (e) {
    throw new BrokenLink();
  }
  // The seed must be the member the node admitted this device for.
  if (R.toHex(R.memberFromSeed(got.seed).publicKey) !== res.member) throw new BrokenLink();
  await app.adopt(got.seed, got.name, device.seed, t('take_done', { name: got.name }));
}

// ---------------------------------------------------------------------------
// The copy protected by a password, and the recovery card

function passwordFields(prefix) {
  const one = el('input', { type: 'password', autocomplete: 'new-password', required: true });
  const two = el('input', { type: 'password', autocomplete: 'new-password', required: true });
  return {
    parts: [field(prefix + '-password', t('secret_password'), one, t('secret_password_hint')),
      field(prefix + '-again', t('secret_again'), two)],
    problems() {
      if ([...one.value].length < PASSWORD_MIN) return [[prefix + '-password', t('error_password_short')]];
      if (one.value !== two.value) return [[prefix + '-again', t('error_password_differs')]];
      return [];
    },
    value: () => one.value,
  };
}

// Admits a new device of this member for the copy (or card), and encrypts
// the member's seed and that device's seed with the password.  Returns the
// link that brings them back.
async function makeCopy(app, password) {
  const saved = await keys.load();
  const card = R.newMember();
  await api.addDevice(R.toHex(card.publicKey), 'recovery card');
  const salt = sodium.randombytes_buf(SALT_BYTES);
  const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
  const key = await passwordKey(password, salt);
  const box = sodium.crypto_secretbox_easy(secrets(saved.seed, card.seed, saved.name), nonce, key);
  sodium.memzero(key);
  const blob = R.concat(new Uint8Array([COPY_VERSION]), salt, nonce, box);
  return { url: location.origin + '/#restore=' + sodium.to_base64(blob, B64()), name: saved.name };
}

function copyForm(app, prefix, buttonText, done) {
  const pw = passwordFields(prefix);
  const errors = el('div');
  const button = el('button', { type: 'submit', class: 'primary', text: buttonText });
  const form = el('form', { novalidate: true }, ...pw.parts, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (showErrors(errors, pw.problems())) return;
    button.disabled = true;
    app.say(t('secret_working'));
    await nextFrame();
    let copy;
    try {
      copy = await makeCopy(app, pw.value());
    } catch (err) {
      button.disabled = false;
      showErrors(errors, [[prefix + '-password', app.problem(err)]]);
      return;
    }
    done(copy);
  });
  return [errors, form];
}

export function backupScreen(app) {
  show(t('backup_title'), el('p', { text: t('backup_intro') }),
    ...copyForm(app, 'backup', t('backup_button'), (copy) => {
      const text = t('backup_file_intro') + '\n\n' + copy.url + '\n';
      const a = el('a', { class: 'button primary', id: 'backup-download', download: 'noaber-' + (copy.name || 'copy') + '.txt',
        href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })), text: t('backup_download') });
      const area = el('textarea', { rows: '6', readonly: true, dir: 'ltr' });
      area.value = copy.url;
      show(t('backup_title'), el('p', { role: 'status', text: t('backup_ready') }), el('p', {}, a),
        field('backup-text', t('backup_text'), area));
    }));
}

export function cardScreen(app) {
  show(t('card_title'), el('p', { text: t('card_intro') }),
    ...copyForm(app, 'card', t('card_button'), (copy) => {
      const made = new Date().toLocaleDateString(language(), { year: 'numeric', month: 'long', day: 'numeric' });
      const print = el('button', { type: 'button', class: 'primary no-print', text: t('card_print') });
      print.addEventListener('click', () => window.print());
      show(t('card_title'), el('p', { class: 'no-print', role: 'status', text: t('card_ready') }), print,
        el('section', { class: 'recovery-card', 'aria-labelledby': 'card-heading' },
          el('h2', { id: 'card-heading', text: t('card_heading', { name: copy.name }) }),
          el('p', { text: t('card_neighbourhood', { neighbourhood: app.state.info.neighbourhood }) }),
          el('div', { class: 'qr-box' }, Q.svg(copy.url, t('card_qr_label'))),
          el('p', { text: t('card_how') }),
          el('p', { class: 'notice', text: t('card_keep') }),
          el('p', { text: t('card_lost') }),
          el('p', { class: 'meta', text: t('card_made', { date: made }) }),
          el('p', { class: 'link-text', id: 'card-link', dir: 'ltr', text: copy.url })));
    }));
}

// ---------------------------------------------------------------------------
// Bringing the member back from the copy or the card

export function restoreScreen(app, fromLink) {
  const text = el('textarea', { rows: '4', dir: 'ltr', autocomplete: 'off' });
  const file = el('input', { type: 'file', accept: '.txt,text/plain' });
  const password = el('input', { type: 'password', autocomplete: 'current-password', required: true });
  const errors = el('div');
  file.addEventListener('change', async () => {
    if (file.files.length > 0) text.value = (await file.files[0].text()).trim();
  });
  // From the card's code or link, the copy is already here: only the
  // password is asked.
  const parts = fromLink ? [] : [field('restore-text', t('restore_text'), text, t('restore_text_hint')),
    field('restore-file', t('restore_file'), file)];
  const button = el('button', { type: 'submit', class: 'primary', text: t('restore_button') });
  const form = el('form', { novalidate: true }, ...parts,
    field('restore-password', t('restore_password'), password), button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const source = fromLink || text.value;
    const bad = [];
    if (!fromLink && source.trim() === '') bad.push(['restore-text', t('error_restore_missing')]);
    if (password.value === '') bad.push(['restore-password', t('error_password_missing')]);
    if (showErrors(errors, bad)) return;
    button.disabled = true;
    app.say(t('secret_working'));
    await nextFrame();
    try {
      await restore(app, source, password.value);
    } catch (err) {
      button.disabled = false;
      const where = err instanceof WrongPassword ? 'restore-password' : fromLink ? 'restore-password' : 'restore-text';
      showErrors(errors, [[where, restoreProblem(app, err)]]);
    }
  });
  show(t('restore_title'), errors, el('p', { text: t('restore_intro') }), form);
}

class WrongPassword extends Error {}

function restoreProblem(app, e) {
  if (e instanceof WrongPassword) return t('error_restore_password');
  if (e instanceof BrokenLink) return t('error_restore_broken');
  if (e instanceof api.ApiError && e.status === 403) return t('restore_card_off');
  return app.problem(e);
}

async function restore(app, source, password) {
  // The text of the file, the link, or the copy alone.
  const m = /#restore=([A-Za-z0-9_-]+)/.exec(source);
  let blob;
  try {
    blob = sodium.from_base64(m ? m[1] : source.trim(), B64());
  } catch (e) {
    throw new BrokenLink();
  }
  const head = 1 + SALT_BYTES + sodium.crypto_secretbox_NONCEBYTES;
  if (blob.length < head + sodium.crypto_secretbox_MACBYTES + 64 || blob[0] !== COPY_VERSION) throw new BrokenLink();
  const salt = blob.slice(1, 1 + SALT_BYTES);
  const nonce = blob.slice(1 + SALT_BYTES, head);
  const key = await passwordKey(password, salt);
  let got;
  try {
    got = unpack(sodium.crypto_secretbox_open_easy(blob.slice(head), nonce, key));
  } catch (e) {
    throw new WrongPassword();
  } finally {
    sodium.memzero(key);
  }
  // Signed in as the card's device, this browser admits a device key of
  // its own (so that the card stays one device, and this browser another).
  const card = R.memberFromSeed(got.second);
  const device = R.newMember();
  try {
    await app.signInAs(R.memberFromSeed(got.seed), card);
    await api.addDevice(R.toHex(device.publicKey), app.deviceLabel());
  } catch (e) {
    // Nothing is kept of a card the node refused (revoked, or unreachable).
    app.state.member = null;
    app.state.device = null;
    throw e;
  }
  await app.adopt(got.seed, got.name, device.seed, t('restore_done', { name: got.name }));
}

// The browser offers to install the page (Chromium on Android and
// desktops) once; the offer is kept for the button on "You".  Safari has no
// such offer: the page says how instead.
let installOffer = null;
window.addEventListener('beforeinstallprompt', (e) => {
  e.preventDefault();
  installOffer = e;
});

// The part of "You" that leads here: whether this browser keeps the site's
// data (a browser may delete it: Safari after seven days without a visit,
// unless the page is on the home screen), installing the page, and the
// three ways to another device.
export function devicesPart() {
  const kept = el('p', { id: 'storage-kept' });
  const install = installOffer
    ? el('button', { type: 'button', class: 'secondary', id: 'install-button', text: t('keep_install') })
    : el('p', { class: 'hint', text: t('keep_install_how') });
  if (installOffer) {
    install.addEventListener('click', async () => {
      const offer = installOffer;
      installOffer = null;
      await offer.prompt();
      install.replaceWith(el('p', { role: 'status', text: t('keep_install_asked') }));
    });
  }
  (async () => {
    let persisted = false;
    try {
      persisted = Boolean(navigator.storage && await navigator.storage.persisted());
    } catch (e) {
      // Unknown: said as not kept, which asks for the safer steps.
    }
    kept.textContent = persisted ? t('keep_persisted') : t('keep_not_persisted');
  })();
  return el('div', { class: 'field' }, el('h2', { text: t('devices_title') }),
    kept, install,
    el('p', { text: t('devices_intro') }),
    el('ul', { class: 'plain-list' },
      el('li', {}, el('a', { href: '#move', text: t('move_link') })),
      el('li', {}, el('a', { href: '#card', text: t('card_link') })),
      el('li', {}, el('a', { href: '#backup', text: t('backup_link') }))));
}

// ---------------------------------------------------------------------------
// The member's own devices, on "You": each browser, recovery card or copy
// that opens Noaber for them, and "Switch off" for a lost or stolen one
// (ops devices.own and device.revoke.own, docs/web.md).  The member's key
// signs which device, so that nobody but the member switches theirs off.

const REVOKE_CONTEXT = 'noaber/device-revoke/v1';

// The device's number as the node signs it: 8 bytes, big-endian.
function deviceIdBytes(id) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(id));
  return b;
}

function deviceName(d) {
  if (d.kind === 'copy') return t('own_device_copy');
  return d.device && d.device !== 'browser' ? t('own_device_browser_on', { device: d.device }) : t('own_device_browser');
}

export function ownDevicesPart(app) {
  const list = el('ul', { class: 'cards', id: 'own-devices' });
  const part = el('div', { class: 'field' }, el('h2', { text: t('own_devices_title') }),
    el('p', { text: t('own_devices_intro') }), list);
  drawOwnDevices(app, list);
  return part;
}

async function drawOwnDevices(app, list) {
  let got;
  try {
    got = await api.ownDevices();
  } catch (e) {
    list.replaceChildren(el('li', { class: 'notice', text: app.problem(e) }));
    return;
  }
  list.replaceChildren(...got.devices.map((d) => ownDeviceRow(app, list, d)));
}

function ownDeviceRow(app, list, d) {
  const name = deviceName(d);
  const row = el('li', { class: 'card', 'data-device': String(d.device_id) },
    el('p', {}, el('strong', { text: name }), d.this ? ' ' : null,
      d.this ? el('span', { class: 'tag', text: t('own_device_this') }) : null),
    el('p', { class: 'meta', text: t('own_device_added', { date: formatDate(d.admitted_at) }) }));
  if (d.revoked_at !== null) {
    row.append(el('p', { class: 'meta', text: t('own_device_off_since', { date: formatDate(d.revoked_at) }) }));
    return row;
  }
  if (d.this) return row;
  const off = el('button', { type: 'button', class: 'secondary', text: t('own_device_off_button'),
    'aria-label': t('own_device_off_label', { device: name }) });
  off.addEventListener('click', () => off.replaceWith(confirmOff(app, list, d, name, () => {
    row.querySelector('.confirm').replaceWith(off);
    off.focus();
  })));
  row.append(off);
  return row;
}

// "Switch off …?" in plain words, with what happens, next to the device.
function confirmOff(app, list, d, name, cancel) {
  const question = el('p', { tabindex: '-1', text: t('own_device_confirm', { device: name }) });
  const yes = el('button', { type: 'button', class: 'primary', text: t('own_device_confirm_yes') });
  const no = el('button', { type: 'button', class: 'secondary', text: t('own_device_confirm_no') });
  const box = el('div', { class: 'confirm', role: 'group', 'aria-label': t('own_device_off_label', { device: name }) },
    question, el('p', { class: 'actions' }, yes, ' ', no));
  no.addEventListener('click', cancel);
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    no.disabled = true;
    try {
      const sig = R.signWithContext(REVOKE_CONTEXT, app.state.nid, deviceIdBytes(d.device_id), app.state.member);
      await api.revokeDevice(d.device_id, R.toBase64(sig));
    } catch (e) {
      yes.disabled = false;
      no.disabled = false;
      const p = el('p', { class: 'notice', role: 'alert', tabindex: '-1', text: app.problem(e) });
      box.append(p);
      p.focus();
      return;
    }
    app.say(t('own_device_done', { device: name }));
    await drawOwnDevices(app, list);
  });
  setTimeout(() => question.focus(), 0);
  return box;
}
