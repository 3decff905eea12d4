// QR codes for the links the page shows (another device, the recovery
// card), made here in the browser: those links carry a key in their
// fragment, which must never reach a server, so the server cannot draw them.
// Byte mode, error correction level M (15 % of the code may be damaged or
// dirty), the smallest version that holds the text, the mask with the
// lowest penalty (ISO/IEC 18004, 7.8).  tests/web/test_transfer.py holds it
// to Debian's qrencode, module by module.

// Error correction codewords per block and number of blocks, level M,
// versions 1 to 40 (ISO/IEC 18004, table 9).
const EC_PER_BLOCK = [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26,
  26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28];
const BLOCKS = [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20,
  21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49];
const LEVEL_M = 0; // the two format bits of level M

export class QrError extends Error {}

// The number of modules a version has for data and error correction, in
// codewords: all modules less the finder, timing and alignment patterns
// and the format and version information.
function codewords(version) {
  let n = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2;
    n -= (25 * align - 10) * align - 55;
    if (version >= 7) n -= 36;
  }
  return Math.floor(n / 8);
}

function dataCodewords(version) {
  return codewords(version) - EC_PER_BLOCK[version] * BLOCKS[version];
}

// Arithmetic in GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x <<= 1;
  if (x & 0x100) x ^= 0x11d;
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
const mul = (a, b) => (a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]);

// The Reed-Solomon remainder of `data` for `n` error correction codewords.
function reedSolomon(data, n) {
  // The generator (x - a^0)(x - a^1)...(x - a^(n-1)), highest power first.
  let gen = [1];
  for (let i = 0; i < n; i++) {
    const next = new Array(gen.length + 1).fill(0);
    for (let j = 0; j < gen.length; j++) {
      next[j] ^= gen[j];
      next[j + 1] ^= mul(gen[j], EXP[i]);
    }
    gen = next;
  }
  const rem = new Array(n).fill(0);
  for (const b of data) {
    const factor = b ^ rem.shift();
    rem.push(0);
    for (let j = 0; j < n; j++) rem[j] ^= mul(gen[j + 1], factor);
  }
  return rem;
}

