// The shared f32 angle functions (kernels/common/angle.wgsl) and circle components
// (kernels/manifold/circle.wgsl) that the manifold flows and the U(1) kernels include, evaluated
// elementwise on the device against double precision. The bounds are a little above the errors
// measured on llvmpipe (quoted per case; those that scale with the map's slope were at 0.5–0.9 of
// theirs). Where no WebGPU adapter can be created the cases are
// skipped with the reason, never passed.
import { describe, expect, it } from 'vitest';
import { openWebGpu, readStaging, submitChecked, wgslSource, type WebGpuContext } from '../src/backend/webgpu.js';

let ctx: WebGpuContext | undefined;
let reason = '';
try {
  ctx = await openWebGpu();
} catch (e) {
  reason = (e as Error).message;
}

const TWO_PI = 2 * Math.PI;
const f32 = Math.fround;

type F32 = Float32Array<ArrayBuffer>;

/** `expr` (WGSL, of the f32 inputs a, b and c, giving an f32 or a vec2f) at every (a[i], b[i], c[i]), as [value.x, value.y] pairs. */
async function evaluate(expr: string, a: F32, b: F32 = new Float32Array(a.length), c: F32 = new Float32Array(a.length)): Promise<Float32Array> {
  const { device } = ctx!;
  const code = `${wgslSource('manifold/circle.wgsl')}
@group(0) @binding(0) var<storage, read> in_a: array<f32>;
@group(0) @binding(1) var<storage, read> in_b: array<f32>;
@group(0) @binding(2) var<storage, read> in_c: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec2f>;
@compute @workgroup_size(64)
fn eval_main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * 64u * 1024u;
  if (i >= arrayLength(&in_a)) { return; }
  let a = in_a[i];
  let b = in_b[i];
  let c = in_c[i];
  out[i] = vec2f(${expr});
}`;
  const n = a.length;
  const input = (v: F32) => {
    const buf = device.createBuffer({ size: v.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, v);
    return buf;
  };
  const [ba, bb, bc] = [input(a), input(b), input(c)];
  const out = device.createBuffer({ size: 8 * n, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const staging = device.createBuffer({ size: 8 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  await submitChecked(device, `evaluate ${expr}`, () => {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'eval_main' } });
    const bind = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [ba, bb, bc, out].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    const groups = Math.ceil(n / 64);
    pass.dispatchWorkgroups(Math.min(groups, 1024), Math.ceil(groups / 1024));
    pass.end();
    enc.copyBufferToBuffer(out, 0, staging, 0, 8 * n);
    device.queue.submit([enc.finish()]);
  });
  const result = await readStaging(staging, 2 * n);
  for (const buf of [ba, bb, bc, out, staging]) buf.destroy();
  return result;
}

/** Deterministic uniforms in [0, 1) (a linear congruential generator: the test needs spread, not quality). */
function uniforms(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
}

/** f32 angles in [−range, range]: a quarter of them within a few ulp of a multiple of 2π, a quarter near multiples of π/2. */
function angles(n: number, range: number, seed: number): F32 {
  const u = uniforms(seed);
  const a = new Float32Array(n);
  const bits = new Int32Array(a.buffer);
  for (let i = 0; i < n; i++) {
    if (i % 4 === 0) {
      a[i] = f32(Math.round((2 * u() - 1) * range / TWO_PI) * TWO_PI) || 1;
      bits[i]! += Math.floor(9 * u()) - 4; // a few ulp either side
    } else if (i % 4 === 1) {
      a[i] = f32(Math.round((2 * u() - 1) * range / (Math.PI / 2)) * (Math.PI / 2) + 1e-5 * (u() - 0.5));
    } else {
      a[i] = f32((2 * u() - 1) * range);
    }
  }
  return a;
}

/** The distance of two angles on the circle. */
const onCircle = (d: number) => {
  const m = ((d % TWO_PI) + TWO_PI) % TWO_PI;
  return Math.min(m, TWO_PI - m);
};

/** The spacing of f32 values at |v| (v ≠ 0). */
const ulp = (v: number) => 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);

const countOf = (n: number, bad: (i: number) => boolean) => {
  let count = 0;
  for (let i = 0; i < n; i++) if (bad(i)) count++;
  return count;
};

const maxOf = (n: number, err: (i: number) => number) => {
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, err(i)); // a NaN error leaves m as it is: checked separately
  return m;
};

