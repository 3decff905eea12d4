// Records as libnoaber makes them (docs/protocol.md, "Records" and "Member
// keys and sealing"), in the browser: the member's key, the one canonical
// msgpack encoding of every kind, the signature, the id, decoding and
// verifying what the node sends, and sealing a part to one member.
//
// The bytes must be exactly libnoaber's: tests/web/test_record_js.py runs
// every vector of tests/vectors/records.txt through this module in Chromium.
// The cryptography is libsodium's own JavaScript build (vendor/); this file
// only arranges bytes.

import sodium from '../vendor/libsodium-wrappers.mjs';

export const RECORD_MAX = 8192;
export const FORMAT = 1;
export const KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const SEAL_OVERHEAD = 48;
export const SEALED_MAX = 2048;
export const FUTURE_SKEW = 600;
export const EXPIRY_MAX = 7776000;
export const CREATED_MIN = 1577836800;

const RECORD_CONTEXT = 'noaber/record/v1';
const MEMBER_KEY_CONTEXT = 'noaber/member-key/v1';
const MEMBER_KEY_PREFIX = 'nbm1';
const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';
// A record nests at most three containers: the record, its body, a list.
const RECORD_DEPTH = 3;

// Kind names in the order of their numbers (1 to 13).
export const KINDS = [
  'request', 'offer', 'response', 'withdrawal', 'assignment', 'done_claim',
  'confirmation', 'cancellation', 'retraction', 'profile', 'vouch',
  'message', 'pause',
];
export const CATEGORIES = [
  'groceries', 'transport', 'meals', 'company', 'paperwork', 'repairs',
  'care', 'childcare', 'pets', 'other',
];
export const URGENCIES = ['today', 'this_week', 'this_month', 'whenever'];
export const MODES = ['in_person', 'remote', 'either'];

// Body fields by number: name, type and bounds, as in "Body fields".
// Types: str (min..max bytes, ml = may hold line feeds), uint (max), list of
// str, bin (exact or min..max bytes), bool.
export const FIELDS = [
  null,
  { name: 'title', type: 'str', min: 1, max: 120 },
  { name: 'details', type: 'str', min: 0, max: 2000, ml: true },
  { name: 'category', type: 'uint', max: 9 },
  { name: 'tags', type: 'list', count: 8, min: 1, max: 32 },
  { name: 'urgency', type: 'uint', max: 3 },
  { name: 'when', type: 'str', min: 1, max: 100 },
  { name: 'mode', type: 'uint', max: 2 },
  { name: 'languages', type: 'list', count: 8, min: 2, max: 35, lang: true },
  { name: 'area', type: 'str', min: 1, max: 64 },
  { name: 'expires_at', type: 'uint' },
  { name: 'on_behalf_of', type: 'str', min: 1, max: 64 },
  { name: 'target', type: 'bin', min: 32, max: 32 },
  { name: 'member', type: 'bin', min: 32, max: 32 },
  { name: 'note', type: 'str', min: 0, max: 500, ml: true },
  { name: 'sealed', type: 'bin', min: 1 + SEAL_OVERHEAD, max: SEALED_MAX },
  { name: 'paused', type: 'bool' },
  { name: 'name', type: 'str', min: 1, max: 64 },
  { name: 'about', type: 'str', min: 0, max: 500, ml: true },
];
const FIELD_NUMBER = Object.fromEntries(FIELDS.slice(1).map((f, i) => [f.name, i + 1]));

// Required and optional fields of each kind ("Kinds"), by field number.
const INTENT = { req: [1, 3, 9, 10], opt: [2, 4, 5, 6, 7, 8, 11] };
const KIND_RULES = [
  null,
  INTENT,
  INTENT,
  { req: [12], opt: [14] },
  { req: [12], opt: [] },
  { req: [12, 13], opt: [15] },
  { req: [12], opt: [14] },
  { req: [12], opt: [14] },
  { req: [12], opt: [14] },
  { req: [12], opt: [] },
  { req: [17], opt: [8, 9, 18] },
  { req: [13], opt: [14] },
  { req: [10, 13, 15], opt: [12] },
  { req: [12, 16], opt: [] },
];

// Why a record was refused, with the precision of libnoaber's codes
// (include/noaber/error.h): code is 'too_big', 'malformed', 'depth',
// 'trailing', 'version', 'kind', 'field', 'noncanonical', 'bad_signature',
// 'utf8', 'future', 'expiry' or 'crypto'.
export class RecordError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'RecordError';
    this.code = code;
  }
}

