/// <reference types="@webgpu/types" />
/**
 * The trellis's inside pass (log Z, the MAP hierarchy) and marginal pass (P(cluster)) on a WebGPU
 * device, level-synchronous by set size (kernels/trellis/trellis.wgsl mirrors
 * kernels/trellis/trellis.h and the ψ of kernels/trellis/energies.h). WGSL has f32 only: the
 * per-set features are computed in double on the CPU (the same code as the CPU trellis) and
 * rounded once; log-sum-exp is online and Kahan-compensated. The exact count of hierarchies
 * (128-bit integers) and exact samples stay on the CPU (`runTrellis`). docs/backends.md states
 * the accuracy measured against the CPU's double-precision result.
 */
import { openWebGpu, computePipeline, type WebGpuContext } from '../backend/webgpu.js';
import { SbiError } from '../errors.js';
import { splitsToTree, type NestedTree } from './hierarchy.js';
import { trellisNative } from './native.js';
import { checkSize, energyArgs, leavesToArray, type Leaves, type TrellisModel } from './trellis.js';

export interface TrellisWebGpuOptions {
  /** Every cluster's marginal probability (a second pass). */
  marginals?: boolean;
  /** The device (default: the process's, `openWebGpu()`). */
  context?: WebGpuContext;
}

export interface TrellisWebGpuResult {
  nLeaves: number;
  logZ: number;
  mapLogLH: number;
  /** null when no hierarchy has finite energy. */
  mapTree: NestedTree | null;
  /** P(cluster) by bitmask (length 2^N; index 0 unused), f32 accuracy. */
  marginals?: Float64Array;
  /** The adapter that ran it. */
  device: string;
  seconds: number;
}

const WORKGROUP = 64;
const NEG = -3.0e38;  // the kernel's -inf
const IS_NEG = -1.0e38;
const UNIFORM_SLOT = 256;  // minUniformBufferOffsetAlignment
const MAX_GROUPS_X = 65535;

/** Sets 1..2^N − 1 ordered by size, with each size's first index. */
function setsBySize(n: number): { sets: Uint32Array; offset: number[]; count: number[] } {
  const count = new Array<number>(n + 1).fill(0);
  const size = (s: number) => { let c = 0; for (let x = s; x; x &= x - 1) c++; return c; };
  const full = 2 ** n;
  for (let s = 1; s < full; s++) count[size(s)]!++;
  const offset = new Array<number>(n + 2).fill(0);
  for (let k = 1; k <= n; k++) offset[k + 1] = offset[k]! + count[k]!;
  const next = offset.slice();
  const sets = new Uint32Array(full - 1);
  for (let s = 1; s < full; s++) sets[next[size(s)]!++] = s;
  return { sets, offset, count };
}

/**
 * Runs the trellis's inside pass (and, with `marginals`, the marginal pass) on a WebGPU device:
 * log Z, the MAP hierarchy and its energy, P(cluster). Up to 22 leaves, like the CPU trellis.
 */
