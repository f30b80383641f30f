// The WGSL mirror of the branch-free samplers of kernels/random/samplers.h (uniform(),
// sample_std_normal_pair) and of the vecmath.h functions they use (vlog, vsincos_2pi). The words
// come from the same Philox counters as on the CPU (bit-identical); the transforms run in f32,
// WGSL's only float type. The built-in log, sin and cos are not used: WGSL guarantees log only
// to 2^-21 absolute near 1 and sin/cos only to 2^-11, so both are evaluated here by series whose
// truncation error is far below f32 rounding. Accuracy against the double CPU values is stated
// in docs/backends.md.
// #include "philox.wgsl"

// u64_to_open01(hi, lo) = (v + 0.5)·2^-53, v = hi·2^21 + (lo >> 11), rounded to f32: its top 24
// bits (exact) plus the next 24 bits and the half. Never 0; kept below 1, where the sum of a
// value within 2^-25 of 1 would round up.
fn u64_to_open01_f32(hi: u32, lo: u32) -> f32 {
  return min(u64_to_open01_f32_raw(hi, lo), 1.0 - 5.9604644775390625e-8);
}

fn u64_to_open01_f32_raw(hi: u32, lo: u32) -> f32 {
  let top = f32(hi >> 8u) * 5.9604644775390625e-8;  // 2^-24
  let next = (f32(((hi & 0xffu) << 16u) | (lo >> 16u)) + 0.5) * 3.552713678800501e-15;  // 2^-48
  return top + next;
}

// log u for u in (0, 1), given also d = 1 − u to full relative precision (from the complemented
// words: 1 − u64_to_open01(hi, lo) = u64_to_open01(~hi, ~lo)), so log u keeps its relative
// accuracy near u = 1, where u itself holds d only to 2^-25. log m = 2 atanh s, s = (m − 1)/(m + 1),
// with m in [1/√2, √2) (|s| ≤ 0.1716, series to s^9: truncation below 3e-9 relative).
fn log_open01(u: f32, d: f32) -> f32 {
  var s: f32;
  var e = 0.0;
  if (d < 0.29289322) {  // u > 1/√2: m = u, m − 1 = −d
    s = -d / (2.0 - d);
  } else {
    let fr = frexp(u);  // u = fract·2^exp, fract in [0.5, 1)
    var m = fr.fract;
    var ex = fr.exp;
    if (m < 0.70710678) {
      m = 2.0 * m;
      ex -= 1;
    }
    s = (m - 1.0) / (m + 1.0);  // m − 1 exact (Sterbenz)
    e = f32(ex);
  }
  let s2 = s * s;
  let series = s * (2.0 + s2 * (0.6666666666666666 + s2 * (0.4 + s2 * (0.2857142857142857 + s2 * 0.2222222222222222))));
  return e * 0.6931471805599453 + series;
}

// (sin, cos) of φ + k·π/2 for |φ| ≤ π/4: Taylor series to φ^9 and φ^10 (truncation < 2e-9).
fn sincos_quadrant(phi: f32, k: u32) -> vec2f {
  let p2 = phi * phi;
  let s = phi * (1.0 + p2 * (-0.16666666666666666 + p2 * (0.008333333333333333 + p2 * (-0.0001984126984126984 + p2 * 2.755731922398589e-6))));
  let c = 1.0 + p2 * (-0.5 + p2 * (0.041666666666666664 + p2 * (-0.001388888888888889 + p2 * (2.48015873015873e-5 - p2 * 2.755731922398589e-7))));
  switch (k & 3u) {
    case 0u: { return vec2f(s, c); }
    case 1u: { return vec2f(c, -s); }
    case 2u: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}

// (sin, cos) of 2π·u32_to_open01(w) = 2π (w + ½)·2^-32, reduced in integers: k quarter turns
// (2^30 units each) and a remainder r in [−2^29, 2^29), so no angle precision is lost.
fn sincos_2pi_u32(w: u32) -> vec2f {
  let k = (w + 0x20000000u) >> 30u;  // nearest quarter turn; a wrap past 2^32 drops a whole turn
  let r = bitcast<i32>(w - (k << 30u));
  return sincos_quadrant((f32(r) + 0.5) * 1.4629180792671596e-9, k);  // 2π / 2^32
}

// sample_std_normal_pair from its three words: u1 = uniform() of (w0, w1), u2 = u32_to_open01(w2);
// (z0, z1) = ρ (cos 2πu2, sin 2πu2), ρ = √(−2 log u1).
fn std_normal_pair_words(w0: u32, w1: u32, w2: u32) -> vec2f {
  let u1 = u64_to_open01_f32(w0, w1);
  let d1 = u64_to_open01_f32_raw(~w0, ~w1);
  let rho = sqrt(-2.0 * log_open01(u1, d1));
  let sc = sincos_2pi_u32(w2);
  return rho * vec2f(sc.y, sc.x);
}
