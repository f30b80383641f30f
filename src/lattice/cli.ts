/**
 * `sbi-engine flow-mcmc`: flow-based independence Metropolis with a trained lattice flow, φ⁴ or
 * U(1) by the model file's kind (same option conventions as src/cli.ts: `--name value`, `--seed`,
 * `--threads`, exit code 2 for usage errors). Training (`flow-train --target phi4|u1`) is
 * registered by the manifold CLI's target registry through `trainPhi4FlowFromCli`
 * (src/lattice/flow.ts) and `trainU1FlowFromCli` (src/lattice/u1_flow.ts).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { SbiError } from '../errors.js';
import { loadModelFile } from '../io/model_file.js';
import { flowMetropolis, Phi4Flow, PHI4_FLOW_KIND } from './flow.js';
import { U1Flow, U1_FLOW_KIND } from './u1_flow.js';
import { integer, seedOf, usage } from '../cli_args.js';

interface FlowMcmcCliOptions {
  model: string; n: string; seed: string; burnIn?: string; threads?: string; json?: boolean; symmetric?: boolean; backend: string;
}

async function commandFlowMcmc(this: Command, o: FlowMcmcCliOptions): Promise<void> {
  const n = integer(this, o.n, 'n', 2, 2 ** 40)!;
  const burnIn = integer(this, o.burnIn, 'burn-in', 0, n - 2) ?? 0;
  const threads = integer(this, o.threads, 'threads', 1, 1024);
  const seed = seedOf(this, o.seed);
  if (!['cpu', 'webgpu', 'cuda', 'auto'].includes(o.backend)) usage(this, `--backend must be cpu, webgpu, cuda or auto for flow-mcmc but received ${o.backend}`);
  const backend = o.backend as 'cpu' | 'webgpu' | 'cuda' | 'auto';
  if (!fs.existsSync(o.model)) throw new SbiError(`Cannot read --model ${o.model}: no such file`, 'FILE_NOT_FOUND');
  const file = loadModelFile(o.model);
  const options = { n, seed, burnIn, backend, ...(threads !== undefined ? { threads } : {}) };
  const f = (x: number, d = 4) => x.toFixed(d);
  if (file.kind === U1_FLOW_KIND) {
    if (o.symmetric) usage(this, '--symmetric applies to φ⁴ models (the symmetry φ → −φ) only');
    const model = U1Flow.fromModelFile(file);
    const r = await flowMetropolis(model, options);
    const c = model.coupling;
    if (o.json) {
      process.stdout.write(JSON.stringify({
        target: 'u1', L: c.L, beta: c.beta, n, burnIn, acceptance: r.acceptance, ess: r.ess, meanQ2: r.meanQ2.value, meanQ2Error: r.meanQ2.error,
        tauIntQ: r.tauQ.tau, tauIntQError: r.tauQ.tauError, tauIntQ2: r.meanQ2.tau, tauIntQ2Error: r.meanQ2.tauError,
        longestRejectionRun: r.longestRejectionRun,
      }) + '\n');
      return;
    }
    process.stdout.write(
      `target u1 L=${c.L} beta=${c.beta}\n` +
      `proposals ${n} (burn-in ${burnIn})\n` +
      `acceptance ${f(r.acceptance)}\n` +
      `ess ${f(r.ess)}\n` +
      `Q2 ${f(r.meanQ2.value)} +- ${f(r.meanQ2.error)}\n` +
      `tau_int_Q ${f(r.tauQ.tau, 3)} +- ${f(r.tauQ.tauError, 3)}\n` +
      `tau_int_Q2 ${f(r.meanQ2.tau, 3)} +- ${f(r.meanQ2.tauError, 3)}\n` +
      `longest_rejection_run ${r.longestRejectionRun}\n`,
    );
    return;
  }
  if (file.kind !== PHI4_FLOW_KIND) {
    throw new SbiError(`Expected a lattice flow model (kind "${PHI4_FLOW_KIND}" or "${U1_FLOW_KIND}") in --model ${o.model} but it holds "${file.kind}"`, 'WRONG_MODEL_KIND');
  }
  const model = Phi4Flow.fromModelFile(file);
  const r = await flowMetropolis(model, { ...options, ...(o.symmetric ? { symmetric: true } : {}) });
  const c = model.coupling;
  const chi = r.susceptibility;
  if (o.json) {
    process.stdout.write(JSON.stringify({
      target: 'phi4', L: c.L, m2: c.m2, lambda: c.lambda, n, burnIn, symmetric: o.symmetric === true, acceptance: r.acceptance, ess: r.ess,
      chi2: chi.value, chi2Error: chi.error, tauInt: chi.tau, tauIntError: chi.tauError, longestRejectionRun: r.longestRejectionRun,
    }) + '\n');
    return;
  }
  process.stdout.write(
    `target phi4 L=${c.L} m2=${c.m2} lambda=${c.lambda}${o.symmetric ? ' (symmetrised proposal)' : ''}\n` +
    `proposals ${n} (burn-in ${burnIn})\n` +
    `acceptance ${f(r.acceptance)}\n` +
    `ess ${f(r.ess)}\n` +
    `chi2 ${f(chi.value)} +- ${f(chi.error)}\n` +
    `tau_int ${f(chi.tau, 3)} +- ${f(chi.tauError, 3)}\n` +
    `longest_rejection_run ${r.longestRejectionRun}\n`,
  );
}

export function addLatticeCommands(program: Command): void {
  program
    .command('flow-mcmc')
    .description('flow-based independence Metropolis with a trained lattice flow: acceptance, ESS, χ₂ (φ⁴) or ⟨Q²⟩ (U(1)) ± error, τ_int')
    .requiredOption('--model <model.bin>', 'a trained flow (flow-train --target phi4 or u1)')
    .requiredOption('--n <int>', 'chain length (proposals)')
    .option('--seed <int>', 'random seed (non-negative integer)', '0')
    .option('--burn-in <int>', 'chain steps dropped from the start', '0')
    .option('--threads <int>', 'worker threads (default: all cores)')
    .option('--symmetric', 'φ⁴: propose from the Z2-symmetrised flow ½(q(φ) + q(−φ))')
    .option('--backend <cpu|webgpu|cuda|auto>', 'where the flow draws its proposals (webgpu: in f32; cuda: in double)', 'cpu')
    .option('--json', 'print one JSON object instead of lines')
    .action(commandFlowMcmc);
}
