/**
 * `sbi-engine flow-mcmc`: flow-based independence Metropolis with a trained lattice flow (same
 * option conventions as src/cli.ts: `--name value`, `--seed`, `--threads`, exit code 2 for usage
 * errors). Training (`flow-train --target phi4`) is registered by the manifold CLI's target
 * registry through `trainPhi4FlowFromCli` (src/lattice/flow.ts).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { SbiError } from '../errors.js';
import { flowMetropolis, Phi4Flow } from './flow.js';
import { integer, seedOf, usage } from '../cli_args.js';

interface FlowMcmcCliOptions {
  model: string; n: string; seed: string; burnIn?: string; threads?: string; json?: boolean;
}

async function commandFlowMcmc(this: Command, o: FlowMcmcCliOptions): Promise<void> {
  const n = integer(this, o.n, 'n', 2, 2 ** 40)!;
  const burnIn = integer(this, o.burnIn, 'burn-in', 0, n - 2) ?? 0;
  const threads = integer(this, o.threads, 'threads', 1, 1024);
  const seed = seedOf(this, o.seed);
  if (!fs.existsSync(o.model)) throw new SbiError(`Cannot read --model ${o.model}: no such file`, 'FILE_NOT_FOUND');
  const model = Phi4Flow.load(o.model);
  const r = await flowMetropolis(model, { n, seed, burnIn, ...(threads !== undefined ? { threads } : {}) });
  const c = model.coupling;
  const chi = r.susceptibility;
  if (o.json) {
    process.stdout.write(JSON.stringify({
      target: 'phi4', L: c.L, m2: c.m2, lambda: c.lambda, n, burnIn, acceptance: r.acceptance, ess: r.ess,
      chi2: chi.value, chi2Error: chi.error, tauInt: chi.tau, tauIntError: chi.tauError, longestRejectionRun: r.longestRejectionRun,
    }) + '\n');
    return;
  }
  const f = (x: number, d = 4) => x.toFixed(d);
  process.stdout.write(
    `target phi4 L=${c.L} m2=${c.m2} lambda=${c.lambda}\n` +
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
    .description('flow-based independence Metropolis with a trained lattice flow: acceptance, ESS, χ₂ ± error, τ_int')
    .requiredOption('--model <model.bin>', 'a trained flow (flow-train --target phi4)')
    .requiredOption('--n <int>', 'chain length (proposals)')
    .option('--seed <int>', 'random seed (non-negative integer)', '0')
    .option('--burn-in <int>', 'chain steps dropped from the start', '0')
    .option('--threads <int>', 'worker threads (default: all cores)')
    .option('--json', 'print one JSON object instead of lines')
    .action(commandFlowMcmc);
}
