// Standing offers ("I can drive on Tuesday mornings"): post one, pause,
// resume, withdraw, renew; a neighbour asks for an offer and the offerer
// says yes (assigns them), the mirror of the request flow (DOMAIN.md).

import * as R from './record.js';
import * as api from './api.js';
import { t, language } from './catalog.js';
import { el, show, field, select, showErrors, clean, textProblem } from './ui.js';
import {
  verified, nameOf, loadRoot, liveRootScreen, safety, act, saidThen, actionButton as button, dateAfter,
} from './lifecycle.js';

const DAY = 86400;
const LIFETIMES = [30, 60, 90];

const hex = (b) => R.toHex(b);

// The status of one ask on an offer: pending, assigned, done_claimed, done.
function askStatus(root, ask) {
  if (!ask.assignment) return 'pending';
  const aid = hex(ask.assignment.id);
  const on = (kind) => root.claims.some((c) => c.kind === kind && hex(c.body.target) === aid);
  if (on('confirmation')) return 'done';
  if (on('done_claim')) return 'done_claimed';
  return 'assigned';
}

export async function offersScreen(app) {
  const live = el('div', { id: 'live-list', 'aria-live': 'polite' });
  show(t('offers_title'), el('p', { text: t('offers_intro') }),
    el('p', {}, el('a', { href: '#offer-new', class: 'button primary', text: t('offers_new_button') })), live);
  app.state.liveRefresh = () => refreshOffers(app, live);
  await refreshOffers(app, live);
}

async function refreshOffers(app, live) {
  const me = hex(app.state.member.publicKey);
  let mine;
  let others;
  let asked;
  try {
    [mine, others, asked] = await Promise.all([
      api.list({ kind: 'offer', author: me, limit: 100 }),
      api.list({ kind: 'offer', status: 'available', limit: 100 }),
      api.list({ kind: 'response', author: me, limit: 100 }),
    ]);
  } catch (e) {
    live.replaceChildren(el('p', { class: 'notice', text: app.problem(e) }));
    return;
  }
  const myList = el('ul', { class: 'cards', id: 'my-offers' });
  for (const item of mine.items) {
    const rec = verified(app, item.record);
    if (rec === null) continue;
    myList.append(el('li', { class: 'card', 'data-id': item.id },
      el('h3', {}, el('a', { href: '#offer=' + item.id, text: rec.body.title })),
      el('p', { class: 'state', text: offerState(item.status, item.responses) })));
  }
  if (myList.children.length === 0) myList.append(el('li', { class: 'empty', text: t('offers_mine_empty') }));

  // The offers this member asked for, with what happened to each ask.
  const askedFor = new Set();
  for (const item of asked.items) {
    const rec = verified(app, item.record);
    if (rec !== null) askedFor.add(hex(rec.body.target));
  }
  const otherList = el('ul', { class: 'cards', id: 'other-offers' });
  const ids = new Set();
  for (const item of others.items) {
    const rec = verified(app, item.record);
    if (rec === null || hex(rec.author) === me) continue;
    ids.add(item.id);
    otherList.append(await otherOfferCard(app, item.id, rec, askedFor.has(item.id)));
  }
  // Offers asked for that are no longer available still show the ask's end.
  for (const id of askedFor) {
    if (ids.has(id)) continue;
    try {
      const root = await loadRoot(app, id);
      if (root.rec.kind === 'offer') otherList.append(await otherOfferCard(app, id, root.rec, true, root));
    } catch (e) {
      // Withdrawn and purged, or a request: not an offer to show here.
    }
  }
  if (otherList.children.length === 0) otherList.append(el('li', { class: 'empty', text: t('offers_others_empty') }));
  live.replaceChildren(el('h2', { text: t('offers_mine') }), myList,
    el('h2', { text: t('offers_others') }), otherList);
}

