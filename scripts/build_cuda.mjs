#!/usr/bin/env node
// Builds the optional CUDA addon cuda/build/Release/sbi_engine_cuda.node (Linux):
//   1. nvcc compiles every launcher kernels/**/*.cu (real code for sm_80 and sm_90, PTX of
//      compute_90 for later GPUs) with --fmad=false, so device arithmetic rounds as the CPU's
//      (which is built with -ffp-contract=off), two files at a time, into one archive;
//   2. node-gyp builds the N-API boundary native/cuda/ from cuda/binding.gyp and links it with the
//      archive and the static CUDA runtime (-lcudart_static): the addon needs no libcudart.so,
//      and on a machine without a driver it loads and reports "no CUDA device" when used.
// Usage:
//   node scripts/build_cuda.mjs          (npm run build:cuda) build; fail loudly without nvcc
//   node scripts/build_cuda.mjs --auto   (npm install) build only when nvcc and an NVIDIA driver
//                                        are both present; never fails (prints why it skipped)
// Environment: NVCC (the nvcc to use), SBI_CUDA_ARCHS (real architectures, default "80,90";
// the highest also gets PTX, which newer GPUs compile at load).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cudaDir = path.join(root, 'cuda');
const objDir = path.join(cudaDir, 'build', 'kernels');
const archive = path.join(objDir, 'libsbi_cuda_kernels.a');
const auto = process.argv.includes('--auto');

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function findNvcc() {
  const candidates = [
    process.env.NVCC,
    onPath('nvcc'),
    ...['CUDA_HOME', 'CUDA_PATH'].map((v) => process.env[v] && path.join(process.env[v], 'bin', 'nvcc')),
    '/usr/local/cuda/bin/nvcc',
  ];
  return candidates.find((p) => p && fs.existsSync(p));
}

const hasDriver = () => fs.existsSync('/proc/driver/nvidia/version') || onPath('nvidia-smi') !== undefined;

// The directory of libcudart_static.a, read off the link line of nvcc's dry run (nvcc may be a
// wrapper script, so its own path says nothing).
function cudaLibDir(nvcc) {
  const r = spawnSync(nvcc, ['--dryrun', '-x', 'cu', '/dev/null', '-o', path.join(os.tmpdir(), 'sbi-nvcc-dryrun')], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const dirs = [...text.matchAll(/-L"?([^"\s]+)"?/g)].map((m) => m[1]);
  const top = /TOP=(\S+)/.exec(text)?.[1];
  if (top) dirs.push(path.join(top, 'lib64'), path.join(top, 'lib'));
  const dir = dirs.find((d) => fs.existsSync(path.join(d, 'libcudart_static.a')));
  if (!dir) throw new Error(`libcudart_static.a not found (searched: ${dirs.join(', ') || 'nvcc --dryrun named no library directory'})`);
  return path.resolve(dir);
}

function listCu(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listCu(p) : e.name.endsWith('.cu') ? [p] : [];
  });
}

function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...options });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} ... failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

// Runs tasks (functions returning promises) `jobs` at a time; the first failure rejects.
async function pool(tasks, jobs) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
}

async function build(nvcc) {
  const started = Date.now();
  const libDir = cudaLibDir(nvcc);
  const archs = (process.env.SBI_CUDA_ARCHS ?? '80,90').split(',').map((a) => a.trim()).filter(Boolean);
  if (!archs.length || archs.some((a) => !/^\d+[a-z]?$/.test(a))) throw new Error(`SBI_CUDA_ARCHS must list architectures such as "80,90", got "${process.env.SBI_CUDA_ARCHS}"`);
  const ptx = archs[archs.length - 1].replace(/[a-z]$/, '');
  const gencode = archs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]);
  gencode.push('-gencode', `arch=compute_${ptx},code=compute_${ptx}`);
  // 20091: the constant tables (SBI_TABLE) are __device__ variables that the kernels' host
  // instantiations would read; those instantiations are never called in the launchers.
  const flags = ['-std=c++17', '-O3', '--fmad=false', '-Xcompiler', '-fPIC', '-diag-suppress', '20091', ...gencode];

  const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  const env = { ...process.env, SBI_CUDA_KERNELS_ARCHIVE: archive, SBI_CUDA_LIB_DIR: libDir };
  // Node's own headers when they sit next to the binary (as in Node's tarballs and distro
  // packages) and npm names no nodedir: node-gyp would otherwise download them.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = !process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))
    ? [`--nodedir=${prefix}`] : [];
  await run(process.execPath, [gyp, 'clean'], { cwd: cudaDir, env });
  await run(process.execPath, [gyp, 'configure', ...nodedir], { cwd: cudaDir, env });

  fs.mkdirSync(objDir, { recursive: true });
  const sources = listCu(path.join(root, 'kernels')).sort();
  const objects = sources.map((s) => path.join(objDir, path.relative(path.join(root, 'kernels'), s).replace(/[\\/]/g, '_').replace(/\.cu$/, '.o')));
  const jobs = Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
  console.log(`build:cuda: ${nvcc}: ${sources.length} launchers for sm_${archs.join(', sm_')} + compute_${ptx} PTX`);
  await pool(sources.map((s, i) => () => {
    console.log(`  nvcc ${path.relative(root, s)}`);
    return run(nvcc, [...flags, '-c', s, '-o', objects[i]]);
  }), jobs);
  fs.rmSync(archive, { force: true });
  await run(nvcc, ['-lib', '-o', archive, ...objects]);
  await run(process.execPath, [gyp, 'build', '--jobs', String(jobs)], { cwd: cudaDir, env });
  const out = path.join(cudaDir, 'build', 'Release', 'sbi_engine_cuda.node');
  if (!fs.existsSync(out)) throw new Error(`the build did not produce ${out}`);
  console.log(`build:cuda: wrote ${path.relative(root, out)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const nvcc = findNvcc();
if (auto) {
  if (!nvcc || !hasDriver()) {
    console.log(`sbi-engine: CUDA addon not built (${!nvcc ? 'no nvcc' : 'no NVIDIA driver'}); \`npm run build:cuda\` builds it`);
  } else {
    try {
      await build(nvcc);
    } catch (e) {
      console.warn(`sbi-engine: warning: the optional CUDA addon failed to build (${e.message}); the CPU engine is unaffected`);
    }
  }
} else {
  if (!nvcc) {
    console.error('build:cuda: nvcc not found (looked at $NVCC, PATH, $CUDA_HOME/bin, $CUDA_PATH/bin, /usr/local/cuda/bin): install the CUDA toolkit');
    process.exit(1);
  }
  try {
    await build(nvcc);
  } catch (e) {
    console.error(`build:cuda: ${e.message}`);
    process.exit(1);
  }
}
