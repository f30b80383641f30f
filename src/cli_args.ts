/**
 * Option parsing shared by the command modules (src/trellis/cli.ts, src/manifold/cli.ts,
 * src/lattice/cli.ts): a bad value is a usage error (exit code 2) naming the option, what was
 * expected and what was given.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';

export function usage(cmd: Command, message: string): never {
  cmd.error(`${cmd.name()}: ${message}`, { exitCode: 2, code: 'sbi.usage' });
}

/** An integer in [min, max], or undefined when the option was not given. */
export function integer(cmd: Command, value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < min || v > max)
    usage(cmd, `--${name}: expected an integer in [${min}, ${max}] but received "${value}"`);
  return v;
}

/** A positive (or, with allowZero, non-negative) finite number, or undefined when not given. */
export function positive(cmd: Command, value: string | undefined, name: string, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0))
    usage(cmd, `--${name}: expected a ${allowZero ? 'non-negative' : 'positive'} number but received "${value}"`);
  return v;
}

/** A finite number (any sign), or undefined when not given. */
export function finite(cmd: Command, value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) usage(cmd, `--${name}: expected a finite number but received "${value}"`);
  return v;
}

export function seedOf(cmd: Command, value: string): bigint {
  if (!/^\d+$/.test(value.trim()) || BigInt(value.trim()) >= 1n << 64n) usage(cmd, `--seed: expected an integer in [0, 2^64) but received "${value}"`);
  return BigInt(value.trim());
}

/** Writes to a file, or to stdout for "-". */
export function writeOut(out: string, text: string): void {
  if (out === '-') process.stdout.write(text);
  else writeFileSync(out, text);
}
