/** What the tests of the user-provided simulators (functions, external programs) share. */
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
