// The page: welcome (from a welcome link), near you, ask for help.
// Vanilla JavaScript, no framework; every text comes from catalog.js, every
// record is made and signed here with record.js (docs/web.md).

import * as R from './record.js';
import * as api from './api.js';
import * as keys from './keystore.js';
import {
  t, setLanguage, chooseLanguage, language, languages, loadLanguages, formatAgo,
} from './catalog.js';
import { el, show, field, select, showErrors, clean, textProblem } from './ui.js';
import * as L from './lifecycle.js';
import * as O from './offers.js';
import * as Y from './you.js';
import * as D from './devices.js';

const DAY = 86400;
const REQUEST_LIFETIME = 7 * DAY;
const LANGUAGE_KEY = 'noaber.language';

const state = {
  info: null,      // /api/info: neighbourhood, neighbourhood_id, now
  nid: null,       // Uint8Array
  clockOffset: 0,  // node clock - our clock, in seconds
  member: null,    // {seed, publicKey, secretKey}
  device: null,    // this browser's own device key, the same shape (null: none)
  names: new Map(), // member key hex -> profile name
  helping: new Set(), // ids of requests this member said they can help with
  vouches: [],     // [{author, member}] as hex, from the vouch records
  lastCreated: 0,  // created_at of the last record this page signed
  askDraft: null,  // the request being asked, between the form and "check your request"
  keepSaid: false, // whether the next screen keeps the line say() wrote
  filters: { category: '', area: '', urgency: '', language: '', trusted: false },
  events: null,
  liveRefresh: null, // redraws the live part of the screen shown, if it has one
  beforeLanguage: null, // the screen shown before the languages' screen
};

// ---------------------------------------------------------------------------

function now() {
  return Math.floor(Date.now() / 1000) + state.clockOffset;
}

function hexOf(bytes) {
  return R.toHex(bytes);
}

function ago(ts) {
  return formatAgo(ts, now());
}

// Switches the page's language, remembers it on this device, and draws the
// chrome and the current screen again in it.
async function switchLanguage(tag) {
  localStorage.setItem(LANGUAGE_KEY, tag);
  await setLanguage(tag);
  renderChrome();
  await route();
}

// The languages, each in its own name and marked with its own language, the
// current one marked for screen readers as well: on the welcome screen, on
// "You" and on the screen the header's language link leads to (WEB.md:
// "your language").  Choosing one goes back to the screen the person came
// from, now in that language.
function languageList() {
  const list = el('ul', { class: 'language-list' });
  for (const [tag, name] of languages()) {
    const a = el('a', {
      href: '#', lang: tag, hreflang: tag, class: 'button secondary', 'data-language': tag, text: name,
      'aria-current': tag === language() ? 'true' : null,
    });
    a.addEventListener('click', async (e) => {
      e.preventDefault();
      const back = location.hash === '#language' ? state.beforeLanguage : null;
      if (back !== null) history.replaceState(null, '', back);
      await switchLanguage(tag);
    });
    list.append(el('li', {}, a));
  }
  return el('nav', { id: 'languages', class: 'languages', 'aria-label': t('nav_language') }, list);
}

function languageScreen() {
  show(t('nav_language'), languageList());
}

// The four places of the menu; "yours" gathers your requests, your tasks
// and the offers, which share a second, smaller menu on their screens.
const PLACES = [['near', 'nav_near'], ['ask', 'nav_ask'], ['mine', 'nav_yours'], ['you', 'nav_you']];
const YOURS = [['mine', 'nav_mine'], ['tasks', 'nav_tasks'], ['offers', 'nav_offers']];
const PLACE_OF = {
  near: 'near', '': 'near', vouch: 'near', ask: 'ask', 'ask-check': 'ask', you: 'you', message: 'you',
  mine: 'mine', request: 'mine', choose: 'mine', confirm: 'mine', cancel: 'mine', retract: 'mine',
  tasks: 'mine', offers: 'mine', offer: 'mine', 'offer-new': 'mine',
};

function screenOf(hash) {
  return hash.slice(1).split('=')[0];
}

// Marks the menu's link to the place of the screen shown (aria-current).
function markPlace() {
  const place = PLACE_OF[screenOf(location.hash)] || null;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.place === place) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// On "your requests", "your tasks" and "offers": the menu between them,
