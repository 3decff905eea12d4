// "You": the name neighbours see (the profile), the people you vouch for,
// the messages sealed to you, notifications; and the pages that vouch for
// someone and write a sealed message (kind 12, as `noaber message`).

import * as R from './record.js';
import * as api from './api.js';
import * as keys from './keystore.js';
import { t, language } from './catalog.js';
import { el, show, field, showErrors, clean, textProblem } from './ui.js';
import { verified, nameOf, act, saidThen, actionButton } from './lifecycle.js';
import { devicesPart, ownDevicesPart } from './devices.js';

// How long a message stays on the nodes (as `noaber message`).
const MESSAGE_LIFETIME = 30 * 86400;

const hex = (b) => R.toHex(b);

export async function youScreen(app) {
  const me = hex(app.state.member.publicKey);
  const name = el('input', { type: 'text', maxlength: '64', autocomplete: 'given-name',
    value: app.state.names.get(me) || '' });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('you-name', t('welcome_name'), name, t('welcome_name_hint')),
    el('button', { type: 'submit', class: 'primary', text: t('you_name_button') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = clean(name.value);
    if (showErrors(errors, textProblem('you-name', n, 64, t('error_name_missing'), t('error_name_long')))) return;
    try {
      await app.send({ kind: 'profile', created_at: app.now(), body: { name: n, languages: [language()] } });
      const saved = await keys.load();
      await keys.save(saved.seed, n, saved.device);
    } catch (err) {
      showErrors(errors, [['you-name', app.problem(err)]]);
      return;
    }
    app.state.names.set(me, n);
    app.say(t('you_name_saved', { name: n }));
  });
  const live = el('div', { id: 'live-list', 'aria-live': 'polite' });
  show(t('you_title'), errors, form, notificationsPart(app), devicesPart(), ownDevicesPart(app),
    el('div', { class: 'field' }, el('h2', { text: t('nav_language') }), app.languageList()),
    coordinatorPart(), live);
  app.state.liveRefresh = () => refreshYou(app, live);
  await refreshYou(app, live);
}

// The coordinator's screens (care.js) start here, not in every neighbour's
// menu: few members post for others.
function coordinatorPart() {
  return el('div', { class: 'field' }, el('h2', { text: t('care_title') }),
    el('p', { text: t('care_you_intro') }),
    el('a', { href: '#care', class: 'button secondary', text: t('care_you_link') }));
}

// Notifications need the person's yes, asked from a button (browsers
// refuse to ask by themselves) and only in a secure context.
function notificationsPart(app) {
  const part = el('div', { class: 'field' }, el('h2', { text: t('notify_title') }));
  if (!('Notification' in window)) {
    part.append(el('p', { class: 'hint', text: t('notify_unavailable') }));
  } else if (Notification.permission === 'granted') {
    part.append(el('p', { text: t('notify_on') }));
  } else if (Notification.permission === 'denied') {
    part.append(el('p', { class: 'hint', text: t('notify_denied') }));
  } else {
    const b = actionButton(t('notify_button'), async () => {
      const answer = await Notification.requestPermission();
      b.replaceWith(el('p', { role: 'status', text: answer === 'granted' ? t('notify_on') : t('notify_denied') }));
    }, 'secondary');
    part.append(el('p', { text: t('notify_intro') }), b);
  }
  // Said whatever the state: a closed page notifies nothing (docs/web.md,
  // "Live, and notifications": push would need another host).
  part.append(el('p', { class: 'hint', text: t('notify_when') }));
  return part;
}

