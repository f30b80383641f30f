// The mixture density network's head in WGSL, mirroring kernels/flows/mdn.h (mdn_row_log_prob,
// mdn_row_sample): the output row o of the conditioner (a ReLU MLP on the context, run as
// kernels/nn/dense.wgsl's products by src/backend/mdn_webgpu.ts) parameterises
//   q(y | c) = Σ_k π_k N(y; μ_k, (U_kᵀ U_k)⁻¹),  π = softmax(a),  U_k upper triangular, U_ii = exp(s_i),
// with one output row [K · W], W = 1 + 2D + D(D − 1)/2, component after component:
//   o_k = [a_k, μ_k (D), s_k (D), U_k's strictly upper entries row by row (i < j)].
// log q = logsumexp_k (a_k + Σ_i s_i − ½ |U_k (y − μ_k)|² − (D/2) log 2π) − logsumexp_k a_k, and a
// draw picks k by one uniform() against the cumulative π, then y = μ_k + U_k⁻¹ z with D normals of
// sample_std_normal: the CPU's words from Philox stream first_row + row, in the CPU's order.
// Training (src/backend/mdn_train_webgpu.ts): mdn_backward mirrors mdn_row_backward, giving
// dL/do = g · ∂ log q / ∂o per row for the conditioner's backward (kernels/nn/dense.wgsl).
// f32 throughout (the CPU's kernels are float too): the built-in exp, and the series log of
// samplers.wgsl for the log-sum-exp's log (WGSL guarantees its built-in log only to 2^-21 absolute).
// #include "../random/samplers.wgsl"

override workgroup_size: u32 = 64u;

struct MdnParams {
  n: u32,
  dim: u32,          // D
  components: u32,   // K
  out_stride: u32,   // K · W, or 0: one conditioner output row for every row
  key: vec2u,        // sampling: the seed
  first_row: u32,    // sampling: row r draws from Philox stream first_row + r
  grad_scale: f32,   // backward: g = ∂loss/∂log q of every row (−1 / batch rows)
}

@group(0) @binding(0) var<uniform> mp: MdnParams;
@group(0) @binding(1) var<storage, read> mdn_out: array<f32>;        // conditioner outputs [n or 1, K · W]
@group(0) @binding(2) var<storage, read> mdn_y: array<f32>;          // log_prob: y [n, D]
@group(0) @binding(3) var<storage, read_write> mdn_dst: array<f32>;  // log q [n], draws [n, D], or dL/do [n, K · W]
@group(0) @binding(4) var<storage, read_write> mdn_log_q: array<f32>; // backward: log q [n]

const MAX_COMPONENTS: u32 = 100u;  // MDN_MAX_COMPONENTS (src/flows/mdn.ts)
const MAX_DIM: u32 = 64u;          // MDN_MAX_DIM
const HALF_LOG_2PI: f32 = 0.91893853320467274178;

var<private> terms: array<f32, MAX_COMPONENTS>;
var<private> v: array<f32, MAX_DIM>;  // the residual r = U (y − μ) of the last component evaluated, or a draw's normals

fn component_width() -> u32 {
  return 1u + 2u * mp.dim + mp.dim * (mp.dim - 1u) / 2u;
}

// Offset of U_ij (i < j) among a component's strictly upper entries (mdn_upper_index).
fn upper_index(i: u32, j: u32) -> u32 {
  return i * mp.dim - i * (i + 1u) / 2u + (j - i - 1u);
}

// Σ s_i − ½ |U (y − μ)|² − (D/2) log 2π for the component whose block starts at o, y at yo;
// r = U (y − μ) into v.
fn component_log_normal(o: u32, yo: u32) -> f32 {
  let D = mp.dim;
  let mu = o + 1u;
  let s = mu + D;
  let upper = s + D;
  var log_det = 0.0;
  var sq = 0.0;
  for (var i = 0u; i < D; i++) {
    var acc = exp(mdn_out[s + i]) * (mdn_y[yo + i] - mdn_out[mu + i]);
    let row = upper + upper_index(i, i + 1u);
    for (var j = i + 1u; j < D; j++) { acc += mdn_out[row + j - i - 1u] * (mdn_y[yo + j] - mdn_out[mu + j]); }
    v[i] = acc;
    log_det += mdn_out[s + i];
    sq += acc * acc;
  }
  return log_det - 0.5 * sq - f32(D) * HALF_LOG_2PI;
}

// log Σ exp(terms[0..n)), max-shifted; ±inf or NaN as the largest term propagates.
fn log_sum_exp(n: u32) -> f32 {
  var m = terms[0];
  for (var k = 1u; k < n; k++) { m = select(m, terms[k], terms[k] > m); }
  if (m - m != 0.0) { return m; }
  var sum = 0.0;
  for (var k = 0u; k < n; k++) { sum += exp(terms[k] - m); }
  return m + log_positive(sum);
}