export async function runTrellisWebGpu(leaves: Leaves, model: TrellisModel, options: TrellisWebGpuOptions = {}): Promise<TrellisWebGpuResult> {
  const x = leavesToArray(leaves);
  const n = checkSize(x);
  const [energy, params] = energyArgs(model);
  const { columns, table, constants } = trellisNative.trellisTable(x, energy, params);
  const ctx = options.context ?? (await openWebGpu());
  const { device } = ctx;
  const t0 = performance.now();
  const nSets = 2 ** n;
  const full = nSets - 1;
  const { sets, offset, count } = setsBySize(n);

  const bytes = (a: ArrayBufferView) => Math.max(16, Math.ceil(a.byteLength / 16) * 16);
  const storage = (data: ArrayBufferView, extra = 0) => {
    const b = device.createBuffer({ size: bytes(data), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extra });
    device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  };
  const zmapInit = new Float32Array(2 * nSets).fill(NEG);
  for (let i = 0; i < n; i++) zmapInit[2 * 2 ** i] = zmapInit[2 * 2 ** i + 1] = 0;  // a leaf: log Z = 0, energy 0
  const margInit = new Float32Array(nSets);
  margInit[full] = 1;
  const energyParams = new Float32Array(8);
  energyParams.set(constants.subarray(0, 8));
  const levelParams = new Uint32Array((UNIFORM_SLOT / 4) * (n + 1));
  for (let k = 1; k <= n; k++) levelParams.set([count[k]!, offset[k]!, full, nSets], (UNIFORM_SLOT / 4) * k);

  const buffers = {
    level: device.createBuffer({ size: levelParams.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
    energy: device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
    sets: storage(sets),
    tab: storage(Float32Array.from(table)),
    zmap: storage(zmapInit, GPUBufferUsage.COPY_SRC),
    mapLeft: storage(new Uint32Array(nSets), GPUBufferUsage.COPY_SRC),
    marg: storage(margInit, GPUBufferUsage.COPY_SRC),
  };
  device.queue.writeBuffer(buffers.level, 0, levelParams);
  device.queue.writeBuffer(buffers.energy, 0, energyParams);
  const constantsOf = { workgroup_size: WORKGROUP, energy: energy === 'ginkgo' ? 0 : 1 };
  void columns;
  device.pushErrorScope('validation');
  let scoped = true;
  try {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    const run = (entry: 'inside' | 'marginal', k: number) => {
      const pipeline = computePipeline(device, { file: 'trellis/trellis.wgsl', entryPoint: entry, constants: constantsOf });
      const bindings: [number, GPUBuffer, number?, number?][] = [
        [0, buffers.level, UNIFORM_SLOT * k, 16], [1, buffers.energy], [2, buffers.sets], [3, buffers.tab], [4, buffers.zmap],
        entry === 'inside' ? [5, buffers.mapLeft] : [6, buffers.marg],
      ];
      const group = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map(([binding, buffer, off, size]) => ({ binding, resource: { buffer, offset: off ?? 0, ...(size ? { size } : {}) } })),
      });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      const groups = count[k]!;
      pass.dispatchWorkgroups(Math.min(groups, MAX_GROUPS_X), Math.ceil(groups / MAX_GROUPS_X));
    };
    for (let k = 2; k <= n; k++) run('inside', k);
    if (options.marginals) for (let k = n - 1; k >= 1; k--) run('marginal', k);
    pass.end();
    const reads = [buffers.zmap, buffers.mapLeft, ...(options.marginals ? [buffers.marg] : [])].map((src) => {
      const dst = device.createBuffer({ size: src.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      encoder.copyBufferToBuffer(src, 0, dst, 0, src.size);
      return dst;
    });
    device.queue.submit([encoder.finish()]);
    scoped = false;
    const invalid = await device.popErrorScope();
    if (invalid) throw new SbiError(`WebGPU trellis: ${invalid.message}`, 'BACKEND_ERROR');
    // Mapped one after another: concurrent mapAsync calls crashed Dawn's GL backend here.
    const copies: ArrayBuffer[] = [];
    for (const b of reads) {
      await b.mapAsync(GPUMapMode.READ);
      copies.push(b.getMappedRange().slice(0));
      b.unmap();
      b.destroy();
    }
    const zmap = new Float32Array(copies[0]!);
    const mapLeft = new Uint32Array(copies[1]!);
    const marg = copies[2] ? new Float32Array(copies[2]) : undefined;
    const value = (v: number) => (v > IS_NEG ? v : -Infinity);
    const logZ = value(zmap[2 * full]!);
    const mapLogLH = value(zmap[2 * full + 1]!);
    let mapTree: NestedTree | null = null;
    if (n === 1) mapTree = 0;
    else if (mapLogLH > -Infinity) {
      const splits: number[] = [];
      const stack = [full];
      while (stack.length) {
        const s = stack.pop()!;
        if ((s & (s - 1)) === 0) continue;
        const a = mapLeft[s]!;
        if (a === 0 || (a & ~s) !== 0) throw new SbiError(`WebGPU trellis: no MAP split recorded for cluster ${s}`, 'INTERNAL');
        splits.push(s, a);
        stack.push(a, s ^ a);
      }
      mapTree = splitsToTree(splits, n);
    }
    return {
      nLeaves: n, logZ, mapLogLH, mapTree,
      ...(marg ? { marginals: Float64Array.from(marg) } : {}),
      device: ctx.description, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    if (scoped) void device.popErrorScope();
    for (const b of Object.values(buffers)) b.destroy();
  }
}
