/// <reference types="@webgpu/types" />
/**
 * The WebGPU device (Dawn's node bindings, the optional dependency `webgpu`) and the first WGSL
 * op, Philox4x32-10 blocks (kernels/random/philox.wgsl), bit-identical to the CPU kernel.
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
   * The object `create()` returned: Dawn's instance lives only as long as it is referenced, and a
   * device used after it was garbage-collected corrupts memory (the process aborts at random).
   */
  gpu: GPU;
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
  const gpu = mod.create([]);
  const hardware = await gpu.requestAdapter().catch(() => null);
  // Dawn lists the CPU Vulkan driver (lavapipe) as an adapter too; only a real GPU counts here.
  if (hardware && !/llvmpipe|lavapipe|swiftshader/i.test(`${hardware.info.description} ${hardware.info.device}`)) {
    return { device: await hardware.requestDevice({ requiredLimits: limitsOf(hardware) }), description: adapterName(hardware), fallback: false, gpu };
  }
  const glesGpu = mod.create(['backend=opengles']);
  const gles = await glesGpu.requestAdapter({ featureLevel: 'compatibility' }).catch(() => null);
  if (!gles) {
    throw new SbiError(
      `No WebGPU adapter: no GPU, and the OpenGL ES fallback found no EGL/GLES driver. Install Mesa: apt-get install -y ${MESA_PACKAGES.join(' ')}`,
      'BACKEND_UNAVAILABLE',
    );
  }
  return { device: await gles.requestDevice({ requiredLimits: limitsOf(gles) }), description: adapterName(gles), fallback: true, gpu: glesGpu };
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

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** A compute pipeline of kernels/<file>, cached per device under (file, entry point, constants). */
export function computePipeline(device: GPUDevice, file: string, entryPoint: string, constants: Record<string, number> = {}): GPUComputePipeline {
  const key = `${file}|${entryPoint}|${JSON.stringify(constants)}`;
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  let p = cache.get(key);
  if (!p) {
    const code = fs.readFileSync(path.join(packageRoot, 'kernels', file), 'utf8');
    p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint, constants } });
    cache.set(key, p);
  }
  return p;
}

const WORKGROUP = 64;
/** One dispatch dimension: 65535 workgroups of 64. */
const MAX_BLOCKS = 65535 * WORKGROUP;
const u64Words = (v: bigint) => [Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)];

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
  const { device } = ctx;
  const pipeline = computePipeline(device, 'random/philox.wgsl', 'philox_blocks', { workgroup_size: WORKGROUP });
  const params = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, Uint32Array.from([...u64Words(seed), ...u64Words(stream), ...u64Words(firstBlock), blocks, 0]));
  const bytes = blocks * 16;
  const out = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const readback = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: params } }, { binding: 1, resource: { buffer: out } }],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(Math.ceil(blocks / WORKGROUP));
  pass.end();
  encoder.copyBufferToBuffer(out, 0, readback, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const words = new Uint32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  for (const b of [params, out, readback]) b.destroy();
  return words;
}
