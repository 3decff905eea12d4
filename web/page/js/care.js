// The coordinator's screens (docs/web.md, "Coordinators"): a phone intake on
// someone's behalf, "my people" (the caseload), "who needs a call", choosing
// the contact the helper gets, the noticeboard sheet to print and the
// anonymous overview of the node.  They do in the page what `noaber intake`,
// `people`, `calls`, `assign`, `sheet` and `report` do (docs/client.md).
//
// The caseload (names, phone numbers, addresses, notes) lives in this
// browser only, encrypted at rest: it is never sent to noaber-web or the
// node.  The neighbourhood sees only the label on each request.

import sodium from '../vendor/libsodium-wrappers.mjs';
import * as R from './record.js';
import * as api from './api.js';
import { t } from './catalog.js';
import { el, show, field, select, showErrors, clean, textProblem, bytesOf } from './ui.js';
import { verified, nameOf, loadRoot, dateAfter, safety, actionButton } from './lifecycle.js';

const hex = (b) => R.toHex(b);
const DAY = 86400;
// As `noaber intake` without --expires (NB_EXPIRY_DEFAULT).
const REQUEST_LIFETIME = 7 * DAY;
// The caseload's limits, as client/care.h has them.
const LABEL_MAX = 24;
const FIELD_MAX = 200;
const NOTES_MAX = 1000;
const PEOPLE_MAX = 500;
const ASKS_MAX = 64;
// The caseload key: crypto_kdf subkey 1, context "caseload", from the
// member's seed, as `noaber` derives the key of IDENTITY.caseload.
const KDF_CONTEXT = 'caseload';
const KDF_SUBKEY = 1;
const STORE_PREFIX = 'noaber.caseload.';

// ---------------------------------------------------------------------------
// The caseload, encrypted in this browser's localStorage

function caseKey(member) {
  return sodium.crypto_kdf_derive_from_key(sodium.crypto_secretbox_KEYBYTES, KDF_SUBKEY, KDF_CONTEXT, member.seed);
}

// One entry per member key, so that two people sharing a browser profile do
// not open each other's caseload (they could not: the key differs).
function storeName(member) {
  return STORE_PREFIX + hex(member.publicKey);
}

function emptyCaseload() {
  return { my_phone: '', people: [] };
}

// The caseload of this member, or an empty one; a stored caseload that does
// not open with this member's key is an error (never silently replaced).
export function loadCaseload(member) {
  const stored = localStorage.getItem(storeName(member));
  if (stored === null) return emptyCaseload();
  const bytes = R.fromBase64(stored);
  const n = sodium.crypto_secretbox_NONCEBYTES;
  const key = caseKey(member);
  try {
    const plain = sodium.crypto_secretbox_open_easy(bytes.subarray(n), bytes.subarray(0, n), key);
    return JSON.parse(new TextDecoder().decode(plain));
  } catch (e) {
    throw new CaseloadError();
  } finally {
    sodium.memzero(key);
  }
}

export class CaseloadError extends Error {}

// Encrypted with a fresh nonce on every write.
export function saveCaseload(member, caseload) {
  const key = caseKey(member);
  const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
  const box = sodium.crypto_secretbox_easy(new TextEncoder().encode(JSON.stringify(caseload)), nonce, key);
  sodium.memzero(key);
  localStorage.setItem(storeName(member), R.toBase64(R.concat(nonce, box)));
}

function findPerson(caseload, label) {
  const l = label.toLowerCase();
  return caseload.people.find((p) => p.label.toLowerCase() === l) || null;
}

function personOfAsk(caseload, id) {
  for (const p of caseload.people) {
    const ask = p.asks.find((a) => a.id === id);
    if (ask) return { person: p, ask };
  }
  return null;
}

// ---------------------------------------------------------------------------
// The rules `noaber` follows

