// The page: welcome (from a welcome link), near you, ask for help.
// Vanilla JavaScript, no framework; every text comes from catalog.js, every
// record is made and signed here with record.js (docs/web.md).

import * as R from './record.js';
import * as api from './api.js';
import * as keys from './keystore.js';
import { t, setLanguage, chooseLanguage, catalogs, language } from './catalog.js';

const DAY = 86400;
const REQUEST_LIFETIME = 7 * DAY;
const LANGUAGE_KEY = 'noaber.language';

const state = {
  info: null,      // /api/info: neighbourhood, neighbourhood_id, now
  nid: null,       // Uint8Array
  clockOffset: 0,  // node clock - our clock, in seconds
  member: null,    // {seed, publicKey, secretKey}
  names: new Map(), // member key hex -> profile name
  helping: new Set(), // ids of requests this member said they can help with
  events: null,
};

// ---------------------------------------------------------------------------
// Small DOM helpers: text goes in as text, never as HTML.

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function main() {
  return document.getElementById('main');
}

// Shows a screen: replaces the content, sets the title and moves focus to
// the heading so that screen readers and keyboards start at the top.
function show(title, ...content) {
  const m = main();
  m.replaceChildren();
  const h = el('h1', { text: title, tabindex: '-1', id: 'screen-title' });
  m.append(h, ...content.filter(Boolean));
  document.title = title + ' — ' + t('brand');
  h.focus();
}

function now() {
  return Math.floor(Date.now() / 1000) + state.clockOffset;
}

function hexOf(bytes) {
  return R.toHex(bytes);
}

function ago(ts) {
  const s = Math.max(0, now() - ts);
  if (s < 120) return t('time_now');
  if (s < 7200) return t('time_minutes', { n: Math.floor(s / 60) });
  if (s < 2 * DAY) return t('time_hours', { n: Math.floor(s / 3600) });
  return t('time_days', { n: Math.floor(s / DAY) });
}

function renderChrome() {
  document.getElementById('skip').textContent = t('skip');
  document.getElementById('brand').textContent = state.info ? state.info.neighbourhood : t('brand');
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  if (state.member) {
    nav.append(
      el('a', { href: '#near', class: 'nav-link', text: t('nav_near') }),
      el('a', { href: '#ask', class: 'nav-link', text: t('nav_ask') }),
    );
  }
}

function errorBox(messages) {
  // The error summary: at the top, focused, each message links to its field.
  const list = el('ul');
  for (const [field, text] of messages) {
    list.append(el('li', {}, el('a', { href: '#' + field, text })));
  }
  const box = el('div', { class: 'error-summary', role: 'alert', tabindex: '-1' },
    el('h2', { text: t('errors_title') }), list);
  box.addEventListener('click', (e) => {
    const a = e.target.closest('a');
    if (a) {
      e.preventDefault();
      document.getElementById(a.getAttribute('href').slice(1)).focus();
    }
  });
  return box;
}

// Shows the error summary in `holder` when there are problems; returns
// whether there were any.
function showErrors(holder, bad) {
  holder.replaceChildren();
  if (bad.length === 0) return false;
  const box = errorBox(bad);
  holder.append(box);
  box.focus();
  return true;
}

function field(id, label, input, hint) {
  const parts = [el('label', { for: id, text: label })];
  if (hint) {
    parts.push(el('p', { class: 'hint', id: id + '-hint', text: hint }));
    input.setAttribute('aria-describedby', id + '-hint');
  }
  input.id = id;
  input.name = id;
  return el('div', { class: 'field' }, ...parts, input);
}

function select(options, value) {
  const s = el('select');
  for (const [v, label] of options) {
    const o = el('option', { value: v, text: label });
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}

function bytesOf(text) {
  return new TextEncoder().encode(text).length;
}

// Text as records carry it (docs/protocol.md, "Text"): line feeds only in
// multi-line fields, tabs as spaces, no other control characters (a paste
// can bring them).
function clean(text, multiline = false) {
  let t = text.replace(/\r\n?/g, '\n').replace(/\t/g, ' ');
  if (!multiline) t = t.replace(/\n+/g, ' ');
  // eslint-disable-next-line no-control-regex
  return t.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '').trim();
}