async function refreshYou(app, live) {
  const me = hex(app.state.member.publicKey);
  let vouches;
  let messages;
  try {
    [vouches, messages] = await Promise.all([
      api.list({ kind: 'vouch', author: me, limit: 500 }),
      api.list({ kind: 'message', limit: 500 }),
    ]);
  } catch (e) {
    live.replaceChildren(el('p', { class: 'notice', text: app.problem(e) }));
    return;
  }
  const vouchList = el('ul', { class: 'cards', id: 'my-vouches' });
  for (const item of vouches.items) {
    const rec = verified(app, item.record);
    if (rec === null) continue;
    const who = nameOf(app, rec.body.member);
    const back = actionButton(t('vouch_retract_button', { name: who }), () => act(app, back,
      { kind: 'retraction', body: { target: R.fromHex(item.id) } },
      saidThen(app, t('vouch_retracted', { name: who }))), 'secondary');
    vouchList.append(el('li', { class: 'card' }, el('p', { text: who }), back));
  }
  if (vouchList.children.length === 0) vouchList.append(el('li', { class: 'empty', text: t('you_vouches_empty') }));

  // Messages sealed to this member, opened here: the node lists them all,
  // only this browser's key opens the ones for it.
  const inbox = el('ul', { class: 'cards', id: 'inbox' });
  for (const item of messages.items) {
    const rec = verified(app, item.record);
    if (rec === null || hex(rec.body.member) !== me) continue;
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(R.openSealed(rec.body.sealed, app.state.member));
    } catch (e) {
      continue; // Not readable here: not shown.
    }
    const from = hex(rec.author);
    inbox.append(el('li', { class: 'card' },
      el('p', { class: 'meta', text: t('message_from', { name: nameOf(app, from), when: app.ago(rec.created_at) }) }),
      el('p', { class: 'details message', text }),
      el('a', { class: 'button secondary', href: '#message=' + from + ':' + (rec.body.target ? hex(rec.body.target) : ''),
        text: t('message_reply', { name: nameOf(app, from) }) })));
  }
  if (inbox.children.length === 0) inbox.append(el('li', { class: 'empty', text: t('you_inbox_empty') }));
  live.replaceChildren(el('h2', { text: t('you_inbox') }), el('p', { class: 'hint', text: t('you_inbox_hint') }), inbox,
    el('h2', { text: t('you_vouches') }), vouchList);
}

// Vouching for someone: say what it means, then one button.
export function vouchScreen(app, member) {
  const who = nameOf(app, member);
  if (member === hex(app.state.member.publicKey) || !/^[0-9a-f]{64}$/.test(member || '')) {
    show(t('vouch_title', { name: who }), el('p', { class: 'notice', role: 'alert', text: t('vouch_not_possible') }));
    return;
  }
  const b = actionButton(t('vouch_button', { name: who }), () => act(app, b,
    { kind: 'vouch', body: { member: R.fromHex(member) } },
    async () => {
      history.back();
      app.say(t('vouch_done', { name: who }));
    }));
  show(t('vouch_title', { name: who }), el('p', { text: t('vouch_intro', { name: who }) }),
    app.knownMark(member), b, ' ',
    el('a', { href: '#near', class: 'button secondary', text: t('go_back') }));
}

// A message sealed to one member, about a request or offer when there is one.
export function messageScreen(app, member, about) {
  const who = nameOf(app, member);
  if (!/^[0-9a-f]{64}$/.test(member || '') || member === hex(app.state.member.publicKey)) {
    show(t('message_title', { name: who }), el('p', { class: 'notice', role: 'alert', text: t('vouch_not_possible') }));
    return;
  }
  const text = el('textarea', { rows: '5', maxlength: '2000' });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('message-text', t('message_text', { name: who }), text, t('message_hint', { name: who })),
    el('button', { type: 'submit', class: 'primary', text: t('message_button', { name: who }) }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = clean(text.value, true);
    const bad = textProblem('message-text', v, R.SEALED_MAX - R.SEAL_OVERHEAD, t('error_message_missing'),
      t('error_contact_long'));
    if (showErrors(errors, bad)) return;
    const created = app.now();
    const body = { expires_at: created + MESSAGE_LIFETIME, member: R.fromHex(member) };
    if (about && /^[0-9a-f]{64}$/.test(about)) body.target = R.fromHex(about);
    try {
      body.sealed = R.seal(v, R.fromHex(member));
      await app.send({ kind: 'message', created_at: created, body });
    } catch (err) {
      showErrors(errors, [['message-text', app.problem(err)]]);
      return;
    }
    text.value = '';
    history.back();
    app.say(t('message_sent', { name: who }));
  });
  show(t('message_title', { name: who }), errors, form);
}