// A label is what the whole neighbourhood reads: initials or a first name,
// one word of letters (dots, hyphens and apostrophes allowed), at most 24
// bytes, as client/cmd_care.c checks it.  Returns a catalog key or null.
export function labelProblem(label) {
  const bytes = new TextEncoder().encode(label);
  if (bytes.length === 0) return 'care_error_label_missing';
  if (bytes.length > LABEL_MAX) return 'care_error_label_long';
  let letters = false;
  for (const b of bytes) {
    if (b >= 0x80 || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) letters = true;
    else if (b !== 0x2e && b !== 0x2d && b !== 0x27) return 'care_error_label_word';
  }
  return letters ? null : 'care_error_label_word';
}

// The contact sealed to the helper, word for word as `noaber assign`
// seals it from the caseload (client/caseload.c, caseload_contact): the
// helper's `noaber show` and page read the same sentence either way.
export function contactText(caseload, person, contact) {
  if (contact === 'me') {
    if (!caseload.my_phone) return { problem: 'care_error_no_my_phone' };
    return { text: 'Phone the coordinator for ' + person.label + ': ' + caseload.my_phone };
  }
  if (!person.phone && !person.address) return { problem: 'care_error_no_contact' };
  return {
    text: (person.name || person.label) + (person.phone ? ', phone ' + person.phone : '')
      + (person.address ? ', ' + person.address : ''),
  };
}

// What, if anything, needs a call about one request, as `noaber calls`
// decides: a helper was assigned, the helper says it is done, or it expired
// with nobody; and, before any of these, that neighbours offered to help
// and the coordinator has to choose one.  `event` is the record the call is
// about: once phoned about it, no call until the next step.
function callOf(root, ask) {
  let reason = null;
  let event = null;
  if (root.status === 'open' && root.responses.length > 0) {
    reason = 'responded';
  } else if (root.status === 'assigned' && root.assignment) {
    reason = 'assigned';
    event = hex(root.assignment.id);
  } else if (root.status === 'done_claimed') {
    const claims = root.claims.filter((c) => c.kind === 'done_claim');
    if (claims.length > 0) {
      reason = 'done_claimed';
      event = hex(claims[claims.length - 1].id);
    }
  } else if (root.status === 'expired' && !root.assignment) {
    reason = 'expired';
    event = root.id;
  }
  if (event !== null && ask.called === event) return { reason: null, event };
  return { reason, event };
}

// ---------------------------------------------------------------------------
// Screens

// Opens the caseload for a screen; on failure the screen says why.
function caseloadOrSay(app, title) {
  try {
    return loadCaseload(app.state.member);
  } catch (e) {
    show(title, el('p', { class: 'notice', role: 'alert', text: t('care_error_caseload') }));
    return null;
  }
}

function backLink() {
  return el('p', {}, el('a', { href: '#care', text: t('care_back') }));
}

export async function careScreen(app, screen, id, member) {
  if (screen === 'care') homeScreen(app);
  else if (screen === 'care-intake') intakeScreen(app);
  else if (screen === 'care-people') await peopleScreen(app);
  else if (screen === 'care-calls') await callsScreen(app);
  else if (screen === 'care-choose') await chooseScreen(app, id, member);
  else if (screen === 'care-sheet') await sheetScreen(app);
  else if (screen === 'care-report') await reportScreen(app);
  else homeScreen(app);
}

// The coordinator's start: what each screen is for, and their own number.
function homeScreen(app) {
  const cl = caseloadOrSay(app, t('care_title'));
  if (cl === null) return;
  const links = [
    ['#care-intake', 'care_intake_title', 'care_intake_what'],
    ['#care-people', 'care_people_title', 'care_people_what'],
    ['#care-calls', 'care_calls_title', 'care_calls_what'],
    ['#care-sheet', 'care_sheet_title', 'care_sheet_what'],
    ['#care-report', 'care_report_title', 'care_report_what'],
  ];
  const list = el('ul', { class: 'cards' });
  for (const [href, title, what] of links) {
    list.append(el('li', { class: 'card' },
      el('h2', {}, el('a', { href, text: t(title) })), el('p', { text: t(what) })));
  }
  const phone = el('input', { type: 'tel', maxlength: String(FIELD_MAX), autocomplete: 'tel', value: cl.my_phone });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('care-my-phone', t('care_my_phone'), phone, t('care_my_phone_hint')),
    el('button', { type: 'submit', class: 'secondary', text: t('care_my_phone_button') }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = clean(phone.value);
    if (showErrors(errors, textProblem('care-my-phone', v, FIELD_MAX, null, t('care_error_field_long')))) return;
    const now = loadCaseload(app.state.member);
    now.my_phone = v;
    saveCaseload(app.state.member, now);
    app.say(t('care_my_phone_saved'));
  });
  show(t('care_title'), el('p', { text: t('care_intro') }),
    el('p', { class: 'hint', text: t('care_private') }), list, errors, form);
}