// ---------------------------------------------------------------------------
// Member key and session

async function signIn() {
  const ch = await api.challenge();
  const challenge = R.fromBase64(ch.challenge);
  const sig = R.signWithContext(ch.context, state.nid, challenge, state.member);
  await api.signIn(hexOf(state.member.publicKey), ch.challenge, R.toBase64(sig));
}

async function send(rec) {
  const signed = R.signRecord(rec, state.member, state.nid);
  return api.submit(R.toBase64(signed.bytes));
}

// The live list: refreshed on every new record; when the stream is refused
// (the session ended), sign in again and listen again, a little later.
function watch() {
  const refresh = (ev) => {
    // A profile that arrives after the requests it names: the cards are
    // drawn again below with the name (newest profile wins).
    if (ev && ev.record) {
      try {
        const rec = R.verifyRecord(R.fromBase64(ev.record), state.nid);
        if (rec.kind === 'profile') state.names.set(hexOf(rec.author), rec.body.name);
      } catch (e) {
        // A record that does not verify names nobody.
      }
    }
    const l = document.getElementById('near-list');
    if (l) refreshNear(l);
  };
  state.events = api.events(refresh, () => {
    state.events = null;
    setTimeout(async () => {
      try {
        await signIn();
        watch();
      } catch (e) {
        // Not admitted any more, or the node is away: the next screen says so.
      }
    }, 5000);
  }, refresh);
}

function problem(e) {
  if (e instanceof R.RecordError) return t('error_invalid');
  if (e instanceof api.ApiError && e.status !== 0) {
    return t('error_refused', { message: e.message });
  }
  return t('error_network');
}

// ---------------------------------------------------------------------------
// Welcome

function languageSelect() {
  const options = Object.entries(catalogs).map(([tag, c]) => [tag, c.language_name]);
  const s = select(options, language());
  s.addEventListener('change', () => {
    localStorage.setItem(LANGUAGE_KEY, s.value);
    setLanguage(s.value);
  });
  return s;
}

function welcomeScreen(token) {
  const name = el('input', { type: 'text', autocomplete: 'given-name', maxlength: '64', required: true });
  const lang = languageSelect();
  const vars = { neighbourhood: state.info.neighbourhood };
  const form = el('form', { novalidate: true },
    field('welcome-name', t('welcome_name'), name, t('welcome_name_hint')),
    field('welcome-language', t('welcome_language'), lang),
    el('p', { class: 'hint', text: t('welcome_device_note') }),
    el('button', { type: 'submit', class: 'primary', text: t('welcome_button', vars) }));
  const errors = el('div');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = clean(name.value);
    const bad = [];
    if (n === '') bad.push(['welcome-name', t('error_name_missing')]);
    else if (bytesOf(n) > 64) bad.push(['welcome-name', t('error_name_long')]);
    if (showErrors(errors, bad)) return;
    try {
      await join(token, n);
    } catch (err) {
      const text = err instanceof api.ApiError && (err.status === 404 || err.status === 410)
        ? t('welcome_used') : problem(err);
      showErrors(errors, [['welcome-name', text]]);
    }
  });
  show(t('welcome_title', vars), el('p', { text: t('welcome_intro', vars) }), errors, form);
}

// Makes the key in this browser, redeems the welcome token for it, signs in
// and publishes the member's profile (the name neighbours see).
async function join(token, name) {
  const member = R.newMember();
  await api.welcome(token, hexOf(member.publicKey), deviceLabel());
  await keys.save(member.seed, name);
  state.member = member;
  await signIn();
  await send({
    kind: 'profile',
    created_at: now(),
    body: { name, languages: [language()] },
  });
  history.replaceState(null, '', location.pathname + '#near');
  renderChrome();
  await route();
}

// A label the operator sees in `noaber devices`: the kind of device, never
// anything personal.
function deviceLabel() {
  const ua = navigator.userAgent;
  const kind = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iPhone or iPad'
    : /Windows/.test(ua) ? 'Windows' : /Mac OS/.test(ua) ? 'Mac' : /Linux/.test(ua) ? 'Linux' : 'browser';
  return kind;
}