// under the heading.
function yoursMenu(screen) {
  const list = el('ul');
  for (const [place, key] of YOURS) {
    list.append(el('li', {}, el('a', { href: '#' + place, class: 'tab', text: t(key),
      'aria-current': place === screen ? 'page' : null })));
  }
  document.getElementById('screen-title').after(el('nav', { class: 'yours', 'aria-label': t('nav_yours') }, list));
}

// The header: the neighbourhood's name and one link to the languages on the
// first line, the menu of four places on the second (docs/web.md, "The
// header").
function renderChrome() {
  document.getElementById('skip').textContent = t('skip');
  document.getElementById('brand').textContent = state.info ? state.info.neighbourhood : t('brand');
  const current = languages().find((l) => l[0] === language());
  const link = document.getElementById('language-link');
  link.replaceChildren(globe(), el('span', { class: 'visually-hidden', text: t('nav_language') + ': ' }),
    el('span', { lang: language(), text: current ? current[1] : language() }));
  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('nav_main'));
  nav.replaceChildren();
  if (state.member) {
    const list = el('ul');
    for (const [place, key] of PLACES) {
      list.append(el('li', {}, el('a', { href: '#' + place, class: 'nav-link', 'data-place': place, text: t(key) })));
    }
    nav.append(list);
  }
  markPlace();
}

// A globe drawn in SVG (the page loads no icon font and no other host): it
// says "languages" to those who cannot read the current one.
function globe() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'globe');
  for (const d of ['M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z', 'M2 12h20',
    'M12 2c3 3 4 6.5 4 10s-1 7-4 10c-3-3-4-6.5-4-10s1-7 4-10z']) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

// A sentence about what just happened, in the page's live region, so that it
// is heard and seen whichever screen comes next.
function say(text) {
  const box = document.getElementById('said');
  box.textContent = '';
  state.keepSaid = true;
  // A change of text is what screen readers announce.
  setTimeout(() => {
    box.textContent = text;
    // After a button whose card was redrawn, the keyboard goes on from here.
    if (document.activeElement === document.body || document.activeElement === null) box.focus();
  }, 50);
}

// The members this member trusts: themselves, those they vouch for, and
// those vouched for by them (as `noaber list --trusted` counts).
function trusted() {
  const me = hexOf(state.member.publicKey);
  const one = new Set(state.vouches.filter((v) => v.author === me).map((v) => v.member));
  const all = new Set([me, ...one]);
  for (const v of state.vouches) if (one.has(v.author)) all.add(v.member);
  return all;
}

// "Known to people you trust", when someone this member trusts vouched for
// them; said in words, never by colour alone.
function knownMark(member) {
  const trust = trusted();
  const me = hexOf(state.member.publicKey);
  const by = state.vouches.filter((v) => v.member === member && trust.has(v.author) && v.author !== member);
  if (by.length === 0) return el('p', { class: 'meta', text: t('known_not') });
  const names = by.map((v) => (v.author === me ? t('known_you') : L.nameOf(app, v.author)));
  return el('p', { class: 'known', text: t('known_by', { names: names.join(', ') }) });
}

async function loadVouches() {
  try {
    const res = await api.list({ kind: 'vouch', limit: 500 });
    state.vouches = [];
    for (const item of res.items) {
      const rec = L.verified(app, item.record);
      if (rec) state.vouches.push({ author: hexOf(rec.author), member: hexOf(rec.body.member) });
    }
  } catch (e) {
    // Without vouches nobody shows as known; nothing else depends on them.
  }
}

// ---------------------------------------------------------------------------
// Member key and session

// The member key says who signs in, the device key which of their devices:
// the node admits and revokes each device on its own.
async function signIn() {
  const ch = await api.challenge();
  const challenge = R.fromBase64(ch.challenge);
  const sig = R.signWithContext(ch.context, state.nid, challenge, state.member);
  const d = state.device;
  await api.signIn(hexOf(state.member.publicKey), ch.challenge, R.toBase64(sig), d ? hexOf(d.publicKey) : undefined,
    d ? R.toBase64(R.signWithContext(ch.context, state.nid, challenge, d)) : undefined);
}

// Signs in as `member` on `device` (a recovery card, devices.js).
async function signInAs(member, device) {
  state.member = member;
  state.device = device;
  await signIn();
}