// A request taken by phone: the request's fields, the label the
// neighbourhood sees, and what stays in this browser.
function intakeScreen(app) {
  const cl = caseloadOrSay(app, t('care_intake_title'));
  if (cl === null) return;
  const label = el('input', { type: 'text', maxlength: String(LABEL_MAX), autocomplete: 'off', list: 'care-labels' });
  const labels = el('datalist', { id: 'care-labels' }, ...cl.people.map((p) => el('option', { value: p.label })));
  const title = el('input', { type: 'text', maxlength: '120' });
  const category = select(R.CATEGORIES.map((c, i) => [String(i), t('category_' + c)]), '0');
  const urgency = select(R.URGENCIES.map((u, i) => [String(i), t('urgency_' + u)]), '1');
  const area = el('input', { type: 'text', maxlength: '64', autocomplete: 'off' });
  const details = el('textarea', { rows: '3', maxlength: '2000' });
  const name = el('input', { type: 'text', maxlength: String(FIELD_MAX), autocomplete: 'off' });
  const phone = el('input', { type: 'tel', maxlength: String(FIELD_MAX), autocomplete: 'off' });
  const address = el('input', { type: 'text', maxlength: String(FIELD_MAX), autocomplete: 'off' });
  const notes = el('textarea', { rows: '3', maxlength: String(NOTES_MAX) });
  const contact = select([['person', t('care_contact_person')], ['me', t('care_contact_me')]], 'person');
  // Someone already in the caseload keeps the contact chosen for them
  // before, as `noaber intake` without --contact does.
  label.addEventListener('change', () => {
    const known = findPerson(cl, clean(label.value));
    if (known) contact.value = known.contact;
  });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    el('h2', { text: t('care_intake_public') }),
    field('care-label', t('care_label'), label, t('care_label_hint')), labels,
    field('care-title', t('ask_what'), title),
    field('care-category', t('ask_category'), category),
    field('care-urgency', t('ask_urgency'), urgency),
    field('care-area', t('ask_area'), area, t('care_area_hint')),
    field('care-details', t('ask_details'), details, t('ask_details_hint')),
    el('h2', { text: t('care_intake_private') }),
    el('p', { class: 'hint', text: t('care_private') }),
    field('care-name', t('care_name'), name),
    field('care-phone', t('care_phone'), phone),
    field('care-address', t('care_address'), address),
    field('care-notes', t('care_notes'), notes, t('care_notes_hint')),
    field('care-contact', t('care_contact'), contact, t('care_contact_hint')),
    el('button', { type: 'submit', class: 'primary', text: t('care_intake_button') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = {
      label: clean(label.value), title: clean(title.value), area: clean(area.value),
      details: clean(details.value, true), name: clean(name.value), phone: clean(phone.value),
      address: clean(address.value), notes: clean(notes.value, true),
    };
    const now = loadCaseload(app.state.member);
    const known = v.label ? findPerson(now, v.label) : null;
    const bad = [];
    const lp = labelProblem(v.label);
    if (lp) bad.push(['care-label', t(lp)]);
    bad.push(...textProblem('care-title', v.title, 120, t('error_title_missing'), t('error_title_long')));
    // The first intake for a person says where they live; later ones reuse it.
    bad.push(...textProblem('care-area', v.area, 64, known ? null : t('care_error_area_missing'), t('error_area_long')));
    bad.push(...textProblem('care-details', v.details, 2000, null, t('error_details_long')));
    for (const k of ['name', 'phone', 'address']) {
      bad.push(...textProblem('care-' + k, v[k], FIELD_MAX, null, t('care_error_field_long')));
    }
    bad.push(...textProblem('care-notes', v.notes, NOTES_MAX, null, t('care_error_notes_long')));
    if (!known && now.people.length >= PEOPLE_MAX) bad.push(['care-label', t('care_error_full')]);
    if (showErrors(errors, bad)) return;
    const person = known || { label: v.label, name: '', phone: '', address: '', area: '', notes: '',
      contact: 'person', asks: [] };
    for (const k of ['name', 'phone', 'address', 'notes', 'area']) if (v[k] !== '') person[k] = v[k];
    person.contact = contact.value;
    const created = app.now();
    // The fields `noaber intake` sets, and no others: the same record.
    const body = {
      title: v.title,
      category: Number(category.value),
      urgency: Number(urgency.value),
      area: person.area,
      expires_at: created + REQUEST_LIFETIME,
      on_behalf_of: person.label,
    };
    if (v.details !== '') body.details = v.details;
    let sent;
    try {
      sent = await app.send({ kind: 'request', created_at: created, body });
    } catch (err) {
      showErrors(errors, [['care-title', app.problem(err)]]);
      return;
    }
    if (!known) now.people.push(person);
    if (person.asks.length >= ASKS_MAX) person.asks.shift(); // the oldest ended long ago
    person.asks.push({ id: sent.id, called: null });
    saveCaseload(app.state.member, now);
    location.hash = '#care-people';
    app.say(t('care_intake_sent', { label: person.label }));
  });
  show(t('care_intake_title'), el('p', { text: t('care_intake_intro') }), errors, form);
}

