/**
 * The sbibm grid: for each task × method × budget × observation, simulate, train, draw 10 000
 * posterior samples and score them with C2ST against the reference posterior (sbibm's metric),
 * timing each phase. Every run is appended to bench/results/sbibm.json as it finishes (an
 * interrupted grid keeps what it did; `--resume` skips runs already there). The summary table
 * puts each cell beside the sbibm paper's mean C2ST and median runtime for the same algorithm and
 * budget on the same observations, and goes into bench/README.md.
 *
 *   npm run bench:sbibm                       default grid (see DEFAULT below)
 *   npm run bench:sbibm -- --full             all ten tasks, budgets 10³, 10⁴, 10⁵
 *   npm run bench:sbibm -- --tasks two_moons --methods npe --budgets 1000 --observations 1,2
 *   npm run bench:sbibm -- --table            only rebuild the table from the results file
 *   npm run bench:sbibm -- --density-estimator maf   flow methods with this estimator instead of
 *                                             sbibm's (SBIBM_DENSITY_ESTIMATORS: NSF for NPE / SNPE,
 *                                             MAF for NLE / SNLE); each record names its estimator
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { c2st } from '../src/diagnostics/c2st.js';
import { isMethodName, runMethod, SBIBM_DENSITY_ESTIMATORS, type MethodName } from '../src/inference/methods.js';
import { DENSITY_ESTIMATOR_KINDS, type DensityEstimatorKind } from '../src/inference/flow_estimator.js';
import { packageRoot } from '../src/native.js';
import { getTask, referenceObservation, referencePosteriorSamples } from '../src/tasks/index.js';
import { machineDescription, replaceReadmeBlock, resultsDir, writeResults } from './common.js';

interface Cell {
  task: string;
  method: MethodName;
  budget: number;
  /** The flow (or MDN) of npe, snpe, nle, snle; absent for the NRE methods. */
  densityEstimator?: DensityEstimatorKind;
}

interface RunRecord extends Cell {
  observation: number;
  seed: number;
  c2st: number;
  simulateSeconds: number;
  trainSeconds: number;
  sampleSeconds: number;
  /** simulate + train + sample: what sbibm's runtime covers. */
  totalSeconds: number;
  /** Scoring the samples (not part of the method's runtime; absent in older records). */
  c2stSeconds?: number;
  epochs: number;
  rounds: number;
  excludedSimulations: number;
  minEss?: number;
  maxRhat?: number;
  date: string;
}

const SAMPLES = 10_000;
const DEFAULT_TASKS = ['two_moons', 'slcp', 'gaussian_linear', 'gaussian_mixture', 'sir', 'bernoulli_glm'];
const FULL_TASKS = [
  'gaussian_linear', 'gaussian_linear_uniform', 'slcp', 'slcp_distractors', 'bernoulli_glm', 'bernoulli_glm_raw',
  'gaussian_mixture', 'two_moons', 'sir', 'lotka_volterra',
];
/** The paper's algorithm for each method (its NRE is sbi's SNRE_B, i.e. NRE-B; SNPE is APT). */
const PAPER_ALGORITHM: Record<MethodName, string> = {
  npe: 'NPE', snpe: 'SNPE', nle: 'NLE', snle: 'SNLE', 'nre-a': 'NRE', 'nre-b': 'NRE', 'nre-c': 'NRE', bnre: 'NRE', snre: 'SNRE',
};
const PAPER_BUDGET: Record<string, number> = { '10³': 1e3, '10⁴': 1e4, '10⁵': 1e5 };

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const list = (name: string) => argValue(name)?.split(',').map((s) => s.trim()).filter(Boolean);

/** `--density-estimator`, else sbibm's estimator for the method (none for the NRE methods). */
function densityEstimatorFor(method: MethodName): DensityEstimatorKind | undefined {
  const sbibm = SBIBM_DENSITY_ESTIMATORS[method];
  const wanted = argValue('density-estimator');
  if (wanted === undefined || sbibm === undefined) return sbibm;
  if (!(DENSITY_ESTIMATOR_KINDS as string[]).includes(wanted)) throw new Error(`--density-estimator: expected one of ${DENSITY_ESTIMATOR_KINDS.join(', ')} but received ${wanted}`);
  return wanted as DensityEstimatorKind;
}

/**
 * A record's estimator: records from before the field existed ran runMethod's default, MAF, for
 * every flow method.
 */
const recordEstimator = (r: Cell) => r.densityEstimator ?? (SBIBM_DENSITY_ESTIMATORS[r.method] !== undefined ? 'maf' : undefined);

