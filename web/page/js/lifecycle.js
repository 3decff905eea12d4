// The lifecycle of DOMAIN.md after "I can help": your requests (choose a
// helper, the address sealed to them, done, thanks, cancel, retract), your
// tasks (the sealed address opened here, "done"), and the derivation of who
// responded and who is assigned from the records the node gives.
//
// Every screen takes `app`, the page's context (app.js): its state, send(),
// now(), problem() and the names and vouches it knows.

import * as R from './record.js';
import * as api from './api.js';
import { t } from './catalog.js';
import { el, show, field, showErrors, clean, textProblem } from './ui.js';

// Verifies a base64 record; null when it does not verify (it is not shown).
export function verified(app, b64) {
  try {
    return R.verifyRecord(R.fromBase64(b64), app.state.nid);
  } catch (e) {
    return null;
  }
}

const hex = (b) => R.toHex(b);

export function nameOf(app, key) {
  return app.state.names.get(typeof key === 'string' ? key : hex(key)) || t('near_someone');
}

// A request or offer with everything that concerns it, and what follows from
// it: the live responses (asks) and the current assignment of each.  The
// node's status is the truth for the state; the responses and assignments
// are read from the timeline in its (created_at, id) order, as the lifecycle
// rules of docs/protocol.md fold them.
export async function loadRoot(app, id) {
  const res = await api.get(id);
  const root = verified(app, res.record);
  if (root === null) throw new R.RecordError('bad_signature', 'the record does not verify');
  const rootAuthor = hex(root.author);
  const responses = new Map(); // response id -> {id, author, withdrawn, assignment}
  let assignment = null; // the request's current assignment
  let everSealed = new Set(); // members who received a sealed part on this root
  const claims = [];
  let latest = root.created_at;
  for (const b64 of res.timeline) {
    const rec = verified(app, b64);
    if (rec === null) continue;
    latest = Math.max(latest, rec.created_at);
    const rid = hex(rec.id);
    const target = rec.body.target ? hex(rec.body.target) : null;
    const author = hex(rec.author);
    if (rec.kind === 'response' && target === res.id) {
      responses.set(rid, { id: rid, author, withdrawn: false, assignment: null, note: rec.body.note });
    } else if (rec.kind === 'withdrawal' && responses.has(target)) {
      const r = responses.get(target);
      r.withdrawn = true;
      if (r.assignment) r.assignment = null;
      if (assignment && hex(assignment.body.member) === r.author) assignment = null;
    } else if (rec.kind === 'assignment' && target === res.id && author === rootAuthor) {
      const member = hex(rec.body.member);
      const r = [...responses.values()].find((x) => x.author === member && !x.withdrawn);
      if (!r) continue;
      if (rec.body.sealed) everSealed.add(member);
      if (root.kind === 'request') {
        for (const x of responses.values()) x.assignment = null;
        assignment = rec;
      }
      r.assignment = rec;
    } else if (rec.kind === 'done_claim' || rec.kind === 'confirmation') {
      claims.push(rec);
    }
  }
  return {
    id: res.id, rec: root, status: res.status, mine: rootAuthor === hex(app.state.member.publicKey),
    responses: [...responses.values()].filter((r) => !r.withdrawn),
    assignment, everSealed, claims, latest,
  };
}

// loadRoot for a screen: on failure the screen says why (under `title`)
// and the result is null.
export async function rootOrSay(app, id, title) {
  try {
    return await loadRoot(app, id);
  } catch (e) {
    show(title, notice(app.problem(e), 'alert'));
    return null;
  }
}

// A screen about one request or offer that redraws itself (draw(app, root,
// holder)) whenever a record arrives.
export async function liveRootScreen(app, id, title, draw) {
  const live = el('div', { id: 'live-list', 'aria-live': 'polite' });
  const root = await rootOrSay(app, id, title);
  if (root === null) return;
  show(root.rec.body.title, live);
  app.state.liveRefresh = async () => {
    try {
      draw(app, await loadRoot(app, id), live);
    } catch (e) {
      live.replaceChildren(notice(app.problem(e), 'alert'));
    }
  };
  draw(app, root, live);
}