// Each request of the caseload with what the node says about it now.
async function withRoots(app, cl) {
  const out = [];
  for (const person of cl.people) {
    const asks = [];
    for (const ask of person.asks) {
      let root = null;
      let problem = null;
      try {
        root = await loadRoot(app, ask.id);
      } catch (e) {
        // Purged after it ended (404, 410): gone, as `noaber people` says;
        // anything else is said as it is.
        const gone = e instanceof api.ApiError && (e.status === 404 || e.status === 410);
        if (!gone) problem = app.problem(e);
      }
      asks.push({ ask, root, problem });
    }
    out.push({ person, asks });
  }
  return out;
}

function stateWords(app, root) {
  if (root === null) return t('care_state_gone');
  const helper = root.assignment ? nameOf(app, root.assignment.body.member) : '';
  switch (root.status) {
    case 'open':
      return root.responses.length === 0 ? t('mine_state_waiting')
        : t('care_state_offered', { n: root.responses.length });
    case 'assigned': return t('care_state_assigned', { name: helper });
    case 'done_claimed': return t('care_state_claimed', { name: helper });
    case 'done': return t('mine_state_done');
    case 'cancelled': return t('mine_state_cancelled');
    case 'expired': return t('mine_state_expired');
    default: return root.status;
  }
}

