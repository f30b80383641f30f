// Sequential methods: the round loop (src/inference/sequential.ts), SNLE and truncated SNPE.
import { describe, expect, it } from 'vitest';
import { SNLE } from '../src/inference/nle.js';
import { runRounds, taskSimulator, type SimulatorFunction } from '../src/inference/sequential.js';
import { SNPE, sampleTruncatedPrior } from '../src/inference/snpe.js';
import type { NPEPosterior } from '../src/inference/npe.js';
import { createPrior } from '../src/priors.js';
import { PhiloxStream } from '../src/random/philox.js';
import { getTask } from '../src/tasks/index.js';

// θ ~ U(−3, 3)², x = θ + N(0, 0.2² I): at x_o = (1, −1) the posterior is ≈ N(x_o, 0.04 I),
// far narrower than the prior (std √3 per dimension).
const prior = () => createPrior({ kind: 'boxUniform', low: [-3, -3], high: [3, 3] });
const simulator: SimulatorFunction = (theta, rows, seed) => {
  const x = new Float64Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    const rng = new PhiloxStream(seed, i);
    for (let d = 0; d < 2; d++) x[2 * i + d] = theta[2 * i + d]! + 0.2 * rng.normal();
  }
  return x;
};
const xo = [1, -1];
const small = { hidden: 16, layers: 2 } as const;
const train = { learningRate: 5e-3, maxEpochs: 60 } as const;

function spread(theta: Float64Array): number {
  const n = theta.length / 2;
  let s = 0;
  for (let d = 0; d < 2; d++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += theta[2 * i + d]! / n;
    for (let i = 0; i < n; i++) s += (theta[2 * i + d]! - m) ** 2 / (2 * (n - 1));
  }
  return Math.sqrt(s);
}

describe('SNLE', () => {
  it('round 2 simulates from the round-1 posterior: its θ concentrate around x_o; deterministic for a seed', async () => {
    const run = async () => {
      const rounds: { theta: Float64Array; added: number }[] = [];
      const snle = new SNLE({ prior: prior(), simulator, ...small });
      const post = await snle.run({
        x: xo, rounds: 2, simulationsPerRound: 500, seed: 1, train, mcmc: { chains: 10, warmup: 20, thin: 1 },
        onRound: (info) => { rounds.push({ theta: info.theta, added: info.added }); },
      });
      return { rounds, snle, post };
    };
    const a = await run();
    expect(a.rounds.map((r) => r.added)).toEqual([500, 500]);
    expect(a.snle.nle.simulations).toBe(1000);
    // Prior spread √3 ≈ 1.73; posterior ≈ 0.2. Round 2's θ must be much closer to the latter.
    expect(spread(a.rounds[0]!.theta)).toBeGreaterThan(1.5);
    expect(spread(a.rounds[1]!.theta)).toBeLessThan(0.5);
    const t2 = a.rounds[1]!.theta;
    let m0 = 0;
    for (let i = 0; i < 500; i++) m0 += t2[2 * i]! / 500;
    expect(Math.abs(m0 - 1)).toBeLessThan(0.25);
    const b = await run();
    expect(Buffer.from(b.rounds[1]!.theta.buffer).equals(Buffer.from(a.rounds[1]!.theta.buffer))).toBe(true);
  });
});