function offerState(status, asks) {
  if (status === 'available') {
    if (asks === 0) return t('offer_state_available');
    return asks === 1 ? t('offer_state_asked_one') : t('offer_state_asked', { n: asks });
  }
  return t('offer_state_' + status);
}

async function otherOfferCard(app, id, rec, asked, loaded) {
  const b = rec.body;
  const who = nameOf(app, rec.author);
  const card = el('li', { class: 'card', 'data-id': id },
    el('h3', { text: b.title }),
    el('p', { class: 'meta', text: t('category_' + R.CATEGORIES[b.category]) + ' · ' + b.area
      + (b.when ? ' · ' + b.when : '') }),
    el('p', { class: 'meta', text: t('offer_by', { name: who }) }),
    app.knownMark(hex(rec.author)));
  if (!asked) {
    const ask = button(t('offer_ask_button'), () => act(app, ask,
      { kind: 'response', body: { target: R.fromHex(id) } }, saidThen(app, t('offer_asked', { name: who }))));
    card.append(ask);
    return card;
  }
  const root = loaded || await loadRoot(app, id);
  const me = hex(app.state.member.publicKey);
  const mine = root.responses.find((r) => r.author === me);
  const status = mine ? askStatus(root, mine) : 'withdrawn';
  card.append(el('p', { class: 'state', text: t('ask_state_' + status, { name: who }) }));
  if (status === 'done_claimed') {
    const yes = button(t('ask_confirm_button'), () => act(app, yes,
      { root, kind: 'confirmation', body: { target: mine.assignment.id } }, saidThen(app, t('confirm_done'))));
    card.append(yes);
  }
  if (status === 'assigned' || status === 'done_claimed') {
    card.append(el('p', {}, el('a', { class: 'button secondary', href: '#message=' + hex(rec.author) + ':' + id,
      text: t('message_to', { name: who }) })));
  }
  return card;
}

// One of my offers: who asked (say yes to them), and pause, resume,
// withdraw, renew.
export async function offerScreen(app, id) {
  await liveRootScreen(app, id, t('offers_title'), drawOffer);
}

function drawOffer(app, root, live) {
  const target = R.fromHex(root.id);
  const pending = root.responses.filter((ask) => askStatus(root, ask) === 'pending').length;
  const parts = [el('p', { class: 'state', text: offerState(root.status, pending) })];
  if (!root.mine) {
    live.replaceChildren(...parts);
    return;
  }
  if (root.responses.length > 0) {
    parts.push(el('h2', { text: t('offer_asks') }));
    const list = el('ul', { class: 'cards' });
    for (const ask of root.responses) {
      const who = nameOf(app, ask.author);
      const status = askStatus(root, ask);
      const li = el('li', { class: 'card helper', 'data-member': ask.author },
        el('h3', { text: who }), app.knownMark(ask.author),
        el('p', { class: 'state', text: t('offer_ask_state_' + status, { name: who }) }));
      if (status === 'pending' && root.status !== 'withdrawn') {
        const yes = button(t('offer_yes_button', { name: who }), () => act(app, yes,
          { root, kind: 'assignment', body: { target, member: R.fromHex(ask.author) } }, saidThen(app, t('offer_yes_done', { name: who }))));
        li.append(yes);
      } else if (status === 'assigned') {
        const done = button(t('tasks_done_button'), () => act(app, done,
          { root, kind: 'done_claim', body: { target: ask.assignment.id } }, saidThen(app, t('tasks_done_sent', { name: who }))));
        li.append(done);
      }
      if (status === 'assigned' || status === 'done_claimed') {
        li.append(' ', el('a', { class: 'button secondary', href: '#message=' + ask.author + ':' + root.id,
          text: t('message_to', { name: who }) }));
      }
      list.append(li);
    }
    parts.push(list, safety());
  }
  if (root.status === 'available') {
    const pause = button(t('offer_pause_button'), () => act(app, pause,
      { root, kind: 'pause', body: { target, paused: true } }, saidThen(app, t('offer_paused'))), 'secondary');
    parts.push(pause, ' ');
  } else if (root.status === 'paused') {
    const resume = button(t('offer_resume_button'), () => act(app, resume,
      { root, kind: 'pause', body: { target, paused: false } }, saidThen(app, t('offer_resumed'))));
    parts.push(resume, ' ');
  }
  if (root.status === 'available' || root.status === 'paused' || root.status === 'expired') {
    const renew = button(t('offer_renew_button'), () => renewOffer(app, root, renew), 'secondary');
    parts.push(renew, ' ');
  }
  if (root.status === 'available' || root.status === 'paused') {
    const withdraw = button(t('offer_withdraw_button'), async () => {
      if (await act(app, withdraw, { root, kind: 'withdrawal', body: { target } }, saidThen(app, t('offer_withdrawn')))) {
        location.hash = '#offers';
      }
    }, 'warning-button');
    parts.push(withdraw);
  }
  live.replaceChildren(...parts);
}

