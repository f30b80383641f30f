// NLE and truncated SNPE on two_moons at observation 1 (sbi's defaults: MAF, 5 layers, 50 hidden;
// sbibm's MCMC: 100 chains, 100 warm-up sweeps, thinning 10, SIR initialisation). Prints NLE's
// training time, MCMC time for 1 000 and 10 000 samples and the C2ST of the 10 000 against the
// reference posterior; then TSNPE over `rounds` × `perRound` simulations and its C2ST.
// Run: npx tsx bench/nle_two_moons.ts [nle|snpe|both] [simulations] [rounds] [seed]
import { c2st } from '../src/diagnostics/c2st.js';
import { NLE } from '../src/inference/nle.js';
import { taskSimulator } from '../src/inference/sequential.js';
import { SNPE } from '../src/inference/snpe.js';
import { runtimeInfo } from '../src/runtime.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';

const which = process.argv[2] ?? 'both';
const budget = Number(process.argv[3] ?? 10_000);
const rounds = Number(process.argv[4] ?? 10);
const seed = Number(process.argv[5] ?? 1);
const task = getTask('two_moons');
const xo = referenceObservation('two_moons', 1);
const ref = referencePosteriorSamples('two_moons', 1);
const seconds = (t0: number) => Number(((performance.now() - t0) / 1000).toFixed(2));
const threads = runtimeInfo().defaultThreads;

if (which !== 'snpe') {
  const sims = await simulateFromPrior(task, budget, { seed });
  const nle = new NLE({ prior: task.prior });
  nle.appendSimulations(sims.theta, sims.x);
  let t0 = performance.now();
  const summary = await nle.train({ seed });
  const trainSeconds = seconds(t0);
  const post = nle.buildPosterior();
  t0 = performance.now();
  await post.sample(1000, { x: xo, seed });
  const mcmc1k = seconds(t0);
  t0 = performance.now();
  const r = await post.sample(ref.n, { x: xo, seed });
  const mcmc10k = seconds(t0);
  console.log(JSON.stringify({
    method: 'nle', task: 'two_moons', simulations: budget, seed, threads, trainSeconds, epochs: summary.epochs,
    mcmcSeconds1k: mcmc1k, mcmcSeconds10k: mcmc10k, minEss: Math.round(Math.min(...r.ess)), maxRhat: Number(Math.max(...r.rhat).toFixed(3)),
    c2stObservation1: Number((await c2st(ref.samples, r.samples, ref.dim)).toFixed(4)),
  }));
}
if (which !== 'nle') {
  const snpe = new SNPE({ prior: task.prior, simulator: taskSimulator(task) });
  const t0 = performance.now();
  const perRound: { round: number; seconds: number; acceptance?: number }[] = [];
  let tr = performance.now();
  const post = await snpe.run({
    x: xo, rounds, simulationsPerRound: Math.round(budget / rounds), seed,
    onRound: (i) => {
      perRound.push({ round: i.round, seconds: seconds(tr), ...(i.truncation ? { acceptance: Number(i.truncation.acceptance.toPrecision(3)) } : {}) });
      console.error(JSON.stringify(perRound[perRound.length - 1]));
      tr = performance.now();
    },
  });
  const totalSeconds = seconds(t0);
  const samples = post.sample(ref.n, { x: xo, seed });
  console.log(JSON.stringify({
    method: 'snpe (truncated)', task: 'two_moons', simulations: budget, rounds, seed, threads, totalSeconds, perRound,
    c2stObservation1: Number((await c2st(ref.samples, samples, ref.dim)).toFixed(4)),
  }));
}