// One page of the node's list, or null when the node could not be asked
// (the holder then says why).
export async function listOrSay(app, holder, query) {
  try {
    return await api.list(query);
  } catch (e) {
    holder.replaceChildren(el('li', { class: 'notice', text: app.problem(e) }));
    return null;
  }
}

// The note of the requester's confirmation, if there is one: the thanks.
function thanksOf(root) {
  const c = root.claims.find((r) => r.kind === 'confirmation' && r.body.note);
  return c ? c.body.note : null;
}

// The state of one of my requests in words, as the person says it.
function requestState(app, status, responses, assigned) {
  switch (status) {
    case 'open':
      return responses === 0 ? t('mine_state_waiting')
        : responses === 1 ? t('mine_state_one') : t('mine_state_many', { n: responses });
    case 'assigned': return t('mine_state_assigned', { name: nameOf(app, assigned) });
    case 'done_claimed': return t('mine_state_claimed', { name: nameOf(app, assigned) });
    case 'done': return t('mine_state_done');
    case 'cancelled': return t('mine_state_cancelled');
    case 'expired': return t('mine_state_expired');
    default: return status;
  }
}

function notice(text, role = 'status') {
  return el('p', { class: 'notice', role, tabindex: '-1', text });
}

// The safe-practice advice of DOMAIN.md, where a visit is being arranged.
export function safety() {
  return el('div', { class: 'advice' },
    el('h2', { text: t('safety_title') }),
    el('ul', {},
      el('li', { text: t('safety_empty_house') }),
      el('li', { text: t('safety_keys') }),
      el('li', { text: t('safety_pairs') }),
      el('li', { text: t('safety_medical') })));
}

export function actionButton(text, onClick, cls = 'primary') {
  const b = el('button', { type: 'button', class: cls, text });
  b.addEventListener('click', onClick);
  return b;
}

// The date of a record that acts on `root`: now, but never before the
// latest record about it (the node refuses a record dated before the latest
// change, and a neighbour's clock may be a little ahead of this one).
export function dateAfter(app, root) {
  return Math.max(app.now(), root.latest + 1);
}

// Sends one record from a button (`root`, when given, is what it acts on); says what went wrong next to it.  Returns
// whether it was sent.
export async function act(app, button, { root, ...rec }, then) {
  button.disabled = true;
  try {
    await app.send({ created_at: root ? dateAfter(app, root) : app.now(), ...rec });
  } catch (e) {
    button.disabled = false;
    const p = notice(app.problem(e), 'alert');
    button.after(p);
    p.focus();
    return false;
  }
  await then();
  return true;
}

// What follows a button's record on a live screen: say so, and redraw.
export function saidThen(app, text) {
  return async () => {
    app.say(text);
    if (app.state.liveRefresh) await app.state.liveRefresh();
  };
}

// ---------------------------------------------------------------------------
// Your requests

export async function myRequestsScreen(app) {
  const list = el('ul', { class: 'cards', id: 'live-list', 'aria-live': 'polite' });
  show(t('mine_title'), el('p', { class: 'hint', text: t('near_live') }),
    el('p', {}, el('a', { href: '#ask', class: 'button primary', text: t('ask_button') })), list);
  app.state.liveRefresh = () => refreshMine(app, list);
  await refreshMine(app, list);
}

async function refreshMine(app, list) {
  const res = await listOrSay(app, list, { kind: 'request', author: hex(app.state.member.publicKey), limit: 100 });
  if (res === null) return;
  const cards = [];
  for (const item of res.items) {
    const rec = verified(app, item.record);
    if (rec === null) continue;
    const words = requestState(app, item.status, item.responses, item.assigned);
    cards.push(el('li', { class: 'card', 'data-id': item.id },
      el('h2', {}, el('a', { href: '#request=' + item.id, text: rec.body.title })),
      el('p', { class: 'state state-' + item.status, text: words }),
      el('p', { class: 'meta', text: rec.body.area + ' · ' + t('near_posted', { when: app.ago(rec.created_at) }) })));
  }
  list.replaceChildren(...cards);
  if (cards.length === 0) list.append(el('li', { class: 'empty', text: t('mine_empty') }));
}

