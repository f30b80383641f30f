// The WGSL mirror of the branch-free samplers of kernels/random/samplers.h (uniform(),
// sample_std_normal_pair), of the sequential sample_std_normal (with its spare) and the
// Marsaglia–Tsang gamma sampler (shape ≥ 1) and the binomial sampler (inversion / BTRS with
// Loader's log pmf) on a PhiloxStream, and of the vecmath.h functions they use (vlog,
// vsincos_2pi). The words
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
  if (d < 0.29289322) {  // u > 1/√2: m = u, m − 1 = −d
    return log_atanh_series(-d / (2.0 - d));
  }
  return log_positive(u);
}

// log v for a positive normal f32 v: v = m·2^e, m in [1/√2, √2).
fn log_positive(v: f32) -> f32 {
  let fr = frexp(v);  // v = fract·2^exp, fract in [0.5, 1)
  var m = fr.fract;
  var ex = fr.exp;
  if (m < 0.70710678) {
    m = 2.0 * m;
    ex -= 1;
  }
  return f32(ex) * 0.6931471805599453 + log_atanh_series((m - 1.0) / (m + 1.0));  // m − 1 exact (Sterbenz)
}

// log m = 2 atanh s for s = (m − 1)/(m + 1), |s| ≤ 0.1716.
fn log_atanh_series(s: f32) -> f32 {
  let s2 = s * s;
  return s * (2.0 + s2 * (0.6666666666666666 + s2 * (0.4 + s2 * (0.2857142857142857 + s2 * 0.2222222222222222))));
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

// (sin, cos) of 2π·u for the 53-bit u = u64_to_open01(hi, lo) = (hi + (lo >> 11 + ½)·2^-21)·2^-32
// turns: quarter turns and remainder from hi as in sincos_2pi_u32, then the bits below hi added
// as a fraction of hi's unit (vsincos_2pi of uniform() on the CPU).
fn sincos_2pi_u64(hi: u32, lo: u32) -> vec2f {
  let k = (hi + 0x20000000u) >> 30u;
  let r = bitcast<i32>(hi - (k << 30u));
  let below = (f32(lo >> 11u) + 0.5) * 4.76837158203125e-7;  // 2^-21
  return sincos_quadrant((f32(r) + below) * 1.4629180792671596e-9, k);  // 2π / 2^32
}

// uniform() as (u, 1 − u), both to full relative precision (the complemented words give 1 − u).
fn stream_uniform(r: ptr<function, PhiloxStream>) -> vec2f {
  let w = stream_uniform_words(r);
  return vec2f(u64_to_open01_f32(w.x, w.y), u64_to_open01_f32_raw(~w.x, ~w.y));
}

// sample_std_normal: Box–Muller on two uniform() draws, the sine variate kept as the spare.
fn sample_std_normal(r: ptr<function, PhiloxStream>) -> f32 {
  if ((*r).has_spare_normal) {
    (*r).has_spare_normal = false;
    return (*r).spare_normal;
  }
  let u1 = stream_uniform(r);
  let w2 = stream_uniform_words(r);
  let rad = sqrt(-2.0 * log_open01(u1.x, u1.y));
  let sc = sincos_2pi_u64(w2.x, w2.y);
  (*r).spare_normal = rad * sc.x;
  (*r).has_spare_normal = true;
  return rad * sc.y;
}

// The quiet NaN: the value of a sampler that gave up (the host flags the row as failed). From a
// variable: a constant expression may not evaluate to NaN in WGSL.
fn sampler_nan() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

// marsaglia_tsang_gamma: a Gamma(shape, 1) variate, shape ≥ 1, the same draws as on the CPU. The
// accept tests run in f32, so a draw within f32 rounding of a boundary can be decided the other
// way (a float tie). The CPU loops until acceptance; here the normals drawn are capped at 256
// (each round accepts with probability > 0.95): past the cap the result is NaN, never a hang.
fn marsaglia_tsang_gamma(r: ptr<function, PhiloxStream>, shape: f32) -> f32 {
  let d = shape - 1.0 / 3.0;
  let c = 1.0 / sqrt(9.0 * d);
  var normals = 0u;
  loop {
    var z: f32;
    var v: f32;
    loop {
      z = sample_std_normal(r);
      v = 1.0 + c * z;
      normals += 1u;
      if (v > 0.0 || normals >= 256u) { break; }
    }
    if (v <= 0.0) { return sampler_nan(); }
    v = v * v * v;
    let u = stream_uniform(r);
    let z2 = z * z;
    if (u.x < 1.0 - 0.0331 * z2 * z2) { return d * v; }
    if (log_open01(u.x, u.y) < 0.5 * z2 + d * (1.0 - v + log_positive(v))) { return d * v; }
    if (normals >= 256u) { return sampler_nan(); }
  }
}

// log(1 − p) for p in [0, 1), from 1 − p and p (log_open01 keeps its relative accuracy for small p).
fn log1m(p: f32) -> f32 {
  return log_open01(1.0 - p, p);
}

const LOG_SQRT_TWO_PI = 0.9189385332046728;
const TWO_PI = 6.283185307179586;

// stirling_error: log k! − [(k + ½) log k − k + log √(2π)], k ≥ 1 an integer (Loader 2000).
// Exact sum below 16 (its cancellation costs ~1e-6 absolute in f32), series beyond.
fn stirling_error(k: f32) -> f32 {
  if (k < 16.0) {
    var log_fact = 0.0;
    for (var i = 2.0; i <= k; i += 1.0) { log_fact += log_positive(i); }
    return log_fact - ((k + 0.5) * log_positive(k) - k + LOG_SQRT_TWO_PI);
  }
  let k2 = k * k;
  return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * k2)) / k2) / k2) / k;
}