describe.skipIf(!ctx)(`WGSL angle functions (kernels/common/angle.wgsl) against double${ctx ? '' : ` — skipped: ${reason}`}`, () => {
  const n = 1 << 18;
  const a = angles(n, 100, 1);

  it('sincos_angle gives sin and cos of any angle up to |a| = 100 to 1e-7 (measured 7.8e-8)', async () => {
    const sc = await evaluate('sincos_angle(a)', a);
    expect(sc.every(Number.isFinite)).toBe(true);
    expect(maxOf(n, (i) => Math.abs(sc[2 * i]! - Math.sin(a[i]!)))).toBeLessThan(1e-7);
    expect(maxOf(n, (i) => Math.abs(sc[2 * i + 1]! - Math.cos(a[i]!)))).toBeLessThan(1e-7);
  });

  it('wrap_angle lies in [0, 2π) and within an ulp of a mod 2π (measured 4.1e-7), also a few ulp from a multiple of 2π', async () => {
    const w = await evaluate('wrap_angle(a)', a);
    expect(countOf(n, (i) => !(w[2 * i]! >= 0 && w[2 * i]! < TWO_PI))).toBe(0);
    // an ulp of [4, 8) is 4.8e-7 (a − k·2π rounds twice when it is not exact); without the turn
    // correction, a within a few ulp of a multiple of 2π was off by up to 5.3e-6
    expect(maxOf(n, (i) => onCircle(w[2 * i]! - a[i]!))).toBeLessThan(4.8e-7);
  });

  it('wrap_pi lies in [−π, π] up to the rounding of (a + π)/2π, and within 1.5e-7 of a mod 2π (measured 1.1e-7)', async () => {
    const w = await evaluate('wrap_pi(a)', a);
    // past ±π by up to 1.4 ulp of a + π (5.2e-6 where that ulp is 3.8e-6): the same point, as in u1_wrap
    expect(countOf(n, (i) => !(Math.abs(w[2 * i]!) - f32(Math.PI) <= 2 * ulp(Math.abs(a[i]!) + Math.PI)))).toBe(0);
    expect(maxOf(n, (i) => onCircle(w[2 * i]! - a[i]!))).toBeLessThan(1.5e-7);
  });

  it('atan2_f32 is within 3 ulp of atan2 in every quadrant (measured 2.3), 0 at the origin, π on the negative x axis', async () => {
    const u = uniforms(2);
    const y = new Float32Array(n);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = f32((2 * u() - 1) * 10 ** (8 * u() - 4));
      x[i] = i % 101 === 0 ? 0 : f32((2 * u() - 1) * 10 ** (8 * u() - 4));
    }
    const t = await evaluate('atan2_f32(a, b)', y, x);
    expect(maxOf(n, (i) => Math.abs(t[2 * i]! - Math.atan2(y[i]!, x[i]!)) / ulp(Math.atan2(y[i]!, x[i]!)))).toBeLessThan(3);
    const special = await evaluate('atan2_f32(a, b)', Float32Array.of(0, 0, 1, -1, 0), Float32Array.of(0, -1, 0, 0, 1));
    expect([0, 1, 2, 3, 4].map((i) => special[2 * i])).toEqual([0, f32(Math.PI), f32(Math.PI / 2), -f32(Math.PI / 2), 0]);
  });
});

