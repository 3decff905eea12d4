// Small DOM helpers of every screen: text goes in as text, never as HTML.
// No state of the page lives here.

import { t } from './catalog.js';

export function el(tag, attrs = {}, ...children) {
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

export function main() {
  return document.getElementById('main');
}

// Shows a screen: replaces the content, sets the title and moves focus to
// the heading so that screen readers and keyboards start at the top.
export function show(title, ...content) {
  const m = main();
  m.replaceChildren();
  const h = el('h1', { text: title, tabindex: '-1', id: 'screen-title' });
  m.append(h, ...content.filter(Boolean));
  document.title = title + ' — ' + t('brand');
  h.focus();
}

export function errorBox(messages) {
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
export function showErrors(holder, bad) {
  holder.replaceChildren();
  if (bad.length === 0) return false;
  const box = errorBox(bad);
  holder.append(box);
  box.focus();
  return true;
}

export function field(id, label, input, hint) {
  const parts = [el('label', { for: id, text: label })];
  if (hint) {
    parts.push(el('p', { class: 'hint', id: id + '-hint', text: hint }));
    input.setAttribute('aria-describedby', id + '-hint');
  }
  input.id = id;
  input.name = id;
  return el('div', { class: 'field' }, ...parts, input);
}

export function select(options, value) {
  const s = el('select');
  for (const [v, label] of options) {
    const o = el('option', { value: v, text: label });
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}

export function bytesOf(text) {
  return new TextEncoder().encode(text).length;
}

// Text as records carry it (docs/protocol.md, "Text"): line feeds only in
// multi-line fields, tabs as spaces, no other control characters (a paste
// can bring them).
export function clean(text, multiline = false) {
  let t = text.replace(/\r\n?/g, '\n').replace(/\t/g, ' ');
  if (!multiline) t = t.replace(/\n+/g, ' ');
  // eslint-disable-next-line no-control-regex
  return t.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '').trim();
}

// The problem with a text field, as the error summary lists it: empty (when
// `missing` is given) or longer than `max` bytes; [] when there is none.
export function textProblem(id, text, max, missing, long) {
  if (text === '' && missing) return [[id, missing]];
  if (bytesOf(text) > max) return [[id, long]];
  return [];
}