// One of my requests: its state, the neighbours who offered to help (choose
// one), and what can be done now.
export async function requestScreen(app, id) {
  await liveRootScreen(app, id, t('mine_title'), drawRequest);
}

function drawRequest(app, root, holder) {
  const b = root.rec.body;
  const assigned = root.assignment ? hex(root.assignment.body.member) : null;
  const parts = [
    el('p', { class: 'state state-' + root.status,
      text: requestState(app, root.status, root.responses.length, assigned) }),
    el('p', { class: 'meta', text: t('category_' + R.CATEGORIES[b.category]) + ' · ' + b.area }),
  ];
  if (!root.mine) {
    holder.replaceChildren(...parts, el('p', { text: t('near_by', { name: nameOf(app, root.rec.author) }) }));
    return;
  }
  const open = root.status === 'open' || root.status === 'assigned';
  if (open && root.responses.length > 0) {
    parts.push(el('h2', { text: t('mine_helpers') }));
    const list = el('ul', { class: 'cards' });
    for (const r of root.responses) {
      const isAssigned = r.author === assigned;
      const li = el('li', { class: 'card helper', 'data-member': r.author },
        el('h3', { text: nameOf(app, r.author) }),
        app.knownMark(r.author),
        r.note ? el('p', { class: 'details', text: r.note }) : null);
      if (isAssigned) {
        li.append(el('p', { class: 'notice', text: t('mine_is_helper', { name: nameOf(app, r.author) }) }));
      } else {
        li.append(el('a', { class: 'button primary', href: '#choose=' + root.id + ':' + r.author,
          text: t('mine_choose', { name: nameOf(app, r.author) }) }));
      }
      li.append(' ', el('a', { class: 'button secondary', href: '#vouch=' + r.author,
        text: t('vouch_link', { name: nameOf(app, r.author) }) }));
      list.append(li);
    }
    parts.push(list, safety());
  }
  if (assigned) {
    parts.push(el('p', {}, el('a', { class: 'button secondary', href: '#message=' + assigned + ':' + root.id,
      text: t('message_to', { name: nameOf(app, assigned) }) })));
  }
  if (root.status === 'done_claimed') {
    parts.push(el('p', {}, el('a', { class: 'button primary', href: '#confirm=' + root.id,
      text: t('mine_confirm_button') })));
  }
  if (root.status === 'done') {
    const thanks = thanksOf(root);
    if (thanks) parts.push(el('p', { class: 'notice', text: t('mine_thanks_sent', { thanks }) }));
  }
  if (open || root.status === 'done_claimed') {
    parts.push(el('p', {}, el('a', { class: 'button secondary', href: '#cancel=' + root.id,
      text: t('mine_cancel_button') })));
  }
  parts.push(el('p', {}, el('a', { class: 'button secondary', href: '#retract=' + root.id,
    text: t('mine_retract_button') })));
  holder.replaceChildren(...parts);
}