// Renewing is a new offer with the same words for as long again, and the
// withdrawal of the old one (as `noaber renew` does).
async function renewOffer(app, root, b) {
  const created = dateAfter(app, root);
  const old = root.rec.body;
  const lifetime = Math.min(Math.max(old.expires_at - root.rec.created_at, DAY), R.EXPIRY_MAX);
  const body = { ...old, expires_at: created + lifetime };
  b.disabled = true;
  try {
    const res = await app.send({ kind: 'offer', created_at: created, body });
    if (root.status !== 'expired') {
      await app.send({ kind: 'withdrawal', created_at: created, body: { target: R.fromHex(root.id) } });
    }
    location.hash = '#offer=' + res.id;
    app.say(t('offer_renewed'));
  } catch (e) {
    b.disabled = false;
    const p = el('p', { class: 'notice', role: 'alert', tabindex: '-1', text: app.problem(e) });
    b.after(p);
    p.focus();
  }
}

// A new standing offer: what, what kind, where, when, for how long.
export function newOfferScreen(app) {
  const title = el('input', { type: 'text', maxlength: '120', required: true });
  const category = select(R.CATEGORIES.map((c, i) => [String(i), t('category_' + c)]), '0');
  const area = el('input', { type: 'text', maxlength: '64', required: true, autocomplete: 'off' });
  const when = el('input', { type: 'text', maxlength: '100', autocomplete: 'off' });
  const lifetime = select(LIFETIMES.map((d) => [String(d), t('offer_days', { n: d })]), '30');
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('offer-title', t('offer_what'), title, t('offer_what_hint')),
    field('offer-category', t('ask_category'), category),
    field('offer-area', t('offer_area'), area, t('ask_area_hint')),
    field('offer-when', t('offer_when'), when, t('offer_when_hint')),
    field('offer-lifetime', t('offer_lifetime'), lifetime),
    el('button', { type: 'submit', class: 'primary', text: t('offer_button') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = { title: clean(title.value), area: clean(area.value), when: clean(when.value) };
    const bad = [
      ...textProblem('offer-title', v.title, 120, t('error_offer_missing'), t('error_title_long')),
      ...textProblem('offer-area', v.area, 64, t('error_area_missing'), t('error_area_long')),
      ...textProblem('offer-when', v.when, 100, null, t('error_when_long')),
    ];
    if (showErrors(errors, bad)) return;
    const created = app.now();
    const body = {
      title: v.title, category: Number(category.value), area: v.area,
      expires_at: created + Number(lifetime.value) * DAY, languages: [language()],
    };
    if (v.when !== '') body.when = v.when;
    try {
      await app.send({ kind: 'offer', created_at: created, body });
    } catch (err) {
      showErrors(errors, [['offer-title', app.problem(err)]]);
      return;
    }
    location.hash = '#offers';
    app.say(t('offer_sent'));
  });
  show(t('offer_new_title'), el('p', { text: t('offer_new_intro') }), errors, form);
}