function gridCells(): Cell[] {
  const full = process.argv.includes('--full');
  const tasks = list('tasks') ?? (full ? FULL_TASKS : DEFAULT_TASKS);
  const budgets = (list('budgets') ?? (full ? ['1000', '10000', '100000'] : ['1000', '10000'])).map(Number);
  const wanted = list('methods');
  for (const m of wanted ?? []) if (!isMethodName(m)) throw new Error(`--methods: unknown method ${m}`);
  const methods = (wanted as MethodName[] | undefined) ?? (['npe', 'nle', 'nre-b'] as MethodName[]);
  const cells: Cell[] = [];
  const cell = (task: string, method: MethodName, budget: number): Cell => {
    const densityEstimator = densityEstimatorFor(method);
    return { task, method, budget, ...(densityEstimator ? { densityEstimator } : {}) };
  };
  for (const task of tasks) for (const budget of budgets) for (const method of methods) cells.push(cell(task, method, budget));
  // The issue's default grid adds sequential NPE at 10⁴ on two_moons and slcp.
  if (!wanted && !list('tasks') && !list('budgets')) {
    for (const task of ['two_moons', 'slcp']) cells.push(cell(task, 'snpe', 10_000));
  }
  return cells;
}

const resultsFile = path.join(resultsDir, 'sbibm.json');

function loadRecords(): RunRecord[] {
  if (!fs.existsSync(resultsFile)) return [];
  return (JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as { runs: RunRecord[] }).runs;
}

interface PaperRow {
  task: string;
  budget: number;
  observation: number;
  algorithm: string;
  c2st: number;
  runtimeMinutes: number;
}

function loadPaper(): PaperRow[] {
  const text = zlib.gunzipSync(fs.readFileSync(path.join(packageRoot, 'data', 'sbibm', 'results_main_paper.csv.gz'))).toString('utf8');
  const [head, ...lines] = text.trim().split('\n');
  const cols = head!.split(',');
  const at = (name: string) => cols.indexOf(name);
  return lines.map((line) => {
    const f = line.split(',');
    return {
      task: f[at('task')]!, budget: PAPER_BUDGET[f[at('num_simulations')]!] ?? Number.NaN, observation: Number(f[at('num_observation')]),
      algorithm: f[at('algorithm')]!, c2st: Number(f[at('C2ST')]), runtimeMinutes: Number(f[at('RT')]),
    };
  });
}

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function buildTable(records: RunRecord[]): string {
  const paper = loadPaper();
  const keys = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = `${r.task}|${r.method}|${recordEstimator(r) ?? ''}|${r.budget}`;
    keys.set(k, [...(keys.get(k) ?? []), r]);
  }
  const lines = [
    '| task | method (estimator) | budget | obs | C2ST (mean) | paper C2ST | paper best (algorithm) | C2ST ≤ paper + 0.02 | train s (median) | total s (median) | paper runtime s (median) | paper / ours |',
    '|---|---|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|',
  ];
  const sorted = [...keys.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  for (const [, runs] of sorted) {
    const { task, method, budget } = runs[0]!;
    const estimator = recordEstimator(runs[0]!);
    const observations = runs.map((r) => r.observation);
    const cellRows = paper.filter((p) => p.task === task && p.budget === budget && observations.includes(p.observation) && Number.isFinite(p.c2st));
    const same = cellRows.filter((p) => p.algorithm === PAPER_ALGORITHM[method]);
    const byAlgorithm = new Map<string, number[]>();
    for (const p of cellRows) byAlgorithm.set(p.algorithm, [...(byAlgorithm.get(p.algorithm) ?? []), p.c2st]);
    let best: [string, number] | undefined;
    for (const [alg, v] of byAlgorithm) if (!best || mean(v) < best[1]) best = [alg, mean(v)];
    const ours = mean(runs.map((r) => r.c2st));
    const paperC2st = same.length ? mean(same.map((p) => p.c2st)) : Number.NaN;
    const paperSeconds = same.length ? median(same.map((p) => p.runtimeMinutes * 60)) : Number.NaN;
    const total = median(runs.map((r) => r.totalSeconds));
    const f = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '—');
    lines.push(
      `| ${task} | ${method}${estimator ? ` (${estimator})` : ''} | ${budget} | ${observations.length} | ${f(ours)} | ${f(paperC2st)} | ${best ? `${f(best[1])} (${best[0]})` : '—'} | ${Number.isFinite(paperC2st) ? (ours <= paperC2st + 0.02 ? 'yes' : 'no') : '—'} | ${f(median(runs.map((r) => r.trainSeconds)), 1)} | ${f(total, 1)} | ${f(paperSeconds, 0)} | ${Number.isFinite(paperSeconds) ? `${(paperSeconds / total).toFixed(0)}×` : '—'} |`,
    );
  }
  return lines.join('\n');
}

