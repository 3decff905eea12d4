// Where this browser keeps its member key: IndexedDB of this origin.  Only
// the 32-byte seed is stored; the key pair is made from it at each start.
// The key never leaves the browser (docs/web.md).

const DB = 'noaber';
const STORE = 'member';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// {seed: Uint8Array, name: string, device: Uint8Array} or undefined.
// `device` is the seed of this browser's own device key (docs/web.md); a
// browser welcomed before device keys has none.
export function load() {
  return run('readonly', (s) => s.get('self'));
}

export async function save(seed, name, device) {
  await run('readwrite', (s) => s.put({ seed, name, device }, 'self'));
  // Ask the browser not to clear this site's data on its own; where it
  // refuses, the key is still kept until the person clears the data.
  if (navigator.storage && navigator.storage.persist) {
    try {
      await navigator.storage.persist();
    } catch (e) {
      // Not fatal: persistence is a request.
    }
  }
}
