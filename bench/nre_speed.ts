// NRE-B speed on an sbibm task at 10⁴ simulations (sbi's classifier and training defaults):
// training (epochs, wall and CPU seconds) and slice-sampling MCMC of 10⁴ posterior samples at
// observation 1 (wall and CPU seconds, log-density rows evaluated per sample, min ESS, max R̂),
// then the C2ST of those samples against the reference posterior (not timed).
//   npx tsx bench/nre_speed.ts [task=two_moons] [threads=2]          this checkout, one JSON line
//   npx tsx bench/nre_speed.ts [task] [threads] --baseline DIR [--reps 2]
//     alternates this checkout with the one at DIR (its bench/ must hold this script: copy it
//     there), each run in its own process, `reps` times; prints a table of the medians and
//     writes bench/results/nre_speed_<task>.json.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { c2st } from '../src/diagnostics/c2st.js';
import { NRE } from '../src/inference/nre.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';
import { benchDir, machineDescription, writeResults } from './common.js';

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const taskName = positional[0] ?? 'two_moons';
const threads = Number(positional[1] ?? 2);
const option = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

interface RunResult {
  task: string; threads: number; epochs: number; bestEpoch: number; bestValidationLoss: number;
  trainSeconds: number; trainCpuSeconds: number; cpuSecondsPerEpoch: number;
  mcmcSeconds: number; mcmcCpuSeconds: number; evaluationsPerSample: number; minEss: number; maxRhat: number;
  c2st: number;
}

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

async function measure(): Promise<void> {
  const task = getTask(taskName);
  const sims = await simulateFromPrior(task, 10_000, { seed: 1 });
  const nre = new NRE({ prior: task.prior, variant: 'b' }).appendSimulations(sims.theta, sims.x);
  let t0 = performance.now(), c0 = process.cpuUsage();
  const s = await nre.train({ seed: 2, threads });
  const trainSeconds = (performance.now() - t0) / 1000, trainCpu = cpuSeconds(c0);
  const samples = 10_000;
  t0 = performance.now();
  c0 = process.cpuUsage();
  const draws = await nre.buildPosterior().sample(samples, { x: referenceObservation(taskName, 1), seed: 3 });
  const mcmcSeconds = (performance.now() - t0) / 1000, mcmcCpu = cpuSeconds(c0);
  const ref = referencePosteriorSamples(taskName, 1);
  const accuracy = await c2st(draws.samples, ref.samples.subarray(0, samples * ref.dim), ref.dim, { seed: 1, threads });
  const r: RunResult = {
    task: taskName, threads, epochs: s.epochs, bestEpoch: s.bestEpoch, bestValidationLoss: s.bestValidationLoss,
    trainSeconds: +trainSeconds.toFixed(2), trainCpuSeconds: +trainCpu.toFixed(2), cpuSecondsPerEpoch: +(trainCpu / s.epochs).toFixed(4),
    mcmcSeconds: +mcmcSeconds.toFixed(2), mcmcCpuSeconds: +mcmcCpu.toFixed(2),
    evaluationsPerSample: +(draws.densityEvaluations / samples).toFixed(1),
    minEss: Math.round(Math.min(...draws.ess)), maxRhat: +Math.max(...draws.rhat).toFixed(3), c2st: +accuracy.toFixed(4),
  };
  console.log(JSON.stringify(r));
}

/** Runs this script (without --baseline) in checkout `root` and returns its result. */
function runIn(root: string): RunResult {
  const out = execFileSync('npx', ['tsx', path.join(root, 'bench', 'nre_speed.ts'), taskName, String(threads)], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as RunResult;
}

async function compare(baseline: string, reps: number): Promise<void> {
  const here = path.resolve(benchDir, '..');
  const runs: { baseline: RunResult[]; current: RunResult[] } = { baseline: [], current: [] };
  for (let r = 0; r < reps; r++) {
    runs.baseline.push(runIn(baseline));
    runs.current.push(runIn(here));
    console.error(`rep ${r + 1}/${reps} done`);
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[(v.length - 1) >> 1]!;
  const keys = ['trainSeconds', 'trainCpuSeconds', 'cpuSecondsPerEpoch', 'mcmcSeconds', 'mcmcCpuSeconds'] as const;
  console.log(`| ${taskName}, ${threads} threads | baseline (median of ${reps}) | this (median of ${reps}) | baseline / this |`);
  console.log('|---|---:|---:|---:|');
  for (const k of keys) {
    const b = median(runs.baseline.map((x) => x[k])), t = median(runs.current.map((x) => x[k]));
    console.log(`| ${k} | ${b} | ${t} | ${(b / t).toFixed(2)}× |`);
  }
  for (const k of ['epochs', 'bestValidationLoss', 'evaluationsPerSample', 'minEss', 'maxRhat', 'c2st'] as const) {
    console.log(`| ${k} | ${runs.baseline[0]![k]} | ${runs.current[0]![k]} | |`);
  }
  writeResults(`nre_speed_${taskName}.json`, { machine: machineDescription(), date: new Date().toISOString(), baseline, reps, runs });
}

const baseline = option('baseline');
if (baseline) await compare(path.resolve(baseline), Number(option('reps') ?? 2));
else await measure();