// Keeps the member (from another device or a copy) in this browser with its
// own device key, signs in and shows "near you" with `message`.
async function adopt(seed, name, deviceSeed, message) {
  await keys.save(seed, name, deviceSeed);
  await signInAs(R.memberFromSeed(seed), R.memberFromSeed(deviceSeed));
  history.replaceState(null, '', location.pathname + '#near');
  renderChrome();
  say(message);
  await route();
}

// Records are folded in (created_at, kind, id) order: two of this member's
// records in the same second (pause, then resume) could be folded the other
// way round.  Each record this page signs is dated after the one before.
async function send(rec) {
  const created = Math.max(rec.created_at, state.lastCreated + 1);
  state.lastCreated = created;
  const signed = R.signRecord({ ...rec, created_at: created }, state.member, state.nid);
  return api.submit(R.toBase64(signed.bytes));
}

// A redrawn list must not take the keyboard's place away: the control that
// had the focus is remembered by what it is (its tag, text and card) and
// the same control of the new list gets the focus back.
function focusedControl() {
  const a = document.activeElement;
  if (!a || a === document.body || !document.getElementById('main').contains(a)) return null;
  const card = a.closest('[data-id], [data-member]');
  return { element: a, tag: a.tagName, text: a.textContent,
    card: card ? card.dataset.id || card.dataset.member : null };
}

function refocus(was) {
  if (was === null || document.body.contains(was.element)) return;
  for (const e of document.getElementById('main').querySelectorAll(was.tag)) {
    const card = e.closest('[data-id], [data-member]');
    if (e.textContent === was.text && (card ? card.dataset.id || card.dataset.member : null) === was.card) {
      e.focus();
      return;
    }
  }
}

