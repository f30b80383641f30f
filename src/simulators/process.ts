/**
 * `ProcessSimulator`: an external program, in any language, speaking the versioned line protocol
 * of docs/simulator-protocol.md over stdin/stdout, behind the `Simulator` interface.
 *
 * Programs are started on the first call and kept for the next ones (start-up can be costly);
 * idle ones never keep Node alive, are sent SIGTERM when Node exits, and `close()` ends them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SbiError } from '../errors.js';
import { checkPositiveInteger, describe } from '../validate.js';
import { streamAt } from './batch_rng.js';
import {
  PROTOCOL_MAGIC, PROTOCOL_VERSION, formatBatch, isIgnorableLine, parseHandshakeReply, parseReplyLine,
} from './protocol.js';
import type { SimulateArgs } from './call.js';
import { ChunkedSimulator, LanePool, type ChunkExecutor, type RowCollector } from './rows.js';

export interface ProcessSimulatorOptions {
  /** The program (looked up in PATH like a shell would). */
  command: string;
  args?: string[];
  cwd?: string;
  /** The program's whole environment, as in `child_process.spawn` (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Must equal what the program reports in the handshake. */
  thetaDim: number;
  xDim: number;
  /** Shown in errors; default: the command. */
  name?: string;
  /** Programs run in parallel (default 1). Never changes the result. */
  processes?: number;
  /** Rows per batch (default: about four batches per process, at most 1024). Never changes the result. */
  batchSize?: number;
  /** Time a program has to answer a batch before it is killed (SIMULATOR_TIMEOUT). Default 60 s. */
  timeoutMs?: number;
  /** Time a program has to answer the handshake after being started. Default 30 s. */
  startTimeoutMs?: number;
  /**
   * The programs' stderr: always kept (last 20 lines) for error messages; 'inherit' also copies
   * each line to this process's stderr, prefixed with the simulator name; a function receives them.
   */
  stderr?: 'collect' | 'inherit' | ((line: string) => void);
}

interface ProcessConfig {
  name: string;
  command: string;
  args: string[];
  cwd: string | undefined;
  env: NodeJS.ProcessEnv | undefined;
  thetaDim: number;
  xDim: number;
  timeoutMs: number;
  startTimeoutMs: number;
  stderr: 'collect' | 'inherit' | ((line: string) => void);
}

const STDERR_LINES_KEPT = 20;
const CLOSE_GRACE_MS = 2_000;

// Programs still running when Node exits get SIGTERM (their stdin closes too, which ends a
// well-behaved program; the signal also ends one that hangs).
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGTERM');
    });
  }
}

function setRef(stream: unknown, on: boolean): void {
  const s = stream as { ref?: () => void; unref?: () => void } | null;
  if (on) s?.ref?.();
  else s?.unref?.();
}

/** What a pending request does with the program's lines and with its end. */
interface Waiter {
  line(text: string): void;
  closed(how: string): void;
  failed(error: SbiError): void;
}

/** One running program and its protocol state. */
class ProtocolProcess {
  private readonly child: ChildProcess;
  private readonly stderrTail: string[] = [];
  private stdoutRest = '';
  private stderrRest = '';
  private waiter: Waiter | undefined;
  /** The first line the program wrote while no request was pending. */
  private unsolicited: string | undefined;
  private exitDescription: string | undefined;
  private readonly exited: Promise<void>;
  /** Resolves once the handshake succeeded. */
  readonly started: Promise<void>;
  dead = false;

