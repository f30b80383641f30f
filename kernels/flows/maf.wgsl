// The conditional MAF's elementwise steps in WGSL, mirroring kernels/flows/maf.h (maf_log_prob,
// maf_sample, maf_sample_base) with either element: affine (kernels/flows/affine.h, ELEMENT 0) or
// the rational-quadratic spline with identity tails (kernels/flows/rq_spline.h, ELEMENT 1: the
// autoregressive / coupling neural spline flow). The MADEs are
// plain MLPs here: made.h keeps masked weights exactly zero, so its forward is the dense stack of
// kernels/nn/dense.wgsl on the stored parameters (src/backend/flow_webgpu.ts records both).
// Rows are [n, W] inputs with W = D + C: the layer's variables, then the context.
// Training (src/backend/flow_train_webgpu.ts): maf_gather, maf_backward and maf_input_backward
// mirror maf_nll_backward's elementwise steps (affine_backward, rq_spline_backward); the MADE
// backward is kernels/nn/dense.wgsl's.
// #include "../random/samplers.wgsl"
// #include "../common/logistic.wgsl"

override workgroup_size: u32 = 64u;
override ELEMENT: u32 = 0u;  // 0 affine, 1 rational-quadratic spline

struct MafParams {
  n: u32,
  dim: u32,        // D
  context: u32,    // C
  ctx_stride: u32, // C, or 0: one context row for every row
  last: u32,       // forward: 1 at the last layer (u = z, unreversed, plus the base density)
  d0: u32,         // inverse: the variables [d0, d1) this pass completes; reverse: 1 to reverse
  d1: u32,
  scale_bound: f32,  // affine.h's c
  key: vec2u,        // sampling: the seed
  first_row: u32,    // sampling: row r draws from Philox stream first_row + r
  bins: u32,         // spline: K (RqSplineConfig)
  bound: f32,        // spline: B
  min_w: f32,        // spline: minimum bin width fraction
  min_h: f32,        // spline: minimum bin height fraction
  min_d: f32,        // spline: minimum derivative
  grad_scale: f32,   // backward: the loss's scale (1 / batch rows); every log-det enters with −grad_scale
  _pad: u32,
}

@group(0) @binding(0) var<uniform> mp: MafParams;
@group(0) @binding(1) var<storage, read> maf_src: array<f32>;    // θ, z or the layer input
@group(0) @binding(2) var<storage, read> maf_made: array<f32>;   // MADE outputs [n, D, 2]
@group(0) @binding(3) var<storage, read_write> maf_dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> maf_log_q: array<f32>;

// Training only (entry points bind what they use).
@group(0) @binding(5) var<storage, read_write> maf_grad_z: array<f32>;  // dL/dz [n, D]
@group(0) @binding(6) var<storage, read> maf_grad_in: array<f32>;       // dL/d(MADE input) [n, W]
@group(0) @binding(7) var<storage, read> maf_rows: array<u32>;          // gather: row indices

const LOG_SQRT_2PI: f32 = 0.9189385332046727;

// affine_log_scale: (s, ds/du) with s = c u / sqrt(c² + u²), u and c divided by max(|u|, c) so
// nothing overflows.
fn affine_log_scale_grad(u: f32, c: f32) -> vec2f {
  let au = abs(u);
  let large = au > c;
  let uu = select(u / c, sign(u), large);
  let cc = select(1.0, c / au, large);
  let r2 = cc * cc + uu * uu;
  let r = sqrt(r2);
  return vec2f(c * uu / r, cc * cc * cc / (r2 * r));
}

fn affine_log_scale(u: f32, c: f32) -> f32 { return affine_log_scale_grad(u, c).x; }

// ---- the rational-quadratic spline of rq_spline.h, parameters at maf_made[p ..] ----
// [widths (K) | heights (K) | derivatives (K − 1)], each partition a softmax of [−B, B] with a
// minimum bin size; slope 1 at ±B; the identity outside.

struct RqBin {
  x0: f32,
  w: f32,
  y0: f32,
  h: f32,
  d0: f32,
  d1: f32,
}

// max and Σ exp(u − max) of the partition's K logits at maf_made[base ..].
fn rq_softmax_stats(base: u32) -> vec2f {
  var mx = maf_made[base];
  for (var j = 1u; j < mp.bins; j++) { mx = max(mx, maf_made[base + j]); }
  var sum = 0.0;
  for (var j = 0u; j < mp.bins; j++) { sum += exp(maf_made[base + j] - mx); }
  return vec2f(mx, sum);
}