// The live list: refreshed on every new record; when the stream is refused
// (the session ended), sign in again and listen again, a little later.
function watch() {
  const refresh = async (ev) => {
    // A profile that arrives after the requests it names: the cards are
    // drawn again below with the name (newest profile wins).
    if (ev && ev.record) {
      const rec = L.verified(app, ev.record);
      if (rec !== null && rec.kind === 'profile') state.names.set(hexOf(rec.author), rec.body.name);
    }
    const l = document.getElementById('near-list');
    if (l) {
      const focus = focusedControl();
      await refreshNear(l);
      refocus(focus);
    }
    if (state.liveRefresh) {
      await Promise.all([loadNames(), loadVouches()]);
      const focus = focusedControl();
      await state.liveRefresh();
      refocus(focus);
    }
  };
  const onRecord = (ev) => {
    refresh(ev);
    notifyAbout(ev);
  };
  state.events = api.events(onRecord, () => {
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

// Says what concerns this member in a record that just arrived: someone
// responded or asked, you were chosen, please confirm, a message, a new
// request that matches one of your offers (its category and area).
async function notifyAbout(ev) {
  const rec = L.verified(app, ev.record);
  const me = hexOf(state.member.publicKey);
  if (rec === null || hexOf(rec.author) === me) return;
  const who = L.nameOf(app, rec.author);
  const target = async () => (await api.get(hexOf(rec.body.target))).record;
  let text = null;
  try {
    if (rec.kind === 'message' && hexOf(rec.body.member) === me) {
      text = t('notify_message', { name: who });
    } else if (rec.kind === 'response') {
      const root = L.verified(app, await target());
      if (root && hexOf(root.author) === me) {
        text = t(root.kind === 'offer' ? 'notify_asked' : 'notify_responded', { name: who, title: root.body.title });
      }
    } else if (rec.kind === 'assignment' && hexOf(rec.body.member) === me) {
      const root = L.verified(app, await target());
      if (root) text = t('notify_assigned', { name: who, title: root.body.title });
    } else if (rec.kind === 'done_claim') {
      // On a request it targets the request; on an offer, the assignment of
      // the neighbour who asked.
      let root = L.verified(app, await target());
      const asker = root && root.kind === 'assignment' ? hexOf(root.body.member) : null;
      if (root && root.kind === 'assignment') root = L.verified(app, (await api.get(hexOf(root.body.target))).record);
      if (root && (asker === me || (asker === null && hexOf(root.author) === me))) {
        text = t('notify_claimed', { name: who, title: root.body.title });
      }
    } else if (rec.kind === 'request') {
      const offers = await api.list({ kind: 'offer', author: me, status: 'available', limit: 100 });
      const match = offers.items.map((i) => L.verified(app, i.record)).some((o) => o
        && o.body.category === rec.body.category && areaMatch(o.body.area, rec.body.area));
      if (match) text = t('notify_matches', { title: rec.body.title });
    }
  } catch (e) {
    return; // What it was about is gone or unreachable: nothing to say.
  }
  if (text === null) return;
  say(text);
  if ('Notification' in window && Notification.permission === 'granted') {
    try {
      new Notification(state.info.neighbourhood, { body: text, tag: ev.id, lang: language() });
    } catch (e) {
      // Some phones show notifications only through a service worker; the
      // page's own line above still says it.
    }
  }
}

// The words of an area, folded as libnoaber's nb_area_match folds them: cut
// at every character that is not a letter or a digit, without case, Latin
// letters without their accents.
function areaWords(text) {
  return text.normalize('NFD').replace(/(\p{Script=Latin})\p{M}+/gu, '$1').toLowerCase()
    .replace(/ß/g, 'ss').replace(/œ/g, 'oe').replace(/æ/g, 'ae')
    .split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

// Whether every word of `query` is a whole word of `area` (noaber/area.h).
function areaMatch(query, area) {
  const q = areaWords(query);
  const a = new Set(areaWords(area));
  return q.length > 0 && q.every((w) => a.has(w));
}

function problem(e) {
  if (e instanceof R.RecordError) return t('error_invalid');
  // This device was switched off (from another of the member's, or by the
  // coordinator): said in the person's language, not the node's words.
  if (e instanceof api.ApiError && e.code === 'not_admitted') return t('not_admitted');
  if (e instanceof api.ApiError && e.status !== 0) {
    return t('error_refused', { message: e.message });
  }
  return t('error_network');
}

// ---------------------------------------------------------------------------
// Welcome

function welcomeScreen(token) {
  const name = el('input', { type: 'text', autocomplete: 'given-name', maxlength: '64', required: true });
  const vars = { neighbourhood: state.info.neighbourhood };
  const form = el('form', { novalidate: true },
    field('welcome-name', t('welcome_name'), name, t('welcome_name_hint')),
    el('p', { class: 'hint', text: t('welcome_device_note') }),
    el('button', { type: 'submit', class: 'primary', text: t('welcome_button', vars) }));
  const errors = el('div');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = clean(name.value);
    if (showErrors(errors, textProblem('welcome-name', n, 64, t('error_name_missing'), t('error_name_long')))) return;
    try {
      await join(token, n);
    } catch (err) {
      const text = err instanceof api.ApiError && (err.status === 404 || err.status === 410)
        ? t('welcome_used') : problem(err);
      showErrors(errors, [['welcome-name', text]]);
    }
  });
  show(t('welcome_title', vars), el('p', { text: t('welcome_intro', vars) }), errors, form,
    el('h2', { text: t('welcome_language') }), languageList());
}

// Makes the key in this browser, redeems the welcome token for it, signs in
// and publishes the member's profile (the name neighbours see).
async function join(token, name) {
  const member = R.newMember();
  const device = R.newMember();
  await api.welcome(token, hexOf(member.publicKey), deviceLabel(), hexOf(device.publicKey));
  await keys.save(member.seed, name, device.seed);
  state.member = member;
  state.device = device;
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
    // Newest first: the first profile of each author is the one that counts
    // (a name changed since the last look replaces the old one).
    const names = new Map();
    for (const item of res.items) {
      const rec = L.verified(app, item.record);
      if (rec === null) continue; // A record that does not verify is not shown.
      const key = hexOf(rec.author);
      if (!names.has(key)) names.set(key, rec.body.name);
    }
    state.names = names;
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
    el('h2', { text: b.title, dir: 'auto' }),
    el('p', { class: 'meta' },
      el('span', { class: 'tag', text: t('category_' + R.CATEGORIES[b.category]) }),
      ' ',
      el('span', { class: 'tag urgency-' + urgency, text: t('urgency_' + urgency) })),
    // What neighbours wrote keeps its own direction (an Arabic title on a
    // French page, a Dutch one on an Arabic page).
    el('p', { text: b.area, dir: 'auto' }),
    b.details ? el('p', { class: 'details', text: b.details, dir: 'auto' }) : null,
    el('p', { class: 'meta', text: (b.on_behalf_of ? t('near_by_for', { name: who, for: b.on_behalf_of })
      : t('near_by', { name: who })) + ' · ' + t('near_posted', { when: ago(rec.created_at) }) }));
  const mine = hexOf(rec.author) === hexOf(state.member.publicKey);
  if (!mine) {
    card.append(knownMark(hexOf(rec.author)),
      el('p', {}, el('a', { href: '#vouch=' + hexOf(rec.author), text: t('vouch_link', { name: who }) })));
  }
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
    filterForm(listEl), listEl);
  await Promise.all([loadNames(), loadMyResponses(), loadVouches()]);
  await refreshNear(listEl);
  if (state.events === null) watch();
}