// ---------------------------------------------------------------------------
// Near you

// The requests this member already said they can help with, from their own
// responses on the node, so that the page says so after a reload too.
async function loadMyResponses() {
  try {
    const res = await api.list({ kind: 'response', author: hexOf(state.member.publicKey), limit: 500 });
    for (const item of res.items) {
      try {
        const rec = R.verifyRecord(R.fromBase64(item.record), state.nid);
        state.helping.add(hexOf(rec.body.target));
      } catch (e) {
        // A record that does not verify is not counted.
      }
    }
  } catch (e) {
    // Without it the page offers "I can help" again; the node refuses nothing.
  }
}

async function loadNames() {
  try {
    const res = await api.list({ kind: 'profile', limit: 500 });
    // Newest first: the first profile of each author is the one that counts.
    for (const item of res.items) {
      try {
        const rec = R.verifyRecord(R.fromBase64(item.record), state.nid);
        const key = hexOf(rec.author);
        if (!state.names.has(key)) state.names.set(key, rec.body.name);
      } catch (e) {
        // A record that does not verify is not shown.
      }
    }
  } catch (e) {
    // Names are a nicety: the list still shows without them.
  }
}

// One open request, already verified (rec is what verifyRecord returned).
function requestCard(item, rec) {
  const b = rec.body;
  const who = state.names.get(hexOf(rec.author)) || t('near_someone');
  const urgency = b.urgency !== undefined ? R.URGENCIES[b.urgency] : 'whenever';
  const card = el('li', { class: 'card', 'data-id': item.id },
    el('h2', { text: b.title }),
    el('p', { class: 'meta' },
      el('span', { class: 'tag', text: t('category_' + R.CATEGORIES[b.category]) }),
      ' ',
      el('span', { class: 'tag urgency-' + urgency, text: t('urgency_' + urgency) })),
    el('p', { text: b.area }),
    b.details ? el('p', { class: 'details', text: b.details }) : null,
    el('p', { class: 'meta', text: t('near_by', { name: who }) + ' · ' + t('near_posted', { when: ago(rec.created_at) }) }));
  const mine = hexOf(rec.author) === hexOf(state.member.publicKey);
  if (mine) {
    card.append(el('p', { class: 'meta', text: t('near_yours') }));
  } else if (state.helping.has(item.id)) {
    card.append(el('p', { class: 'notice', text: t('near_helping', { name: who }) }));
  } else {
    const button = el('button', { type: 'button', class: 'primary', text: t('near_help') });
    button.addEventListener('click', () => respond(item.id, who, card, button));
    card.append(button);
  }
  return card;
}

// "I can help": a response record to the request.
async function respond(id, who, card, button) {
  button.disabled = true;
  try {
    await send({ kind: 'response', created_at: now(), body: { target: R.fromHex(id) } });
  } catch (e) {
    button.disabled = false;
    card.append(el('p', { class: 'notice', role: 'alert', text: problem(e) }));
    return;
  }
  state.helping.add(id);
  const done = el('p', { class: 'notice', role: 'status', tabindex: '-1', text: t('near_helping', { name: who }) });
  button.replaceWith(done);
  done.focus();
}

async function nearScreen(notice) {
  const listEl = el('ul', { class: 'cards', id: 'near-list', 'aria-live': 'polite' });
  const status = notice ? el('p', { class: 'notice', role: 'status', text: notice }) : null;
  show(t('near_title'), status, el('p', { class: 'hint', text: t('near_live') }),
    el('p', {}, el('a', { href: '#ask', class: 'button primary', text: t('ask_button') })),
    listEl);
  await Promise.all([loadNames(), loadMyResponses()]);
  await refreshNear(listEl);
  if (state.events === null) watch();
}

