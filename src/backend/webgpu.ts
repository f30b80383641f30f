/// <reference types="@webgpu/types" />
/**
 * The WebGPU device (Dawn's node bindings, the optional dependency `webgpu`), WGSL sources with
 * `// #include`, the pipeline cache, the buffer pool and one-launch `runKernel`, and Philox4x32-10
 * blocks (kernels/random/philox.wgsl), bit-identical to the CPU kernel. The ops built on this
 * are in backend.ts.
 *
 * Device selection: a hardware adapter when there is one; otherwise Dawn's OpenGL ES backend on
 * Mesa's llvmpipe (machines without a GPU), which needs surfaceless EGL: EGL_PLATFORM is set to
 * "surfaceless" before Dawn loads unless the user set it. See docs/backends.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SbiError } from '../errors.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The Debian packages that give Dawn's OpenGL ES backend an EGL/GLES driver on a machine without
 * a GPU (libegl-dev: Dawn dlopens the unversioned libEGL.so, which only the -dev package links).
 */
export const MESA_PACKAGES = ['libegl1', 'libegl-dev', 'libegl-mesa0', 'libgles2', 'libgl1-mesa-dri'];

export interface WebGpuContext {
  device: GPUDevice;
  /** The adapter's description, e.g. "OpenGL ES 3.2 Mesa 22.3.6". */
  description: string;
  /** True on the OpenGL ES fallback (no hardware adapter). */
  fallback: boolean;
  /**
   * The Dawn instance the device came from. It must stay referenced as long as the device is
   * used: once it is garbage-collected Dawn tears the instance down under the live device, and
   * the process aborts or segfaults at the next submit (seen on llvmpipe under GC pressure).
   */
  instance: GPU;
}

let opened: Promise<WebGpuContext> | undefined;

/** The process's WebGPU device, created on first use. */
export function openWebGpu(): Promise<WebGpuContext> {
  opened ??= createContext();
  opened.catch(() => {
    opened = undefined; // a failure is not cached: the user may install the packages and retry
  });
  return opened;
}

async function createContext(): Promise<WebGpuContext> {
  // Dawn reads EGL_PLATFORM when its GL backend starts: it must be set before the module loads.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  let mod: { create(options: string[]): GPU; globals: object };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    throw new SbiError(
      `The webgpu backend needs the optional npm package "webgpu" (Dawn's node bindings), which did not load: ${(e as Error).message}`,
      'BACKEND_UNAVAILABLE',
    );
  }
  Object.assign(globalThis, mod.globals);
  const hardwareInstance = mod.create([]);
  const hardware = await hardwareInstance.requestAdapter().catch(() => null);
  // Dawn lists the CPU Vulkan driver (lavapipe) as an adapter too; only a real GPU counts here.
  if (hardware && !/llvmpipe|lavapipe|swiftshader/i.test(`${hardware.info.description} ${hardware.info.device}`)) {
    const device = await hardware.requestDevice({ requiredLimits: limitsOf(hardware) });
    return { device, description: adapterName(hardware), fallback: false, instance: hardwareInstance };
  }
  const glesInstance = mod.create(['backend=opengles']);
  const gles = await glesInstance.requestAdapter({ featureLevel: 'compatibility' }).catch(() => null);
  if (!gles) {
    throw new SbiError(
      `No WebGPU adapter: no GPU, and the OpenGL ES fallback found no EGL/GLES driver. Install Mesa: apt-get install -y ${MESA_PACKAGES.join(' ')}`,
      'BACKEND_UNAVAILABLE',
    );
  }
  const device = await gles.requestDevice({ requiredLimits: limitsOf(gles) });
  return { device, description: adapterName(gles), fallback: true, instance: glesInstance };
}

const adapterName = (a: GPUAdapter) => a.info.description || a.info.device || a.info.vendor || 'unknown adapter';

// Compatibility mode's defaults are low (4 storage buffers per stage): ask for the adapter's own.
function limitsOf(a: GPUAdapter): Record<string, number> {
  const keys = ['maxStorageBuffersPerShaderStage', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX',
    'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension'] as const;
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = a.limits[k];
  return out;
}

/** The WGSL files under kernels/ that have entry points (each may `// #include "<relative path>"` others). */
export type WgslFile =
  | 'random/philox_blocks.wgsl'
  | 'random/sampler_fill.wgsl'
  | 'simulators/two_moons.wgsl'
  | 'simulators/gaussian_linear.wgsl'
  | 'simulators/gaussian_mixture.wgsl'
  | 'simulators/slcp.wgsl'
  | 'simulators/galton_board.wgsl'
  | 'simulators/bernoulli_glm.wgsl'
  | 'simulators/slcp_distractors.wgsl'
  | 'simulators/lotka_volterra.wgsl'
  | 'simulators/sir.wgsl'
  | 'simulators/weinberg.wgsl'
  | 'trellis/trellis.wgsl'
  | 'nn/dense.wgsl'
  | 'nn/resnet.wgsl'
  | 'flows/maf.wgsl'
  | 'flows/maf_embedding.wgsl'
  | 'flows/mdn.wgsl'
  | 'manifold/manifold_flow.wgsl'
  | 'manifold/manifold_flow_train.wgsl'
  | 'lattice/phi4.wgsl'
  | 'lattice/u1.wgsl'
  | 'lattice/checkerboard_flow.wgsl'
  | 'lattice/gauge_flow.wgsl'
  | 'nn/conv2d_circular.wgsl';