// The languages a request can be in: the page's own, and those the browser
// can name.
function languageOptions() {
  const tags = [...new Set([...languages().map((l) => l[0]), 'nl', 'fr', 'en', 'ar', 'tr', 'ro', 'pl', 'es'])];
  let names = null;
  try {
    names = new Intl.DisplayNames([language()], { type: 'language' });
  } catch (e) {
    // Without it the tags are shown as they are.
  }
  return tags.map((tag) => [tag, names ? names.of(tag) : tag]);
}

// Filters on "near you": category and area go to the node (its area rule
// matches a postcode or a part of a name); urgency, language and "trusted
// only" are applied here.
function filterForm(listEl) {
  const f = state.filters;
  const category = select([['', t('filter_any')], ...R.CATEGORIES.map((c) => [c, t('category_' + c)])], f.category);
  const area = el('input', { type: 'text', maxlength: '64', autocomplete: 'off', value: f.area });
  const urgency = select([['', t('filter_any')], ...R.URGENCIES.map((u) => [u, t('urgency_' + u)])], f.urgency);
  const lang = select([['', t('filter_any')], ...languageOptions()], f.language);
  const trustedOnly = el('input', { type: 'checkbox', class: 'check', checked: f.trusted });
  const form = el('form', { novalidate: true, class: 'filters' },
    field('filter-category', t('filter_category'), category),
    field('filter-area', t('filter_area'), area, t('filter_area_hint')),
    field('filter-urgency', t('filter_urgency'), urgency),
    field('filter-language', t('filter_language'), lang),
    el('div', { class: 'field check-field' }, trustedOnly,
      el('label', { for: 'filter-trusted', text: t('filter_trusted') })),
    el('button', { type: 'submit', class: 'secondary', text: t('filter_button') }));
  trustedOnly.id = 'filter-trusted';
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    state.filters = {
      category: category.value, area: clean(area.value), urgency: urgency.value,
      language: lang.value, trusted: trustedOnly.checked,
    };
    await refreshNear(listEl);
    say(t('filter_applied'));
  });
  const active = Object.values(f).some(Boolean);
  return el('details', { class: 'filter-box', open: active },
    el('summary', { text: t('filter_title') }), form);
}

async function refreshNear(listEl) {
  const f = state.filters;
  let res;
  try {
    res = await api.list({ kind: 'request', status: 'open', limit: 100, category: f.category, area: f.area });
  } catch (e) {
    listEl.replaceChildren(el('li', { class: 'notice', text: problem(e) }));
    return;
  }
  const trust = trusted();
  // Most urgent first, then newest (the node lists newest first).
  const shown = [];
  for (const item of res.items) {
    const rec = L.verified(app, item.record);
    if (rec === null) continue;
    const b = rec.body;
    if (f.urgency && R.URGENCIES[b.urgency ?? 3] !== f.urgency) continue;
    if (f.language && !(b.languages || []).some((l) => l.toLowerCase().split('-')[0] === f.language)) continue;
    if (f.trusted && !trust.has(hexOf(rec.author))) continue;
    shown.push({ item, rec });
  }
  const urgency = (s) => s.rec.body.urgency ?? R.URGENCIES.indexOf('whenever');
  shown.sort((a, b) => urgency(a) - urgency(b));
  const cards = shown.map((s) => requestCard(s.item, s.rec));
  listEl.replaceChildren(...cards);
  if (cards.length === 0) {
    listEl.append(el('li', { class: 'empty', text: Object.values(f).some(Boolean) ? t('near_none_match') : t('near_empty') }));
  }
}

// ---------------------------------------------------------------------------
// Ask for help