fn rq_knot(j: u32, min_frac: f32, mass_before: f32) -> f32 {
  if (j == mp.bins) { return mp.bound; }
  let scale = 2.0 * mp.bound * (1.0 - f32(mp.bins) * min_frac);
  return -mp.bound + 2.0 * mp.bound * (f32(j) * min_frac) + scale * mass_before;
}

// (index, left knot, size) of the bin holding v (RqPartition::locate).
fn rq_locate(base: u32, min_frac: f32, v: f32) -> vec3f {
  let st = rq_softmax_stats(base);
  var mass = 0.0;
  var left = -mp.bound;
  for (var j = 0u; j < mp.bins; j++) {
    mass += exp(maf_made[base + j] - st.x) / st.y;
    let right = rq_knot(j + 1u, min_frac, mass);
    if (v < right || j == mp.bins - 1u) { return vec3f(f32(j), left, right - left); }
    left = right;
  }
  return vec3f(f32(mp.bins - 1u), left, 0.0);
}

// (left knot, size) of bin k (RqPartition::bin).
fn rq_bin(base: u32, min_frac: f32, k: u32) -> vec2f {
  let st = rq_softmax_stats(base);
  var mass = 0.0;
  for (var j = 0u; j < k; j++) { mass += exp(maf_made[base + j] - st.x) / st.y; }
  let lo = rq_knot(k, min_frac, mass);
  return vec2f(lo, rq_knot(k + 1u, min_frac, mass + exp(maf_made[base + k] - st.x) / st.y) - lo);
}

fn softplus_f32(u: f32) -> f32 { return max(u, 0.0) + log(1.0 + exp(-abs(u))); }

fn rq_knot_derivative(p: u32, i: u32) -> f32 {
  if (i == 0u || i == mp.bins) { return 1.0; }
  return mp.min_d + softplus_f32(maf_made[p + 2u * mp.bins + i - 1u]);
}

fn rq_find_bin(p: u32, v: f32, by_y: bool) -> RqBin {
  var b: RqBin;
  var k: u32;
  if (by_y) {
    let loc = rq_locate(p + mp.bins, mp.min_h, v);
    k = u32(loc.x);
    b.y0 = loc.y;
    b.h = loc.z;
    let xb = rq_bin(p, mp.min_w, k);
    b.x0 = xb.x;
    b.w = xb.y;
  } else {
    let loc = rq_locate(p, mp.min_w, v);
    k = u32(loc.x);
    b.x0 = loc.y;
    b.w = loc.z;
    let yb = rq_bin(p + mp.bins, mp.min_h, k);
    b.y0 = yb.x;
    b.h = yb.y;
  }
  b.d0 = rq_knot_derivative(p, k);
  b.d1 = rq_knot_derivative(p, k + 1u);
  return b;
}

fn rq_log_slope(b: RqBin, xi: f32) -> f32 {
  let s = b.h / b.w;
  let t = xi * (1.0 - xi);
  let den = s + (b.d1 + b.d0 - 2.0 * s) * t;
  let num = b.d1 * xi * xi + 2.0 * s * t + b.d0 * (1.0 - xi) * (1.0 - xi);
  return log(num) + 2.0 * (log(s) - log(den));
}

fn rq_inside(v: f32) -> bool { return v >= -mp.bound && v <= mp.bound; }

// ---- the element: (y, log|dy/dx|) forward, (x, log|dx/dy|) inverse ----
fn params_per_dim() -> u32 { return select(2u, 3u * mp.bins - 1u, ELEMENT == 1u); }

fn element_forward(x: f32, p: u32) -> vec2f {
  if (ELEMENT == 1u) {
    if (!rq_inside(x)) { return vec2f(x, 0.0); }
    let b = rq_find_bin(p, x, false);
    let xi = clamp((x - b.x0) / b.w, 0.0, 1.0);
    let s = b.h / b.w;
    let t = xi * (1.0 - xi);
    let den = s + (b.d1 + b.d0 - 2.0 * s) * t;
    return vec2f(b.y0 + b.h * (s * xi * xi + b.d0 * t) / den, rq_log_slope(b, xi));
  }
  let s = affine_log_scale(maf_made[p], mp.scale_bound);
  return vec2f(x * exp(s) + maf_made[p + 1u], s);
}