// Choosing a helper: one question, the address, and who will read it.  When
// someone else was chosen before and already received a sealed address, the
// screen first says so: nobody can take that back.
export async function chooseScreen(app, id, member) {
  const root = await rootOrSay(app, id, t('mine_title'));
  if (root === null) return;
  const name = nameOf(app, member);
  if (!root.mine || !root.responses.some((r) => r.author === member)) {
    show(t('choose_title', { name }), notice(t('choose_not_possible'), 'alert'));
    return;
  }
  const before = root.assignment ? hex(root.assignment.body.member) : null;
  const warning = before && before !== member
    ? el('div', { class: 'warning', role: 'note' },
      el('p', { text: root.everSealed.has(before)
        ? t('choose_again_sealed', { name: nameOf(app, before) })
        : t('choose_again', { name: nameOf(app, before) }) }))
    : null;
  const contact = el('textarea', { rows: '4', maxlength: '2000', autocomplete: 'off' });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('choose-contact', t('choose_contact', { name }), contact, t('choose_contact_hint', { name })),
    el('button', { type: 'submit', class: 'primary', text: t('choose_button', { name }) }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = clean(contact.value, true);
    const bad = textProblem('choose-contact', text, R.SEALED_MAX - R.SEAL_OVERHEAD, t('error_contact_missing'),
      t('error_contact_long'));
    if (showErrors(errors, bad)) return;
    const body = { target: R.fromHex(id), member: R.fromHex(member) };
    try {
      // Sealed here, in this browser: only the chosen helper's key opens it
      // (the same bytes as `noaber assign --contact`).
      body.sealed = R.seal(text, R.fromHex(member));
      await app.send({ kind: 'assignment', created_at: dateAfter(app, root), body });
    } catch (err) {
      showErrors(errors, [['choose-contact', app.problem(err)]]);
      return;
    }
    contact.value = '';
    location.hash = '#request=' + id;
    app.say(t('choose_done', { name }));
  });
  // The error summary at the top, where it is seen first (GOV.UK).
  show(t('choose_title', { name }), errors, warning,
    el('p', { text: t('choose_intro', { name }) }), app.knownMark(member), safety(), form);
}

