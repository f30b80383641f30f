/// <reference types="@webgpu/types" />
/**
 * Arrays held by a backend (`Backend.upload`): device memory on webgpu, the host array itself on
 * cpu. Ops that take float32 inputs (the MLP and MAF ops) accept either a Float32Array or a
 * DeviceArray of the same backend, so data uploaded once can feed many calls without crossing the
 * bus again. Values are checked (finite) when they are uploaded, not at each use.
 */
import type { BackendName } from './backend.js';
import { bufferPool, readStaging, type WebGpuContext } from './webgpu.js';

export interface DeviceArray {
  readonly backend: BackendName;
  /** Number of f32 values. */
  readonly length: number;
  /** A host copy of the values. */
  read(): Promise<Float32Array>;
  /** Frees the memory; the array must not be used afterwards (a use is an error). */
  release(): void;
}

/** A Float32Array (any backend) or a DeviceArray of the backend it is given to. */
export type ArrayInput = Float32Array | DeviceArray;

export function isDeviceArray(v: unknown): v is DeviceArray {
  return v instanceof HostArray || v instanceof GpuArray;
}

function checkFinite(values: Float32Array, name: string): void {
  if (!(values instanceof Float32Array)) throw new TypeError(`Expected a Float32Array for \`${name}\` but received ${Object.prototype.toString.call(values)}`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new RangeError(`\`${name}\` must be finite; element ${i} is ${values[i]}`);
  }
}

/** The cpu backend's arrays: a private copy on the host. */
export class HostArray implements DeviceArray {
  readonly backend = 'cpu' as const;
  private data: Float32Array | null;
  constructor(values: Float32Array) {
    checkFinite(values, 'values');
    this.data = values.slice();
  }
  get length(): number {
    return this.values('array').length;
  }
  /** The values, without a copy (for the cpu backend's ops). */
  values(name: string): Float32Array {
    if (!this.data) throw new Error(`\`${name}\`: this DeviceArray was released`);
    return this.data;
  }
  async read(): Promise<Float32Array> {
    return this.values('array').slice();
  }
  release(): void {
    this.data = null;
  }
}

/** The webgpu backend's arrays: a storage buffer of the device, from its pool. */
export class GpuArray implements DeviceArray {
  readonly backend = 'webgpu' as const;
  private buf: GPUBuffer | null;
  readonly length: number;
  constructor(readonly ctx: WebGpuContext, values: Float32Array) {
    checkFinite(values, 'values');
    this.length = values.length;
    this.buf = bufferPool(ctx.device).acquire(4 * Math.max(1, values.length), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC);
    ctx.device.queue.writeBuffer(this.buf, 0, values as Float32Array<ArrayBuffer>);
  }
  buffer(name: string): GPUBuffer {
    if (!this.buf) throw new Error(`\`${name}\`: this DeviceArray was released`);
    return this.buf;
  }
  async read(): Promise<Float32Array> {
    const src = this.buffer('array');
    const { device } = this.ctx;
    const pool = bufferPool(device);
    const bytes = 4 * this.length;
    if (bytes === 0) return new Float32Array(0);
    const staging = pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
      device.queue.submit([enc.finish()]);
      return await readStaging(staging, this.length);
    } finally {
      pool.release(staging);
    }
  }
  release(): void {
    if (this.buf) bufferPool(this.ctx.device).release(this.buf);
    this.buf = null;
  }
}

/** The length of an input, checking that a DeviceArray belongs to `backend`. */
export function inputLength(a: ArrayInput, name: string, backend: BackendName): number {
  if (a instanceof Float32Array) return a.length;
  if (!isDeviceArray(a)) throw new TypeError(`Expected a Float32Array or a DeviceArray for \`${name}\` but received ${Object.prototype.toString.call(a)}`);
  if (a.backend !== backend) throw new TypeError(`\`${name}\` is a DeviceArray of the ${a.backend} backend; this op runs on ${backend} (read() it, or upload it there)`);
  return a.length;
}

/** The cpu backend's view of an input: the host values (no copy for a HostArray). */
export function hostInput(a: ArrayInput, name: string): Float32Array {
  inputLength(a, name, 'cpu');
  return a instanceof Float32Array ? a : (a as HostArray).values(name);
}

/**
 * Puts a webgpu input into `buffer` from byte 0, in queue order: a host array by writeBuffer, a
 * GpuArray of the same device by a buffer-to-buffer copy (no trip through the host). Host arrays
 * are checked finite here; device arrays were checked when uploaded.
 */
export function writeInput(ctx: WebGpuContext, buffer: GPUBuffer, a: ArrayInput, name: string): void {
  inputLength(a, name, 'webgpu');
  if (a instanceof Float32Array) {
    checkFinite(a, name);
    ctx.device.queue.writeBuffer(buffer, 0, a as Float32Array<ArrayBuffer>);
    return;
  }
  const g = a as GpuArray;
  if (g.ctx.device !== ctx.device) throw new TypeError(`\`${name}\` is a DeviceArray of another WebGPU device`);
  if (g.length === 0) return;
  const enc = ctx.device.createCommandEncoder();
  enc.copyBufferToBuffer(g.buffer(name), 0, buffer, 0, 4 * g.length);
  ctx.device.queue.submit([enc.finish()]);
}