/** What a cached pipeline is keyed by: the file, its entry point and the override constants. */
export interface PipelineKey {
  file: WgslFile;
  entryPoint: string;
  constants: Readonly<Record<string, number>>;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();
const INCLUDE = /^\/\/ #include "([^"]+)"\s*$/m;

/**
 * The source of kernels/<file> with its includes spliced in, each file once. WGSL has no
 * includes: the directive is a comment, so every file stays valid WGSL on its own.
 */
export function wgslSource(file: string, seen: Set<string> = new Set()): string {
  const full = path.join(packageRoot, 'kernels', file);
  if (seen.has(full)) return '';
  seen.add(full);
  const lines = fs.readFileSync(full, 'utf8').split('\n');
  return lines
    .map((line) => {
      const m = INCLUDE.exec(line);
      return m ? wgslSource(path.join(path.dirname(file), m[1]!), seen) : line;
    })
    .join('\n');
}

const keyString = (k: PipelineKey) =>
  `${k.file}|${k.entryPoint}|${Object.keys(k.constants).sort().map((c) => `${c}=${k.constants[c]}`).join(',')}`;

/** A compute pipeline of kernels/<file>, cached per device under its PipelineKey. */
export function computePipeline(device: GPUDevice, key: PipelineKey): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  const ks = keyString(key);
  let p = cache.get(ks);
  if (!p) {
    const module = device.createShaderModule({ code: wgslSource(key.file) });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: key.entryPoint, constants: { ...key.constants } } });
    cache.set(ks, p);
  }
  return p;
}

/**
 * Buffers reused across calls, by usage and power-of-two size class (at least 256 bytes), so a
 * stream of batches does not allocate device memory per call. At most `maxPooledBytes` are kept.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private pooledBytes = 0;
  constructor(private readonly device: GPUDevice, private readonly maxPooledBytes = 256 * 1024 * 1024) {}

  static sizeClass(bytes: number): number {
    return Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
  }

  /** A buffer of at least `bytes` with exactly `usage`; its contents are undefined. */
  acquire(bytes: number, usage: number): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const list = this.free.get(`${usage}|${size}`);
    const b = list?.pop();
    if (b) {
      this.pooledBytes -= size;
      return b;
    }
    return this.device.createBuffer({ size, usage });
  }

  /** Returns buffers (unmapped, no longer in use by queued work) to the pool. */
  release(...buffers: GPUBuffer[]): void {
    for (const b of buffers) {
      if (this.pooledBytes + b.size > this.maxPooledBytes) {
        b.destroy();
        continue;
      }
      const k = `${b.usage}|${b.size}`;
      let list = this.free.get(k);
      if (!list) this.free.set(k, (list = []));
      list.push(b);
      this.pooledBytes += b.size;
    }
  }

  /** Bytes held for reuse. */
  get bytesHeld(): number {
    return this.pooledBytes;
  }
}

const pools = new WeakMap<GPUDevice, BufferPool>();
/** The device's buffer pool. */
export function bufferPool(device: GPUDevice): BufferPool {
  let p = pools.get(device);
  if (!p) pools.set(device, (p = new BufferPool(device)));
  return p;
}

/** One kernel launch: a uniform block, read-only f32 inputs, one output buffer read back. */
export interface KernelLaunch {
  key: PipelineKey;
  /** The uniform block (binding 0), as 32-bit words. */
  uniforms: Uint32Array<ArrayBuffer>;
  /** Read-only storage inputs, bindings 1 .. k. */
  inputs?: Float32Array<ArrayBuffer>[];
  /** Read-only storage buffers that stay on the device (deviceTable), bind group 1 from binding 0. */
  tables?: GPUBuffer[];
  /** Bytes of the output storage buffer (binding k + 1), read back whole. */
  outputBytes: number;
  /** Workgroups along x. */
  workgroups: number;
}

/**
 * Runs `encodeAndSubmit` (synchronous: records and submits work) inside a validation error scope.
 * WebGPU reports validation errors asynchronously, and an invalid command buffer would otherwise
 * read back stale or zero data: here it becomes SbiError BACKEND_ERROR naming `what`.
 */
