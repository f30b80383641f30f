/**
 * Numeric CSV tables: a header row, then one sample per row (sbibm's format). Float32 values
 * are written with 9 significant digits (enough to round-trip), float64 with the shortest
 * round-trip form.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { SbiError } from './errors.js';

export interface Table {
  header: string[];
  rows: number;
  cols: number;
  /** [rows, cols] row-major */
  data: Float64Array;
}

// Numbers, plus the spellings of non-finite values that writeCsv (and numpy, R) produce.
const NON_FINITE: Record<string, number> = { nan: NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity, infinity: Infinity, '+infinity': Infinity, '-infinity': -Infinity };
function parseCell(cell: string): number | undefined {
  if (cell === '') return undefined;
  const v = Number(cell);
  if (!Number.isNaN(v)) return v;
  const key = cell.toLowerCase();
  return key in NON_FINITE ? NON_FINITE[key] : undefined;
}

/** Parses a numeric CSV (optionally gzip-compressed, detected by magic bytes). */
export function parseCsv(text: string, source = 'CSV'): Table {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length === 0) throw new SbiError(`${source} is empty: expected a header row`, 'BAD_CSV');
  const header = lines[0]!.split(',').map((h) => h.trim());
  const cols = header.length;
  const rows = lines.length - 1;
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1]!.split(',');
    if (cells.length !== cols) {
      throw new SbiError(`${source} line ${r + 2}: expected ${cols} values but found ${cells.length}`, 'BAD_CSV');
    }
    for (let c = 0; c < cols; c++) {
      const cell = cells[c]!.trim();
      const v = parseCell(cell);
      if (v === undefined) {
        throw new SbiError(`${source} line ${r + 2}, column ${c + 1} ("${header[c]}"): "${cell}" is not a number`, 'BAD_CSV');
      }
      data[r * cols + c] = v;
    }
  }
  return { header, rows, cols, data };
}

export function readCsvFile(file: string): Table {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new SbiError(`Cannot read ${file}: ${(e as Error).message}`, 'FILE_NOT_FOUND');
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  return parseCsv(buf.toString('utf8'), file);
}

/** A column block of a table to write: `values` is [rows, names.length] row-major. */
export interface Columns {
  names: string[];
  values: Float32Array | Float64Array;
}

// A float32 value with 9 significant digits (always enough to round-trip) without trailing
// zeros: the same text as String(Number(v.toPrecision(9))), three times faster.
function formatFloat32(v: number): string {
  const s = v.toPrecision(9);
  if (s.indexOf('e') >= 0) return String(Number(s));
  if (s.indexOf('.') < 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48 /* 0 */) end--;
  if (s.charCodeAt(end - 1) === 46 /* . */) end--;
  return end === s.length ? s : s.slice(0, end);
}

function formatter(values: Float32Array | Float64Array): (v: number) => string {
  if (values instanceof Float32Array) {
    return (v) => (Number.isFinite(v) ? formatFloat32(v) : v !== v ? 'nan' : v > 0 ? 'inf' : '-inf');
  }
  return (v) => (Number.isFinite(v) ? String(v) : v !== v ? 'nan' : v > 0 ? 'inf' : '-inf');
}

/** Writes column blocks side by side to `out` ('-' = stdout) in chunks, without building one huge string. */
export async function writeCsv(out: string, rows: number, blocks: Columns[]): Promise<void> {
  for (const b of blocks) {
    if (b.values.length !== rows * b.names.length) {
      throw new SbiError(`Internal: column block ${b.names[0]} has ${b.values.length} values for ${rows} rows`, 'INTERNAL');
    }
  }
  const stream = out === '-' ? process.stdout : fs.createWriteStream(out);
  const write = (s: string) =>
    new Promise<void>((resolve, reject) => {
      const ok = stream.write(s, (err) => (err ? reject(err) : undefined));
      if (ok) resolve();
      else stream.once('drain', resolve);
    });
  const formats = blocks.map((b) => formatter(b.values));
  await write(blocks.flatMap((b) => b.names).join(',') + '\n');
  const chunkRows = 4096;
  for (let start = 0; start < rows; start += chunkRows) {
    const end = Math.min(rows, start + chunkRows);
    const parts: string[] = [];
    for (let r = start; r < end; r++) {
      const cells: string[] = [];
      for (let k = 0; k < blocks.length; k++) {
        const b = blocks[k]!;
        const w = b.names.length;
        const f = formats[k]!;
        for (let c = 0; c < w; c++) cells.push(f(b.values[r * w + c]!));
      }
      parts.push(cells.join(','));
    }
    await write(parts.join('\n') + '\n');
  }
  if (stream !== process.stdout) {
    await new Promise<void>((resolve, reject) => {
      (stream as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }
}