function askScreen() {
  // What the person typed stays when they come back from "check your request".
  const d = state.askDraft || { title: '', category: '0', area: '', urgency: '1', details: '', onBehalf: '' };
  const title = el('input', { type: 'text', maxlength: '120', required: true, value: d.title });
  const category = select(R.CATEGORIES.map((c, i) => [String(i), t('category_' + c)]), d.category);
  const area = el('input', { type: 'text', maxlength: '64', required: true, autocomplete: 'off', value: d.area });
  const urgency = select(R.URGENCIES.map((u, i) => [String(i), t('urgency_' + u)]), d.urgency);
  const details = el('textarea', { rows: '5', maxlength: '2000' });
  details.value = d.details;
  const onBehalf = el('input', { type: 'text', maxlength: '64', autocomplete: 'off', value: d.onBehalf });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('ask-title', t('ask_what'), title),
    field('ask-category', t('ask_category'), category),
    field('ask-area', t('ask_area'), area, t('ask_area_hint')),
    field('ask-urgency', t('ask_urgency'), urgency),
    field('ask-details', t('ask_details'), details, t('ask_details_hint')),
    field('ask-for', t('ask_for'), onBehalf, t('ask_for_hint')),
    el('button', { type: 'submit', class: 'primary', text: t('ask_continue') }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = {
      title: clean(title.value), category: category.value, area: clean(area.value),
      urgency: urgency.value, details: clean(details.value, true), onBehalf: clean(onBehalf.value),
    };
    const bad = [
      ...textProblem('ask-title', v.title, 120, t('error_title_missing'), t('error_title_long')),
      ...textProblem('ask-area', v.area, 64, t('error_area_missing'), t('error_area_long')),
      ...textProblem('ask-details', v.details, 2000, null, t('error_details_long')),
      ...textProblem('ask-for', v.onBehalf, 64, null, t('error_for_long')),
    ];
    if (showErrors(errors, bad)) return;
    state.askDraft = v;
    location.hash = '#ask-check';
  });
  show(t('ask_title'), el('p', { text: t('ask_intro') }), errors, form);
}

// "Check your request": everything at once, each with a way to change it,
// before anything is sent (GOV.UK's "check your answers").
function askCheckScreen() {
  const v = state.askDraft;
  if (!v) {
    location.hash = '#ask';
    return;
  }
  const rows = [
    [t('ask_what'), v.title, 'ask-title'],
    [t('ask_category'), t('category_' + R.CATEGORIES[Number(v.category)]), 'ask-category'],
    [t('ask_area'), v.area, 'ask-area'],
    [t('ask_urgency'), t('urgency_' + R.URGENCIES[Number(v.urgency)]), 'ask-urgency'],
    [t('ask_details'), v.details || t('ask_check_none'), 'ask-details'],
    [t('ask_for'), v.onBehalf || t('ask_check_none'), 'ask-for'],
  ];
  const list = el('dl', { class: 'check-list' });
  for (const [label, value, id] of rows) {
    const change = el('a', { href: '#ask', text: t('ask_change') });
    change.append(el('span', { class: 'visually-hidden', text: ' ' + label }));
    change.addEventListener('click', (e) => {
      e.preventDefault();
      location.hash = '#ask';
      // The form is drawn on the hash change; then the field gets the focus.
      window.addEventListener('hashchange', () => setTimeout(() => document.getElementById(id)?.focus(), 0), { once: true });
    });
    list.append(el('div', { class: 'check-row' }, el('dt', { text: label }), el('dd', { class: 'details', text: value }),
      el('dd', {}, change)));
  }
  const errors = el('div');
  const button = el('button', { type: 'button', class: 'primary', text: t('ask_send') });
  button.addEventListener('click', async () => {
    button.disabled = true;
    const created = now();
    const body = {
      title: v.title,
      category: Number(v.category),
      urgency: Number(v.urgency),
      area: v.area,
      expires_at: created + REQUEST_LIFETIME,
      languages: [language()],
    };
    if (v.details !== '') body.details = v.details;
    if (v.onBehalf !== '') body.on_behalf_of = v.onBehalf;
    try {
      await send({ kind: 'request', created_at: created, body });
    } catch (err) {
      button.disabled = false;
      showErrors(errors, [['ask-send', problem(err)]]);
      return;
    }
    state.askDraft = null;
    history.replaceState(null, '', '#near');
    await nearScreen(t('ask_sent'));
  });
  button.id = 'ask-send';
  show(t('ask_check_title'), errors, list, el('p', { class: 'hint', text: t('ask_check_note') }), button);
}

// ---------------------------------------------------------------------------

