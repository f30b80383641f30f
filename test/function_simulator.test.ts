import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SbiError } from '../src/errors.js';
import { native } from '../src/native.js';
import { FunctionSimulator } from '../src/simulators/function.js';
import { gaussian, sometimesNonFinite, throwsOn666 } from './fixtures/batch_functions.js';
import { closingAfter, expectExitWithoutClose, rejection } from './helpers/simulators.js';

const fixtures = new URL('./fixtures/batch_functions.ts', import.meta.url);
const D = 3;

function thetaRows(n: number, first = 0): Float64Array {
  const theta = new Float64Array(n * D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) theta[i * D + j] = (first + i) * 0.01 + j;
  return theta;
}

/** x = float32(θ + z), z the first D native standard normals of stream offset + i. */
function expectedGaussian(theta: Float64Array, seed: number, offset: number): Float32Array {
  const n = theta.length / D;
  const params = new Float64Array(D + D * D);
  for (let j = 0; j < D; j++) params[D + j * D + j] = 1;
  const z = new Float64Array(n * D);
  native.sample('mvnCholesky', params, n, seed, offset, z);
  return Float32Array.from(theta, (t, k) => t + z[k]);
}

describe('FunctionSimulator in-process', () => {
  it('row i draws from Philox stream streamOffset + i: x equals θ + the native normals, bit for bit', async () => {
    const sim = new FunctionSimulator({ fn: gaussian, thetaDim: D, xDim: D, chunkSize: 7 });
    const theta = thetaRows(50);
    const r = await sim.simulate(theta, { seed: 11, streamOffset: 1000 });
    expect(r.n).toBe(50);
    expect(r.failedCount).toBe(0);
    expect(Array.from(r.x)).toEqual(Array.from(expectedGaussian(theta, 11, 1000)));
  });

  it('splitting the rows over two calls with shifted stream offsets gives the same rows', async () => {
    const sim = new FunctionSimulator({ fn: gaussian, thetaDim: D, xDim: D });
    const theta = thetaRows(30);
    const whole = await sim.simulate(theta, { seed: 5n, streamOffset: 2n ** 60n });
    const a = await sim.simulate(theta.slice(0, 12 * D), { seed: 5n, streamOffset: 2n ** 60n });
    const b = await sim.simulate(theta.slice(12 * D), { seed: 5n, streamOffset: 2n ** 60n + 12n });
    expect([...a.x, ...b.x]).toEqual(Array.from(whole.x));
  });

  it('flags and counts rows with non-finite values and sets them to NaN', async () => {
    const sim = new FunctionSimulator({ fn: sometimesNonFinite, thetaDim: D, xDim: D });
    const theta = thetaRows(10);
    theta[2 * D] = -1; // NaN in the last column
    theta[5 * D] = 11; // infinity in the first column
    const r = await sim.simulate(theta, { seed: 3 });
    expect(r.failedCount).toBe(2);
    expect(Array.from(r.failed)).toEqual([0, 0, 1, 0, 0, 1, 0, 0, 0, 0]);
    for (const i of [2, 5]) expect(Array.from(r.x.subarray(i * D, i * D + D)).every(Number.isNaN)).toBe(true);
    expect(r.x.filter(Number.isNaN).length).toBe(2 * D);
  });

  it('keeps the rows finished before the function threw (SIMULATOR_FAILED, partial result)', async () => {
    const sim = new FunctionSimulator({ fn: throwsOn666, thetaDim: D, xDim: D, chunkSize: 10 });
    const theta = thetaRows(50);
    theta[34 * D] = 666;
    const e = await rejection(sim.simulate(theta, { seed: 9 }));
    expect(e.code).toBe('SIMULATOR_FAILED');
    expect(e.message).toMatch(/rows 30\.\.39: cannot simulate θ_1 = 666 \(batch row 4\)/);
    expect((e.cause as Error).message).toMatch(/cannot simulate/);
    const p = e.partial;
    expect(p.completedCount).toBe(30);
    expect(Array.from(p.completed)).toEqual(Array.from({ length: 50 }, (_, i) => (i < 30 ? 1 : 0)));
    expect(Array.from(p.x.subarray(0, 30 * D))).toEqual(Array.from(expectedGaussian(theta, 9, 0).subarray(0, 30 * D)));
    expect(p.x.subarray(30 * D).every(Number.isNaN)).toBe(true);
    expect(p.failedCount).toBe(20);
  });

  it('rejects a result of the wrong length with SIMULATOR_OUTPUT_INVALID', async () => {
    const sim = new FunctionSimulator({ fn: () => new Float64Array(5), thetaDim: D, xDim: D, chunkSize: 4 });
    const e = await rejection(sim.simulate(thetaRows(4), { seed: 1 }));
    expect(e.code).toBe('SIMULATOR_OUTPUT_INVALID');
    expect(e.message).toMatch(/12 values \(\[4, 3\]\) for rows 0\.\.3 but it returned 5/);
  });

  it('reports progress after each chunk, ending at (n, n)', async () => {
    const sim = new FunctionSimulator({ fn: gaussian, thetaDim: D, xDim: D, chunkSize: 8 });
    const seen: Array<[number, number]> = [];
    await sim.simulate(thetaRows(30), { seed: 1, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toEqual([[8, 30], [16, 30], [24, 30], [30, 30]]);
  });

  it('validates its arguments like NativeSimulator', async () => {
    expect(() => new FunctionSimulator({ fn: gaussian, thetaDim: 0, xDim: D })).toThrow(RangeError);
    expect(() => new FunctionSimulator({ thetaDim: D, xDim: D } as never)).toThrow(TypeError);
    const sim = new FunctionSimulator({ fn: gaussian, thetaDim: D, xDim: D });
    await expect(sim.simulate(new Float64Array(4), { seed: 1 })).rejects.toThrow(RangeError);
    await expect(sim.simulate(thetaRows(2), { seed: -1 })).rejects.toThrow(RangeError);
    await expect(sim.simulate(thetaRows(2), { seed: 1, design: [1] })).rejects.toMatchObject({ code: 'NO_DESIGN' });
    await expect(sim.simulate(thetaRows(2), { seed: 1, gold: true })).rejects.toMatchObject({ code: 'NO_GOLD' });
  });
});

describe('FunctionSimulator on worker threads', () => {
  // Worker start-up from TypeScript sources (tsx) takes a while: two pools serve every test.
  let one: FunctionSimulator;
  let two: FunctionSimulator;
  beforeAll(() => {
    one = new FunctionSimulator({ module: fixtures, export: 'scripted', thetaDim: D, xDim: D, workers: 1, chunkSize: 5 });
    two = new FunctionSimulator({ module: fixtures, export: 'scripted', thetaDim: D, xDim: D, workers: 2 });
  });
  afterAll(async () => {
    await Promise.all([one.close(), two.close()]);
  });

  it('gives the same bits with 1 and 2 workers, any chunk size, and in-process', async () => {
    const theta = thetaRows(200);
    const expected = Array.from(expectedGaussian(theta, 21, 7));
    const [a, b] = await Promise.all([one.simulate(theta, { seed: 21, streamOffset: 7 }), two.simulate(theta, { seed: 21, streamOffset: 7 })]);
    expect(Array.from(a.x)).toEqual(expected);
    expect(Array.from(b.x)).toEqual(expected);
    const capped = await two.simulate(theta, { seed: 21, streamOffset: 7, threads: 1 });
    expect(Array.from(capped.x)).toEqual(expected);
  });

  it('reports progress from the workers, ending at (n, n)', async () => {
    const seen: number[] = [];
    await two.simulate(thetaRows(45), { seed: 2, onProgress: (done, total) => (expect(total).toBe(45), seen.push(done)) });
    expect(seen).toEqual([...seen].sort((p, q) => p - q));
    expect(seen.length).toBe(8); // 45 rows in chunks of ceil(45 / 8) = 6
    expect(seen.at(-1)).toBe(45);
  });

  it('flags non-finite rows and keeps the finished rows when the function throws', async () => {
    const theta = thetaRows(20);
    theta[7 * D] = -2;
    const r = await two.simulate(theta, { seed: 4 });
    expect(r.failedCount).toBe(1);
    expect(r.failed[7]).toBe(1);
    theta[7 * D] = 0.07;
    theta[12 * D] = 666;
    const e = await rejection(one.simulate(theta, { seed: 4 }));
    expect(e.code).toBe('SIMULATOR_FAILED');
    expect(e.message).toMatch(/rows 10\.\.14: cannot simulate θ_1 = 666 \(batch row 2\)/);
    expect((e.cause as Error).stack).toMatch(/scripted/);
    expect(e.partial.completedCount).toBe(10);
    expect(Array.from(e.partial.x.subarray(0, 10 * D))).toEqual(Array.from(expectedGaussian(theta, 4, 0).subarray(0, 10 * D)));
  });

  it('stops a busy worker on abort (ABORTED), keeping finished rows, and carries on with a fresh worker', async () => {
    const theta = thetaRows(10);
    theta[7 * D] = 777; // the second chunk (rows 5..9) spins
    const controller = new AbortController();
    let started = 0;
    const onProgress = () => {
      started = Date.now();
      setTimeout(() => controller.abort(), 200); // while rows 5..9 spin
    };
    const e = await rejection(one.simulate(theta, { seed: 1, signal: controller.signal, onProgress }));
    expect(e.code).toBe('ABORTED');
    expect(e.partial.completedCount).toBe(5);
    expect(Date.now() - started).toBeLessThan(5_000);
    const again = await one.simulate(thetaRows(10), { seed: 1 });
    expect(Array.from(again.x.subarray(0, 5 * D))).toEqual(Array.from(e.partial.x.subarray(0, 5 * D)));
    expect((await rejection(one.simulate(thetaRows(1), { seed: 1, signal: AbortSignal.abort() }))).code).toBe('ABORTED');
  });

  it('reports a worker that exits as SIMULATOR_CRASHED', async () => {
    const theta = thetaRows(3);
    theta[0] = 333;
    const crash = await rejection(one.simulate(theta, { seed: 1 }));
    expect(crash.code).toBe('SIMULATOR_CRASHED');
    expect(crash.message).toMatch(/exited with code 3/);
  });

  it('reports a missing export as SIMULATOR_LOAD_FAILED, naming the exports', async () => {
    const missing = new FunctionSimulator({ module: fixtures, export: 'notAFunction', thetaDim: D, xDim: D, workers: 1 });
    await closingAfter([missing], async () => {
      const load = await rejection(missing.simulate(thetaRows(3), { seed: 1 }));
      expect(load.code).toBe('SIMULATOR_LOAD_FAILED');
      expect(load.message).toMatch(/no function export "notAFunction" \(it exports .*gaussian/);
    });
  });

  it('rejects calls after close() with SIMULATOR_CLOSED', async () => {
    await one.close();
    await expect(one.simulate(thetaRows(2), { seed: 1 })).rejects.toSatisfy(
      (e: unknown) => e instanceof SbiError && e.code === 'SIMULATOR_CLOSED',
    );
  });

  it('does not keep the process alive when close() is never called', () => {
    expectExitWithoutClose('function');
  });
});