async function refreshNear(listEl) {
  let res;
  try {
    res = await api.list({ kind: 'request', status: 'open', limit: 100 });
  } catch (e) {
    listEl.replaceChildren(el('li', { class: 'notice', text: problem(e) }));
    return;
  }
  // Most urgent first, then newest (the node lists newest first).
  const shown = [];
  for (const item of res.items) {
    try {
      const rec = R.verifyRecord(R.fromBase64(item.record), state.nid);
      shown.push({ item, rec });
    } catch (e) {
      // A record that does not verify is not shown.
    }
  }
  const urgency = (s) => s.rec.body.urgency ?? R.URGENCIES.indexOf('whenever');
  shown.sort((a, b) => urgency(a) - urgency(b));
  const cards = shown.map((s) => requestCard(s.item, s.rec));
  listEl.replaceChildren(...cards);
  if (cards.length === 0) listEl.append(el('li', { class: 'empty', text: t('near_empty') }));
}

// ---------------------------------------------------------------------------
// Ask for help

function askScreen() {
  const title = el('input', { type: 'text', maxlength: '120', required: true });
  const category = select(R.CATEGORIES.map((c, i) => [String(i), t('category_' + c)]), '0');
  const area = el('input', { type: 'text', maxlength: '64', required: true, autocomplete: 'off' });
  const urgency = select(R.URGENCIES.map((u, i) => [String(i), t('urgency_' + u)]), '1');
  const details = el('textarea', { rows: '5', maxlength: '2000' });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('ask-title', t('ask_what'), title),
    field('ask-category', t('ask_category'), category),
    field('ask-area', t('ask_area'), area, t('ask_area_hint')),
    field('ask-urgency', t('ask_urgency'), urgency),
    field('ask-details', t('ask_details'), details, t('ask_details_hint')),
    el('button', { type: 'submit', class: 'primary', text: t('ask_button') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = { title: clean(title.value), area: clean(area.value), details: clean(details.value, true) };
    const bad = [];
    if (v.title === '') bad.push(['ask-title', t('error_title_missing')]);
    else if (bytesOf(v.title) > 120) bad.push(['ask-title', t('error_title_long')]);
    if (v.area === '') bad.push(['ask-area', t('error_area_missing')]);
    else if (bytesOf(v.area) > 64) bad.push(['ask-area', t('error_area_long')]);
    if (bytesOf(v.details) > 2000) bad.push(['ask-details', t('error_details_long')]);
    if (showErrors(errors, bad)) return;
    const created = now();
    const body = {
      title: v.title,
      category: Number(category.value),
      urgency: Number(urgency.value),
      area: v.area,
      expires_at: created + REQUEST_LIFETIME,
      languages: [language()],
    };
    if (v.details !== '') body.details = v.details;
    try {
      await send({ kind: 'request', created_at: created, body });
    } catch (err) {
      showErrors(errors, [['ask-title', problem(err)]]);
      return;
    }
    history.replaceState(null, '', '#near');
    await nearScreen(t('ask_sent'));
  });
  show(t('ask_title'), el('p', { text: t('ask_intro') }), errors, form);
}

// ---------------------------------------------------------------------------

async function route() {
  const hash = location.hash;
  if (hash.startsWith('#welcome=')) {
    // The token is in the fragment: it never reaches a server's log.
    welcomeScreen(decodeURIComponent(hash.slice('#welcome='.length)));
    return;
  }
  if (!state.member) {
    show(t('need_link_title'), el('p', { text: t('need_link_text') }));
    return;
  }
  if (hash === '#ask') askScreen();
  else await nearScreen();
}

async function start() {
  setLanguage(chooseLanguage(localStorage.getItem(LANGUAGE_KEY)));
  await R.init();
  try {
    state.info = await api.info();
  } catch (e) {
    show(t('brand'), el('p', { class: 'notice', text: problem(e) }));
    return;
  }
  state.nid = R.fromHex(state.info.neighbourhood_id);
  api.onSessionEnded(() => signIn());
  state.clockOffset = state.info.now - Math.floor(Date.now() / 1000);
  const saved = await keys.load();
  if (saved && !location.hash.startsWith('#welcome=')) {
    state.member = R.memberFromSeed(saved.seed);
    try {
      await signIn();
    } catch (e) {
      state.member = null;
      renderChrome();
      show(t('need_link_title'),
        el('p', { class: 'notice', text: e.status === 403 ? t('not_admitted') : problem(e) }));
      return;
    }
  }
  renderChrome();
  window.addEventListener('hashchange', () => route());
  await route();
  document.body.dataset.ready = 'true';
}

start();
