// The flows on the torus Tᴰ and the spheres Sᴰ in WGSL (f32), mirroring kernels/manifold/flow.h
// (flow_base_draw, flow_point_to_state, layer_conditioner's features, flow_forward,
// flow_inverse, flow_log_density, flow_state_to_point, sphere_log_area_factor) with the
// elementwise transforms of kernels/manifold/segment_spline.h (the bin math of
// kernels/flows/rq_spline.h), circle.h (circle_spline_*, circle_mixture_* with the Möbius and
// NCP components) and interval.h. The conditioners' tanh MLPs are kernels/nn/dense.wgsl's dense
// stacks on the flow's parameters (kernels/nn/mlp.h layout); src/backend/manifold_webgpu.ts
// records them between these steps. Rezende et al., "Normalizing flows on tori and spheres",
// arXiv:2002.02428.
//
// One invocation per row. The state is [n, coords] (angles in [0, 2π), or on Sᴰ the heights
// (z_D, .., z_2) then φ); `mf_acc` accumulates log q of the row along the pass:
//   sampling: log A(c₀) at the base, − Σ log|det| of each forward layer, then at the end
//             + base density − log A(c);
//   log q:    − log A(c) at the point, + Σ log|dx/dy| of each inverse layer, then at the end
//             + base density + log A(c₀).
// The built-in sin/cos (2⁻¹¹ absolute) and atan2 (4096 ulp) are not accurate enough in WGSL's
// guarantees: sin, cos, atan2 and the wraps are common/angle.wgsl's, the mixtures' components
// circle.wgsl's. Logs of positive values use samplers.wgsl's log_positive.
// #include "circle.wgsl"

override workgroup_size: u32 = 64u;

