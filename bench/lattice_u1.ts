// 2-D U(1) gauge theory at the point of Kanwar et al. (arXiv:2003.06413: L = 8, β = 2): the native
// HMC baseline on 1 and 2 threads (same chains, so the same figures), with ⟨Q²⟩ ± error against
// the exact torus value (src/lattice/u1.ts u1Exact), τ_int of Q and Q², the plaquette and acceptance.
//   npm run bench:lattice-u1 [-- trajectories-per-chain]
import { U1Action, dropBurnIn, integratedAutocorrelation, u1Exact, u1Hmc } from '../src/lattice/index.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const steps = Number(process.argv[2] ?? 20000);
const chains = 8;
const burnIn = 500;
const L = 8, beta = 2;
const target = new U1Action({ L, beta });
const exact = u1Exact(L, beta);
const settings = { seed: 1, steps, chains, leapfrogSteps: 10, stepSize: 0.1 };

const rows = [1, 2].map((threads) => {
  const t0 = performance.now();
  const r = u1Hmc(target, { ...settings, threads });
  const seconds = (performance.now() - t0) / 1000;
  const q = dropBurnIn(r.charge, chains, burnIn);
  const q2 = integratedAutocorrelation(q.map((v) => v * v), { chains });
  const tauQ = integratedAutocorrelation(q, { chains });
  const plaq = integratedAutocorrelation(dropBurnIn(r.action, chains, burnIn).map((s) => -s / (beta * L * L)), { chains });
  return { threads, seconds, trajectoriesPerSecond: (chains * steps) / seconds, acceptance: r.acceptance, q2, tauQ, plaq };
});
const [one, two] = rows as [typeof rows[0], typeof rows[0]];
const result = {
  machine: machineDescription(), date: new Date().toISOString().slice(0, 10),
  target: { L, beta }, exact, hmc: { ...settings, burnIn, stepJitter: 0.2 }, rows,
  speedup2Threads: one.seconds / two.seconds,
};
writeResults('lattice_u1.json', result);
const f = (x: number, d = 3) => x.toFixed(d);
const table = [
  `Measured ${result.date} on ${result.machine}. HMC: ${chains} chains × ${steps} trajectories (${burnIn} burn-in each), ` +
    `${settings.leapfrogSteps} leapfrog steps of ${settings.stepSize} (jitter 0.2), cold start. Exact on the 8×8 torus: ` +
    `⟨Q²⟩ = ${f(exact.meanQ2, 4)} (χ_Q = ⟨Q²⟩/V = ${f(exact.topologicalSusceptibility, 5)}), ⟨cos P⟩ = ${f(exact.meanPlaquette, 5)}.`,
  '',
  '| sampler | threads | acceptance | ⟨Q²⟩ | τ_int(Q) | τ_int(Q²) | ⟨cos P⟩ | trajectories/s | time (s) | speed-up vs 1 thread |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| HMC | ${r.threads} | ${f(r.acceptance)} | ${f(r.q2.mean)} ± ${f(r.q2.meanError)} | ${f(r.tauQ.tau, 2)} ± ${f(r.tauQ.tauError, 2)} | ` +
    `${f(r.q2.tau, 2)} ± ${f(r.q2.tauError, 2)} | ${f(r.plaq.mean, 4)} ± ${f(r.plaq.meanError, 4)} | ${r.trajectoriesPerSecond.toFixed(0)} | ${f(r.seconds, 2)} | ${f(one.seconds / r.seconds, 2)} |`),
  '| gauge-equivariant flow + independence Metropolis | | not built yet | | | | | | | |',
].join('\n');
replaceReadmeBlock('lattice-u1', `## U(1) lattice gauge theory (issue 5) — \`npm run bench:lattice-u1\`\n\n${table}`);
console.log(table);