describe.skipIf(!ctx)(`WGSL circle components (kernels/manifold/circle.wgsl) against double${ctx ? '' : ` — skipped: ${reason}`}`, () => {
  const n = 1 << 16;
  const u = uniforms(3);
  const alpha = Float32Array.from({ length: n }, () => f32(10 ** (4 * u() - 2)));
  const theta = Float32Array.from({ length: n }, () => f32(TWO_PI * u()));
  const lift = (al: number, v: number) => {
    const k = Math.floor((v + Math.PI) / TWO_PI);
    const w = v - TWO_PI * k;
    return 2 * Math.atan2(al * Math.sin(w / 2), Math.cos(w / 2)) + TWO_PI * k;
  };
  const lift_slope = (al: number, v: number) => al / (Math.cos(v / 2) ** 2 + al * al * Math.sin(v / 2) ** 2);

  it('softplus_f32 is log(1 + e^u) to 2e-7 relative (1e-7 absolute near 0)', async () => {
    const v = Float32Array.from({ length: 4096 }, (_, i) => f32(-90 + (180 * i) / 4095));
    const s = await evaluate('softplus_f32(a)', v);
    const exact = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    expect(maxOf(v.length, (i) => Math.abs(s[2 * i]! - exact(v[i]!)) / Math.max(1, exact(v[i]!)))).toBeLessThan(2e-7);
  });

  it('half_angle_lift is T̃_α to 1e-6 + 2e-7·T̃_α′ over α in [0.01, 100] and u in [−4π, 4π] (the slope scales its input\'s rounding)', async () => {
    const v = Float32Array.from({ length: n }, () => f32(4 * Math.PI * (2 * u() - 1)));
    const t = await evaluate('half_angle_lift(a, b)', alpha, v);
    expect(t.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < n; i++) {
      const err = Math.abs(t[2 * i]! - lift(alpha[i]!, v[i]!));
      if (!(err <= 1e-6 + 2e-7 * lift_slope(alpha[i]!, v[i]!))) expect.fail(`T̃ at α = ${alpha[i]}, u = ${v[i]}: off by ${err}`);
    }
  });

  it('the NCP component fixes 0 and 2π, matches g and g′ in double, and its inverse undoes it', async () => {
    const logit = Float32Array.from({ length: n }, () => f32(8 * u() - 4));
    const expr = (what: string) => `${what}(ncp_component(a, 0.01), b)`;
    const [g, dg] = [await evaluate(expr('circle_component_value'), logit, theta), await evaluate(expr('circle_component_slope'), logit, theta)];
    const back = await evaluate(`circle_component_inverse(ncp_component(a, 0.01), circle_component_value(ncp_component(a, 0.01), b))`, logit, theta);
    const ends = await evaluate(expr('circle_component_value'), Float32Array.of(-3, 0, 3, -3, 0, 3), Float32Array.of(0, 0, 0, f32(TWO_PI), f32(TWO_PI), f32(TWO_PI)));
    expect([0, 1, 2].map((i) => ends[2 * i])).toEqual([0, 0, 0]);
    for (const i of [3, 4, 5]) expect(Math.abs(ends[2 * i]! - TWO_PI)).toBeLessThan(1e-6);
    for (let i = 0; i < n; i++) {
      const al = f32(0.01 + Math.max(logit[i]!, 0) + Math.log1p(Math.exp(-Math.abs(logit[i]!))));
      const slope = lift_slope(al, theta[i]!);
      const tag = `at u = ${logit[i]}, θ = ${theta[i]}`;
      if (!(Math.abs(g[2 * i]! - lift(al, theta[i]!)) <= 1e-6 + 4e-7 * slope)) expect.fail(`g ${tag}: ${g[2 * i]}`);
      if (!(Math.abs(dg[2 * i]! - slope) <= 5e-7 * slope * (1 + Math.abs(al - 1 / al)))) expect.fail(`g′ ${tag}: ${dg[2 * i]} vs ${slope}`);
      if (!(Math.abs(back[2 * i]! - theta[i]!) <= 2e-6 + 5e-7 / slope)) expect.fail(`g⁻¹(g) ${tag}: ${back[2 * i]}`);
    }
  });

  it('the Möbius component fixes 0 exactly, matches g = T̃_α(θ − ψ) − T̃_α(−ψ) and g′ = (1 − |ω|²)/|e^{iθ} − ω|² in double, and its inverse undoes it', async () => {
    const ux = Float32Array.from({ length: n }, () => f32(6 * u() - 3));
    const uy = Float32Array.from({ length: n }, () => f32(6 * u() - 3));
    const m = 'moebius_component(a, b)';
    const g = await evaluate(`vec2f(circle_component_value(${m}, c), circle_component_slope(${m}, c))`, ux, uy, theta);
    const back = await evaluate(`circle_component_inverse(${m}, circle_component_value(${m}, c))`, ux, uy, theta);
    const zero = await evaluate(`circle_component_value(${m}, 0.0)`, ux, uy);
    for (let i = 0; i < n; i++) {
      const norm = Math.hypot(ux[i]!, uy[i]!);
      const scale = 0.99 / (1 + norm);
      const [wx, wy, r] = [scale * ux[i]!, scale * uy[i]!, scale * norm];
      const al = (1 + r) / (1 - r);
      const psi = Math.atan2(wy, wx);
      const t = theta[i]!;
      const value = lift(al, t - psi) - lift(al, -psi);
      const slope = ((1 - r) * (1 + r)) / ((Math.cos(t) - wx) ** 2 + (Math.sin(t) - wy) ** 2);
      const tag = `at u = (${ux[i]}, ${uy[i]}), θ = ${t}`;
      if (zero[2 * i] !== 0) expect.fail(`g(0) ${tag}: ${zero[2 * i]}`);
      if (!(Math.abs(g[2 * i]! - value) <= 1e-6 + 4e-7 * (al + slope))) expect.fail(`g ${tag}: ${g[2 * i]} vs ${value}`);
      if (!(Math.abs(g[2 * i + 1]! - slope) <= 3e-7 * slope * al)) expect.fail(`g′ ${tag}: ${g[2 * i + 1]} vs ${slope}`);
      if (!(Math.abs(back[2 * i]! - t) <= 2e-6 + 5e-7 * al / slope)) expect.fail(`g⁻¹(g) ${tag}: ${back[2 * i]}`);
    }
  });
});