describe('SNPE (truncated proposals)', () => {
  it('round 2 draws only θ inside the round-1 highest-density region, which is a small part of the prior', async () => {
    const rounds: { theta: Float64Array; posterior: NPEPosterior; threshold?: number; acceptance?: number }[] = [];
    const snpe = new SNPE({ prior: prior(), simulator, ...small });
    const post = await snpe.run({
      x: xo, rounds: 2, simulationsPerRound: 500, seed: 2, train, supportSamples: 2000,
      onRound: (info) => {
        rounds.push({ theta: info.theta, posterior: info.posterior, threshold: info.truncation?.logProbThreshold, acceptance: info.truncation?.acceptance });
      },
    });
    expect(rounds[0]!.threshold).toBeUndefined();
    const { threshold, acceptance } = rounds[1]!;
    expect(Number.isFinite(threshold!)).toBe(true);
    // Every round-2 θ lies in {log q_1(θ | x_o) ≥ threshold}.
    const lp = rounds[0]!.posterior.logProb(rounds[1]!.theta, { x: xo });
    expect(lp.every((v) => v >= threshold!)).toBe(true);
    // The region holds the posterior (sd 0.2) with margin: far below the prior's area 36.
    expect(acceptance!).toBeGreaterThan(0);
    expect(acceptance!).toBeLessThan(0.25);
    expect(spread(rounds[1]!.theta)).toBeLessThan(0.8);
    expect(snpe.npe.simulations).toBe(1000);
    const s = post.sample(2000, { x: xo, seed: 1 });
    expect(spread(s)).toBeLessThan(0.3);
  });

  it('sampleTruncatedPrior fails with LOW_ACCEPTANCE when nothing is accepted', async () => {
    const p = prior();
    await expect(sampleTruncatedPrior(p, (t) => new Float64Array(t.length / 2).fill(-Infinity), 0, 10, 1n, 1e-3, 5000))
      .rejects.toThrow(expect.objectContaining({ code: 'LOW_ACCEPTANCE', message: expect.stringMatching(/accepted only 0 of/) }));
  });

  it('validates its options', async () => {
    const snpe = new SNPE({ prior: prior(), simulator });
    await expect(snpe.run({ x: xo, rounds: 1, simulationsPerRound: 10, seed: 1, quantile: 2 })).rejects.toThrow(/`quantile`/);
    await expect(snpe.run({ x: xo, rounds: 1, simulationsPerRound: 10, seed: 1, backend: 'gpu' as never })).rejects.toThrow(/`backend` but received "gpu"/);
    await expect(snpe.run({ x: [1], rounds: 1, simulationsPerRound: 10, seed: 1, train: { maxEpochs: 1 } })).rejects.toThrow(/rows of 1 values|xDim/);
    expect(() => new SNPE({ prior: prior(), simulator: 3 as never })).toThrow(/`simulator`/);
  });
});

describe('runRounds', () => {
  const base = {
    prior: prior(), simulator, rounds: 2, simulationsPerRound: 20, seed: 1,
    proposal: () => new Float64Array(40), append: () => ({ added: 20, excluded: 0 }), train: async () => undefined, build: () => 0,
  };

  it('names bad arguments and bad simulator / proposal outputs', async () => {
    await expect(runRounds({ ...base, rounds: 0 })).rejects.toThrow(/`rounds`/);
    await expect(runRounds({ ...base, simulationsPerRound: 1.5 })).rejects.toThrow(/`simulationsPerRound`/);
    await expect(runRounds({ ...base, simulator: 'sim' as never })).rejects.toThrow(/`simulator`/);
    await expect(runRounds({ ...base, simulator: () => new Float64Array(7) })).rejects.toMatchObject({ code: 'BAD_SIMULATOR_OUTPUT' });
    await expect(runRounds({ ...base, proposal: () => new Float64Array(3) })).rejects.toMatchObject({ code: 'BAD_PROPOSAL' });
    await expect(runRounds({ ...base, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('gives each round its own seeds: θ from the prior in round 1, x from a different key per round', async () => {
    const seen: bigint[] = [];
    const sim: SimulatorFunction = (theta, rows, seed) => { seen.push(seed); return simulator(theta, rows, seed); };
    const thetas: Float64Array[] = [];
    await runRounds({ ...base, rounds: 3, simulator: sim, proposal: (_r, n) => prior().sample(n, { seed: 5 }), onRound: (i) => { thetas.push(i.theta); } });
    expect(new Set(seen).size).toBe(3);
    expect(thetas.every((t) => t.length === 40)).toBe(true);
  });

  it('taskSimulator runs the task\'s native simulator with the given key', async () => {
    const task = getTask('two_moons');
    const theta = task.prior.sample(8, { seed: 1 });
    const x = await taskSimulator(task)(theta, 8, 7n);
    const direct = await task.simulator.simulate(theta, { seed: 7n });
    expect(Array.from(x)).toEqual(Array.from(direct.x));
  });
});
