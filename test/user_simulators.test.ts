import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SbiError } from '../src/errors.js';
import { ProcessSimulator, type ProcessSimulatorOptions } from '../src/simulators/process.js';
import { formatNumber, parseNumber, parseReplyLine } from '../src/simulators/protocol.js';
import { closingAfter, expectExitWithoutClose, rejection } from './helpers/simulators.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** The POSIX sh + awk program (test/fixtures/uniform_noise.awk). */
function awkSimulator(options: Partial<ProcessSimulatorOptions> = {}): ProcessSimulator {
  return new ProcessSimulator({ command: 'sh', args: [fixture('uniform_noise.sh')], thetaDim: 2, xDim: 2, ...options });
}

/** The Node.js program (test/fixtures/protocol_program.mjs) with its misbehaviour switches. */
function nodeSimulator(switches: string[] = [], options: Partial<ProcessSimulatorOptions> = {}): ProcessSimulator {
  return new ProcessSimulator({
    command: process.execPath,
    args: [fixture('protocol_program.mjs'), ...switches],
    thetaDim: 2,
    xDim: 2,
    ...options,
  });
}

/** What uniform_noise.awk computes for row i: its generator, seeded from (seed, streamOffset + i). */
function awkExpected(theta: Float64Array, seed: number, streamOffset: number): Float32Array {
  const M = 2147483647;
  const x = new Float32Array(theta.length);
  for (let i = 0; i < theta.length / 2; i++) {
    let state = ((seed % M) * 16807 + ((streamOffset + i) % M)) % M;
    if (state === 0) state = 1;
    for (let j = 0; j < 2; j++) {
      state = (state * 48271) % M;
      x[2 * i + j] = theta[2 * i + j] + state / M - 0.5;
    }
  }
  return x;
}

function thetaRows(n: number): Float64Array {
  return Float64Array.from({ length: 2 * n }, (_, k) => (k % 2 === 0 ? 0.1 * (k / 2) : 1 - 1e-7 * k));
}

describe('protocol numbers', () => {
  it('parses decimals and every common spelling of nan and inf, and nothing else', () => {
    expect(['1', '-2.5', '.5', '5.', '1e-7', '+3E+2'].map(parseNumber)).toEqual([1, -2.5, 0.5, 5, 1e-7, 300]);
    expect(['nan', '-nan', 'NaN'].map(parseNumber).every(Number.isNaN)).toBe(true);
    expect(['inf', '+inf', 'Infinity', '-inf', '-INFINITY'].map(parseNumber)).toEqual([Infinity, Infinity, Infinity, -Infinity, -Infinity]);
    for (const bad of ['', '0x10', '1e', 'abc', '1.2.3', '--1', 'nanx']) expect(parseNumber(bad)).toBeUndefined();
  });

  it('formats numbers so that they parse back to the same double', () => {
    const values = [0.1, -1 / 3, 1e-310, 1.7976931348623157e308, 2 ** -1074, 123456789.123, -0];
    for (const v of values) expect(Object.is(parseNumber(formatNumber(v)), v)).toBe(true);
    expect([NaN, Infinity, -Infinity].map(formatNumber)).toEqual(['nan', 'inf', '-inf']);
  });

  it('reads rows separated by spaces, tabs or commas and names what is wrong with a bad line', () => {
    expect(parseReplyLine(' 1,\t2  ', 2)).toEqual({ kind: 'row', values: Float64Array.of(1, 2) });
    expect(parseReplyLine('end 12', 2)).toEqual({ kind: 'end', id: '12' });
    expect(parseReplyLine('error out of memory', 2)).toEqual({ kind: 'error', message: 'out of memory' });
    expect(parseReplyLine('1 2 3', 2)).toEqual({ kind: 'malformed', reason: 'expected a row of 2 numbers but found 3 fields' });
    expect(parseReplyLine('1 x', 2)).toEqual({ kind: 'malformed', reason: 'field 2 ("x") is not a number' });
  });
});