async function peopleScreen(app) {
  const cl = caseloadOrSay(app, t('care_people_title'));
  if (cl === null) return;
  const list = el('ul', { class: 'cards', id: 'live-list', 'aria-live': 'polite' });
  show(t('care_people_title'), el('p', { class: 'hint', text: t('care_private') }),
    el('p', {}, el('a', { href: '#care-intake', class: 'button primary', text: t('care_intake_title') })), list,
    backLink());
  const draw = async () => {
    let now;
    try {
      now = loadCaseload(app.state.member);
    } catch (e) {
      list.replaceChildren(el('li', { class: 'notice', text: t('care_error_caseload') }));
      return;
    }
    const cards = [];
    for (const { person, asks } of await withRoots(app, now)) {
      const facts = el('dl', { class: 'check-list' });
      for (const [k, v] of [['care_name', person.name], ['care_phone', person.phone], ['care_address', person.address],
        ['ask_area', person.area], ['care_notes', person.notes],
        ['care_contact', t(person.contact === 'me' ? 'care_contact_me' : 'care_contact_person')]]) {
        if (v) facts.append(el('div', { class: 'check-row' }, el('dt', { text: t(k) }), el('dd', { class: 'details', text: v, dir: 'auto' })));
      }
      const reqs = el('ul');
      for (const { ask, root, problem } of asks) {
        reqs.append(el('li', {},
          root ? el('a', { href: '#request=' + ask.id, text: root.rec.body.title, dir: 'auto' }) : ask.id.slice(0, 8),
          ' — ', el('span', { class: 'state', text: problem || stateWords(app, root) })));
      }
      const forget = actionButton(t('care_forget_button', { label: person.label }), () => {
        const c = loadCaseload(app.state.member);
        c.people = c.people.filter((p) => p.label !== person.label);
        saveCaseload(app.state.member, c);
        app.say(t('care_forgotten', { label: person.label }));
        draw();
      }, 'secondary');
      cards.push(el('li', { class: 'card', 'data-label': person.label },
        el('h2', { text: person.label, dir: 'auto' }), facts,
        el('h3', { text: t('care_requests') }), reqs,
        el('p', { class: 'hint', text: t('care_forget_hint') }), forget));
    }
    list.replaceChildren(...cards);
    if (cards.length === 0) list.append(el('li', { class: 'empty', text: t('care_people_empty') }));
  };
  app.state.liveRefresh = draw;
  await draw();
}

// The sentence of one call, as `noaber calls` says it.
function callWords(app, person, root, reason) {
  const who = (person.name || person.label) + (person.phone ? ' (' + person.phone + ')' : '');
  const helper = root.assignment ? nameOf(app, root.assignment.body.member) : '';
  const title = root.rec.body.title;
  return t('care_call_' + reason, { helper, title, who, n: root.responses.length });
}

async function callsScreen(app) {
  const cl = caseloadOrSay(app, t('care_calls_title'));
  if (cl === null) return;
  const list = el('ul', { class: 'cards', id: 'live-list', 'aria-live': 'polite' });
  show(t('care_calls_title'), el('p', { class: 'hint', text: t('near_live') }), list, backLink());
  const draw = async () => {
    const now = loadCaseload(app.state.member);
    const cards = [];
    for (const { person, asks } of await withRoots(app, now)) {
      for (const { ask, root } of asks) {
        if (root === null) continue;
        const { reason, event } = callOf(root, ask);
        if (reason === null) continue;
        const card = el('li', { class: 'card', 'data-id': ask.id },
          el('h2', { text: person.label + ': ' + root.rec.body.title, dir: 'auto' }),
          el('p', { class: 'state', text: callWords(app, person, root, reason) }));
        if (reason === 'responded') {
          for (const r of root.responses) {
            card.append(el('p', {}, el('a', { class: 'button primary', href: '#care-choose=' + ask.id + ':' + r.author,
              text: t('mine_choose', { name: nameOf(app, r.author) }) })));
          }
        } else {
          if (reason === 'done_claimed') {
            card.append(el('p', {}, el('a', { class: 'button secondary', href: '#confirm=' + ask.id,
              text: t('care_confirm_for', { label: person.label }) })));
          }
          const phoned = actionButton(t('care_phoned_button', { label: person.label }), () => {
            const c = loadCaseload(app.state.member);
            const found = personOfAsk(c, ask.id);
            if (found) found.ask.called = event;
            saveCaseload(app.state.member, c);
            app.say(t('care_phoned', { label: person.label }));
            draw();
          }, 'secondary');
          card.append(phoned);
        }
        cards.push(card);
      }
    }
    list.replaceChildren(...cards);
    if (cards.length === 0) list.append(el('li', { class: 'empty', text: t('care_calls_none') }));
  };
  app.state.liveRefresh = draw;
  await draw();
}