function fail(code, message) {
  throw new RecordError(code, message);
}

let ready = null;

// Resolves once libsodium's WebAssembly is instantiated; every other
// function of this module needs it.
export function init() {
  if (ready === null) {
    ready = sodium.ready.then(() => sodium);
  }
  return ready;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(text) {
  if (typeof text !== 'string' || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    fail('malformed', 'not hexadecimal');
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

export function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(text) {
  let s;
  try {
    s = atob(text);
  } catch (e) {
    fail('malformed', 'not base64');
  }
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Member keys

// A member from a 32-byte seed, as crypto_sign_seed_keypair makes it.
export function memberFromSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) fail('crypto', 'a seed is 32 bytes');
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { seed: Uint8Array.from(seed), publicKey: kp.publicKey, secretKey: kp.privateKey };
}

// A new member from the browser's random generator (through libsodium).
export function newMember() {
  const seed = sodium.randombytes_buf(32);
  const member = memberFromSeed(seed);
  sodium.memzero(seed);
  return member;
}

// The checked base32 text of docs/protocol.md ("Textual form").
function base32Checked(prefix, context, payload) {
  const sum = sodium.crypto_generichash(32, concat(utf8.encode(context), payload), null);
  const bytes = concat(payload, sum.subarray(0, 4));
  let out = prefix;
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

// The nbm1... text of a member key: for display and debugging only; people
// never see it on the page's main paths.
export function memberText(publicKey) {
  if (publicKey.length !== KEY_SIZE) fail('crypto', 'a member key is 32 bytes');
  return base32Checked(MEMBER_KEY_PREFIX, MEMBER_KEY_CONTEXT, publicKey);
}

// ---------------------------------------------------------------------------
// Canonical msgpack: the shortest form of every value, nothing else.

class Writer {
  constructor() {
    this.parts = [];
  }
  bytes(b) {
    this.parts.push(b);
  }
  byte(...b) {
    this.parts.push(Uint8Array.from(b));
  }
  uint(n) {
    if (typeof n === 'bigint') {
      if (n < 0n || n > 0xffffffffffffffffn) fail('field', 'an integer out of range');
      if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return this.uint(Number(n));
      const b = new Uint8Array(9);
      b[0] = 0xcf;
      new DataView(b.buffer).setBigUint64(1, n);
      return this.bytes(b);
    }
    if (!Number.isSafeInteger(n) || n < 0) fail('field', 'not a positive integer');
    if (n < 0x80) return this.byte(n);
    if (n < 0x100) return this.byte(0xcc, n);
    if (n < 0x10000) return this.byte(0xcd, n >> 8, n & 0xff);
    if (n < 0x100000000) return this.byte(0xce, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    const b = new Uint8Array(9);
    b[0] = 0xcf;
    new DataView(b.buffer).setBigUint64(1, BigInt(n));
    return this.bytes(b);
  }
  str(s) {
    const b = typeof s === 'string' ? utf8.encode(s) : s;
    if (b.length < 32) this.byte(0xa0 | b.length);
    else if (b.length < 0x100) this.byte(0xd9, b.length);
    else if (b.length < 0x10000) this.byte(0xda, b.length >> 8, b.length & 0xff);
    else fail('too_big', 'a text is too long for a record');
    this.bytes(b);
  }
  bin(b) {
    if (b.length < 0x100) this.byte(0xc4, b.length);
    else if (b.length < 0x10000) this.byte(0xc5, b.length >> 8, b.length & 0xff);
    else fail('too_big', 'bytes too long for a record');
    this.bytes(b);
  }
  array(n) {
    if (n < 16) this.byte(0x90 | n);
    else fail('field', 'a list too long for a record');
  }
  map(n) {
    if (n < 16) this.byte(0x80 | n);
    else this.byte(0xde, n >> 8, n & 0xff);
  }
  bool(v) {
    this.byte(v ? 0xc3 : 0xc2);
  }
  result() {
    return concat(...this.parts);
  }
}

// A bounded reader of the msgpack types a record may hold.  It refuses what
// a record never contains (nil, floats, signed integers, extensions) as
// malformed, checks every count against the bytes left before building
// anything, and nests at most `depth` containers.
class Reader {
  constructor(bytes, depth) {
    this.b = bytes;
    this.at = 0;
    this.depth = depth;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n) {
    if (n > this.b.length - this.at) fail('malformed', 'the record is truncated');
  }
  u8() {
    this.need(1);
    return this.b[this.at++];
  }
  be(n) {
    this.need(n);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.b[this.at++];
    return v;
  }
  take(n) {
    this.need(n);
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  value(level) {
    const t = this.u8();
    if (t <= 0x7f) return t;
    if (t >= 0x80 && t <= 0x8f) return this.mapOf(t & 0x0f, level);
    if (t >= 0x90 && t <= 0x9f) return this.arrayOf(t & 0x0f, level);
    if (t >= 0xa0 && t <= 0xbf) return this.text(t & 0x1f);
    switch (t) {
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.take(this.be(1));
      case 0xc5:
        return this.take(this.be(2));
      case 0xc6:
        return this.take(this.be(4));
      case 0xcc:
        return this.be(1);
      case 0xcd:
        return this.be(2);
      case 0xce:
        return this.be(4);
      case 0xcf: {
        this.need(8);
        const v = this.view.getBigUint64(this.at);
        this.at += 8;
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 0xd9:
        return this.text(this.be(1));
      case 0xda:
        return this.text(this.be(2));
      case 0xdb:
        return this.text(this.be(4));
      case 0xdc:
        return this.arrayOf(this.be(2), level);
      case 0xdd:
        return this.arrayOf(this.be(4), level);
      case 0xde:
        return this.mapOf(this.be(2), level);
      case 0xdf:
        return this.mapOf(this.be(4), level);
      default:
        return fail('malformed', 'a value of a type no record holds');
    }
  }
  text(n) {
    const raw = this.take(n);
    let s;
    try {
      s = utf8Strict.decode(raw);
    } catch (e) {
      fail('utf8', 'a text is not valid UTF-8');
    }
    return { text: s };
  }
  enter(level, n, per) {
    if (level + 1 > this.depth) fail('depth', 'the record nests too deep');
    if (n * per > this.b.length - this.at) fail('malformed', 'a count larger than the bytes left');
  }
  arrayOf(n, level) {
    this.enter(level, n, 1);
    const out = [];
    for (let i = 0; i < n; i++) out.push(this.value(level + 1));
    return out;
  }
  mapOf(n, level) {
    this.enter(level, n, 2);
    const pairs = [];
    for (let i = 0; i < n; i++) {
      const k = this.value(level + 1);
      pairs.push([k, this.value(level + 1)]);
    }
    return { pairs };
  }
}

// Whether a text has a control character its field does not allow
// ("Text": no C0 but a line feed in multi-line fields, no DEL, no C1).
function badControl(s, multiline) {
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c === 0x0a && multiline) continue;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

function checkText(field, s) {
  // A lone surrogate would be signed as U+FFFD: refused, not changed.
  if (typeof s.isWellFormed === 'function' && !s.isWellFormed()) {
    fail('utf8', `${field.name} is not valid text`);
  }
  const n = utf8.encode(s).length;
  if (badControl(s, field.ml === true)) fail('utf8', `${field.name} has a control character`);
  if (n < field.min || n > field.max) {
    fail('field', `${field.name} must be ${field.min} to ${field.max} bytes`);
  }
}

// Checks one body value against its field ("Body fields") and returns it as
// the record object carries it.
function checkField(num, value) {
  const f = FIELDS[num];
  switch (f.type) {
    case 'str':
      if (typeof value !== 'string') fail('malformed', `${f.name} must be text`);
      checkText(f, value);
      return value;
    case 'uint':
      if (!(Number.isSafeInteger(value) && value >= 0) && typeof value !== 'bigint') {
        fail('malformed', `${f.name} must be a positive integer`);
      }
      if (f.max !== undefined && value > f.max) fail('field', `${f.name} is out of range`);
      return value;
    case 'list':
      if (!Array.isArray(value)) fail('malformed', `${f.name} must be a list`);
      if (value.length > f.count) fail('field', `${f.name} has more than ${f.count} entries`);
      for (const s of value) {
        if (typeof s !== 'string') fail('malformed', `${f.name} must be a list of text`);
        checkText(f, s);
        if (f.lang && !/^[A-Za-z0-9-]*$/.test(s)) fail('field', `${f.name}: not a language tag`);
      }
      return value.slice();
    case 'bin':
      if (!(value instanceof Uint8Array)) fail('malformed', `${f.name} must be bytes`);
      if (value.length < f.min || value.length > f.max) fail('field', `${f.name} has the wrong size`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') fail('malformed', `${f.name} must be true or false`);
      return value;
  }
  return fail('field', 'unknown field');
}

function kindNumber(kind) {
  const k = typeof kind === 'number' ? kind : KINDS.indexOf(kind) + 1;
  if (!Number.isInteger(k) || k < 1 || k > KINDS.length) fail('kind', 'unknown kind');
  return k;
}

// The kind rules, size rules and expiry of "Validation" that need no clock.
function checkRecord(rec) {
  const k = kindNumber(rec.kind);
  const rules = KIND_RULES[k];
  const present = Object.keys(rec.body).map((name) => {
    const n = FIELD_NUMBER[name];
    if (n === undefined) fail('field', `${name} is not a field`);
    return n;
  });
  for (const n of rules.req) {
    if (!present.includes(n)) fail('field', `a ${KINDS[k - 1]} needs ${FIELDS[n].name}`);
  }
  for (const n of present) {
    if (!rules.req.includes(n) && !rules.opt.includes(n)) {
      fail('field', `a ${KINDS[k - 1]} has no ${FIELDS[n].name}`);
    }
  }
  if (!(rec.author instanceof Uint8Array) || rec.author.length !== KEY_SIZE) {
    fail('malformed', 'the author is a 32-byte key');
  }
  if (!Number.isSafeInteger(rec.created_at) || rec.created_at < 0) {
    fail('malformed', 'created_at must be a positive integer');
  }
  if (rec.created_at < CREATED_MIN) fail('field', 'created_at is before 2020');
  for (const n of present.sort((a, b) => a - b)) {
    const v = checkField(n, rec.body[FIELDS[n].name]);
    if (n === 10 && (v <= rec.created_at || v > rec.created_at + EXPIRY_MAX)) {
      fail('expiry', 'expires_at must be after created_at and at most 90 days later');
    }
  }
  if (rec.body.member !== undefined && equalBytes(rec.body.member, rec.author)) {
    fail('field', 'member is the author');
  }
  return k;
}

// The canonical bytes of a record up to and including its body: everything
// the signature covers after the context and the neighbourhood id.
export function encodeUnsigned(rec) {
  const k = checkRecord(rec);
  const w = new Writer();
  w.array(6);
  w.uint(FORMAT);
  w.uint(k);
  w.bin(rec.author);
  w.uint(rec.created_at);
  const nums = Object.keys(rec.body).map((name) => FIELD_NUMBER[name]).sort((a, b) => a - b);
  w.map(nums.length);
  for (const n of nums) {
    const f = FIELDS[n];
    const v = rec.body[f.name];
    w.uint(n);
    if (f.type === 'str') w.str(v);
    else if (f.type === 'uint') w.uint(v);
    else if (f.type === 'bin') w.bin(v);
    else if (f.type === 'bool') w.bool(v);
    else {
      w.array(v.length);
      for (const s of v) w.str(s);
    }
  }
  return w.result();
}

function signingInput(unsigned, neighbourhoodId) {
  if (!(neighbourhoodId instanceof Uint8Array) || neighbourhoodId.length !== 32) {
    fail('crypto', 'a neighbourhood id is 32 bytes');
  }
  return concat(utf8.encode(RECORD_CONTEXT), neighbourhoodId, unsigned);
}

// The record's id: BLAKE2b-256 of the whole signed record.
export function recordId(bytes) {
  return sodium.crypto_generichash(32, bytes, null);
}

// Signs `rec` ({kind, created_at, body}; the author is the member's key) for
// the neighbourhood and returns {bytes, id}.
export function signRecord(rec, member, neighbourhoodId) {
  const full = { ...rec, author: member.publicKey };
  const unsigned = encodeUnsigned(full);
  const sig = sodium.crypto_sign_detached(signingInput(unsigned, neighbourhoodId), member.secretKey);
  const w = new Writer();
  w.bin(sig);
  const bytes = concat(unsigned, w.result());
  if (bytes.length > RECORD_MAX) fail('too_big', 'the record is larger than 8192 bytes');
  return { bytes, id: recordId(bytes) };
}

// Decodes a record's bytes without checking its signature: the structure,
// the fields of its kind and the canonical encoding.  Returns {kind (name),
// author, created_at, body, signature, id}.
export function decodeRecord(bytes) {
  if (!(bytes instanceof Uint8Array)) fail('malformed', 'a record is bytes');
  if (bytes.length > RECORD_MAX) fail('too_big', 'the record is larger than 8192 bytes');
  const r = new Reader(bytes, RECORD_DEPTH);
  const top = r.value(0);
  if (r.at !== bytes.length) fail('trailing', 'bytes after the record');
  if (!Array.isArray(top) || top.length !== 6) fail('malformed', 'a record is an array of six');
  const [format, kind, author, created, body, sig] = top;
  if (format !== FORMAT) fail('version', 'a record of another format');
  if (!Number.isInteger(kind) || kind < 1 || kind > KINDS.length) fail('kind', 'unknown kind');
  if (!(author instanceof Uint8Array) || author.length !== KEY_SIZE) fail('malformed', 'author');
  if (!Number.isSafeInteger(created)) fail('malformed', 'created_at');
  if (body === null || typeof body !== 'object' || !Array.isArray(body.pairs)) {
    fail('malformed', 'the body is not a map');
  }
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_SIZE) fail('malformed', 'signature');
  if (body.pairs.length > 18) fail('field', 'too many fields');
  const out = {};
  let last = 0;
  for (const [k, v] of body.pairs) {
    if (!Number.isInteger(k)) fail('malformed', 'a field number is a positive integer');
    if (k < 1 || k > 18) fail('field', `${k} is not a field`);
    if (k <= last) fail('noncanonical', 'fields out of order');
    last = k;
    const f = FIELDS[k];
    const plain = (x) => (x !== null && typeof x === 'object' && 'text' in x ? x.text : x);
    out[f.name] = Array.isArray(v) ? v.map(plain) : plain(v);
  }
  const rec = { kind: KINDS[kind - 1], author, created_at: created, body: out, signature: sig };
  const again = concat(encodeUnsigned(rec), bytes.subarray(bytes.length - 66));
  if (!equalBytes(again, bytes)) fail('noncanonical', 'not the canonical encoding');
  rec.id = recordId(bytes);
  return rec;
}

// decodeRecord and the signature for the neighbourhood; with `now`, also the
// clock rule of "Validation" (not older than 2020, not from the future).
export function verifyRecord(bytes, neighbourhoodId, now) {
  const rec = decodeRecord(bytes);
  const input = signingInput(bytes.subarray(0, bytes.length - 66), neighbourhoodId);
  if (!sodium.crypto_sign_verify_detached(rec.signature, input, rec.author)) {
    fail('bad_signature', 'the signature does not verify');
  }
  if (now !== undefined && rec.created_at > now + FUTURE_SKEW) fail('future', 'from the future');
  return rec;
}

// ---------------------------------------------------------------------------
// Sealing ("Sealing"): a sealed box to the X25519 form of the member's key.

export function seal(message, memberKey) {
  const bytes = typeof message === 'string' ? utf8.encode(message) : message;
  if (bytes.length < 1 || bytes.length + SEAL_OVERHEAD > SEALED_MAX) {
    fail('field', 'a sealed part holds 1 to 2000 bytes');
  }
  let rpk;
  try {
    rpk = sodium.crypto_sign_ed25519_pk_to_curve25519(memberKey);
  } catch (e) {
    fail('crypto', 'not a member key that can receive a sealed part');
  }
  return sodium.crypto_box_seal(bytes, rpk);
}

// Opens a box sealed to `member`; throws RecordError 'decrypt' when it is not
// for this member or was changed.
export function openSealed(box, member) {
  const pk = sodium.crypto_sign_ed25519_pk_to_curve25519(member.publicKey);
  const sk = sodium.crypto_sign_ed25519_sk_to_curve25519(member.secretKey);
  try {
    return sodium.crypto_box_seal_open(box, pk, sk);
  } catch (e) {
    throw new RecordError('decrypt', 'this sealed part cannot be opened here');
  } finally {
    sodium.memzero(sk);
  }
}

// Signs an arbitrary context-bound message (the web session's challenge):
// context || neighbourhood id || bytes, as records are signed.
export function signWithContext(context, neighbourhoodId, bytes, member) {
  return sodium.crypto_sign_detached(concat(utf8.encode(context), neighbourhoodId, bytes),
    member.secretKey);
}
