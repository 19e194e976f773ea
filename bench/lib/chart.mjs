// A bar chart as a PNG with nothing but node:zlib: per metric, Swarm's and Shoal's bars scaled so
// that the larger of the two fills the width, the figures written beside them in a 5×7 bitmap
// font. No canvas, no native dependency: the bench must run on a bare Debian machine.
import { deflateSync } from 'node:zlib';

// 5×7 glyphs, one row per string, '#' lit. Only what the labels use (upper-cased).
const GLYPHS = {
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['####.', '....#', '....#', '.###.', '....#', '....#', '####.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  '.': ['.....', '.....', '.....', '.....', '.....', '.##..', '.##..'],
  ',': ['.....', '.....', '.....', '.....', '.##..', '..#..', '.#...'],
  '-': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  '>': ['.#...', '..#..', '...#.', '....#', '...#.', '..#..', '.#...'],
  '<': ['...#.', '..#..', '.#...', '#....', '.#...', '..#..', '...#.'],
  '=': ['.....', '.....', '#####', '.....', '#####', '.....', '.....'],
  '/': ['....#', '....#', '...#.', '..#..', '.#...', '#....', '#....'],
  '(': ['...#.', '..#..', '.#...', '.#...', '.#...', '..#..', '...#.'],
  ')': ['.#...', '..#..', '...#.', '...#.', '...#.', '..#..', '.#...'],
  ':': ['.....', '.##..', '.##..', '.....', '.##..', '.##..', '.....'],
  '%': ['##...', '##..#', '...#.', '..#..', '.#...', '#..##', '...##'],
  '?': ['.###.', '#...#', '....#', '...#.', '..#..', '.....', '..#..'],
  X: ['#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'],
};
const LETTERS = {
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['####.', '#...#', '#...#', '#...#', '#...#', '#...#', '####.'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  I: ['.###.', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '#.#.#', '.#.#.'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
};
Object.assign(GLYPHS, LETTERS);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

class Canvas {
  constructor(width, height, bg = [255, 255, 255]) {
    this.width = width;
    this.height = height;
    this.px = Buffer.alloc(width * height * 3);
    this.rect(0, 0, width, height, bg);
  }

  rect(x, y, w, h, [r, g, b]) {
    for (let j = Math.max(0, y); j < Math.min(this.height, y + h); j++) {
      for (let i = Math.max(0, x); i < Math.min(this.width, x + w); i++) {
        const o = (j * this.width + i) * 3;
        this.px[o] = r;
        this.px[o + 1] = g;
        this.px[o + 2] = b;
      }
    }
  }

  /** Text at (x, y), each font pixel drawn as a scale×scale square; returns the width used. */
  text(x, y, s, color = [0, 0, 0], scale = 2) {
    let cx = x;
    for (const ch of String(s).toUpperCase()) {
      const g = GLYPHS[ch] ?? GLYPHS['?'];
      g.forEach((row, j) => [...row].forEach((p, i) => p === '#' && this.rect(cx + i * scale, y + j * scale, scale, scale, color)));
      cx += 6 * scale;
    }
    return cx - x;
  }

  png() {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(this.width, 0);
    header.writeUInt32BE(this.height, 4);
    header[8] = 8; // bit depth
    header[9] = 2; // truecolour RGB
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y++) {
      raw[y * (this.width * 3 + 1)] = 0; // filter: none
      this.px.copy(raw, y * (this.width * 3 + 1) + 1, y * this.width * 3, (y + 1) * this.width * 3);
    }
    return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
  }
}

const SWARM = [150, 150, 150];
const SHOAL = [30, 110, 200];

/**
 * rows: [{ label, swarm, shoal, unit, better: 'lower'|'higher', verdict }] with numbers (or NaN
 * when not measured). Returns the PNG as a Buffer.
 */
export function barChart(title, rows) {
  const labelW = 300;
  const barW = 440;
  const rowH = 62;
  const width = labelW + barW + 190;
  const height = 80 + rows.length * rowH + 30;
  const c = new Canvas(width, height);
  c.text(16, 14, title, [0, 0, 0], 2);
  c.rect(16, 44, 14, 10, SWARM);
  c.text(36, 42, 'SWARM', SWARM, 2);
  c.rect(130, 44, 14, 10, SHOAL);
  c.text(150, 42, 'SHOAL', SHOAL, 2);
  c.text(250, 44, 'BARS SCALED: LARGER OF THE TWO = FULL', [90, 90, 90], 1);
  rows.forEach((r, i) => {
    const y = 74 + i * rowH;
    c.rect(0, y - 6, width, 1, [225, 225, 225]);
    c.text(16, y + 4, r.label, [0, 0, 0], 2);
    c.text(16, y + 28, `${r.better === 'lower' ? 'LOWER' : 'HIGHER'} IS BETTER`, [110, 110, 110], 1);
    if (r.verdict) c.text(16, y + 40, r.verdict, r.verdict.startsWith('MET') ? [20, 140, 40] : [200, 40, 40], 1);
    const max = Math.max(...[r.swarm, r.shoal].filter((v) => Number.isFinite(v)), 1e-12);
    const bars = [
      [r.swarm, SWARM, 'SWARM'],
      [r.shoal, SHOAL, 'SHOAL'],
    ];
    bars.forEach(([v, color], k) => {
      const by = y + k * 24;
      if (!Number.isFinite(v)) {
        c.text(labelW, by + 2, 'NOT MEASURED', [160, 160, 160], 2);
        return;
      }
      const w = Math.max(2, Math.round((v / max) * barW));
      c.rect(labelW, by, w, 18, color);
      c.text(labelW + w + 8, by + 2, `${fmt(v)} ${r.unit}`, [40, 40, 40], 2);
    });
  });
  return c.png();
}

function fmt(v) {
  if (v >= 1000) return String(Math.round(v));
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