  constructor(private readonly config: ProcessConfig, private readonly index: number) {
    this.child = spawn(config.command, config.args, { cwd: config.cwd, env: config.env, stdio: ['pipe', 'pipe', 'pipe'] });
    track(this.child);
    // Writing to a program that has died fails with EPIPE; the 'close' event reports the death.
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => this.onStderr(chunk));
    let markExited: () => void = () => undefined;
    this.exited = new Promise<void>((resolve) => (markExited = resolve));
    this.child.on('error', (e) => {
      // Spawning failed (e.g. ENOENT); other errors (a failed kill) leave the process as it is.
      if (this.child.pid !== undefined) return;
      this.markDead(`could not be started: ${e.message}`);
      markExited();
      this.waiter?.failed(new SbiError(`${this.label} could not be started: ${e.message}`, 'SIMULATOR_LOAD_FAILED'));
    });
    this.child.on('close', (code, signal) => {
      this.markDead(code !== null ? `exited with status ${code}` : `was killed by ${signal}`);
      markExited();
      this.waiter?.closed(this.exitDescription as string);
    });
    this.started = this.handshake();
    this.started.catch(() => undefined); // observed by the lane that uses this process
  }

  private get label(): string {
    return `Simulator ${this.config.name} (process ${this.index}${this.child.pid !== undefined ? `, pid ${this.child.pid}` : ''})`;
  }

  private markDead(description: string): void {
    this.dead = true;
    this.exitDescription ??= description;
    running.delete(this.child);
  }

  /** The last stderr lines, for error messages. */
  private stderrNote(): string {
    const tail = this.stderrRest.length > 0 ? [...this.stderrTail, this.stderrRest] : this.stderrTail;
    return tail.length === 0 ? '' : `\nLast lines on stderr:\n  ${tail.join('\n  ')}`;
  }

  private onStdout(chunk: string): void {
    const parts = (this.stdoutRest + chunk).split('\n');
    this.stdoutRest = parts.pop() as string;
    for (const raw of parts) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (isIgnorableLine(line)) continue;
      if (this.waiter) this.waiter.line(line);
      else this.unsolicited ??= line;
    }
  }

  private onStderr(chunk: string): void {
    const parts = (this.stderrRest + chunk).split('\n');
    this.stderrRest = parts.pop() as string;
    for (const line of parts) {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.shift();
      const sink = this.config.stderr;
      if (sink === 'inherit') process.stderr.write(`[${this.config.name}#${this.index}] ${line}\n`);
      else if (typeof sink === 'function') sink(line);
    }
  }

  private setActive(on: boolean): void {
    if (on) this.child.ref();
    else this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) setRef(s, on);
  }

  private protocolError(what: string, line: string): SbiError {
    const shown = line.length > 200 ? `${line.slice(0, 200)}...` : line;
    return new SbiError(`${this.label} ${what}: "${shown}"${this.stderrNote()}`, 'PROTOCOL_ERROR');
  }

  /**
   * Sends `request` and feeds the reply lines to `onLine` (which returns true when the reply is
   * complete and throws an SbiError if it is wrong) until done, the timeout, or the program's end.
   * A timeout, a wrong line or an end of the program leaves the process killed.
   */
  private exchange(
    request: string,
    timeoutMs: number,
    onLine: (line: string) => boolean,
    onTimeout: () => SbiError,
    onClosed: (how: string) => SbiError,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.dead) {
        reject(onClosed(this.exitDescription ?? 'has stopped'));
        return;
      }
      if (this.unsolicited !== undefined) {
        this.kill();
        reject(this.protocolError('wrote a line while no request was pending', this.unsolicited));
        return;
      }
      const finish = (error?: SbiError) => {
        clearTimeout(timer);
        this.waiter = undefined;
        this.setActive(false);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        this.kill();
        finish(onTimeout());
      }, timeoutMs);
      this.waiter = {
        line: (text) => {
          let complete: boolean;
          try {
            complete = onLine(text);
          } catch (e) {
            this.kill();
            finish(e as SbiError);
            return;
          }
          if (complete) finish();
        },
        closed: (how) => finish(onClosed(how)),
        failed: (error) => finish(error),
      };
      this.setActive(true);
      this.child.stdin?.write(request);
    });
  }

  private handshake(): Promise<void> {
    const { thetaDim, xDim, startTimeoutMs } = this.config;
    return this.exchange(
      `${PROTOCOL_MAGIC} ${PROTOCOL_VERSION}\n`,
      startTimeoutMs,
      (line) => {
        const reply = parseHandshakeReply(line);
        if (reply.kind === 'error') {
          throw new SbiError(`${this.label} refused to start: ${reply.message}${this.stderrNote()}`, 'SIMULATOR_LOAD_FAILED');
        }
        if (reply.kind === 'malformed') throw this.protocolError(`answered the handshake wrongly (${reply.reason})`, line);
        if (reply.version !== PROTOCOL_VERSION) {
          throw this.protocolError(`speaks protocol version ${reply.version}, not ${PROTOCOL_VERSION}`, line);
        }
        if (reply.thetaDim !== thetaDim || reply.xDim !== xDim) {
          throw this.protocolError(
            `reports thetaDim ${reply.thetaDim} and xDim ${reply.xDim}, but the simulator was configured with ${thetaDim} and ${xDim}`,
            line,
          );
        }
        return true;
      },
      () => new SbiError(`${this.label} did not answer the handshake within ${startTimeoutMs} ms; killed it${this.stderrNote()}`, 'SIMULATOR_TIMEOUT'),
      (how) => new SbiError(`${this.label} ${how} before answering the handshake${this.stderrNote()}`, 'SIMULATOR_CRASHED'),
    );
  }

  /** Simulates rows [start, start + count) as batch `id`, storing each row into `rows` as it arrives. */
  runBatch(id: number, theta: Float64Array, start: number, count: number, args: SimulateArgs, rows: RowCollector): Promise<void> {
    const { thetaDim, xDim, timeoutMs } = this.config;
    const what = `batch ${id} (rows ${start}..${start + count - 1})`;
    let received = 0;
    return this.exchange(
      formatBatch(id, theta, thetaDim, start, count, args.seed, streamAt(args.streamOffset, start)),
      timeoutMs,
      (line) => {
        const reply = parseReplyLine(line, xDim);
        switch (reply.kind) {
          case 'row':
            if (received === count) throw this.protocolError(`sent more than the ${count} rows of ${what}`, line);
            rows.put(start + received, reply.values);
            received++;
            return false;
          case 'end':
            if (reply.id !== String(id)) throw this.protocolError(`ended batch ${reply.id} while ${what} was pending`, line);
            if (received !== count) throw this.protocolError(`ended ${what} after ${received} of ${count} rows`, line);
            return true;
          case 'error':
            throw new SbiError(`${this.label} failed on ${what}: ${reply.message}${this.stderrNote()}`, 'SIMULATOR_FAILED');
          case 'malformed':
            throw this.protocolError(`sent a malformed line for row ${start + received} of ${what}, ${reply.reason}`, line);
        }
      },
      () =>
        new SbiError(
          `${this.label} did not finish ${what} within ${timeoutMs} ms (${received} of ${count} rows received); killed it${this.stderrNote()}`,
          'SIMULATOR_TIMEOUT',
        ),
      (how) =>
        new SbiError(
          `${this.label} ${how} during ${what}, after ${received} of ${count} rows${this.stderrNote()}`,
          'SIMULATOR_CRASHED',
        ),
    );
  }

  kill(): void {
    if (!this.dead) {
      this.dead = true;
      this.child.kill('SIGKILL');
    }
  }

  /** Closes stdin (the protocol's shutdown) and waits for the exit; kills after a grace period. */
  async close(): Promise<void> {
    if (this.dead) {
      await this.exited;
      return;
    }
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill(), CLOSE_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * A simulator run by external programs (docs/simulator-protocol.md). Row i of a call is sent in
 * a batch whose header carries the seed and the Philox stream of its first row, so a program that
 * seeds row i from (seed, stream + i) gives the same output for any batch size and process count.
 * Failures reject with a `SimulationError` whose `partial` keeps every row received: codes
 * SIMULATOR_TIMEOUT, SIMULATOR_CRASHED, SIMULATOR_FAILED (an `error` line), PROTOCOL_ERROR,
 * SIMULATOR_LOAD_FAILED (not startable), ABORTED.
 */
export class ProcessSimulator extends ChunkedSimulator {
  readonly name: string;
  readonly thetaDim: number;
  readonly xDim: number;
  protected readonly maxLanes: number;
  protected readonly chunkSize: number | undefined;
  protected readonly maxDefaultChunkSize = 1024;
  private readonly config: ProcessConfig;
  private readonly pool = new LanePool<ProtocolProcess>();
  private processesStarted = 0;
  private nextBatchId = 0;

  constructor(options: ProcessSimulatorOptions) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`Expected an options object for ProcessSimulator but received ${describe(options)}`);
    }
    if (typeof options.command !== 'string' || options.command.length === 0) {
      throw new TypeError(`Expected a program for \`command\` but received ${describe(options.command)}`);
    }
    const args = options.args ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
      throw new TypeError(`Expected an array of strings for \`args\` but received ${describe(options.args)}`);
    }
    const stderr = options.stderr ?? 'collect';
    if (stderr !== 'collect' && stderr !== 'inherit' && typeof stderr !== 'function') {
      throw new TypeError(`Expected 'collect', 'inherit' or a function for \`stderr\` but received ${describe(stderr)}`);
    }
    this.thetaDim = checkPositiveInteger(options.thetaDim, 'thetaDim');
    this.xDim = checkPositiveInteger(options.xDim, 'xDim');
    this.maxLanes = options.processes === undefined ? 1 : checkPositiveInteger(options.processes, 'processes', 1024);
    this.chunkSize = options.batchSize === undefined ? undefined : checkPositiveInteger(options.batchSize, 'batchSize');
    this.name = options.name ?? options.command;
    this.config = {
      name: this.name,
      command: options.command,
      args: [...args],
      cwd: options.cwd,
      env: options.env,
      thetaDim: this.thetaDim,
      xDim: this.xDim,
      timeoutMs: options.timeoutMs === undefined ? 60_000 : checkPositiveInteger(options.timeoutMs, 'timeoutMs', 2 ** 31 - 1),
      startTimeoutMs:
        options.startTimeoutMs === undefined ? 30_000 : checkPositiveInteger(options.startTimeoutMs, 'startTimeoutMs', 2 ** 31 - 1),
      stderr,
    };
  }

  protected executors(lanes: number, theta: Float64Array, args: SimulateArgs): ChunkExecutor[] {
    return this.pool.take(lanes, () => new ProtocolProcess(this.config, this.processesStarted++)).map((proc) => ({
      run: async (start, count, rows) => {
        await proc.started;
        await proc.runBatch(this.nextBatchId++, theta, start, count, args, rows);
      },
      abort: () => proc.kill(),
    }));
  }

  /** Ends the programs (EOF on stdin, SIGKILL after 2 s). */
  protected async shutdown(): Promise<void> {
    await Promise.all(this.pool.drain().map((p) => p.close()));
  }
}