describe('ProcessSimulator', () => {
  it('runs a POSIX sh/awk program: row i is seeded from (seed, streamOffset + i)', async () => {
    const sim = awkSimulator({ batchSize: 7 });
    await closingAfter([sim], async () => {
      const theta = thetaRows(60);
      const r = await sim.simulate(theta, { seed: 42, streamOffset: 1000 });
      expect(r.failedCount).toBe(0);
      expect(Array.from(r.x)).toEqual(Array.from(awkExpected(theta, 42, 1000)));
    });
  });

  it('gives the same result for any batch size and number of processes, with progress up to (n, n)', async () => {
    const theta = thetaRows(150);
    const seen: number[] = [];
    const awkOne = awkSimulator({ batchSize: 11 });
    const awkThree = awkSimulator({ processes: 3 });
    const nodeOne = nodeSimulator(['--chatter'], { batchSize: 150 });
    const nodeFour = nodeSimulator([], { processes: 4, batchSize: 9 });
    await closingAfter([awkOne, awkThree, nodeOne, nodeFour], async () => {
      const [a1, a3, n1, n4] = await Promise.all([
        awkOne.simulate(theta, { seed: 5, streamOffset: 3 }),
        awkThree.simulate(theta, { seed: 5, streamOffset: 3, onProgress: (done) => seen.push(done) }),
        nodeOne.simulate(theta, { seed: 2n ** 63n, streamOffset: 2n ** 64n - 100n }),
        nodeFour.simulate(theta, { seed: 2n ** 63n, streamOffset: 2n ** 64n - 100n }),
      ]);
      expect(Array.from(a3.x)).toEqual(Array.from(a1.x));
      expect(Array.from(n4.x)).toEqual(Array.from(n1.x));
      expect(seen).toEqual([...seen].sort((p, q) => p - q));
      expect(seen.at(-1)).toBe(150);
      // The stream offsets of the last 100 rows wrap past 2^64: row 100 is stream 0.
      const wrapped = await nodeFour.simulate(theta.slice(200), { seed: 2n ** 63n, streamOffset: 0 });
      expect(Array.from(wrapped.x)).toEqual(Array.from(n1.x.subarray(200)));
    });
  });

  it('flags and counts rows whose x is not finite', async () => {
    const sim = nodeSimulator([], { batchSize: 4 });
    await closingAfter([sim], async () => {
      const theta = thetaRows(10);
      theta[2 * 3] = -1;
      theta[2 * 8] = -5;
      const r = await sim.simulate(theta, { seed: 1 });
      expect(r.failedCount).toBe(2);
      expect(Array.from(r.failed)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
      expect(r.x.filter(Number.isNaN).length).toBe(4);
    });
  });

  it('reports a crash mid-batch (SIMULATOR_CRASHED, status and stderr) and keeps the rows received', async () => {
    const sim = nodeSimulator(['--crash-after', '25'], { batchSize: 10 });
    const healthy = nodeSimulator();
    await closingAfter([sim, healthy], async () => {
      const theta = thetaRows(40);
      const e = await rejection(sim.simulate(theta, { seed: 8 }));
      expect(e.code).toBe('SIMULATOR_CRASHED');
      expect(e.message).toMatch(/exited with status 7 during batch \d+ \(rows 20\.\.29\), after 5 of 10 rows/);
      expect(e.message).toMatch(/crashing on purpose before row 25/);
      expect(e.partial.completedCount).toBe(25);
      const expected = await healthy.simulate(theta, { seed: 8 });
      expect(Array.from(e.partial.x.subarray(0, 50))).toEqual(Array.from(expected.x.subarray(0, 50)));
      expect(e.partial.x.subarray(50).every(Number.isNaN)).toBe(true);
      // A fresh process serves the next call.
      const next = await sim.simulate(theta.slice(0, 40), { seed: 8 });
      expect(Array.from(next.x)).toEqual(Array.from(expected.x.subarray(0, 40)));
    });
  });

  it('kills a program that hangs once the batch timeout passes (SIMULATOR_TIMEOUT), keeping the rows received', async () => {
    const sim = nodeSimulator(['--hang-after', '5'], { batchSize: 8, timeoutMs: 400 });
    await closingAfter([sim], async () => {
      const started = Date.now();
      const e = await rejection(sim.simulate(thetaRows(16), { seed: 1 }));
      expect(e.code).toBe('SIMULATOR_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(e.message).toMatch(/within 400 ms \(5 of 8 rows received\); killed it/);
      expect(e.partial.completedCount).toBe(5);
      const pid = Number(/hanging on purpose before row 5, pid (\d+)/.exec(e.message)?.[1]);
      expect(pid).toBeGreaterThan(0);
      const gone = async () => {
        for (let k = 0; k < 40; k++) {
          try {
            process.kill(pid, 0);
          } catch {
            return true;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        return false;
      };
      expect(await gone()).toBe(true);
    });
  });

  it('rejects garbage output with PROTOCOL_ERROR quoting the line', async () => {
    const sim = nodeSimulator(['--garbage-at', '3'], { batchSize: 6 });
    await closingAfter([sim], async () => {
      const e = await rejection(sim.simulate(thetaRows(6), { seed: 1 }));
      expect(e.code).toBe('PROTOCOL_ERROR');
      expect(e.message).toMatch(/malformed line for row 3 of batch \d+ \(rows 0\.\.5\), field 1 \("hello"\) is not a number: "hello world"/);
      expect(e.partial.completedCount).toBe(3);
    });
  });

  it('rejects a row with the wrong number of columns with PROTOCOL_ERROR', async () => {
    const sim = nodeSimulator(['--columns-at', '0']);
    await closingAfter([sim], async () => {
      const e = await rejection(sim.simulate(thetaRows(2), { seed: 1 }));
      expect(e.code).toBe('PROTOCOL_ERROR');
      expect(e.message).toMatch(/row 0 .*expected a row of 2 numbers but found 3 fields: "1 2 3"/);
    });
  });

  it("passes on the program's `error` line as SIMULATOR_FAILED", async () => {
    const sim = nodeSimulator(['--error-at', '4'], { batchSize: 3 });
    await closingAfter([sim], async () => {
      const e = await rejection(sim.simulate(thetaRows(9), { seed: 1 }));
      expect(e.code).toBe('SIMULATOR_FAILED');
      expect(e.message).toMatch(/failed on batch \d+ \(rows 3\.\.5\): cannot simulate this row/);
      expect(e.partial.completedCount).toBe(4);
    });
  });

  it('checks the dimensions announced in the handshake and reports programs that cannot start', async () => {
    const wrongDims = nodeSimulator(['--dims', '3', '2']);
    const missing = new ProcessSimulator({ command: 'sbi-engine-no-such-program', thetaDim: 2, xDim: 2 });
    await closingAfter([wrongDims, missing], async () => {
      const dims = await rejection(wrongDims.simulate(thetaRows(1), { seed: 1 }));
      expect(dims.code).toBe('PROTOCOL_ERROR');
      expect(dims.message).toMatch(/reports thetaDim 3 and xDim 2, but the simulator was configured with 2 and 2/);
      const load = await rejection(missing.simulate(thetaRows(1), { seed: 1 }));
      expect(load.code).toBe('SIMULATOR_LOAD_FAILED');
      expect(load.message).toMatch(/could not be started: .*ENOENT/);
    });
  });

  it('stops at once on abort (ABORTED) and rejects calls after close() (SIMULATOR_CLOSED)', async () => {
    const sim = nodeSimulator(['--hang-after', '2'], { timeoutMs: 60_000, batchSize: 1 });
    const controller = new AbortController();
    let started = 0;
    const onProgress = (done: number) => {
      if (done < 2) return;
      started = Date.now();
      setTimeout(() => controller.abort(), 100); // while row 2 hangs
    };
    const e = await rejection(sim.simulate(thetaRows(4), { seed: 1, signal: controller.signal, onProgress }));
    expect(e.code).toBe('ABORTED');
    expect(e.partial.completedCount).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    await sim.close();
    await expect(sim.simulate(thetaRows(1), { seed: 1 })).rejects.toSatisfy(
      (err: unknown) => err instanceof SbiError && err.code === 'SIMULATOR_CLOSED',
    );
  });

  it('does not keep the process alive when close() is never called', () => {
    expectExitWithoutClose('process');
  });
});