// Choosing a helper for someone of the caseload: the contact the helper
// gets is the person's or the coordinator's own, sealed to the helper here.
async function chooseScreen(app, id, member) {
  const cl = caseloadOrSay(app, t('care_calls_title'));
  if (cl === null) return;
  const found = personOfAsk(cl, id);
  let root = null;
  try {
    root = found ? await loadRoot(app, id) : null;
  } catch (e) {
    root = null;
  }
  const name = nameOf(app, member);
  if (root === null || !root.mine || !root.responses.some((r) => r.author === member)) {
    show(t('care_choose_title', { name, label: found ? found.person.label : '' }),
      el('p', { class: 'notice', role: 'alert', text: t('choose_not_possible') }), backLink());
    return;
  }
  const person = found.person;
  const contact = select([['person', t('care_contact_person')], ['me', t('care_contact_me')]], person.contact);
  const preview = el('p', { class: 'sealed contact', id: 'care-contact-preview', dir: 'auto' });
  const errors = el('div');
  const draw = () => {
    const c = contactText(cl, person, contact.value);
    preview.textContent = c.text || t(c.problem, { label: person.label });
  };
  contact.addEventListener('change', draw);
  draw();
  const form = el('form', { novalidate: true },
    field('care-contact', t('care_contact_for', { name }), contact, t('care_contact_hint')),
    el('p', { class: 'hint', text: t('choose_contact_hint', { name }) }), preview,
    el('button', { type: 'submit', class: 'primary', text: t('choose_button', { name }) }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const c = contactText(cl, person, contact.value);
    if (c.problem) {
      showErrors(errors, [['care-contact', t(c.problem, { label: person.label })]]);
      return;
    }
    if (bytesOf(c.text) > R.SEALED_MAX - R.SEAL_OVERHEAD) {
      showErrors(errors, [['care-contact', t('error_contact_long')]]);
      return;
    }
    try {
      // Sealed in this browser to the helper's key: the same bytes as
      // `noaber assign ID MEMBER` seals from the caseload.
      const body = { target: R.fromHex(id), member: R.fromHex(member), sealed: R.seal(c.text, R.fromHex(member)) };
      await app.send({ kind: 'assignment', created_at: dateAfter(app, root), body });
    } catch (err) {
      showErrors(errors, [['care-contact', app.problem(err)]]);
      return;
    }
    const now = loadCaseload(app.state.member);
    const p = findPerson(now, person.label);
    if (p) p.contact = contact.value;
    saveCaseload(app.state.member, now);
    location.hash = '#care-calls';
    app.say(t('care_chosen', { name, label: person.label }));
  });
  show(t('care_choose_title', { name, label: person.label }), errors,
    el('p', { text: t('choose_intro', { name }) }), app.knownMark(member), safety(), form, backLink());
}