// The codewords of `bytes` in byte mode for `version`, with error
// correction, interleaved as they are placed.
function allCodewords(bytes, version) {
  const bits = [];
  const put = (value, n) => {
    for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  put(0b0100, 4);
  put(bytes.length, version < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const capacity = dataCodewords(version) * 8;
  put(0, Math.min(4, capacity - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  const data = [];
  for (let i = 0; i < bits.length; i += 8) data.push(parseInt(bits.slice(i, i + 8).join(''), 2));
  for (let pad = 0xec; data.length < capacity / 8; pad ^= 0xec ^ 0x11) data.push(pad);

  const total = codewords(version);
  const nBlocks = BLOCKS[version];
  const ec = EC_PER_BLOCK[version];
  const short = nBlocks - (total % nBlocks);
  const shortLen = Math.floor(total / nBlocks) - ec; // data codewords of a short block
  const blocks = [];
  for (let b = 0, at = 0; b < nBlocks; b++) {
    const len = shortLen + (b < short ? 0 : 1);
    const d = data.slice(at, at + len);
    at += len;
    blocks.push({ d, e: reedSolomon(d, ec) });
  }
  const out = [];
  for (let i = 0; i <= shortLen; i++) for (const b of blocks) if (i < b.d.length) out.push(b.d[i]);
  for (let i = 0; i < ec; i++) for (const b of blocks) out.push(b.e[i]);
  return out;
}

function alignmentPositions(version) {
  if (version === 1) return [];
  const n = Math.floor(version / 7) + 2;
  const size = version * 4 + 17;
  const step = version === 32 ? 26 : Math.ceil((size - 13) / (n * 2 - 2)) * 2;
  const pos = [6];
  for (let i = 0; i < n - 1; i++) pos.splice(1, 0, size - 7 - i * step);
  return pos;
}

// The remainder of `value` (already shifted) divided by `poly`, in GF(2).
function bch(value, poly, polyBits) {
  let v = value;
  for (let i = 31; i >= polyBits - 1; i--) if ((v >>> i) & 1) v ^= poly << (i - polyBits + 1);
  return v;
}

const MASKS = [
  (r, c) => (r + c) % 2 === 0,
  (r) => r % 2 === 0,
  (r, c) => c % 3 === 0,
  (r, c) => (r + c) % 3 === 0,
  (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
  (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
  (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
  (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
];

class Grid {
  constructor(version) {
    this.version = version;
    this.size = version * 4 + 17;
    this.dark = [];
    this.fixed = [];
    for (let i = 0; i < this.size; i++) {
      this.dark.push(new Array(this.size).fill(false));
      this.fixed.push(new Array(this.size).fill(false));
    }
  }

  set(r, c, dark) {
    this.dark[r][c] = dark;
    this.fixed[r][c] = true;
  }

  functionPatterns() {
    const s = this.size;
    for (let i = 0; i < s; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [r0, c0] of [[3, 3], [3, s - 4], [s - 4, 3]]) {
      for (let dr = -4; dr <= 4; dr++) {
        for (let dc = -4; dc <= 4; dc++) {
          const r = r0 + dr;
          const c = c0 + dc;
          if (r < 0 || r >= s || c < 0 || c >= s) continue;
          const d = Math.max(Math.abs(dr), Math.abs(dc));
          this.set(r, c, d !== 2 && d !== 4);
        }
      }
    }
    const pos = alignmentPositions(this.version);
    for (const r of pos) {
      for (const c of pos) {
        // Not over the three finder patterns.
        if ((r === 6 && c === 6) || (r === 6 && c === s - 7) || (r === s - 7 && c === 6)) continue;
        for (let dr = -2; dr <= 2; dr++) {
          for (let dc = -2; dc <= 2; dc++) this.set(r + dr, c + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
        }
      }
    }
    this.format(0); // reserves the format modules; drawn again with the mask
    if (this.version >= 7) {
      const bits = (this.version << 12) | bch(this.version << 12, 0x1f25, 13);
      for (let i = 0; i < 18; i++) {
        const dark = ((bits >>> i) & 1) === 1;
        const a = s - 11 + (i % 3);
        const b = Math.floor(i / 3);
        this.set(b, a, dark);
        this.set(a, b, dark);
      }
    }
  }

  format(mask) {
    const s = this.size;
    const data = (LEVEL_M << 3) | mask;
    const bits = ((data << 10) | bch(data << 10, 0x537, 11)) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) this.set(i, 8, bit(i));
    this.set(7, 8, bit(6));
    this.set(8, 8, bit(7));
    this.set(8, 7, bit(8));
    for (let i = 9; i < 15; i++) this.set(8, 14 - i, bit(i));
    for (let i = 0; i < 8; i++) this.set(8, s - 1 - i, bit(i));
    for (let i = 8; i < 15; i++) this.set(s - 15 + i, 8, bit(i));
    this.set(s - 8, 8, true); // the dark module
  }

  // The codewords, most significant bit first, in the two-column zigzag
  // from the bottom right, skipping the vertical timing pattern.
  place(words) {
    const s = this.size;
    let i = 0;
    for (let right = s - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let k = 0; k < s; k++) {
        const upward = ((right + 1) & 2) === 0;
        const r = upward ? s - 1 - k : k;
        for (let j = 0; j < 2; j++) {
          const c = right - j;
          if (this.fixed[r][c]) continue;
          this.dark[r][c] = i < words.length * 8 && ((words[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }

  applyMask(mask) {
    const f = MASKS[mask];
    for (let r = 0; r < this.size; r++) {
      for (let c = 0; c < this.size; c++) if (!this.fixed[r][c] && f(r, c)) this.dark[r][c] = !this.dark[r][c];
    }
  }

  // The penalty of ISO/IEC 18004, 7.8.3: runs of five or more, 2x2 blocks,
  // finder-like patterns, and the balance of dark and light.
  penalty() {
    const s = this.size;
    const m = this.dark;
    let p = 0;
    const lines = [];
    for (let i = 0; i < s; i++) {
      lines.push(m[i]);
      lines.push(m.map((row) => row[i]));
    }
    const finder = [true, false, true, true, true, false, true];
    for (const line of lines) {
      let run = 1;
      for (let i = 1; i <= s; i++) {
        if (i < s && line[i] === line[i - 1]) {
          run++;
        } else {
          if (run >= 5) p += 3 + run - 5;
          run = 1;
        }
      }
      for (let i = 0; i + 7 <= s; i++) {
        if (!finder.every((d, k) => line[i + k] === d)) continue;
        const lightBefore = i >= 4 && [1, 2, 3, 4].every((k) => !line[i - k]);
        const lightAfter = i + 11 <= s && [0, 1, 2, 3].every((k) => !line[i + 7 + k]);
        if (lightBefore || lightAfter) p += 40;
      }
    }
    let dark = 0;
    for (let r = 0; r < s; r++) {
      for (let c = 0; c < s; c++) {
        if (m[r][c]) dark++;
        if (r + 1 < s && c + 1 < s && m[r][c] === m[r][c + 1] && m[r][c] === m[r + 1][c] && m[r][c] === m[r + 1][c + 1]) p += 3;
      }
    }
    p += Math.floor(Math.abs(dark * 100 / (s * s) - 50) / 5) * 10;
    return p;
  }
}

// The QR code of `text`: {version, size, mask, dark: rows of booleans}.
// `mask` chooses the mask (tests); otherwise the one with the lowest penalty.
export function encode(text, mask = null) {
  const bytes = new TextEncoder().encode(text);
  let version = 1;
  while (version <= 40 && dataCodewords(version) < bytes.length + 2 + (version < 10 ? 0 : 1)) version++;
  if (version > 40) throw new QrError('too long for a QR code');
  const words = allCodewords(bytes, version);
  let best = null;
  for (const m of mask === null ? [0, 1, 2, 3, 4, 5, 6, 7] : [mask]) {
    const g = new Grid(version);
    g.functionPatterns();
    g.place(words);
    g.applyMask(m);
    g.format(m);
    const p = mask === null ? g.penalty() : 0;
    if (best === null || p < best.p) best = { p, g, m };
  }
  return { version, size: best.g.size, mask: best.m, dark: best.g.dark };
}

// The code as an SVG element (dark squares on white, with the quiet zone
// of four modules the standard asks for), labelled for screen readers.
export function svg(text, label) {
  const q = encode(text);
  const NS = 'http://www.w3.org/2000/svg';
  const n = q.size + 8;
  const e = document.createElementNS(NS, 'svg');
  e.setAttribute('viewBox', `0 0 ${n} ${n}`);
  e.setAttribute('role', 'img');
  e.setAttribute('aria-label', label);
  e.setAttribute('class', 'qr');
  e.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(NS, 'rect');
  bg.setAttribute('width', n);
  bg.setAttribute('height', n);
  bg.setAttribute('fill', '#fff');
  e.append(bg);
  let d = '';
  for (let r = 0; r < q.size; r++) {
    for (let c = 0; c < q.size; c++) if (q.dark[r][c]) d += `M${c + 4} ${r + 4}h1v1h-1z`;
  }
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  e.append(path);
  return e;
}
