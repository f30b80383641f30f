/// <reference types="@webgpu/types" />
import type { PassRecorder } from './nn_webgpu.js';
import { bufferPool, readStaging, submitChecked, type WebGpuContext } from './webgpu.js';

/**
 * Submits `rec` (checked under `label`) with copies of the first `floats` of each buffer of
 * `reads`, reads them back in order, and releases `rec` and the staging buffers.
 */
export async function submitAndRead(
  gpu: WebGpuContext, label: string, rec: PassRecorder, reads: Array<[GPUBuffer, number]>,
): Promise<Float32Array[]> {
  const pool = bufferPool(gpu.device);
  const staging = reads.map(([, floats]) => pool.acquire(4 * floats, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST));
  try {
    reads.forEach(([b, floats], i) => rec.copyAfterPass(b, 0, staging[i]!, 0, 4 * floats));
    await submitChecked(gpu.device, label, () => rec.submit());
    const out: Float32Array[] = [];
    // one mapping at a time: concurrent mapAsync calls crashed Dawn's GL backend (src/trellis/webgpu.ts)
    for (let i = 0; i < reads.length; i++) out.push(await readStaging(staging[i]!, reads[i]![1]));
    return out;
  } finally {
    rec.release();
    pool.release(...staging);
  }
}
