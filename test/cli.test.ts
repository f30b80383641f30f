// The CLI contract of DESIGN.md, exercised on the built CLI (dist/cli.js, built by `npm test`).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../src/csv.js';
import { NPE, NPEPosterior } from '../src/inference/npe.js';
import { NRE } from '../src/inference/nre.js';
import { decodeModelFile } from '../src/io/model_file.js';
import { referenceObservation } from '../src/tasks/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli.js');

function run(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('sbi-engine CLI', () => {
  it('lists tasks as CSV with dimensions', () => {
    const r = run(['tasks']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('name,theta_dim,x_dim,design,gold,reference,description');
    expect(lines.some((l) => l.startsWith('two_moons,2,2,'))).toBe(true);
  });

  it('simulates --from-prior with theta and x columns, reproducibly for a seed', () => {
    const a = run(['simulate', '--task', 'two_moons', '--from-prior', '--n', '50', '--seed', '7', '--out', '-']);
    expect(a.code).toBe(0);
    const t = parseCsv(a.stdout);
    expect(t.header).toEqual(['theta_1', 'theta_2', 'x_1', 'x_2']);
    expect(t.rows).toBe(50);
    for (let i = 0; i < 50; i++) {
      expect(Math.abs(t.data[i * 4]!)).toBeLessThanOrEqual(1);
      expect(Math.abs(t.data[i * 4 + 1]!)).toBeLessThanOrEqual(1);
    }
    const b = run(['simulate', '--task=two_moons', '--from-prior', '--n=50', '--seed=7', '--out=-']);
    expect(b.stdout).toBe(a.stdout);
    const c = run(['simulate', '--task', 'two_moons', '--from-prior', '--n', '50', '--seed', '8', '--out', '-']);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it('accepts --theta values that start with a minus sign and writes x columns only', () => {
    const r = run(['simulate', '--task', 'two_moons', '--theta', '-0.5,0.25', '--n', '10', '--out', '-']);
    expect(r.code).toBe(0);
    const t = parseCsv(r.stdout);
    expect(t.header).toEqual(['x_1', 'x_2']);
    expect(t.rows).toBe(10);
  });

  it('is independent of --threads', () => {
    const a = run(['simulate', '--task', 'two_moons', '--from-prior', '--n', '20000', '--threads', '1', '--out', '-']);
    const b = run(['simulate', '--task', 'two_moons', '--from-prior', '--n', '20000', '--threads', '2', '--out', '-']);
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });

  it('reads --theta-file and writes to a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-cli-'));
    const thetaFile = path.join(dir, 'theta.csv');
    fs.writeFileSync(thetaFile, 'parameter_1,parameter_2\n0.1,0.2\n-0.3,0.4\n0.5,-0.6\n');
    const out = path.join(dir, 'x.csv');
    const r = run(['simulate', '--task', 'two_moons', '--theta-file', thetaFile, '--out', out]);
    expect(r.code).toBe(0);
    const t = parseCsv(fs.readFileSync(out, 'utf8'));
    expect(t.rows).toBe(3);
    fs.rmSync(dir, { recursive: true });
  });

  it('adds gold columns with --gold and joint_log_ratio with --theta-ref', () => {
    const r = run(['simulate', '--task', 'galton_board', '--theta', '-0.3', '--n', '200', '--gold', '--theta-ref', '0.2', '--out', '-']);
    expect(r.code).toBe(0);
    const t = parseCsv(r.stdout);
    expect(t.header).toEqual(['x_1', 'joint_log_likelihood', 'joint_score_1', 'joint_log_ratio']);
    for (let i = 0; i < t.rows; i++) {
      expect(t.data[i * 4 + 1]!).toBeLessThan(0);
      expect(Number.isFinite(t.data[i * 4 + 2]!)).toBe(true);
      expect(Number.isFinite(t.data[i * 4 + 3]!)).toBe(true);
    }
    const noGold = run(['simulate', '--task', 'two_moons', '--theta', '0,0', '--n', '3', '--gold', '--out', '-']);
    expect(noGold.code).toBe(1);
    expect(noGold.stderr).toMatch(/NO_GOLD/);
  });

  it('sets design variables with --design and checks their number', () => {
    const pole = run(['simulate', '--task', 'weinberg', '--theta', '0.23', '--n', '2000', '--out', '-']);
    const offPole = run(['simulate', '--task', 'weinberg', '--theta', '0.23', '--n', '2000', '--design', '40', '--out', '-']);
    expect(pole.code).toBe(0);
    expect(offPole.code).toBe(0);
    expect(offPole.stdout).not.toBe(pole.stdout);
    const explicitPole = run(['simulate', '--task', 'weinberg', '--theta', '0.23', '--n', '2000', '--design', '91.1876', '--out', '-']);
    expect(explicitPole.stdout).toBe(pole.stdout);
    const bad = run(['simulate', '--task', 'weinberg', '--theta', '0.23', '--n', '3', '--design', '40,50', '--out', '-']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/1 design variables/);
    const none = run(['simulate', '--task', 'two_moons', '--theta', '0,0', '--n', '3', '--design', '40', '--out', '-']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no design variables/);
  });

  it('rejects --backend values it does not have with a clear error', () => {
    const r = run(['simulate', '--task', 'two_moons', '--theta', '0,0', '--n', '3', '--backend', 'vulkan', '--out', '-']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--backend/);
  });

  it('fails with a clear message and exit code 2 on bad usage', () => {
    const cases: Array<[string[], RegExp]> = [
      [['simulate', '--task', 'two_moons', '--theta', '0.1', '--n', '3', '--out', '-'], /2 parameters but 1/],
      [['simulate', '--task', 'two_moons', '--theta', '0.1,abc', '--n', '3', '--out', '-'], /"abc" is not one/],
      [['simulate', '--task', 'two_moons', '--from-prior', '--n', '-3', '--out', '-'], /--n: expected an integer/],
      [['simulate', '--task', 'two_moons', '--from-prior', '--n', '0', '--out', '-'], /--n: expected an integer/],
      [['simulate', '--task', 'two_moons', '--from-prior', '--theta', '0,0', '--n', '3', '--out', '-'], /exactly one of/],
      [['simulate', '--task', 'two_moons', '--from-prior', '--n', '3', '--seed', '-1', '--out', '-'], /--seed/],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('fails with exit code 1 and the error code for an unknown task', () => {
    const r = run(['simulate', '--task', 'nope', '--from-prior', '--n', '3', '--out', '-']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNKNOWN_TASK/);
    expect(r.stderr).toMatch(/two_moons/);
  });

  it('c2st prints the accuracy of two CSV samples, reproducibly for a seed, near 0.5 for one distribution', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-cli-'));
    const a = path.join(dir, 'a.csv');
    const b = path.join(dir, 'b.csv');
    const c = path.join(dir, 'c.csv');
    // Deterministic, well-spread rows: A and C interleave on one grid, B is A shifted by 3.
    const rows = (shift: number, phase: number) =>
      ['u,v', ...Array.from({ length: 100 }, (_, i) => `${((i * 37) % 100) / 25 + shift + phase},${((i * 61) % 100) / 25 + phase}`)].join('\n');
    fs.writeFileSync(a, rows(0, 0));
    fs.writeFileSync(b, rows(3, 0));
    fs.writeFileSync(c, rows(0, 0.02));
    const far = run(['c2st', a, b, '--seed', '3']);
    expect(far.code).toBe(0);
    const accuracy = Number(far.stdout.trim());
    expect(accuracy).toBeGreaterThan(0.8); // 3 of the 4 units of range shifted: mostly separable
    expect(run(['c2st', a, b, '--seed=3']).stdout).toBe(far.stdout);
    // One distribution: the 200 held-out predictions are right about half the time (5 s.e. = 0.18).
    const near = Number(run(['c2st', a, c]).stdout.trim());
    expect(Math.abs(near - 0.5)).toBeLessThan(0.18);
    const missing = run(['c2st', a]);
    expect(missing.code).toBe(2);
    fs.writeFileSync(c, 'u\n1\n2\n3\n4\n5\n6\n');
    const mismatch = run(['c2st', a, c]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/2 columns but .* has 1/);
    expect(run(['c2st', a, path.join(dir, 'nope.csv')]).code).toBe(1);
  });

  describe('infer', () => {
    // --max-epochs (hidden) keeps these runs at a fraction of a second.
    const base = ['infer', '--task', 'two_moons', '--method', 'npe', '--budget', '500', '--samples', '200', '--max-epochs', '5', '--out', '-'];

    it('writes --samples posterior draws with header parameter_1.., inside the prior, reproducibly for a seed and any --threads', () => {
      const a = run([...base, '--observation', '1', '--seed', '3']);
      expect(a.code, a.stderr).toBe(0);
      expect(a.stderr).toBe(''); // no progress lines when stderr is not a TTY
      const t = parseCsv(a.stdout);
      expect(t.header).toEqual(['parameter_1', 'parameter_2']);
      expect(t.rows).toBe(200);
      for (const v of t.data) expect(Math.abs(v)).toBeLessThanOrEqual(1);
      expect(new Set(t.data).size).toBe(400);
      expect(run([...base, '--observation=1', '--seed=3', '--threads', '1']).stdout).toBe(a.stdout);
      expect(run([...base, '--observation', '1', '--seed', '4']).stdout).not.toBe(a.stdout);
      expect(run([...base, '--observation', '2', '--seed', '3']).stdout).not.toBe(a.stdout);
      const nsf = run([...base, '--observation', '1', '--seed', '3', '--density-estimator', 'nsf']);
      expect(nsf.code, nsf.stderr).toBe(0);
      expect(parseCsv(nsf.stdout).rows).toBe(200);
      expect(nsf.stdout).not.toBe(a.stdout);
      // two_moons' θ is 2-D, where coupling and autoregressive masks coincide: the same draws.
      const coupling = run([...base, '--observation', '1', '--seed', '3', '--density-estimator', 'nsf-coupling']);
      expect(coupling.code, coupling.stderr).toBe(0);
      expect(coupling.stdout).toBe(nsf.stdout);
    });

    it('--density-estimator mdn trains a mixture density network and --save writes an NPE/mdn file', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-cli-'));
      const model = path.join(dir, 'mdn.bin');
      const r = run([...base, '--observation', '1', '--seed', '3', '--density-estimator', 'mdn', '--save', model]);
      expect(r.code, r.stderr).toBe(0);
      expect(parseCsv(r.stdout).rows).toBe(200);
      expect(NPEPosterior.load(model).kind).toBe('NPE/mdn');
      fs.rmSync(dir, { recursive: true });
    });

    it('reads the observation from --x-file and saves the estimator with --save (NPE.load samples the same rows)', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-cli-'));
      const xFile = path.join(dir, 'x.csv');
      const x = referenceObservation('two_moons', 1);
      fs.writeFileSync(xFile, `x_1,x_2\n${x[0]},${x[1]}\n`);
      const model = path.join(dir, 'model.bin');
      const out = path.join(dir, 'post.csv');
      const r = run(['infer', '--task', 'two_moons', '--method', 'npe', '--budget', '500', '--samples', '200', '--max-epochs', '5',
        '--x-file', xFile, '--seed', '3', '--save', model, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const text = fs.readFileSync(out, 'utf8');
      expect(text).toBe(run([...base, '--observation', '1', '--seed', '3']).stdout);
      const loaded = NPE.load(model);
      expect(loaded.densityEstimator).toBe('maf');
      expect(loaded.buildPosterior().summary).toMatchObject({ epochs: 5, simulations: 500 });
      expect(loaded.buildPosterior().sample(200, { x, seed: 3n })).toEqual(parseCsv(text).data);
      fs.rmSync(dir, { recursive: true });
    });

    it('runs every method end to end on a tiny budget (sequential ones over --rounds) and rejects an unknown --method', () => {
      // MCMC methods sample with sbibm's settings (100 chains, 100 warm-up sweeps, thinning 10);
      // all nine runs together take a few seconds.
      for (const method of ['npe', 'snpe', 'nle', 'snle', 'nre-a', 'nre-b', 'nre-c', 'bnre', 'snre']) {
        const r = run(['infer', '--task', 'two_moons', '--method', method, '--budget', '300', '--observation', '1', '--samples', '20',
          '--max-epochs', '3', ...(method.startsWith('s') ? ['--rounds', '2'] : []), '--seed', '5', '--out', '-']);
        expect(r.code, `${method}: ${r.stderr}`).toBe(0);
        const t = parseCsv(r.stdout);
        expect(t.header, method).toEqual(['parameter_1', 'parameter_2']);
        expect(t.rows, method).toBe(20);
        for (const v of t.data) expect(Math.abs(v), method).toBeLessThanOrEqual(1);
      }
      const bogus = run(['infer', '--task', 'two_moons', '--method', 'bogus', '--budget', '300', '--observation', '1', '--samples', '20', '--out', '-']);
      expect(bogus.code).toBe(2);
      expect(bogus.stderr).toMatch(/--method: expected one of npe, snpe, nle, snle, nre-a, nre-b, nre-c, bnre, snre but received "bogus"/);
      expect(bogus.stdout).toBe('');
    });

    it('--embedding w1,..,K trains an embedding network of x for npe, snpe and the NRE methods, and is refused for nle / snle', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-cli-'));
      const infer = (method: string, ...extra: string[]) => run(['infer', '--task', 'two_moons', '--method', method, '--budget', '300',
        '--observation', '1', '--samples', '20', '--max-epochs', '3', '--seed', '5', '--out', '-', ...extra]);
      for (const method of ['npe', 'snpe', 'nre-b', 'snre']) {
        const model = path.join(dir, `${method}.bin`);
        const r = infer(method, '--embedding', '8,3', '--save', model, ...(method.startsWith('s') ? ['--rounds', '2'] : []));
        expect(r.code, `${method}: ${r.stderr}`).toBe(0);
        expect(parseCsv(r.stdout).rows, method).toBe(20);
        // The model file records the embedding: widths [xDim, hidden..., K].
        expect(decodeModelFile(fs.readFileSync(model)).metadata.embedding, method).toEqual({ sizes: [2, 8, 3], activation: 'relu', paramCount: 8 * 3 + 3 * 9 });
      }
      expect(NRE.load(path.join(dir, 'nre-b.bin')).estimator.embedding!.outputDim).toBe(3);
      for (const method of ['nle', 'snle']) {
        const r = infer(method, '--embedding', '8,3');
        expect(r.code, method).toBe(2);
        expect(r.stderr, method).toMatch(new RegExp(`--embedding: method ${method} takes no embedding network: .*variable is x itself`));
      }
      for (const bad of ['8,0', '8,,3', 'a', '1.5', '']) {
        const r = infer('nre-b', '--embedding', bad);
        expect(r.code, bad).toBe(2);
        expect(r.stderr, bad).toMatch(/--embedding: expected 1 to 64 comma-separated widths/);
      }
      fs.rmSync(dir, { recursive: true });
    });

    it('coverage: trains an amortised estimator and writes the coverage table, ranks and an SBC summary', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-cli-'));
      const ranks = path.join(dir, 'ranks.csv');
      const args = ['coverage', '--task', 'gaussian_linear', '--method', 'npe', '--budget', '500', '--observations', '40', '--samples', '19',
        '--levels', '0.5,0.9', '--max-epochs', '5', '--seed', '2', '--out', '-', '--ranks-out', ranks];
      const r = run(args);
      expect(r.code, r.stderr).toBe(0);
      const t = parseCsv(r.stdout);
      expect(t.header).toEqual(['level', 'coverage', 'standard_error', 'conservative']);
      expect(Array.from(t.data.filter((_, i) => i % 4 === 0))).toEqual([0.5, 0.9]);
      for (let i = 0; i < 2; i++) {
        const c = t.data[i * 4 + 1]!;
        expect(c * 40).toBeCloseTo(Math.round(c * 40), 9); // a fraction of the 40 pairs (boundary ranks count fractionally)
        expect(c).toBeGreaterThanOrEqual(0);
        expect(c).toBeLessThanOrEqual(1);
      }
      expect(r.stderr).toMatch(/calibration_error=\d\.\d{4} sbc_p_1=\S+ .* sbc_p_10=\S+ logprob_rank_p=\S+/);
      const rk = parseCsv(fs.readFileSync(ranks, 'utf8'));
      expect(rk.header).toEqual([...Array.from({ length: 10 }, (_, d) => `rank_${d + 1}`), 'logprob_rank']);
      expect(rk.rows).toBe(40);
      expect(rk.data.every((v) => Number.isInteger(v) && v >= 0 && v <= 19)).toBe(true);
      expect(run(args).stdout).toBe(r.stdout);
      const seq = run(['coverage', '--task', 'two_moons', '--method', 'snpe', '--budget', '500', '--observations', '10', '--samples', '10', '--out', '-']);
      expect(seq.code).toBe(2);
      expect(seq.stderr).toMatch(/needs an amortised estimator/);
      // --embedding as for infer: an NRE with an embedding of x trains and calibrates; nle refuses it.
      const small = ['--task', 'gaussian_linear', '--budget', '300', '--observations', '8', '--samples', '9', '--max-epochs', '2', '--seed', '4', '--out', '-'];
      const emb = run(['coverage', '--method', 'nre-b', '--embedding', '6', ...small]);
      expect(emb.code, emb.stderr).toBe(0);
      expect(parseCsv(emb.stdout).rows).toBe(19);
      const nle = run(['coverage', '--method', 'nle', '--embedding', '6', ...small]);
      expect(nle.code).toBe(2);
      expect(nle.stderr).toMatch(/--embedding: method nle takes no embedding network/);
      fs.rmSync(dir, { recursive: true });
    });

    it('fails with exit code 2 on bad usage and 1 for a task without reference observations', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-cli-'));
      const wide = path.join(dir, 'wide.csv');
      fs.writeFileSync(wide, 'a,b,c\n1,2,3\n');
      const two = path.join(dir, 'two.csv');
      fs.writeFileSync(two, 'a,b\n0.1,0.2\n0.3,0.4\n');
      const args = (...extra: string[]) => ['infer', '--task', 'two_moons', '--samples', '10', '--out', '-', ...extra];
      const cases: Array<[string[], RegExp]> = [
        [args('--method', 'abc', '--budget', '500', '--observation', '1'), /--method: expected one of npe, snpe, .*"abc"/],
        [args('--method', 'npe', '--budget', '0', '--observation', '1'), /--budget: expected an integer/],
        [args('--method', 'npe', '--budget', '5', '--observation', '1'), /--budget: expected an integer in \[10,/],
        [args('--method', 'npe', '--budget', '1e3', '--observation', '1'), /--budget/],
        [args('--method', 'npe', '--budget', '500', '--observation', '6'), /--observation: expected an integer in \[1, 5\]/],
        [args('--method', 'npe', '--budget', '500', '--observation', 'one'), /--observation/],
        [args('--method', 'npe', '--budget', '500'), /exactly one of --observation, --x-file/],
        [args('--method', 'npe', '--budget', '500', '--observation', '1', '--x-file', two), /exactly one of/],
        [args('--method', 'npe', '--budget', '500', '--x-file', wide), /2 values \(one row\) but .* 1 rows of 3 columns/],
        [args('--method', 'npe', '--budget', '500', '--x-file', two), /2 rows of 2 columns/],
        [args('--method', 'npe', '--budget', '500', '--observation', '1', '--density-estimator', 'realnvp'), /--density-estimator/],
        [args('--budget', '500', '--observation', '1'), /--method/],
      ];
      for (const [a, message] of cases) {
        const r = run(a);
        expect(r.code, a.join(' ')).toBe(2);
        expect(r.stderr, a.join(' ')).toMatch(message);
      }
      const noReference = run(['infer', '--task', 'galton_board', '--method', 'npe', '--budget', '500', '--observation', '1', '--samples', '10', '--out', '-']);
      expect(noReference.code).toBe(1);
      expect(noReference.stderr).toMatch(/NO_REFERENCE/);
      expect(run(args('--method', 'npe', '--budget', '500', '--x-file', path.join(dir, 'nope.csv'))).code).toBe(1);
      fs.rmSync(dir, { recursive: true });
    });
  });
});