fn element_inverse(y: f32, p: u32) -> vec2f {
  if (ELEMENT == 1u) {
    if (!rq_inside(y)) { return vec2f(y, 0.0); }
    let b = rq_find_bin(p, y, true);
    let s = b.h / b.w;
    let dy = y - b.y0;
    let e = b.d1 + b.d0 - 2.0 * s;
    let qa = b.h * (s - b.d0) + dy * e;
    let qb = b.h * b.d0 - dy * e;
    let qc = -s * dy;
    let disc = max(qb * qb - 4.0 * qa * qc, 0.0);
    let xi = clamp(2.0 * qc / (-qb - sqrt(disc)), 0.0, 1.0);
    return vec2f(b.x0 + xi * b.w, -rq_log_slope(b, xi));
  }
  let s = affine_log_scale(maf_made[p], mp.scale_bound);
  return vec2f((y - maf_made[p + 1u]) * exp(-s), -s);
}

// Copies θ [n, D] (maf_src) and the context (maf_made, [n or 1, C]) into the rows of maf_dst
// [n, W]; log q starts at 0.
@compute @workgroup_size(workgroup_size)
fn maf_fill(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let W = mp.dim + mp.context;
  for (var d = 0u; d < mp.dim; d++) { maf_dst[r * W + d] = maf_src[r * mp.dim + d]; }
  for (var c = 0u; c < mp.context; c++) { maf_dst[r * W + mp.dim + c] = maf_made[r * mp.ctx_stride + c]; }
  maf_log_q[r] = 0.0;
}

// One layer of maf_log_prob: z_d = element_forward(a_d; MADE_d) for the rows of maf_src [n, W];
// log q += Σ_d log|dz_d/da_d|. Not last: z goes reversed into columns 0..D of the next input rows (maf_dst
// [n, W], with the context copied along). Last: u = z into maf_dst [n, D], and log q += log N(u; 0, I).
@compute @workgroup_size(workgroup_size)
fn maf_forward(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let W = D + mp.context;
  let P = params_per_dim();
  var lq = maf_log_q[r];
  var sq = 0.0;
  for (var d = 0u; d < D; d++) {
    let f = element_forward(maf_src[r * W + d], (r * D + d) * P);
    let y = f.x;
    lq += f.y;
    if (mp.last != 0u) {
      maf_dst[r * D + d] = y;
      sq += y * y;
    } else {
      maf_dst[r * W + (D - 1u - d)] = y;
    }
  }
  if (mp.last == 0u) {
    for (var c = 0u; c < mp.context; c++) { maf_dst[r * W + D + c] = maf_src[r * W + D + c]; }
  }
  if (mp.last != 0u) { lq += -0.5 * sq - f32(D) * LOG_SQRT_2PI; }
  maf_log_q[r] = lq;
}

// maf_sample_base: row r draws D standard normals from Philox stream first_row + r, pair j from
// block j (sample_std_normal's two 53-bit uniforms; the angle from the top word of the second,
// 2^-32 of a turn from the CPU's), into maf_dst [n, D]; log q = log N(u; 0, I).
@compute @workgroup_size(workgroup_size)
fn maf_base(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let stream = philox_stream_add(vec2u(0u, 0u), mp.first_row + r);
  var sq = 0.0;
  for (var j = 0u; 2u * j < D; j++) {
    let w = philox_stream_block(mp.key, stream, j);
    let z = std_normal_pair_words(w.x, w.y, w.z);
    maf_dst[r * D + 2u * j] = z.x;
    sq += z.x * z.x;
    if (2u * j + 1u < D) {
      maf_dst[r * D + 2u * j + 1u] = z.y;
      sq += z.y * z.y;
    }
  }
  maf_log_q[r] = -0.5 * sq - f32(D) * LOG_SQRT_2PI;
}

// Zeroes the variables (columns 0..D) of the input rows maf_dst [n, W], and copies the context
// (maf_made, [n or 1, C]) into the rest.
@compute @workgroup_size(workgroup_size)
fn maf_zero_vars(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let W = mp.dim + mp.context;
  for (var d = 0u; d < mp.dim; d++) { maf_dst[r * W + d] = 0.0; }
  for (var c = 0u; c < mp.context; c++) { maf_dst[r * W + mp.dim + c] = maf_made[r * mp.ctx_stride + c]; }
}