// deviance_term: x log(x / m) + m − x ≥ 0, by the atanh series where the two parts nearly cancel.
fn deviance_term(x: f32, m: f32) -> f32 {
  if (abs(x - m) < 0.1 * (x + m)) {
    let v = (x - m) / (x + m);
    let v2 = v * v;
    var sum = (x - m) * v;
    var term = 2.0 * x * v;
    for (var j = 1; j < 64; j++) {
      term *= v2;
      let next = sum + term / f32(2 * j + 1);
      if (next == sum) { break; }
      sum = next;
    }
    return sum;
  }
  return x * log_positive(x / m) + m - x;
}

// binomial_log_pmf: log P(K = k), K ~ Binomial(n, p), q = 1 − p, the saddle-point form.
fn binomial_log_pmf(k: f32, n: f32, p: f32, q: f32) -> f32 {
  if (k == 0.0) { return n * log1m(p); }
  if (k == n) { return n * log_positive(p); }
  return stirling_error(n) - stirling_error(k) - stirling_error(n - k) - deviance_term(k, n * p) -
         deviance_term(n - k, n * q) + 0.5 * log_positive(n / (TWO_PI * k * (n - k)));
}

// sample_binomial: Binomial(n, p), n a whole number below 2^24 (exact in f32). Inversion for
// n·min(p, q) < 10, else BTRS (Hörmann 1993). Accept tests in f32 can decide a draw within f32
// rounding of a boundary the other way (a float tie). The CPU loops until acceptance; here the
// rounds are capped (64 inversion redraws, 256 BTRS rounds, each accepting with probability
// > 0.5): past the cap the result is NaN, never a hang.
fn sample_binomial(r: ptr<function, PhiloxStream>, n: f32, p: f32) -> f32 {
  if (n <= 0.0 || p <= 0.0) { return 0.0; }
  if (p >= 1.0) { return n; }
  let flip = p > 0.5;
  let pp = select(p, 1.0 - p, flip);
  let q = 1.0 - pp;
  var k = 0.0;
  var done = false;
  if (n * pp < 10.0) {
    let s = pp / q;
    let a = (n + 1.0) * s;
    let r0 = exp(n * log1m(pp));
    for (var attempt = 0; attempt < 64 && !done; attempt++) {
      var u = stream_uniform(r).x;
      var prob = r0;
      k = 0.0;
      while (u > prob && prob > 0.0 && k < n) {
        u -= prob;
        k += 1.0;
        prob *= a / k - s;
      }
      done = u <= prob;
    }
  } else {
    let spq = sqrt(n * pp * q);
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * pp;
    let c = n * pp + 0.5;
    let alpha = (2.83 + 5.1 / b) * spq;
    let vr = 0.92 - 4.2 / b;
    let m = floor((n + 1.0) * pp);
    let log_fm = binomial_log_pmf(m, n, pp, q);
    for (var round = 0; round < 256 && !done; round++) {
      let u = stream_uniform(r).x - 0.5;
      let v = stream_uniform(r);
      let us = 0.5 - abs(u);
      k = floor((2.0 * a / us + b) * u + c);
      if (k < 0.0 || k > n) { continue; }
      if (us >= 0.07 && v.x <= vr) {
        done = true;
        break;
      }
      // log(v·alpha / (a/us² + b)), with log v from both of v's words
      let lv = log_open01(v.x, v.y) + log_positive(alpha / (a / (us * us) + b));
      done = lv <= binomial_log_pmf(k, n, pp, q) - log_fm;
    }
  }
  if (!done) { return sampler_nan(); }
  return select(k, n - k, flip);
}
