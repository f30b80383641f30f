/** What the tests of the user-provided simulators (functions, external programs) share. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { SimulationError } from '../../src/simulators/rows.js';

/** The SimulationError that `p` rejects with; fails the test if it resolves or rejects otherwise. */
export async function rejection(p: Promise<unknown>): Promise<SimulationError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SimulationError);
    return e as SimulationError;
  }
  throw new Error('expected the promise to reject');
}

/** Runs `body`, then closes `sims` however it ended. */
export async function closingAfter<T>(sims: Array<{ close(): Promise<void> }>, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}

/**
 * Runs test/fixtures/exit_without_close.ts for a `kind` of simulator in a child Node and expects
 * it to simulate and exit on its own: the simulator's idle lanes must not keep Node alive.
 */
export function expectExitWithoutClose(kind: 'function' | 'process'): void {
  const script = fileURLToPath(new URL('../fixtures/exit_without_close.ts', import.meta.url));
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, kind], { encoding: 'utf8', timeout: 20_000 });
  expect(child.error).toBeUndefined();
  expect(child.stderr).toBe('');
  expect(child.stdout.trim()).toBe('simulated 20 rows');
  expect(child.status).toBe(0);
}
