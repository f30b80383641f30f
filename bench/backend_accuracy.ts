/**
 * Agreement of each non-CPU backend's simulators with the CPU, at a scale the test harness
 * (test/backend_ops.test.ts, 4 099 rows) cannot afford: the figures behind the op table's
 * tolerances (src/backend/backend.ts) and docs/backends.md. Per simulate.* op and task (design
 * tasks at their default design and at 0.8 times it), θ from the prior:
 *   - relative difference |Δ| / |cpu| over the values (quantiles and maximum, where cpu ≠ 0);
 *   - rows outside the op's bound (atol, rtol, rowRtol) and how many discordantRows allows;
 *   - rows with any difference at all.
 * Prints a table, writes bench/results/backend_accuracy.json and the table into bench/README.md.
 *
 *   npx tsx bench/backend_accuracy.ts [--quick]      (10⁵ rows per case; --quick: 10⁴)
 */
import { BACKEND_NAMES, OPS, OP_NAMES, cpuBackend, selectBackend, type Backend, type OpSpec, type Tolerance } from '../src/backend/backend.js';
import { closeWebGpu } from '../src/backend/webgpu.js';
import { getTask, listTasks } from '../src/tasks/index.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const quick = process.argv.includes('--quick');
const ROWS = quick ? 10_000 : 100_000;

interface Agreement {
  rowsOutside: number;
  rowsAllowed: number;
  rowsDiffering: number;
  relQuantiles: { q50: number; q99: number; q9999: number; max: number };
}

function agreement(got: Float32Array, want: Float32Array, width: number, tol: Tolerance): Agreement {
  const rows = want.length / width;
  let rowsOutside = 0, rowsDiffering = 0;
  const rel: number[] = [];
  for (let i = 0; i < rows; i++) {
    let scale = 0;
    for (let j = 0; j < width; j++) scale = Math.max(scale, Math.abs(want[i * width + j]!));
    let outside = false, differs = false;
    for (let j = 0; j < width; j++) {
      const g = got[i * width + j]!, w = want[i * width + j]!;
      if (Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w))) continue;
      differs = true;
      const err = Math.abs(g - w);
      if (!(err <= tol.atol + (tol.rowRtol ?? 0) * scale + tol.rtol * Math.abs(w))) outside = true;
      if (w !== 0) rel.push(err / Math.abs(w));
    }
    if (outside) rowsOutside++;
    if (differs) rowsDiffering++;
  }
  // values that agree exactly count as 0 in the quantiles
  const zeros = want.length - rel.length;
  rel.sort((a, b) => a - b);
  const q = (f: number) => {
    const k = Math.min(want.length - 1, Math.floor(f * want.length)) - zeros;
    return k < 0 ? 0 : rel[k]!;
  };
  return { rowsOutside, rowsAllowed: Math.floor((tol.discordantRows ?? 0) * rows), rowsDiffering, relQuantiles: { q50: q(0.5), q99: q(0.99), q9999: q(0.9999), max: rel.at(-1) ?? 0 } };
}

const backends: Backend[] = [];
for (const name of BACKEND_NAMES.filter((n) => n !== 'cpu')) {
  try {
    backends.push(await selectBackend(name));
  } catch (e) {
    process.stderr.write(`${name}: unavailable (${(e as Error).message})\n`);
  }
}

const results: Array<{ backend: string; op: string; task: string; design: number[]; rows: number } & Agreement> = [];
for (const b of backends) {
  for (const op of OP_NAMES) {
    const spec: OpSpec = OPS[op];
    if (spec.simulator === undefined || b.supportsOp(op) !== true || !spec.tolerance) continue;
    for (const def of listTasks().filter((t) => t.simulator === spec.simulator)) {
      const theta = getTask(def.name).prior.sample(ROWS, { seed: 2026 });
      const defaults = def.design.map((d) => d.default);
      const designs = defaults.length > 0 ? [defaults, defaults.map((v) => 0.8 * v)] : [[]];
      for (const design of designs) {
        const options = { seed: 7n, streamOffset: 1n << 40n, ...(design.length ? { design: Float64Array.from(design) } : {}) };
        const want = await cpuBackend.simulate(spec.simulator, theta, options);
        const got = await b.simulate(spec.simulator, theta, options);
        const a = agreement(got.x, want.x, want.x.length / ROWS, spec.tolerance);
        results.push({ backend: b.name, op, task: def.name, design, rows: ROWS, ...a });
        process.stderr.write(`${b.name} ${op} ${def.name} ${design.join(',')}: ${JSON.stringify(a)}\n`);
      }
    }
  }
}
await closeWebGpu();

const e = (v: number) => (v === 0 ? '0' : v.toExponential(1));
const lines = [
  '| backend | op (task, design) | rel. Δ median | 99% | 99.99% | max | rows differing | rows outside bound (allowed) |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.backend} | ${r.op} (${r.task}${r.design.length ? `, ${r.design.join(', ')}` : ''}) | ${e(r.relQuantiles.q50)} | ${e(r.relQuantiles.q99)} | ${e(r.relQuantiles.q9999)} | ${e(r.relQuantiles.max)} | ${r.rowsDiffering} | ${r.rowsOutside} (${r.rowsAllowed}) |`,
  ),
];
const devices = backends.map((b) => `${b.name}: ${b.device}`).join('; ');
const table = `${lines.join('\n')}\n\nMachine: ${machineDescription()}. Devices: ${devices || 'none besides the CPU'}. ${ROWS} rows per case, θ from the prior (seed 2026); relative Δ over the values where the CPU's is nonzero (exact agreement counts as 0).`;
console.log(table);
writeResults('backend_accuracy.json', { machine: machineDescription(), devices, rows: ROWS, quick, results });
if (!quick) replaceReadmeBlock('backend_accuracy', table);
