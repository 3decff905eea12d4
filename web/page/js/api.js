// The page's calls to noaber-web (docs/web.md).  Requests go to this origin
// only; the session is an HttpOnly cookie the page never sees.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

// Signs in again (set by the page): a session ends after 12 hours or when
// noaber-web restarts, and the page should not ask the person for anything.
let reauth = null;
export function onSessionEnded(fn) {
  reauth = fn;
}

async function call(method, path, body, retry = true) {
  const init = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', String(e));
  }
  let json = null;
  try {
    json = await res.json();
  } catch (e) {
    throw new ApiError(res.status, 'bad_reply', 'the server sent no JSON');
  }
  if (res.status === 401 && retry && reauth && !path.startsWith('/api/session')) {
    await reauth();
    return call(method, path, body, false);
  }
  if (!res.ok) throw new ApiError(res.status, json.error, json.message);
  return json;
}

export const info = () => call('GET', '/api/info');
export const challenge = () => call('POST', '/api/session/challenge', {});
// deviceKey and deviceSignature (the same challenge signed with this
// browser's own device key) are undefined for a browser without one.
export const signIn = (member, challengeB64, signatureB64, deviceKey, deviceSignature) =>
  call('POST', '/api/session', {
    member, challenge: challengeB64, signature: signatureB64,
    device_key: deviceKey, device_signature: deviceSignature,
  });
export const signOut = () => call('DELETE', '/api/session');
export const welcome = (token, member, device, deviceKey) =>
  call('POST', '/api/welcome', { token, member, device, device_key: deviceKey });
// Moving to another device (devices.js): the ciphertext for a one-time
// link, the link used on the new device, and a device a card admits.
export const transferPut = (sealedB64, expires) =>
  call('POST', '/api/transfer', { sealed: sealedB64, expires });
export const transferTake = (token, deviceKey, device) =>
  call('POST', '/api/transfer/take', { token, device_key: deviceKey, device });
export const addDevice = (deviceKey, device) =>
  call('POST', '/api/devices', { device_key: deviceKey, device });
// The member's own devices, and switching one off with the member's
// signature over its number (devices.js).
export const ownDevices = () => call('GET', '/api/devices');
export const revokeDevice = (id, signatureB64) =>
  call('POST', '/api/devices/revoke', { device_id: String(id), signature: signatureB64 });
export const submit = (recordB64) => call('POST', '/api/records', { record: recordB64 });
export const get = (id) => call('GET', '/api/records/' + encodeURIComponent(id));

// The node's anonymous overview (op `report`), when its operator shares it.
export function report(args = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(args)) if (v !== undefined && v !== '') q.set(k, v);
  return call('GET', '/api/report?' + q.toString());
}

export function list(filters = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== '') q.set(k, v);
  return call('GET', '/api/list?' + q.toString());
}

// New records as the node stores them; onRecord gets {id, record} (hex id,
// base64 record).  EventSource reconnects by itself after an interruption,
// but not after a refusal (the session ended): then onClosed runs.  onOpen
// runs each time the stream (re)opens: records stored while it was
// interrupted came without an event.
export function events(onRecord, onClosed, onOpen) {
  const es = new EventSource('/api/events');
  es.onopen = () => onOpen();
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) onClosed();
  };
  es.onmessage = (e) => {
    try {
      const ev = JSON.parse(e.data);
      if (ev.event === 'record') onRecord(ev);
    } catch (err) {
      // A line the page cannot read is skipped; the next list refresh shows the truth.
    }
  };
  return es;
}