function writeTable(records: RunRecord[]): void {
  const table = buildTable(records);
  console.log(table);
  const dates = records.map((r) => r.date.slice(0, 10)).sort();
  replaceReadmeBlock(
    'sbibm',
    `Measured ${dates[0]}${dates.at(-1) !== dates[0] ? ` to ${dates.at(-1)}` : ''} on ${machineDescription()}, default threads. ` +
      `C2ST of ${SAMPLES} posterior samples against sbibm's reference samples (5-fold, sbibm's classifier); total = simulate + train + sample. ` +
      "Paper columns: sbibm's results_main_paper.csv for the same algorithm (NRE = NRE-B), budget and observations; runtime is the paper's median. " +
      "Estimator: the flow of a flow-based method; sbibm ran NSF for NPE and SNPE, MAF for NLE and SNLE.\n\n" +
      table,
  );
}

async function main(): Promise<void> {
  if (process.argv.includes('--table')) {
    writeTable(loadRecords());
    return;
  }
  const observations = (list('observations') ?? ['1', '2', '3', '4', '5']).map(Number);
  const seed = Number(argValue('seed') ?? 1);
  const resume = process.argv.includes('--resume');
  const records = loadRecords();
  const cells = gridCells();
  const started = performance.now();
  // Observation-outermost: an interrupted grid still has every cell at its first observations.
  const todo: { cell: Cell; observation: number }[] = [];
  for (const observation of observations) for (const cell of cells) todo.push({ cell, observation });
  const key = (c: Cell) => `${c.task}|${c.method}|${recordEstimator(c) ?? ''}|${c.budget}`;
  const cellSeconds = new Map<string, number[]>(); // wall seconds per finished run (C2ST included), for the estimate
  for (let i = 0; i < todo.length; i++) {
    const { cell, observation } = todo[i]!;
    const task = getTask(cell.task);
    const done = records.find((r) => key(r) === key(cell) && r.observation === observation && r.seed === seed);
    if (resume && done) continue;
    const runStart = performance.now();
    const x = referenceObservation(cell.task, observation);
    const result = await runMethod(task, {
      method: cell.method, budget: cell.budget, x, samples: SAMPLES, seed: seed * 1000 + observation,
      ...(cell.densityEstimator ? { densityEstimator: cell.densityEstimator } : {}),
    });
    const ref = referencePosteriorSamples(cell.task, observation);
    const c2stStart = performance.now();
    const accuracy = await c2st(ref.samples, result.samples, ref.dim, { seed });
    const c2stSeconds = (performance.now() - c2stStart) / 1000;
    const record: RunRecord = {
      ...cell, observation, seed, c2st: accuracy,
      simulateSeconds: result.simulateSeconds, trainSeconds: result.trainSeconds, sampleSeconds: result.sampleSeconds,
      totalSeconds: result.simulateSeconds + result.trainSeconds + result.sampleSeconds, c2stSeconds,
      epochs: result.epochs, rounds: result.rounds, excludedSimulations: result.excludedSimulations,
      ...(result.ess ? { minEss: Math.min(...result.ess) } : {}),
      ...(result.rhat ? { maxRhat: Math.max(...result.rhat) } : {}),
      date: new Date().toISOString(),
    };
    if (done) records.splice(records.indexOf(done), 1);
    records.push(record);
    writeResults('sbibm.json', { machine: machineDescription(), samples: SAMPLES, runs: records });
    cellSeconds.set(key(cell), [...(cellSeconds.get(key(cell)) ?? []), (performance.now() - runStart) / 1000]);
    // Remaining time: each cell's mean so far, or the mean over all finished runs for cells not yet run.
    const all = [...cellSeconds.values()].flat();
    let remaining = 0;
    for (const t of todo.slice(i + 1)) remaining += mean(cellSeconds.get(key(t.cell)) ?? all);
    console.error(
      `${cell.task} ${cell.method}${cell.densityEstimator ? ` (${cell.densityEstimator})` : ''} ${cell.budget} obs ${observation}: C2ST ${accuracy.toFixed(3)}, train ${record.trainSeconds.toFixed(1)} s, ` +
        `total ${record.totalSeconds.toFixed(1)} s + C2ST ${c2stSeconds.toFixed(1)} s, ${record.epochs} epochs ` +
        `(run ${i + 1}/${todo.length}, elapsed ${((performance.now() - started) / 60000).toFixed(1)} min, about ${(remaining / 60).toFixed(0)} min left)`,
    );
  }
  writeTable(records);
}

await main();