// The noticeboard sheet: what `noaber sheet` prints (area, category and
// urgency of the open requests and available offers, the phone number, a
// QR code to the page), to print from the browser on A4.
async function sheetScreen(app) {
  const cl = caseloadOrSay(app, t('care_sheet_title'));
  if (cl === null) return;
  let requests;
  let offers;
  try {
    [requests, offers] = await Promise.all([
      api.list({ kind: 'request', status: 'open', limit: 500 }),
      api.list({ kind: 'offer', status: 'available', limit: 500 }),
    ]);
  } catch (e) {
    show(t('care_sheet_title'), el('p', { class: 'notice', role: 'alert', text: app.problem(e) }));
    return;
  }
  if (!cl.my_phone) {
    show(t('care_sheet_title'), el('p', { class: 'notice', role: 'alert', text: t('care_sheet_no_phone') }),
      el('p', {}, el('a', { href: '#care', text: t('care_my_phone') })));
    return;
  }
  const table = (items) => {
    const rows = [];
    for (const item of items) {
      const rec = verified(app, item.record);
      if (rec === null) continue;
      const u = rec.body.urgency !== undefined ? R.URGENCIES[rec.body.urgency] : 'whenever';
      rows.push(el('tr', {}, el('td', { text: rec.body.area, dir: 'auto' }),
        el('td', { text: t('category_' + R.CATEGORIES[rec.body.category]) }), el('td', { text: t('urgency_' + u) })));
    }
    if (rows.length === 0) return el('p', { text: t('care_sheet_none') });
    return el('table', { class: 'sheet-table' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t('care_sheet_area') }),
        el('th', { scope: 'col', text: t('care_sheet_category') }), el('th', { scope: 'col', text: t('care_sheet_when') }))),
      el('tbody', {}, ...rows));
  };
  const page = location.origin + location.pathname;
  const day = new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: 'long' })
    .format(new Date(app.now() * 1000));
  const print = actionButton(t('care_sheet_print'), () => window.print());
  const sheet = el('section', { class: 'sheet', 'aria-labelledby': 'sheet-title' },
    el('h2', { id: 'sheet-title', class: 'sheet-title', text: t('care_sheet_heading', { neighbourhood: app.state.info.neighbourhood }) }),
    el('p', { text: t('care_sheet_week', { date: day }) }),
    el('h3', { text: t('care_sheet_requests') }), table(requests.items),
    el('h3', { text: t('care_sheet_offers') }), table(offers.items),
    el('div', { class: 'sheet-foot' },
      el('div', {},
        el('p', { class: 'sheet-call' }, ...callSentence(cl.my_phone)),
        el('p', { text: t('care_sheet_privacy') }),
        el('p', { text: t('care_sheet_scan') }),
        el('p', { class: 'sheet-url', text: page, dir: 'ltr' })),
      el('img', { class: 'sheet-qr', src: '/api/qr?url=' + encodeURIComponent(page), alt: t('care_sheet_qr_alt'),
        width: '160', height: '160' })));
  show(t('care_sheet_title'), el('p', { class: 'hint no-print', text: t('care_sheet_intro') }),
    el('p', { class: 'no-print' }, print), sheet, el('div', { class: 'no-print' }, backLink()));
}

// "To help or to ask for help, phone NUMBER", with the number kept on one
// line (a phone number broken in two is misdialled).
function callSentence(phone) {
  const [before, after = ''] = t('care_sheet_call', { phone: '\u0000' }).split('\u0000');
  return [before, el('span', { class: 'nowrap', dir: 'ltr', text: phone }), after];
}

// A duration in words: minutes, hours or days.
function duration(seconds) {
  if (seconds < 2 * 3600) return t('care_minutes', { n: Math.round(seconds / 60) });
  if (seconds < 2 * DAY) return t('care_hours', { n: Math.round(seconds / 3600) });
  return t('care_days', { n: Math.round(seconds / DAY) });
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// The overview as bars (a care organisation looks rather than reads): per
// group, how many were asked, helped and expired with no helper.  A cell the
// node suppressed is drawn hatched, as long as the largest count it can
// hide, and labelled "fewer than 5"; the table above has every number.
function reportChart(r, groupName) {
  const series = [['posted', '#0b5d1e'], ['helped', '#1d4f91'], ['expired_unhelped', '#8a1538']];
  const groups = r.rows.length > 0 ? r.rows.map((g) => [groupName(g.group), g]) : [[t('care_report_total'), r.total]];
  const hidden = r.min_cell - 1;
  const max = Math.max(r.min_cell, ...groups.flatMap(([, g]) => series.map(([k]) => g[k] ?? hidden)));
  const width = 640;
  const left = 10;
  const span = 400;
  const bar = 18;
  const legend = series.length * 28 + 8;
  const height = legend + groups.length * (28 + series.length * (bar + 6) + 12);
  // Drawn at its own size (text of 18 px, as everywhere on the page) and
  // scrolled sideways in its box on a narrow phone, rather than shrunk.
  // Bars grow from the left in every language: the drawing is laid out
  // left to right even on an Arabic page (its words still read right to left).
  const chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, width: String(width), height: String(height),
    class: 'report-chart', role: 'img', direction: 'ltr', 'aria-labelledby': 'report-chart-caption', id: 'report-chart' },
  svg('defs', {}, svg('pattern', { id: 'hidden-cell', width: '6', height: '6', patternUnits: 'userSpaceOnUse',
    patternTransform: 'rotate(45)' }, svg('rect', { width: '6', height: '6', fill: '#ffffff' }),
  svg('line', { x1: '0', y1: '0', x2: '0', y2: '6', stroke: '#1b1b1b', 'stroke-width': '3' }))));
  series.forEach(([k, colour], i) => {
    chart.append(svg('rect', { x: String(left), y: String(6 + i * 28), width: '18', height: '18', fill: colour }),
      svg('text', { x: String(left + 26), y: String(21 + i * 28), 'font-size': '18' }, t('care_report_' + k)));
  });
  let y = legend;
  for (const [name, g] of groups) {
    y += 22;
    chart.append(svg('text', { x: String(left), y: String(y), 'font-size': '18', 'font-weight': '700' }, name));
    y += 6;
    for (const [k, colour] of series) {
      const v = g[k];
      const w = Math.max(2, Math.round(span * (v ?? hidden) / max));
      chart.append(svg('rect', { x: String(left), y: String(y), width: String(w), height: String(bar),
        fill: v === null ? 'url(#hidden-cell)' : colour, stroke: colour, 'data-column': k,
        'data-hidden': v === null ? 'true' : 'false' }),
      svg('text', { x: String(left + w + 8), y: String(y + bar - 3), 'font-size': '18' },
        v === null ? t('care_report_suppressed') : String(v)));
      y += bar + 6;
    }
    y += 12;
  }
  return el('figure', { class: 'chart' },
    el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'report-chart-caption' }, chart),
    el('figcaption', { id: 'report-chart-caption', text: t('care_report_chart_caption') }));
}