// log q(y | c) [n] (mdn_row_log_prob).
@compute @workgroup_size(workgroup_size)
fn mdn_log_prob(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let K = mp.components;
  let W = component_width();
  let o = r * mp.out_stride;
  for (var k = 0u; k < K; k++) { terms[k] = mdn_out[o + k * W]; }
  let log_norm = log_sum_exp(K);
  for (var k = 0u; k < K; k++) { terms[k] = mdn_out[o + k * W] + component_log_normal(o + k * W, r * mp.dim); }
  mdn_dst[r] = log_sum_exp(K) - log_norm;
}

// One draw y [D] per row (mdn_row_sample): the component from one uniform() against the
// cumulative mixture weights (the last where round-off leaves u), then D sample_std_normal
// draws z and the back substitution U_k v = z from the last row up; y = μ_k + v.
@compute @workgroup_size(workgroup_size)
fn mdn_sample(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let K = mp.components;
  let W = component_width();
  let o = r * mp.out_stride;
  for (var k = 0u; k < K; k++) { terms[k] = mdn_out[o + k * W]; }
  let log_norm = log_sum_exp(K);
  var rng = philox_stream(mp.key, philox_stream_add(vec2u(0u, 0u), mp.first_row + r));
  var u = stream_uniform(&rng).x;
  var chosen = K - 1u;
  for (var k = 0u; k < K; k++) {
    let p = exp(mdn_out[o + k * W] - log_norm);
    if (u < p) {
      chosen = k;
      break;
    }
    u -= p;
  }
  let ok = o + chosen * W;
  let mu = ok + 1u;
  let s = mu + D;
  let upper = s + D;
  for (var i = 0u; i < D; i++) { v[i] = sample_std_normal(&rng); }
  for (var t = 0u; t < D; t++) {
    let i = D - 1u - t;
    var acc = v[i];
    let row = upper + upper_index(i, i + 1u);
    for (var j = i + 1u; j < D; j++) { acc -= mdn_out[row + j - i - 1u] * v[j]; }
    v[i] = acc / exp(mdn_out[s + i]);
  }
  for (var i = 0u; i < D; i++) { mdn_dst[r * D + i] = mdn_out[mu + i] + v[i]; }
}

// dL/do [n, K · W] = g · ∂ log q / ∂o and log q [n] per row (mdn_row_backward; responsibilities
// w_k = π_k N_k / q): ∂/∂a_k = g (w_k − π_k), ∂/∂μ_k = g w_k U_kᵀ r, ∂/∂s_i = g w_k (1 − r_i e^{s_i} δ_i),
// ∂/∂U_ij = −g w_k r_i δ_j (i < j), δ = y − μ_k, r = U_k δ.
@compute @workgroup_size(workgroup_size)
fn mdn_backward(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let K = mp.components;
  let W = component_width();
  let o = r * mp.out_stride;
  let yo = r * D;
  let g = mp.grad_scale;
  for (var k = 0u; k < K; k++) { terms[k] = mdn_out[o + k * W]; }
  let log_norm = log_sum_exp(K);
  for (var k = 0u; k < K; k++) { terms[k] = mdn_out[o + k * W] + component_log_normal(o + k * W, yo); }
  let log_joint = log_sum_exp(K);
  for (var k = 0u; k < K; k++) {
    let ok = o + k * W;
    let gk = g * exp(terms[k] - log_joint);  // g · responsibility
    mdn_dst[ok] = gk - g * exp(mdn_out[ok] - log_norm);
    component_log_normal(ok, yo);  // r of this component into v
    let mu = ok + 1u;
    let s = mu + D;
    let upper = s + D;
    for (var j = 0u; j < D; j++) {
      let e = exp(mdn_out[s + j]);
      let delta = mdn_y[yo + j] - mdn_out[mu + j];
      mdn_dst[mu + j] = gk * e * v[j];
      mdn_dst[s + j] = gk * (1.0 - v[j] * e * delta);
    }
    for (var i = 0u; i < D; i++) {
      let base = upper + upper_index(i, i + 1u);
      for (var j = i + 1u; j < D; j++) {
        mdn_dst[base + j - i - 1u] = -gk * v[i] * (mdn_y[yo + j] - mdn_out[mu + j]);
        mdn_dst[mu + j] += gk * mdn_out[base + j - i - 1u] * v[i];
      }
    }
  }
  mdn_log_q[r] = log_joint - log_norm;
}
