// Every text a person reads on the page, by language.  The page never
// writes a sentence of its own: it asks t(key).
//
// The `en` object below is the source: its keys and English texts go into
// po/noaber.pot (po/update_pot.py, docs/i18n.md), translators fill
// po/LANG.po, and the build turns each into /i18n/LANG.json, which
// setLanguage() fetches.  /i18n/languages.json lists the languages, each in
// its own name.  A key a catalog lacks shows in English.
//
// Languages reviewed by a native speaker: none yet (every po/*.po says so).

export const catalogs = {
  en: {
    dir: 'ltr',
    language_name: 'English',
    skip: 'Skip to the content',
    loading: 'Loading…',
    brand: 'Noaber',
    nav_near: 'Near you',
    nav_ask: 'Ask for help',
    welcome_title: 'Welcome to {neighbourhood}',
    welcome_intro: 'Noaber helps neighbours ask each other for help and offer it. ' +
      'What you post here is seen by the people of {neighbourhood}.',
    welcome_name: 'Your name',
    welcome_name_hint: 'How your neighbours will see you. Your first name is enough.',
    welcome_language: 'Language',
    welcome_button: 'Join {neighbourhood}',
    welcome_used: 'This welcome link was already used or has expired. Ask the person who gave it to you for a new one.',
    welcome_device_note: 'This phone or computer will remember you. If you clear its data, you will need a new welcome link.',
    need_link_title: 'You need a welcome link',
    need_link_text: 'Ask the coordinator of your neighbourhood for a welcome link and open it on this phone or computer.',
    not_admitted: 'This phone or computer is not welcomed on this node any more. Ask the coordinator for a new welcome link.',
    near_title: 'Near you',
    near_empty: 'Nobody has asked for help yet.',
    near_live: 'This list updates by itself.',
    near_by: 'Asked by {name}',
    near_someone: 'a neighbour',
    near_posted: 'Asked {when}',
    near_help: 'I can help',
    near_helping: 'You said you can help. {name} will choose a helper and tell you more.',
    near_yours: 'You asked for this.',
    ask_title: 'Ask for help',
    ask_intro: 'Tell your neighbours what you need. Keep it short.',
    ask_what: 'What do you need help with?',
    ask_category: 'What kind of help?',
    ask_area: 'Where, roughly?',
    ask_area_hint: 'Your neighbourhood or postcode, never your street or address.',
    ask_urgency: 'How soon?',
    ask_details: 'More details (if you want)',
    ask_details_hint: 'Do not write your address or health details here: everyone in the neighbourhood can read this. You give your address only to the helper you choose.',
    ask_button: 'Ask for help',
    ask_sent: 'Your request was sent. Neighbours can see it now.',
    errors_title: 'There is a problem',
    error_title_missing: 'Say what you need help with',
    error_title_long: 'Make it shorter: at most 120 letters',
    error_area_missing: 'Say where, roughly: a neighbourhood or postcode',
    error_area_long: 'Make the area shorter: at most 64 letters',
    error_details_long: 'Make the details shorter: at most 2000 letters',
    error_name_missing: 'Say how your neighbours should call you',
    error_name_long: 'Make the name shorter: at most 64 letters',
    error_invalid: 'This cannot be sent as it is. Check the text for unusual characters and try again.',
    error_network: 'The page cannot reach the node. Check your connection and try again.',
    error_refused: 'The node did not accept this: {message}',
    time_now: 'just now',
    time_on: 'on {date}',
    nav_language: 'Language',
    nav_main: 'Main menu',
    state_open: 'Open',
    state_assigned: 'Assigned',
    state_done_claimed: 'Done, waiting for confirmation',
    state_done: 'Done',
    state_cancelled: 'Cancelled',
    state_expired: 'Expired',
    state_available: 'Available',
    state_paused: 'Paused',
    state_withdrawn: 'Withdrawn',
    mode_in_person: 'In person',
    mode_remote: 'From a distance',
    mode_either: 'In person or from a distance',
    category_groceries: 'Groceries',
    category_transport: 'Transport',
    category_meals: 'Meals',
    category_company: 'Company',
    category_paperwork: 'Paperwork',
    category_repairs: 'Repairs',
    category_care: 'Care',
    category_childcare: 'Childcare',
    category_pets: 'Pets',
    category_other: 'Other',
    urgency_today: 'Today',
    urgency_this_week: 'This week',
    urgency_this_month: 'This month',
    urgency_whenever: 'Whenever',
  },
};

export const DEFAULT_LANGUAGE = 'en';

let current = catalogs[DEFAULT_LANGUAGE];
let currentTag = DEFAULT_LANGUAGE;
// [[tag, name in itself, dir]], from /i18n/languages.json.
let available = [[DEFAULT_LANGUAGE, catalogs.en.language_name, catalogs.en.dir]];

async function fetchJson(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(path + ': ' + res.status);
  return res.json();
}

// The languages this node's page speaks.  Without the list (an old build,
// a network hiccup) the page still works, in English.
export async function loadLanguages() {
  try {
    const list = await fetchJson('/i18n/languages.json');
    if (Array.isArray(list) && list.length > 0) available = list;
  } catch (e) {
    // English only.
  }
  return available;
}

export function languages() {
  return available;
}

// The language of the page: the one chosen, else the browser's first that
// has a catalog, else English.
export function chooseLanguage(saved) {
  const tags = new Set(available.map((l) => l[0]));
  const wanted = [saved, ...(navigator.languages || [])].filter(Boolean);
  for (const tag of wanted) {
    const base = tag.toLowerCase().split('-')[0];
    if (tags.has(base)) return base;
  }
  return DEFAULT_LANGUAGE;
}

// Loads the catalog of `tag` and makes it the page's language: <html lang
// dir> follow, so that Arabic lays out right to left.
export async function setLanguage(tag) {
  if (!available.some((l) => l[0] === tag)) tag = DEFAULT_LANGUAGE;
  if (!catalogs[tag]) {
    try {
      catalogs[tag] = await fetchJson('/i18n/' + tag + '.json');
    } catch (e) {
      tag = DEFAULT_LANGUAGE;
    }
  }
  currentTag = tag;
  current = catalogs[tag];
  document.documentElement.lang = tag;
  document.documentElement.dir = current.dir === 'rtl' ? 'rtl' : 'ltr';
}

export function language() {
  return currentTag;
}

// A date and time as people of the chosen language write it.
export function formatDate(seconds) {
  return new Intl.DateTimeFormat(currentTag, { dateStyle: 'medium', timeStyle: 'short' })
    .format(new Date(seconds * 1000));
}

// "5 minutes ago", "il y a 2 heures", "منذ 3 أيام": a past moment relative to
// now, with the plural rules of the chosen language; a week or more back, the date.
export function formatAgo(seconds, nowSeconds) {
  const s = Math.max(0, nowSeconds - seconds);
  if (s < 120) return t('time_now');
  if (s >= 7 * 86400) return t('time_on', { date: formatDate(seconds) });
  const rtf = new Intl.RelativeTimeFormat(currentTag, { numeric: 'auto' });
  if (s < 7200) return rtf.format(-Math.floor(s / 60), 'minute');
  if (s < 2 * 86400) return rtf.format(-Math.floor(s / 3600), 'hour');
  return rtf.format(-Math.floor(s / 86400), 'day');
}

// The text of `key` with {name} placeholders filled in.  A missing key shows
// as itself, so that a gap in a catalog is visible rather than silent.
export function t(key, vars = {}) {
  const text = current[key] ?? catalogs[DEFAULT_LANGUAGE][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}