const REPORT_COLUMNS = ['posted', 'helped', 'cancelled', 'expired_unhelped', 'open', 'on_behalf',
  'median_first_response', 'median_assignment'];

// The node's anonymous overview (op `report`), when its operator shares it:
// a table, the cells the node suppressed said as "fewer than 5".
async function reportScreen(app) {
  const by = 'category';
  const choice = select(['none', 'category', 'area', 'month'].map((b) => [b, t('care_report_by_' + b)]), by);
  const holder = el('div', { id: 'live-list', 'aria-live': 'polite' });
  const form = el('form', { novalidate: true },
    field('care-report-by', t('care_report_by'), choice),
    el('button', { type: 'submit', class: 'secondary', text: t('care_report_button') }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    draw(choice.value);
  });
  show(t('care_report_title'), el('p', { text: t('care_report_intro') }), form, holder, backLink());
  const draw = async (b) => {
    let res;
    try {
      res = await api.report({ by: b });
    } catch (e) {
      holder.replaceChildren(el('p', { class: 'notice', role: 'alert',
        text: e instanceof api.ApiError && e.status === 403 ? t('care_report_not_shared') : app.problem(e) }));
      return;
    }
    const r = res.report;
    const cell = (v, median) => (v === null ? t('care_report_suppressed') : median ? duration(v) : String(v));
    const head = el('tr', {}, el('th', { scope: 'col', text: t('care_report_group') }),
      ...REPORT_COLUMNS.map((c) => el('th', { scope: 'col', text: t('care_report_' + c) })));
    const row = (g, label) => el('tr', {}, el('th', { scope: 'row', text: label, dir: 'auto' }),
      ...REPORT_COLUMNS.map((c) => el('td', { 'data-column': c, text: cell(g[c], c.startsWith('median')) })));
    const groupName = (g) => (r.by === 'category' && R.CATEGORIES.includes(g) ? t('category_' + g) : g);
    const table = el('table', { class: 'report-table', id: 'report-table' },
      el('caption', { text: t('care_report_caption', { neighbourhood: r.neighbourhood }) }),
      el('thead', {}, head),
      el('tbody', {}, ...r.rows.map((g) => row(g, groupName(g.group))), row(r.total, t('care_report_total'))));
    holder.replaceChildren(
      el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'report-table' }, table),
      reportChart(r, groupName),
      el('p', { class: 'hint', text: t('care_report_min_cell', { n: r.min_cell }) }),
      el('p', { class: 'hint', text: res.signed ? t('care_report_signed', { key: r.report_key }) : t('care_report_unsigned') }));
  };
  await draw(by);
}