// One inverse pass of maf_sample: a_d = element_inverse(z_d; MADE_d) for d in [d0, d1), written
// into the input rows maf_dst [n, W] (the next pass sees them); log q −= log|da_d/dz_d|.
@compute @workgroup_size(workgroup_size)
fn maf_inverse(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let W = D + mp.context;
  let P = params_per_dim();
  var lq = maf_log_q[r];
  for (var d = mp.d0; d < mp.d1; d++) {
    let f = element_inverse(maf_src[r * D + d], (r * D + d) * P);
    maf_dst[r * W + d] = f.x;
    lq -= f.y;
  }
  maf_log_q[r] = lq;
}

// z_k = reverse(a_k) for k ≥ 1 (d0 = 1), a_0 = θ unreversed (d0 = 0): maf_src [n, W] → maf_dst [n, D].
@compute @workgroup_size(workgroup_size)
fn maf_take(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let W = D + mp.context;
  for (var d = 0u; d < D; d++) {
    let src_col = select(d, D - 1u - d, mp.d0 != 0u);
    maf_dst[r * D + d] = maf_src[r * W + src_col];
  }
}

// ---- training: maf_nll_backward (kernels/flows/maf.h) ----

// Input rows [n, W] of a batch: row r is θ (maf_src [*, D]) and context (maf_made [*, C]) of row
// maf_rows[first_row + r]; log q starts at 0.
@compute @workgroup_size(workgroup_size)
fn maf_gather(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let W = mp.dim + mp.context;
  let i = maf_rows[mp.first_row + r];
  for (var d = 0u; d < mp.dim; d++) { maf_dst[r * W + d] = maf_src[i * mp.dim + d]; }
  for (var c = 0u; c < mp.context; c++) { maf_dst[r * W + mp.dim + c] = maf_made[i * mp.context + c]; }
  maf_log_q[r] = 0.0;
}

// dL/du = grad_scale · u (from −log N(u; 0, I)) for the base points u in maf_src [n, D], into maf_grad_z.
@compute @workgroup_size(workgroup_size)
fn maf_base_backward(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= mp.n * mp.dim) { return; }
  maf_grad_z[e] = mp.grad_scale * maf_src[e];
}

// rq_spline_backward (rq_spline.h): dL/dx returned, dL/dparams (3K − 1) into maf_dst[q ..], from
// g_y = dL/dy and g_l = dL/dlog|dy/dx| at x with the MADE outputs at maf_made[p ..]. The chain
// runs through ξ, s = h/w, the two softmax partitions and the softplus derivatives.
fn rq_backward(x: f32, p: u32, g_y: f32, g_l: f32, q: u32) -> f32 {
  let K = mp.bins;
  for (var j = 0u; j < 3u * K - 1u; j++) { maf_dst[q + j] = 0.0; }
  if (!rq_inside(x)) { return g_y; }
  let loc = rq_locate(p, mp.min_w, x);
  let k = u32(loc.x);
  let x0 = loc.y;
  let w = loc.z;
  let yb = rq_bin(p + K, mp.min_h, k);
  let h = yb.y;
  let d0 = rq_knot_derivative(p, k);
  let d1 = rq_knot_derivative(p, k + 1u);
  let xi = clamp((x - x0) / w, 0.0, 1.0);
  let s = h / w;
  let t = xi * (1.0 - xi);
  let e = d1 + d0 - 2.0 * s;
  let one_m = 1.0 - xi;
  let one_m2t = 1.0 - 2.0 * xi;
  let den = s + e * t;
  let num = s * xi * xi + d0 * t;
  let slope = d1 * xi * xi + 2.0 * s * t + d0 * one_m * one_m;
  let den2 = den * den;
  let dden_dxi = e * one_m2t;
  let dden_ds = 1.0 - 2.0 * t;
  let y_xi = h * ((2.0 * s * xi + d0 * one_m2t) * den - num * dden_dxi) / den2;
  let y_s = h * (xi * xi * den - num * dden_ds) / den2;
  let y_h = num / den;
  let y_d0 = h * t * (den - num) / den2;
  let y_d1 = -h * num * t / den2;
  let dslope_dxi = 2.0 * d1 * xi + 2.0 * s * one_m2t - 2.0 * d0 * one_m;
  let l_xi = dslope_dxi / slope - 2.0 * dden_dxi / den;
  let l_s = 2.0 / s + 2.0 * t / slope - 2.0 * dden_ds / den;
  let l_d0 = one_m * one_m / slope - 2.0 * t / den;
  let l_d1 = xi * xi / slope - 2.0 * t / den;
  let g_xi = g_y * y_xi + g_l * l_xi;
  let g_s = g_y * y_s + g_l * l_s;
  let g_x0 = -g_xi / w;
  let g_w = -(g_xi * xi + g_s * s) / w;
  let g_y0 = g_y;
  let g_h = g_y * y_h + g_s / w;
  // softmax partitions: x0 = −B + 2B k m + scale · (mass before k), w = 2B m + scale · p_k
  let stw = rq_softmax_stats(p);
  let sth = rq_softmax_stats(p + K);
  let scale_w = 2.0 * mp.bound * (1.0 - f32(K) * mp.min_w);
  let scale_h = 2.0 * mp.bound * (1.0 - f32(K) * mp.min_h);
  var mass_w = 0.0;
  var mass_h = 0.0;
  for (var j = 0u; j < k; j++) {
    mass_w += exp(maf_made[p + j] - stw.x) / stw.y;
    mass_h += exp(maf_made[p + K + j] - sth.x) / sth.y;
  }
  let pwk = exp(maf_made[p + k] - stw.x) / stw.y;
  let phk = exp(maf_made[p + K + k] - sth.x) / sth.y;
  let dot_w = scale_w * (g_w * pwk + g_x0 * mass_w);
  let dot_h = scale_h * (g_h * phk + g_y0 * mass_h);
  for (var j = 0u; j < K; j++) {
    let dpw = scale_w * select(select(0.0, g_x0, j < k), g_w, j == k);
    let dph = scale_h * select(select(0.0, g_y0, j < k), g_h, j == k);
    maf_dst[q + j] = exp(maf_made[p + j] - stw.x) / stw.y * (dpw - dot_w);
    maf_dst[q + K + j] = exp(maf_made[p + K + j] - sth.x) / sth.y * (dph - dot_h);
  }
  // inner-knot derivatives d_i = min_d + softplus(u_i): d d_i / du_i = logistic(u_i)
  let g_d0 = g_y * y_d0 + g_l * l_d0;
  let g_d1 = g_y * y_d1 + g_l * l_d1;
  if (k >= 1u) { maf_dst[q + 2u * K + k - 1u] = g_d0 * logistic_f32(maf_made[p + 2u * K + k - 1u]); }
  if (k + 1u <= K - 1u) { maf_dst[q + 2u * K + k] = g_d1 * logistic_f32(maf_made[p + 2u * K + k]); }
  return g_xi / w;
}

