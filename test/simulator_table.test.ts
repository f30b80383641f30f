// Contracts every registered native simulator must keep (the table is iterated, so a new
// simulator is tested automatically): identical output for any thread count, ISA path,
// chunking and sync/async; gold shapes; cancellation; the task registry agrees with the table.
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import { NativeSimulator } from '../src/simulators/simulator.js';
import { SbiError } from '../src/errors.js';
import { getTask, listTasks } from '../src/tasks/index.js';
import { runtimeInfo, setIsa } from '../src/runtime.js';

const ISA_ORDER = ['scalar', 'avx2', 'avx512'] as const;
const availableIsas = ISA_ORDER.slice(0, ISA_ORDER.indexOf(runtimeInfo().detectedIsa as (typeof ISA_ORDER)[number]) + 1);

function thetaFor(name: string, n: number): { theta: Float64Array; design?: Float64Array } {
  const def = listTasks().find((t) => t.simulator === name);
  if (!def) throw new Error(`no task uses simulator ${name}`);
  const task = getTask(def.name);
  return {
    theta: task.prior.sample(n, { seed: 11 }),
    ...(task.defaultDesign.length ? { design: task.defaultDesign } : {}),
  };
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe.each(NativeSimulator.list())('simulator %s', (name) => {
  const sim = new NativeSimulator(name);
  const n = 3000;
  const { theta, design } = thetaFor(name, n);
  const base = { seed: 123, ...(design ? { design } : {}) };
  afterEach(() => setIsa('auto'));

  it('gives bit-identical x for 1 and 2 threads', () => {
    const a = sim.simulateSync(theta, { ...base, threads: 1 });
    const b = sim.simulateSync(theta, { ...base, threads: 2 });
    expect(bits(b.x).equals(bits(a.x))).toBe(true);
    expect(Array.from(b.failed)).toEqual(Array.from(a.failed));
  });

  it('gives bit-identical x on every ISA path', () => {
    setIsa('scalar');
    const ref = sim.simulateSync(theta, base);
    for (const isa of availableIsas) {
      setIsa(isa);
      const r = sim.simulateSync(theta, base);
      expect(bits(r.x).equals(bits(ref.x)), isa).toBe(true);
    }
  });

  it('gives the same rows when the batch is split with streamOffset', () => {
    const whole = sim.simulateSync(theta, base);
    const k = 1234;
    const d = sim.thetaDim;
    const head = sim.simulateSync(theta.subarray(0, k * d), base);
    const tail = sim.simulateSync(theta.subarray(k * d), { ...base, streamOffset: k });
    const joined = new Float32Array(whole.x.length);
    joined.set(head.x);
    joined.set(tail.x, head.x.length);
    expect(bits(joined).equals(bits(whole.x))).toBe(true);
  });

  it('gives the same result async as sync, and reports progress', async () => {
    const sync = sim.simulateSync(theta, base);
    let last = 0;
    const asyncResult = await sim.simulate(theta, { ...base, onProgress: (done) => (last = done) });
    expect(bits(asyncResult.x).equals(bits(sync.x))).toBe(true);
    expect(asyncResult.failedCount).toBe(sync.failedCount);
    expect(last).toBe(n);
  });

  it('changes with the seed', () => {
    const a = sim.simulateSync(theta, base);
    const b = sim.simulateSync(theta, { ...base, seed: 124 });
    expect(bits(a.x).equals(bits(b.x))).toBe(false);
  });

  it(sim.hasGold ? 'returns gold of the right shapes' : 'rejects gold with SbiError NO_GOLD', () => {
    if (sim.hasGold) {
      const r = sim.simulateSync(theta, { ...base, gold: true, thetaRef: theta.subarray(0, sim.thetaDim) });
      expect(r.gold!.jointLogLikelihood.length).toBe(n);
      expect(r.gold!.jointScore.length).toBe(n * sim.thetaDim);
      expect(r.gold!.jointLogRatio!.length).toBe(n);
    } else {
      expect(() => sim.simulateSync(theta, { ...base, gold: true })).toThrow(SbiError);
    }
  });
});

describe('simulator batches', () => {
  it('rejects with SbiError ABORTED when the signal aborts', async () => {
    const sim = new NativeSimulator('two_moons');
    const n = 4_000_000;
    const theta = new Float64Array(2 * n);
    const controller = new AbortController();
    const p = sim.simulate(theta, { seed: 1, signal: controller.signal, onProgress: () => controller.abort() });
    await expect(p).rejects.toMatchObject({ name: 'SbiError', code: 'ABORTED' });
  });

  it('rejects at once when the signal is already aborted', async () => {
    const sim = new NativeSimulator('two_moons');
    await expect(sim.simulate(new Float64Array(2), { seed: 1, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('throws TypeError / RangeError naming the argument for bad theta', () => {
    const sim = new NativeSimulator('two_moons');
    expect(() => sim.simulateSync(new Float32Array(2) as unknown as Float64Array, { seed: 1 })).toThrow(/`theta`/);
    expect(() => sim.simulateSync(new Float64Array(3), { seed: 1 })).toThrow(RangeError);
    expect(() => sim.simulateSync(Float64Array.of(0, NaN), { seed: 1 })).toThrow(/row 0, column 1/);
    expect(() => sim.simulateSync(new Float64Array(2), { seed: -1 })).toThrow(RangeError);
  });

  it('every task names a registered simulator with matching dimensions', () => {
    const table = new Map(native.simulators().map((s) => [s.name, s]));
    for (const t of listTasks()) {
      const s = table.get(t.simulator);
      expect(s, t.name).toBeDefined();
      expect(s!.thetaDim).toBe(t.thetaDim);
      expect(s!.xDim).toBe(t.xDim);
      expect(s!.designDim).toBe(t.design.length);
      expect(s!.gold).toBe(t.gold);
    }
  });
});