struct MfParams {
  n: u32,           // rows of this launch
  coords: u32,      // C
  dim: u32,         // D of Tᴰ or Sᴰ
  space: u32,       // 0 torus, 1 sphere
  n_active: u32,    // the layer's transformed coordinates ...
  n_cond: u32,      // ... and its conditioning coordinates (0: constants)
  feat_width: u32,  // the conditioner's input width
  interval: u32,    // 1: interval spline of heights; 0: the flow's circle transform of angles
  active_idx: vec2u,    // state indices, 4 bits each, in the layer's order
  cond: vec2u,
  angle_mask: u32,  // bit i: state coordinate i is an angle
  circle_kind: u32, // 0 spline, 1 Möbius mixture, 2 NCP mixture (kernels/manifold/flow.h CircleKind)
  bins: u32,        // K of the splines
  components: u32,  // K of the mixtures
  per_element: u32, // element parameters per active coordinate
  ep_base: u32,     // offset of row 0's first element parameters in mf_ep
  ep_stride: u32,   // per row: n_active · per_element (an MLP's output), or 0 (constants)
  mode: u32,        // mf_finish: 0 sampling (write the points), 1 log q
  min_w: f32,
  min_h: f32,
  min_d: f32,
  min_alpha: f32,
  key: vec2u,       // sampling: the seed
  stream: vec2u,    // sampling: the Philox stream
  first_row: u32,   // sampling: row r draws from blocks (first_row + r)·coords on
  base_log_density: f32,
  out_width: u32,   // W: D angles, or D + 1 on Sᴰ
  target_kind: u32, // training (manifold_flow_train.wgsl): targets.h TargetKind
  loss_scale: f32,  // training: the loss's weight of a row, 1 / batch
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> mp: MfParams;
@group(0) @binding(1) var<storage, read_write> mf_state: array<f32>;  // [n, C]
@group(0) @binding(2) var<storage, read_write> mf_acc: array<f32>;    // [n]
@group(0) @binding(3) var<storage, read> mf_ep: array<f32>;           // element parameters
@group(0) @binding(4) var<storage, read_write> mf_io: array<f32>;     // points [n, W] or features [n, F]

const MF_EPSILON: f32 = 1.1920928955078125e-7;

fn mf_nibble(v: vec2u, i: u32) -> u32 {
  let w = select(v.y, v.x, i < 8u);
  return (w >> (4u * (i % 8u))) & 15u;
}

fn mf_is_angle(c: u32) -> bool { return ((mp.angle_mask >> c) & 1u) == 1u; }

// log(1 − z²), floored at 1e-30 (sphere_log_area_factor); 1 − z² as (1 − z)(1 + z), exact factors.
fn mf_log_one_minus_sq(z: f32) -> f32 { return log_positive(max((1.0 - z) * (1.0 + z), 1e-30)); }

// log A(c) = Σ_{k=3..D} ((k − 2)/2) log(1 − z_k²) of the row's state at offset o (0 on tori and S²).
fn mf_log_area(o: u32) -> f32 {
  var total = 0.0;
  if (mp.space == 1u) {
    for (var k = 3u; k <= mp.dim; k++) { total += 0.5 * f32(k - 2u) * mf_log_one_minus_sq(mf_state[o + mp.dim - k]); }
  }
  return total;
}

// ---- segment_spline.h: the RQ spline of [c − B, c + B], parameters at mf_ep[p ..] ----
// [widths (K) | heights (K) | derivatives (K, periodic: d_0 = d_K; or K + 1)].

struct SegBin {
  k: u32,  // the bin's index
  x0: f32,
  w: f32,
  y0: f32,
  h: f32,
  d0: f32,
  d1: f32,
}

// max and Σ exp(u − max) of the K logits at mf_ep[base ..] (RqPartition).
fn seg_stats(base: u32) -> vec2f {
  var mx = mf_ep[base];
  for (var j = 1u; j < mp.bins; j++) { mx = max(mx, mf_ep[base + j]); }
  var sum = 0.0;
  for (var j = 0u; j < mp.bins; j++) { sum += exp(mf_ep[base + j] - mx); }
  return vec2f(mx, sum);
}

fn seg_knot(j: u32, half: f32, min_frac: f32, mass_before: f32) -> f32 {
  if (j == mp.bins) { return half; }
  let scale = 2.0 * half * (1.0 - f32(mp.bins) * min_frac);
  return -half + 2.0 * half * (f32(j) * min_frac) + scale * mass_before;
}

// (index, left knot, size) of the bin holding v (RqPartition::locate).
fn seg_locate(base: u32, half: f32, min_frac: f32, v: f32) -> vec3f {
  let st = seg_stats(base);
  var mass = 0.0;
  var left = -half;
  for (var j = 0u; j < mp.bins; j++) {
    mass += exp(mf_ep[base + j] - st.x) / st.y;
    let right = seg_knot(j + 1u, half, min_frac, mass);
    if (v < right || j == mp.bins - 1u) { return vec3f(f32(j), left, right - left); }
    left = right;
  }
  return vec3f(f32(mp.bins - 1u), left, 0.0);
}

// (left knot, size) of bin k (RqPartition::bin).
fn seg_bin(base: u32, half: f32, min_frac: f32, k: u32) -> vec2f {
  let st = seg_stats(base);
  var mass = 0.0;
  for (var j = 0u; j < k; j++) { mass += exp(mf_ep[base + j] - st.x) / st.y; }
  let lo = seg_knot(k, half, min_frac, mass);
  return vec2f(lo, seg_knot(k + 1u, half, min_frac, mass + exp(mf_ep[base + k] - st.x) / st.y) - lo);
}

fn seg_derivative(p: u32, i: u32, periodic: bool) -> f32 {
  let index = select(i, 0u, periodic && i == mp.bins);
  return mp.min_d + softplus_f32(mf_ep[p + 2u * mp.bins + index]);
}

fn seg_find_bin(p: u32, half: f32, periodic: bool, v: f32, by_y: bool) -> SegBin {
  var b: SegBin;
  var k: u32;
  if (by_y) {
    let loc = seg_locate(p + mp.bins, half, mp.min_h, v);
    k = u32(loc.x);
    b.y0 = loc.y;
    b.h = loc.z;
    let xb = seg_bin(p, half, mp.min_w, k);
    b.x0 = xb.x;
    b.w = xb.y;
  } else {
    let loc = seg_locate(p, half, mp.min_w, v);
    k = u32(loc.x);
    b.x0 = loc.y;
    b.w = loc.z;
    let yb = seg_bin(p + mp.bins, half, mp.min_h, k);
    b.y0 = yb.x;
    b.h = yb.y;
  }
  b.k = k;
  b.d0 = seg_derivative(p, k, periodic);
  b.d1 = seg_derivative(p, k + 1u, periodic);
  return b;
}

// rq_log_slope (eq. 5).
fn seg_log_slope(b: SegBin, xi: f32) -> f32 {
  let s = b.h / b.w;
  let t = xi * (1.0 - xi);
  let den = s + (b.d1 + b.d0 - 2.0 * s) * t;
  let num = b.d1 * xi * xi + 2.0 * s * t + b.d0 * (1.0 - xi) * (1.0 - xi);
  return log_positive(num) + 2.0 * (log_positive(s) - log_positive(den));
}

// segment_spline_forward: (y, log dy/dx), x clamped into [c − B, c + B].
fn seg_forward(p: u32, center: f32, half: f32, periodic: bool, x: f32) -> vec2f {
  let v = clamp(x - center, -half, half);
  let b = seg_find_bin(p, half, periodic, v, false);
  let xi = clamp((v - b.x0) / b.w, 0.0, 1.0);
  let s = b.h / b.w;
  let t = xi * (1.0 - xi);
  let den = s + (b.d1 + b.d0 - 2.0 * s) * t;
  return vec2f(center + b.y0 + b.h * (s * xi * xi + b.d0 * t) / den, seg_log_slope(b, xi));
}

// segment_spline_inverse: (x, log dx/dy), the root 2c / (−b − √(b² − 4ac)).
fn seg_inverse(p: u32, center: f32, half: f32, periodic: bool, y: f32) -> vec2f {
  let v = clamp(y - center, -half, half);
  let b = seg_find_bin(p, half, periodic, v, true);
  let s = b.h / b.w;
  let dy = v - b.y0;
  let e = b.d1 + b.d0 - 2.0 * s;
  let qa = b.h * (s - b.d0) + dy * e;
  let qb = b.h * b.d0 - dy * e;
  let qc = -s * dy;
  let disc = max(qb * qb - 4.0 * qa * qc, 0.0);
  let den = -qb - sqrt(disc);
  let xi = clamp(select(0.0, 2.0 * qc / den, den < 0.0), 0.0, 1.0);
  return vec2f(center + b.x0 + xi * b.w, -seg_log_slope(b, xi));
}

// ---- circle.h's mixtures of Möbius transformations / non-compact projections ----
// Parameters: [logits (K) | component parameters (K · width) | φ]; width 2 (Möbius) or 1 (NCP).

fn mix_width() -> u32 { return select(1u, 2u, mp.circle_kind == 1u); }

// Component k's parameters at mf_ep[q ..] (circle.wgsl).
fn mix_component(q: u32) -> CircleComponent {
  if (mp.circle_kind == 2u) { return ncp_component(mf_ep[q], mp.min_alpha); }
  return moebius_component(mf_ep[q], mf_ep[q + 1u]);
}

// (max, Σ exp(u − max)) of the K mixture logits (MixtureWeights).
fn mix_stats(p: u32) -> vec2f {
  var mx = mf_ep[p];
  for (var j = 1u; j < mp.components; j++) { mx = max(mx, mf_ep[p + j]); }
  var sum = 0.0;
  for (var j = 0u; j < mp.components; j++) { sum += exp(mf_ep[p + j] - mx); }
  return vec2f(mx, sum);
}

// circle_mixture_eval: (f(θ), f'(θ)), θ in [0, 2π].
fn mix_eval(p: u32, theta: f32) -> vec2f {
  let st = mix_stats(p);
  let w = mix_width();
  var f = 0.0;
  var df = 0.0;
  for (var k = 0u; k < mp.components; k++) {
    let c = mix_component(p + mp.components + k * w);
    let rho = exp(mf_ep[p + k] - st.x) / st.y;
    f += rho * circle_component_value(c, theta);
    df += rho * circle_component_slope(c, theta);
  }
  return vec2f(f, df);
}

fn mix_phi(p: u32) -> f32 { return mf_ep[p + mp.components * (1u + mix_width())]; }

fn mix_forward(p: u32, x: f32) -> vec2f {
  let e = mix_eval(p, wrap_angle(x));
  return vec2f(wrap_angle(e.x + mix_phi(p)), log_positive(e.y));
}

// circle_mixture_inverse: Newton on f(θ) = wrap(y − φ) from the ρ-weighted mean of the
// components' inverses, safeguarded by the bracket [lo, hi] (a step leaving it bisects). The
// stopping tolerance is 2ε·2π in f32, as the header's in its scalar type.
fn mix_inverse(p: u32, y: f32) -> vec2f {
  let goal = wrap_angle(y - mix_phi(p));
  let tol = 2.0 * MF_EPSILON * TWO_PI;
  let st = mix_stats(p);
  let w = mix_width();
  var theta = 0.0;
  for (var k = 0u; k < mp.components; k++) {
    let rho = exp(mf_ep[p + k] - st.x) / st.y;
    theta += rho * circle_component_inverse(mix_component(p + mp.components + k * w), goal);
  }
  if (!(theta > 0.0 && theta < TWO_PI)) { theta = goal; }
  var lo = 0.0;
  var hi: f32 = TWO_PI;
  for (var it = 0; it < 200; it++) {
    let e = mix_eval(p, theta);
    let r = e.x - goal;
    if (r == 0.0) { break; }
    if (r > 0.0) { hi = theta; } else { lo = theta; }
    var next = theta - r / e.y;
    if (!(next > lo && next < hi)) { next = 0.5 * (lo + hi); }
    let step = next - theta;
    theta = next;
    if (abs(step) <= tol || hi - lo <= tol) { break; }
  }
  theta = wrap_angle(theta);
  return vec2f(theta, -log_positive(mix_eval(p, theta).y));
}

// ---- flow.h's elem_forward / elem_inverse: (y, log|dy/dx|) and (x, log|dx/dy|) ----

fn elem_forward(p: u32, x: f32) -> vec2f {
  if (mp.interval == 1u) { return seg_forward(p, 0.0, 1.0, false, x); }
  if (mp.circle_kind != 0u) { return mix_forward(p, x); }
  let f = seg_forward(p, PI, PI, true, wrap_angle(x));
  return vec2f(wrap_angle(f.x + mf_ep[p + 3u * mp.bins]), f.y);
}

fn elem_inverse(p: u32, y: f32) -> vec2f {
  if (mp.interval == 1u) { return seg_inverse(p, 0.0, 1.0, false, y); }
  if (mp.circle_kind != 0u) { return mix_inverse(p, y); }
  let t = seg_inverse(p, PI, PI, true, wrap_angle(y - mf_ep[p + 3u * mp.bins]));
  return vec2f(wrap_angle(t.x), t.y);
}

// ---- points and states ----

// flow_point_to_state: angles wrapped; on Sᴰ z_k = x_k / |(x_0..x_k)| and φ = atan2(x_1, x_0).
fn mf_point_to_state(x: array<f32, 17>, o: u32) {
  if (mp.space == 0u) {
    for (var d = 0u; d < mp.dim; d++) { mf_state[o + d] = wrap_angle(x[d]); }
    return;
  }
  var n2 = x[0] * x[0] + x[1] * x[1];
  for (var k = 2u; k <= mp.dim; k++) {
    n2 += x[k] * x[k];
    let z = select(0.0, x[k] / sqrt(n2), n2 > 0.0);
    mf_state[o + mp.dim - k] = clamp(z, -1.0, 1.0);
  }
  mf_state[o + mp.dim - 1u] = wrap_angle(atan2_f32(x[1], x[0]));
}

// flow_base_draw: row r's state from Philox blocks (first_row + r)·C on of (key, stream):
// uniform angles and heights, or on Sᴰ (D ≥ 3) a normalised standard normal vector; then
// mf_acc = log A(c₀).
@compute @workgroup_size(workgroup_size)
fn mf_base(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  var rng = PhiloxStream(mp.key, mp.stream, (mp.first_row + r) * mp.coords, vec4u(), 4u, false, 0.0);
  let o = r * mp.coords;
  if (mp.space == 1u && mp.dim >= 3u) {
    var g: array<f32, 17>;
    for (var i = 0u; i <= mp.dim; i++) { g[i] = sample_std_normal(&rng); }
    mf_point_to_state(g, o);
  } else {
    for (var c = 0u; c < mp.coords; c++) {
      let w = stream_uniform_words(&rng);
      let u = u64_to_open01_f32(w.x, w.y);
      mf_state[o + c] = select(2.0 * u - 1.0, TWO_PI * u, mf_is_angle(c));
    }
  }
  mf_acc[r] = mf_log_area(o);
}

// Points [n, W] in mf_io to states; mf_acc = −log A(c).
@compute @workgroup_size(workgroup_size)
fn mf_points(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  var x: array<f32, 17>;
  for (var d = 0u; d < mp.out_width; d++) { x[d] = mf_io[r * mp.out_width + d]; }
  let o = r * mp.coords;
  mf_point_to_state(x, o);
  mf_acc[r] = -mf_log_area(o);
}

// layer_conditioner's features into mf_io [n, F]: cos θ, sin θ per conditioning angle, z per height.
@compute @workgroup_size(workgroup_size)
fn mf_features(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  var j = r * mp.feat_width;
  for (var k = 0u; k < mp.n_cond; k++) {
    let c = mf_nibble(mp.cond, k);
    let v = mf_state[r * mp.coords + c];
    if (mf_is_angle(c)) {
      let sc = sincos_angle(v);
      mf_io[j] = sc.y;
      mf_io[j + 1u] = sc.x;
      j += 2u;
    } else {
      mf_io[j] = v;
      j += 1u;
    }
  }
}

// One layer of flow_forward on the active coordinates (in place); mf_acc −= log|dy/dx|.
@compute @workgroup_size(workgroup_size)
fn mf_forward(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  var total = 0.0;
  for (var j = 0u; j < mp.n_active; j++) {
    let i = r * mp.coords + mf_nibble(mp.active_idx, j);
    let yl = elem_forward(mp.ep_base + r * mp.ep_stride + j * mp.per_element, mf_state[i]);
    mf_state[i] = yl.x;
    total += yl.y;
  }
  mf_acc[r] -= total;
}

// One layer of flow_inverse on the active coordinates (in place); mf_acc += log|dx/dy|.
@compute @workgroup_size(workgroup_size)
fn mf_inverse(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  var total = 0.0;
  for (var j = 0u; j < mp.n_active; j++) {
    let i = r * mp.coords + mf_nibble(mp.active_idx, j);
    let xl = elem_inverse(mp.ep_base + r * mp.ep_stride + j * mp.per_element, mf_state[i]);
    mf_state[i] = xl.x;
    total += xl.y;
  }
  mf_acc[r] += total;
}

// flow_log_density, and in sampling mode flow_state_to_point into mf_io [n, W]:
// x_k = P_{k+1} z_k, (x_0, x_1) = P_2 (cos φ, sin φ), P_k = Π_{j≥k} √(1 − z_j²).
@compute @workgroup_size(workgroup_size)
fn mf_finish(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let o = r * mp.coords;
  if (mp.mode == 1u) {
    mf_acc[r] = mp.base_log_density + mf_acc[r] + mf_log_area(o);
    return;
  }
  mf_acc[r] = mp.base_log_density + mf_acc[r] - mf_log_area(o);
  let out = r * mp.out_width;
  if (mp.space == 0u) {
    for (var d = 0u; d < mp.dim; d++) { mf_io[out + d] = mf_state[o + d]; }
    return;
  }
  var prod = 1.0;
  for (var k = mp.dim; k >= 2u; k--) {
    let z = mf_state[o + mp.dim - k];
    mf_io[out + k] = prod * z;
    prod *= sqrt(max((1.0 - z) * (1.0 + z), 0.0));
  }
  let sc = sincos_angle(mf_state[o + mp.dim - 1u]);
  mf_io[out] = prod * sc.y;
  mf_io[out + 1u] = prod * sc.x;
}
