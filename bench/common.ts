// Shared by the benchmark scripts: the machine line every table is labelled with, and the
// replacement of a generated block between markers in bench/README.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeInfo } from '../src/runtime.js';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const resultsDir = path.join(benchDir, 'results');

export function machineDescription(): string {
  return `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${runtimeInfo().activeIsa} path, Node ${process.version}`;
}

/** Replaces `<!-- name:begin -->…<!-- name:end -->` in bench/README.md (appends it when absent). */
export function replaceReadmeBlock(name: string, body: string): void {
  const readme = path.join(benchDir, 'README.md');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body}\n${end}`;
  const text = fs.existsSync(readme) ? fs.readFileSync(readme, 'utf8') : '';
  fs.writeFileSync(readme, text.includes(begin) ? text.replace(new RegExp(`${begin}[\\s\\S]*${end}`), () => block) : `${text}\n${block}\n`);
}

export function writeResults(file: string, value: unknown): void {
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, file), JSON.stringify(value, null, 2) + '\n');
}
