// The WebGPU device layer: the WGSL Philox against the Random123 vectors and the CPU, shader
// includes and the buffer pool (every op against the CPU: test/backend_ops.test.ts). Runs on
// Dawn's OpenGL ES backend over Mesa's llvmpipe where there is no GPU; where no WebGPU adapter
// can be created the cases are skipped with the reason, never passed.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/backend/backend.js';
import { BufferPool, openWebGpu, philoxBlocksWebGpu, wgslSource, type WebGpuContext } from '../src/backend/webgpu.js';

let ctx: WebGpuContext | undefined;
let reason = '';
try {
  ctx = await openWebGpu();
} catch (e) {
  reason = (e as Error).message;
}

describe.skipIf(!ctx)(`WebGPU: Philox4x32-10 blocks (kernels/random/philox.wgsl)${ctx ? '' : ` — skipped: ${reason}`}`, () => {
  it('reproduces the Random123 known-answer vectors', async () => {
    // (seed, stream, block) whose counter and key are the vectors' (ctr = block lo, hi, stream lo, hi; key = seed lo, hi)
    const cases: Array<[bigint, bigint, bigint, number[]]> = [
      [0n, 0n, 0n, [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
      [(1n << 64n) - 1n, (1n << 64n) - 1n, (1n << 64n) - 1n, [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
      [0x299f31d0a4093822n, 0x0370734413198a2en, 0x85a308d3243f6a88n, [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
    ];
    for (const [seed, stream, block, out] of cases) expect(Array.from(await philoxBlocksWebGpu(ctx!, seed, stream, block, 1))).toEqual(out);
  });

  it('gives the CPU kernel\'s bits for every block, across the carry into the counter\'s high word', async () => {
    const seed = 0x0123456789abcdefn, stream = 77n, first = (1n << 32n) - 1000n, blocks = 4096 + 13; // not a whole number of workgroups
    const gpu = await philoxBlocksWebGpu(ctx!, seed, stream, first, blocks);
    const cpu = await cpuBackend.philoxBlocks(seed, stream, first, blocks);
    expect(gpu.length).toBe(cpu.length);
    let mismatches = 0;
    for (let i = 0; i < cpu.length; i++) if (gpu[i] !== cpu[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('rejects bad arguments by name', async () => {
    await expect(philoxBlocksWebGpu(ctx!, 1n, 0n, 0n, 0)).rejects.toThrow(/`blocks`/);
    await expect(philoxBlocksWebGpu(ctx!, -1n, 0n, 0n, 1)).rejects.toThrow(/`seed`/);
    await expect(philoxBlocksWebGpu(ctx!, 1n, 1n << 64n, 0n, 1)).rejects.toThrow(/`stream`/);
  });
});

describe.skipIf(!ctx)(`WebGPU: shader sources and the buffer pool${ctx ? '' : ` — skipped: ${reason}`}`, () => {
  it('splices each // #include once, so shared helpers are defined once', () => {
    const src = wgslSource('simulators/two_moons.wgsl'); // includes sim_row -> samplers -> philox
    expect(src.match(/fn philox4x32_10\(/g)).toHaveLength(1);
    expect(src.match(/fn std_normal_pair_words\(/g)).toHaveLength(1);
    expect(src).not.toMatch(/#include/);
    expect(ctx!.device.createShaderModule({ code: src })).toBeDefined();
  });

  it('reuses released buffers by size class and usage, and holds no more than its cap', () => {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const pool = new BufferPool(ctx!.device, 4096);
    const a = pool.acquire(1000, usage);
    expect(a.size).toBe(1024);
    pool.release(a);
    expect(pool.bytesHeld).toBe(1024);
    expect(pool.acquire(700, usage)).toBe(a); // same class
    const other = pool.acquire(1000, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    expect(other).not.toBe(a); // another usage never shares
    const big = pool.acquire(5000, usage);
    pool.release(a, big); // 8192 bytes would pass the 4096 cap: destroyed, not held
    expect(pool.bytesHeld).toBe(1024);
    expect(BufferPool.sizeClass(1)).toBe(256);
  });
});

it('names the adapter it runs on (or why there is none); in CI, where .ci/run installs Mesa, there must be one', () => {
  if (!ctx && process.env.CI) throw new Error(`CI: no WebGPU adapter (${reason})`);
  if (ctx) expect(ctx.description.length).toBeGreaterThan(0);
  else expect(reason).toMatch(/webgpu|Mesa|adapter/);
});