async function route() {
  const hash = location.hash;
  markPlace();
  if (hash === '#language') {
    languageScreen();
    return;
  }
  state.beforeLanguage = hash || '#near';
  if (hash.startsWith('#welcome=')) {
    // The token is in the fragment: it never reaches a server's log.
    welcomeScreen(decodeURIComponent(hash.slice('#welcome='.length)));
    return;
  }
  // From another device, a recovery card or a copy: the key of each is in
  // the fragment too.
  if (hash.startsWith('#transfer=')) {
    D.takeScreen(app, hash.slice('#transfer='.length));
    return;
  }
  if (hash.startsWith('#restore')) {
    D.restoreScreen(app, hash.startsWith('#restore=') ? hash.slice('#restore='.length) : null);
    return;
  }
  if (!state.member) {
    needLink();
    return;
  }
  state.liveRefresh = null;
  // What was said stays for the screen that follows it, not for the next.
  if (!state.keepSaid) document.getElementById('said').textContent = '';
  state.keepSaid = false;
  const [screen, arg = ''] = hash.slice(1).split('=');
  const [id, member] = arg.split(':');
  if (!['near', 'ask', 'ask-check', ''].includes(screen)) {
    await Promise.all([loadNames(), loadVouches()]);
    if (state.events === null) watch();
  }
  if (screen === 'ask') askScreen();
  else if (screen === 'ask-check') askCheckScreen();
  else if (screen === 'mine') await L.myRequestsScreen(app);
  else if (screen === 'request') await L.requestScreen(app, id);
  else if (screen === 'choose') await L.chooseScreen(app, id, member);
  else if (screen === 'confirm') await L.confirmScreen(app, id);
  else if (screen === 'cancel' || screen === 'retract') await L.endScreen(app, id, screen);
  else if (screen === 'tasks') await L.tasksScreen(app);
  else if (screen === 'offers') await O.offersScreen(app);
  else if (screen === 'offer-new') O.newOfferScreen(app);
  else if (screen === 'offer') await O.offerScreen(app, id);
  else if (screen === 'you') await Y.youScreen(app);
  else if (screen === 'vouch') Y.vouchScreen(app, id);
  else if (screen === 'message') Y.messageScreen(app, id, member);
  else if (screen === 'move') D.moveScreen(app);
  else if (screen === 'card') D.cardScreen(app);
  else if (screen === 'backup') D.backupScreen(app);
  // Few neighbours coordinate: their screens are fetched when first opened.
  else if (screen.startsWith('care')) await (await import('./care.js')).careScreen(app, screen, id, member);
  else await nearScreen();
  if (YOURS.some(([place]) => place === screen) && location.hash === hash) yoursMenu(screen);
}

// Asks again, at each start, that the browser keep this site's data (the
// key): a browser that said no once may say yes once the page is installed.
async function keepStorage() {
  try {
    if (navigator.storage && !(await navigator.storage.persisted())) await navigator.storage.persist();
  } catch (e) {
    // A request only: the key is kept until someone clears the data.
  }
}

// Without a member here: a welcome link, or the recovery card or copy.
function needLink(notice) {
  show(t('need_link_title'), notice ? el('p', { class: 'notice', text: notice }) : null,
    el('p', { text: t('need_link_text') }),
    el('p', { text: t('need_link_restore') }),
    el('p', {}, el('a', { href: '#restore', class: 'button secondary', text: t('need_link_restore_button') })));
}

// What the screens of lifecycle.js get from the page.
const app = { state, send, now, ago, problem, say, knownMark, languageList, signInAs, adopt, deviceLabel };

async function start() {
  await loadLanguages();
  await setLanguage(chooseLanguage(localStorage.getItem(LANGUAGE_KEY)));
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
  const arriving = ['#welcome=', '#transfer=', '#restore'].some((p) => location.hash.startsWith(p));
  if (saved && !arriving) {
    state.member = R.memberFromSeed(saved.seed);
    state.device = saved.device ? R.memberFromSeed(saved.device) : null;
    keepStorage();
    try {
      await signIn();
    } catch (e) {
      state.member = null;
      renderChrome();
      needLink(e.status === 403 ? t('not_admitted') : problem(e));
      return;
    }
  }
  renderChrome();
  window.addEventListener('hashchange', () => route());
  await route();
  document.body.dataset.ready = 'true';
}

start();