// Confirming that it was done, with thanks if the person wants.
export async function confirmScreen(app, id) {
  const root = await rootOrSay(app, id, t('mine_title'));
  if (root === null) return;
  const name = nameOf(app, root.assignment ? root.assignment.body.member : '');
  const thanks = el('textarea', { rows: '3', maxlength: '500' });
  const errors = el('div');
  const form = el('form', { novalidate: true },
    field('confirm-thanks', t('confirm_thanks', { name }), thanks, t('confirm_thanks_hint')),
    el('button', { type: 'submit', class: 'primary', text: t('confirm_button') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const note = clean(thanks.value, true);
    if (showErrors(errors, textProblem('confirm-thanks', note, 500, null, t('error_thanks_long')))) return;
    const body = { target: R.fromHex(id) };
    if (note !== '') body.note = note;
    try {
      await app.send({ kind: 'confirmation', created_at: dateAfter(app, root), body });
    } catch (err) {
      showErrors(errors, [['confirm-thanks', app.problem(err)]]);
      return;
    }
    location.hash = '#request=' + id;
    app.say(t('confirm_done'));
  });
  show(t('confirm_title'), el('p', { text: t('confirm_intro', { name, title: root.rec.body.title }) }), errors, form);
}

// Cancel (the request stays, closed) or retract (it is deleted everywhere):
// each has its own page that says what happens before it happens.
export async function endScreen(app, id, kind) {
  const root = await rootOrSay(app, id, t('mine_title'));
  if (root === null) return;
  const button = actionButton(t(kind + '_button'), () => act(app, button,
    { root, kind: kind === 'cancel' ? 'cancellation' : 'retraction', body: { target: R.fromHex(id) } },
    async () => {
      location.hash = kind === 'cancel' ? '#request=' + id : '#mine';
      app.say(t(kind + '_done'));
    }), kind === 'retract' ? 'warning-button' : 'primary');
  show(t(kind + '_title', { title: root.rec.body.title }), el('p', { text: t(kind + '_intro') }),
    button, ' ', el('a', { href: '#request=' + id, class: 'button secondary', text: t('go_back') }));
}

// ---------------------------------------------------------------------------
// Your tasks: what I said yes to, and the address once I am chosen.

export async function tasksScreen(app) {
  const list = el('ul', { class: 'cards', id: 'live-list', 'aria-live': 'polite' });
  show(t('tasks_title'), el('p', { class: 'hint', text: t('near_live') }), list);
  app.state.liveRefresh = () => refreshTasks(app, list);
  await refreshTasks(app, list);
}

async function refreshTasks(app, list) {
  const me = hex(app.state.member.publicKey);
  const res = await listOrSay(app, list, { kind: 'response', author: me, limit: 100 });
  if (res === null) return;
  const targets = [];
  for (const item of res.items) {
    const rec = verified(app, item.record);
    if (rec !== null && !targets.includes(hex(rec.body.target))) targets.push(hex(rec.body.target));
  }
  const cards = [];
  for (const id of targets) {
    let root;
    try {
      root = await loadRoot(app, id);
    } catch (e) {
      continue; // Retracted or expired: nothing left to do.
    }
    if (root.rec.kind !== 'request') continue;
    cards.push(taskCard(app, root, me));
  }
  list.replaceChildren(...cards);
  if (cards.length === 0) list.append(el('li', { class: 'empty', text: t('tasks_empty') }));
}

function taskCard(app, root, me) {
  const b = root.rec.body;
  const requester = nameOf(app, root.rec.author);
  const chosen = root.assignment && hex(root.assignment.body.member) === me;
  const card = el('li', { class: 'card', 'data-id': root.id },
    el('h2', { text: b.title }),
    el('p', { class: 'meta', text: t('category_' + R.CATEGORIES[b.category]) + ' · ' + b.area + ' · '
      + t('near_by', { name: requester }) }));
  let words;
  if (root.status === 'done') words = t('tasks_state_done');
  else if (root.status === 'cancelled' || root.status === 'expired') words = t('mine_state_' + root.status);
  else if (chosen && root.status === 'done_claimed') words = t('tasks_state_claimed', { name: requester });
  else if (chosen) words = t('tasks_state_chosen', { name: requester });
  else if (!root.responses.some((r) => r.author === me)) words = t('tasks_state_withdrawn');
  else if (root.assignment) words = t('tasks_state_other');
  else words = t('tasks_state_waiting', { name: requester });
  card.append(el('p', { class: 'state state-' + root.status, text: words }));
  if (root.status === 'done') {
    const thanks = thanksOf(root);
    if (thanks) card.append(el('p', { class: 'notice thanks', text: t('tasks_thanks', { name: requester, thanks }) }));
  }
  if (chosen && (root.status === 'assigned' || root.status === 'done_claimed')) {
    if (root.assignment.body.sealed) {
      // Opened here with this browser's key; nobody else can.
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(R.openSealed(root.assignment.body.sealed, app.state.member));
      } catch (e) {
        text = null;
      }
      card.append(el('div', { class: 'sealed' },
        el('h3', { text: t('tasks_contact', { name: requester }) }),
        text === null ? el('p', { text: t('tasks_contact_unreadable') })
          : el('p', { class: 'details contact', text }),
        el('p', { class: 'hint', text: t('tasks_contact_hint') })));
    }
    card.append(safety());
    card.append(el('p', {}, el('a', { class: 'button secondary', href: '#message=' + hex(root.rec.author) + ':' + root.id,
      text: t('message_to', { name: requester }) })));
    if (root.status === 'assigned') {
      const done = actionButton(t('tasks_done_button'), () => act(app, done,
        { root, kind: 'done_claim', body: { target: R.fromHex(root.id) } },
        saidThen(app, t('tasks_done_sent', { name: requester }))));
      card.append(done);
    }
  }
  // Withdrawing: a helper who can no longer come says so, and the request
  // is open again for someone else (not once they said it is done).
  const mine = root.responses.find((r) => r.author === me);
  if (mine && (root.status === 'open' || root.status === 'assigned')) {
    const stop = actionButton(t('tasks_withdraw_button'), () => act(app, stop,
      { root, kind: 'withdrawal', body: { target: R.fromHex(mine.id) } },
      saidThen(app, t('tasks_withdrawn', { name: requester }))), 'secondary');
    card.append(' ', stop);
  }
  return card;
}
