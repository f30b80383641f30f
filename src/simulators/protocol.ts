/**
 * The line protocol between the engine and an external simulator program, version 1
 * (specification: docs/simulator-protocol.md). Formatting of requests and parsing of replies;
 * `ProcessSimulator` does the I/O.
 */

export const PROTOCOL_VERSION = 1;
export const PROTOCOL_MAGIC = 'sbi-engine-protocol';

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^([+-]?)(nan|inf|infinity)$/i;
const FIELD_SEPARATOR = /[\s,]+/;
const UNSIGNED = /^\d+$/;

/** A number as the protocol spells it: shortest round-trip decimal, or `nan` / `inf` / `-inf`. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return Object.is(v, -0) ? '-0' : String(v);
}

/** `count` numbers from `values[offset..]`, separated by single spaces. */
export function formatRow(values: ArrayLike<number>, offset: number, count: number): string {
  let line = '';
  for (let j = 0; j < count; j++) line += (j > 0 ? ' ' : '') + formatNumber(values[offset + j]);
  return line;
}

/** A protocol number (decimal, or nan/inf/infinity with an optional sign, any case); undefined if malformed. */
export function parseNumber(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  const m = NON_FINITE.exec(token);
  if (!m) return undefined;
  if (m[2].toLowerCase() === 'nan') return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

function restAfterKeyword(line: string): string {
  return line.trim().slice(5).replace(/^[\s,]+/, '') || '(no message)';
}

function fields(line: string): string[] {
  const trimmed = line.trim();
  return trimmed.length === 0 ? [] : trimmed.split(FIELD_SEPARATOR);
}

/** Lines a program may write between requests and replies without meaning anything. */
export function isIgnorableLine(line: string): boolean {
  const t = line.trim();
  return t.length === 0 || t.startsWith('#');
}

export type ReplyLine =
  | { kind: 'row'; values: Float64Array }
  | { kind: 'end'; id: string }
  | { kind: 'error'; message: string }
  | { kind: 'malformed'; reason: string };

/** One line of a batch reply: a row of `xDim` numbers, `end <id>` or `error <message>`. */
export function parseReplyLine(line: string, xDim: number): ReplyLine {
  const f = fields(line);
  if (f[0] === 'error') return { kind: 'error', message: restAfterKeyword(line) };
  if (f[0] === 'end') {
    if (f.length === 2 && UNSIGNED.test(f[1])) return { kind: 'end', id: f[1] };
    return { kind: 'malformed', reason: 'expected `end <batch id>`' };
  }
  if (f.length !== xDim) {
    return { kind: 'malformed', reason: `expected a row of ${xDim} numbers but found ${f.length} fields` };
  }
  const values = new Float64Array(xDim);
  for (let j = 0; j < xDim; j++) {
    const v = parseNumber(f[j]);
    if (v === undefined) return { kind: 'malformed', reason: `field ${j + 1} ("${f[j]}") is not a number` };
    values[j] = v;
  }
  return { kind: 'row', values };
}

export type HandshakeReply =
  | { kind: 'hello'; version: number; thetaDim: number; xDim: number }
  | { kind: 'error'; message: string }
  | { kind: 'malformed'; reason: string };

/** The program's answer to `sbi-engine-protocol 1`: `sbi-engine-protocol <version> <thetaDim> <xDim>`. */
export function parseHandshakeReply(line: string): HandshakeReply {
  const f = fields(line);
  if (f[0] === 'error') return { kind: 'error', message: restAfterKeyword(line) };
  if (f[0] !== PROTOCOL_MAGIC || f.length !== 4 || !f.slice(1).every((t) => UNSIGNED.test(t))) {
    return { kind: 'malformed', reason: `expected \`${PROTOCOL_MAGIC} <version> <thetaDim> <xDim>\`` };
  }
  return { kind: 'hello', version: Number(f[1]), thetaDim: Number(f[2]), xDim: Number(f[3]) };
}

/** The request for one batch: header line, then one line of θ per row. */
export function formatBatch(
  id: number, theta: Float64Array, thetaDim: number, firstRow: number, count: number,
  seed: number | bigint, firstStream: number | bigint,
): string {
  const lines = [`batch ${id} ${count} ${seed} ${firstStream}`];
  for (let i = firstRow; i < firstRow + count; i++) lines.push(formatRow(theta, i * thetaDim, thetaDim));
  return lines.join('\n') + '\n';
}