// One layer's elementwise backward (affine_backward or rq_spline_backward): maf_grad_z holds
// dL/dz_{k+1} in the layer's output order; with a_k the input rows maf_src [n, W] and the MADE
// outputs maf_made [n, D, P], the direct dL/da_k replaces it in place and dL/d(MADE output) goes
// to maf_dst [n, D, P]. Every log-det enters with weight −grad_scale.
@compute @workgroup_size(workgroup_size)
fn maf_backward(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= mp.n * mp.dim) { return; }
  let r = e / mp.dim;
  let d = e % mp.dim;
  let x = maf_src[r * (mp.dim + mp.context) + d];
  let g_y = maf_grad_z[e];
  if (ELEMENT == 1u) {
    let P = params_per_dim();
    maf_grad_z[e] = rq_backward(x, e * P, g_y, -mp.grad_scale, e * P);
    return;
  }
  let p = 2u * e;
  let sd = affine_log_scale_grad(maf_made[p], mp.scale_bound);
  let scale = exp(sd.x);
  maf_grad_z[e] = g_y * scale;
  maf_dst[p] = (g_y * x * scale - mp.grad_scale) * sd.y;
  maf_dst[p + 1u] = g_y;
}

// dL/da_k = direct (maf_grad_z) + through MADE_k (maf_grad_in [n, W], columns 0..D); then into
// z_k's order (a_k = reverse(z_k) for k ≥ 1: d0 = 1 reverses), in place in maf_grad_z.
@compute @workgroup_size(workgroup_size)
fn maf_input_backward(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let W = D + mp.context;
  if (mp.d0 == 0u) {
    for (var d = 0u; d < D; d++) { maf_grad_z[r * D + d] += maf_grad_in[r * W + d]; }
    return;
  }
  for (var d = 0u; 2u * d < D; d++) {
    let e = D - 1u - d;
    let lo = maf_grad_z[r * D + d] + maf_grad_in[r * W + d];
    let hi = maf_grad_z[r * D + e] + maf_grad_in[r * W + e];
    maf_grad_z[r * D + d] = hi;
    maf_grad_z[r * D + e] = lo;
  }
}