export async function submitChecked<T>(device: GPUDevice, what: string, encodeAndSubmit: () => T): Promise<T> {
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = encodeAndSubmit();
  } catch (e) {
    await device.popErrorScope();
    throw e;
  }
  const invalid = await device.popErrorScope();
  if (invalid) throw new SbiError(`WebGPU ${what}: ${invalid.message}`, 'BACKEND_ERROR');
  return result;
}

/** Maps a MAP_READ buffer once its copies have been submitted, and returns a copy of its first `floats` f32 values. */
export async function readStaging(staging: GPUBuffer, floats: number): Promise<Float32Array> {
  await staging.mapAsync(GPUMapMode.READ, 0, 4 * floats);
  const out = new Float32Array(staging.getMappedRange(0, 4 * floats).slice(0));
  staging.unmap();
  return out;
}

/** Runs one launch and resolves to a copy of its output. Buffers come from the device's pool. */
export async function runKernel(ctx: WebGpuContext, launch: KernelLaunch): Promise<ArrayBuffer> {
  const { device } = ctx;
  const pool = bufferPool(device);
  const pipeline = computePipeline(device, launch.key);
  const params = pool.acquire(launch.uniforms.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(params, 0, launch.uniforms);
  const inputs = (launch.inputs ?? []).map((a) => {
    const b = pool.acquire(Math.max(4, a.byteLength), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(b, 0, a);
    return b;
  });
  const out = pool.acquire(launch.outputBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const readback = pool.acquire(launch.outputBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [params, ...inputs, out].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  try {
    await submitChecked(device, launch.key.entryPoint, () => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      if (launch.tables?.length) {
        const tables = device.createBindGroup({
          layout: pipeline.getBindGroupLayout(1),
          entries: launch.tables.map((buffer, binding) => ({ binding, resource: { buffer } })),
        });
        pass.setBindGroup(1, tables);
      }
      pass.dispatchWorkgroups(launch.workgroups);
      pass.end();
      encoder.copyBufferToBuffer(out, 0, readback, 0, launch.outputBytes);
      device.queue.submit([encoder.finish()]);
    });
    await readback.mapAsync(GPUMapMode.READ, 0, launch.outputBytes);
    const copy = readback.getMappedRange(0, launch.outputBytes).slice(0);
    readback.unmap();
    return copy;
  } finally {
    pool.release(params, ...inputs, out, readback);
  }
}

const tables = new WeakMap<GPUDevice, Map<string, GPUBuffer>>();

/**
 * A read-only storage buffer of fixed data (a simulator's tables), uploaded once per device under
 * `name` from `build()` and kept for the device's life (not pooled).
 */
export function deviceTable(device: GPUDevice, name: string, build: () => Float32Array<ArrayBuffer>): GPUBuffer {
  let cache = tables.get(device);
  if (!cache) tables.set(device, (cache = new Map()));
  let b = cache.get(name);
  if (!b) {
    const data = build();
    b = device.createBuffer({ size: Math.max(4, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: name });
    device.queue.writeBuffer(b, 0, data);
    cache.set(name, b);
  }
  return b;
}

export const WORKGROUP = 64;
/** One dispatch dimension: 65535 workgroups of 64. */
export const MAX_BLOCKS = 65535 * WORKGROUP;
export const u64Words = (v: bigint) => [Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)];

/**
 * `blocks` consecutive Philox4x32-10 blocks of the stream (seed, stream) from block `firstBlock`:
 * 4 words per block, the same bits as `PhiloxStream` on the CPU (kernels/random/philox.h).
 */
export async function philoxBlocksWebGpu(ctx: WebGpuContext, seed: bigint, stream: bigint, firstBlock: bigint, blocks: number): Promise<Uint32Array> {
  if (!Number.isSafeInteger(blocks) || blocks < 1 || blocks > MAX_BLOCKS) {
    throw new RangeError(`Expected an integer in [1, ${MAX_BLOCKS}] for \`blocks\` but received ${blocks}`);
  }
  for (const [name, v] of [['seed', seed], ['stream', stream], ['firstBlock', firstBlock]] as const) {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new RangeError(`Expected a bigint in [0, 2^64) for \`${name}\` but received ${String(v)}`);
  }
  const words = await runKernel(ctx, {
    key: { file: 'random/philox_blocks.wgsl', entryPoint: 'philox_blocks', constants: { workgroup_size: WORKGROUP } },
    uniforms: Uint32Array.from([...u64Words(seed), ...u64Words(stream), ...u64Words(firstBlock), blocks, 0]),
    outputBytes: blocks * 16,
    workgroups: Math.ceil(blocks / WORKGROUP),
  });
  return new Uint32Array(words);
}

/**
 * Destroys the process's device, if one was opened, and drops the Dawn instance, which would
 * otherwise keep Node from exiting. A later openWebGpu() starts afresh.
 */
export async function closeWebGpu(): Promise<void> {
  const p = opened;
  if (!p) return;
  opened = undefined;
  const ctx = await p.catch(() => undefined);
  ctx?.device.destroy();
}
