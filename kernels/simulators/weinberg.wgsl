// weinberg in WGSL, mirroring kernels/simulators/weinberg.h (x only; the gold values stay on the
// CPU): b = A1/A0 of the tree-level γ/Z cross-section at √s (design[0]) for θ = sin²θ_W, then
// x = F⁻¹(u) for the row's first uniform() (words 0-1) by Cardano and one Newton step on the
// small tail, clamped to [−1, 1]. f32 throughout (double on the CPU); √s arrives rounded to f32.
// #include "sim_row.wgsl"

const Z_MASS = 91.1876;  // GeV (PDG)
const Z_WIDTH = 2.4952;  // GeV (PDG)

// b = A1/A0 (weinberg_shape without the derivative).
fn weinberg_b(sin2w: f32, sqrt_s: f32) -> f32 {
  let s = sqrt_s * sqrt_s;
  let m2 = Z_MASS * Z_MASS;
  let d = (sqrt_s - Z_MASS) * (sqrt_s + Z_MASS);  // s − M²: near the pole the difference is exact
  let denom = d * d + m2 * Z_WIDTH * Z_WIDTH;
  let k = 1.0 / (4.0 * sin2w * (1.0 - sin2w));
  let re = k * (s * d / denom);
  let abs2 = k * k * (s * s / denom);
  let v = -0.5 + 2.0 * sin2w;
  let v2 = v * v;
  let a2 = 0.25;
  let w = v2 + a2;
  let a0 = 1.0 + 2.0 * v2 * re + w * w * abs2;
  let a1 = 4.0 * a2 * re + 8.0 * v2 * a2 * abs2;
  return a1 / a0;
}

// ∛v for any real v.
fn weinberg_cbrt(v: f32) -> f32 {
  return sign(v) * pow(abs(v), 1.0 / 3.0);
}

// weinberg_inverse_cdf: x with F(x) = u, given u and 1 − u (both to full relative precision).
fn weinberg_inverse_cdf(u: f32, one_minus_u: f32, b: f32) -> f32 {
  let p = 3.0 * (1.0 - 0.25 * b * b);
  let q = 0.25 * b * b * b - 3.0 * b + 4.0 - 8.0 * u;
  let sqrt_delta = sqrt(0.25 * q * q + p * p * p / 27.0);
  let a = select(weinberg_cbrt(-0.5 * q + sqrt_delta), -weinberg_cbrt(0.5 * q + sqrt_delta), q > 0.0);
  let y = select(0.0, a - p / (3.0 * a), a != 0.0);
  let x = clamp(y - 0.5 * b, -1.0, 1.0);
  let pdf = 0.375 * (1.0 + x * x + b * x);
  if (!(pdf > 0.0)) { return x; }
  let c = 1.5 * b;
  var resid: f32;
  if (u < 0.5) {
    resid = (x + 1.0) * (x * x - x + 4.0 + c * (x - 1.0)) * 0.125 - u;
  } else {
    resid = one_minus_u - (1.0 - x) * (x * x + x + 4.0 + c * (x + 1.0)) * 0.125;
  }
  return clamp(x - resid / pdf, -1.0, 1.0);
}

@compute @workgroup_size(workgroup_size)
fn weinberg(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  let sin2w = theta[i];
  let sqrt_s = params.design.x;
  var b = 0.0;
  var ok = sin2w > 0.0 && sin2w < 1.0 && sqrt_s > 0.0;
  if (ok) {
    b = weinberg_b(sin2w, sqrt_s);
    ok = abs(b) <= 2.0;
  }
  if (!ok) {
    x[i] = sampler_nan();
    return;
  }
  let w = row_block(i, 0u);
  x[i] = weinberg_inverse_cdf(u64_to_open01_f32(w.x, w.y), u64_to_open01_f32_raw(~w.x, ~w.y), b);
}
