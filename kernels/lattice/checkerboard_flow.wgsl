// The WGSL mirror of kernels/lattice/checkerboard_flow.h's forward pass (checkerboard_flow_forward)
// with the sampler's base draws (native/lattice_flow.cc, Phi4FlowModel::Draw), batched over
// configurations [n, V]. src/backend/lattice_webgpu.ts records one layer as
//   cbf_mask (the net input m·x) → conv2d_circular.wgsl × (depth + 1) (LeakyReLU, …, tanh) → cbf_couple
// and the sample as cbf_base, the layers in order, cbf_log_q. The inverse pass
// (checkerboard_flow_inverse: cbf_inverse_start, the layers in reverse with cbf_couple and
// cbf_log_q in their inverse mode) serves op lattice.phi4_flow_log_prob (from given φ) and the symmetrised
// proposal (from −φ, then cbf_symmetric_log_q and cbf_flip).
// log q is kept per site until the end: ld[x] = log N(z_x; 0, 1) − Σ_l (1 − m_x) s_x^(l), summed
// over x by cbf_log_q (a tree of f32 partial sums; the CPU adds in order in double).
// #include "../random/samplers.wgsl"
// #include "config_sum.wgsl"

override workgroup_size: u32 = 64u;

struct CbfParams {
  n: u32,       // configurations in this launch
  L: u32,
  layer: u32,   // cbf_mask, cbf_couple: the coupling layer l
  inverse: u32,   // cbf_couple, cbf_log_q: 1 in the inverse pass
  key: vec2u,   // cbf_base: the seed
  stream: vec2u,  // cbf_base: configuration b draws from Philox stream `stream` + b
  reflect: u32,   // cbf_inverse_start: 1 starts the inverse pass from −x, 0 from x
  _pad: u32,
}

@group(0) @binding(0) var<uniform> cf: CbfParams;
@group(0) @binding(1) var<storage, read_write> cbf_x: array<f32>;     // [n, V]: z, then each layer's output
@group(0) @binding(2) var<storage, read_write> cbf_ld: array<f32>;    // [n, V]: per-site log q terms
@group(0) @binding(3) var<storage, read_write> cbf_in: array<f32>;    // [n, V]: the net input m·x
@group(0) @binding(4) var<storage, read> cbf_st: array<f32>;          // [n, 2, V]: s and t after tanh
@group(0) @binding(5) var<storage, read_write> cbf_log_q_out: array<f32>;  // [n]

// Whether site (x0, x1) is frozen in layer l (cbf_frozen).
fn cbf_frozen(layer: u32, x0: u32, x1: u32) -> bool {
  return ((x0 + x1 + layer) & 1u) == 1u;
}

// z [V] of configuration b: sample_std_normal_fill of V + (V & 1) normals from a fresh stream,
// whose pair p takes words 3p .. 3p + 2, so blocks 3g .. 3g + 2 hold pairs 4g .. 4g + 3
// (sampler_fill.wgsl's normal_fill). One invocation per (configuration, g); ld starts as log N(z; 0, 1).
@compute @workgroup_size(workgroup_size)
fn cbf_base(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let V = cf.L * cf.L;
  let groups = (V + 7u) / 8u;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * groups) { return; }
  let b = idx / groups;
  let g = idx % groups;
  let stream = philox_stream_add(cf.stream, b);
  let w0 = philox_stream_block(cf.key, stream, 3u * g);
  let w1 = philox_stream_block(cf.key, stream, 3u * g + 1u);
  let w2 = philox_stream_block(cf.key, stream, 3u * g + 2u);
  let z = array<vec2f, 4>(
    std_normal_pair_words(w0.x, w0.y, w0.z),
    std_normal_pair_words(w0.w, w1.x, w1.y),
    std_normal_pair_words(w1.z, w1.w, w2.x),
    std_normal_pair_words(w2.y, w2.z, w2.w));
  for (var p = 0u; p < 4u; p++) {
    let k = 8u * g + 2u * p;
    if (k < V) {
      cbf_x[b * V + k] = z[p].x;
      cbf_ld[b * V + k] = -0.5 * z[p].x * z[p].x - LOG_SQRT_TWO_PI;
    }
    if (k + 1u < V) {
      cbf_x[b * V + k + 1u] = z[p].y;
      cbf_ld[b * V + k + 1u] = -0.5 * z[p].y * z[p].y - LOG_SQRT_TWO_PI;
    }
  }
}

// The net input of layer l: m·x, the active sites zeroed (cbf_net_forward).
@compute @workgroup_size(workgroup_size)
fn cbf_mask(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let V = cf.L * cf.L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * V) { return; }
  let i = idx % V;
  cbf_in[idx] = select(0.0, cbf_x[idx], cbf_frozen(cf.layer, i / cf.L, i % cf.L));
}

// One coupling layer in place at the active sites, ld −= s: y = x·e^s + t (checkerboard_flow_forward;
// the frozen sites stay) or, in the inverse pass, x = (y − t)·e^{−s} (checkerboard_flow_inverse).
@compute @workgroup_size(workgroup_size)
fn cbf_couple(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let V = cf.L * cf.L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * V) { return; }
  let i = idx % V;
  if (cbf_frozen(cf.layer, i / cf.L, i % cf.L)) { return; }
  let b = idx / V;
  let s = cbf_st[2u * V * b + i];
  let t = cbf_st[2u * V * b + V + i];
  if (cf.inverse == 1u) {
    cbf_x[idx] = (cbf_x[idx] - t) * exp(-s);
  } else {
    cbf_x[idx] = cbf_x[idx] * exp(s) + t;
  }
  cbf_ld[idx] = cbf_ld[idx] - s;
}

// log q of each configuration: Σ_x ld[x], which the forward pass started at log N(z_x; 0, 1); the
// inverse pass adds log N(z_x; 0, 1) of its result z (cbf_x) here. One workgroup per configuration.
@compute @workgroup_size(CONFIG_WG)
fn cbf_log_q(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.x;
  let V = cf.L * cf.L;
  var s = 0.0;
  for (var i = lid.x; i < V; i += CONFIG_WG) {
    if (cf.inverse == 1u) {
      let z = cbf_x[b * V + i];
      s += cbf_ld[b * V + i] - 0.5 * z * z - LOG_SQRT_TWO_PI;
    } else {
      s += cbf_ld[b * V + i];
    }
  }
  let total = config_sum(lid.x, s);
  if (lid.x == 0u) { cbf_log_q_out[b] = total; }
}

// The inverse pass z = f⁻¹(y) (checkerboard_flow_inverse) runs on cbf_y: y = x (log q of given
// configurations) or y = −x (the symmetrised proposal q_s(φ) = ½(q(φ) + q(−φ)) of
// native/lattice_flow.cc's `symmetric`: log q(−φ); the draw is flipped to −φ when the uniform
// from block 2^63 of its stream is below ½).
@group(0) @binding(6) var<storage, read> cbf_log_q_other: array<f32>;  // [n]: log q(−φ)
@group(0) @binding(7) var<storage, read_write> cbf_y: array<f32>;      // [n, V]: ±x, then z = f⁻¹(±x)

// y = x, or −x with `reflect`; the inverse pass's ld starts at 0.
@compute @workgroup_size(workgroup_size)
fn cbf_inverse_start(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * cf.L * cf.L) { return; }
  cbf_y[idx] = select(cbf_x[idx], -cbf_x[idx], cf.reflect == 1u);
  cbf_ld[idx] = 0.0;
}

// log q_s = log ½(e^a + e^r) = max(a, r) + log(1 + e^{−|a − r|}) − log 2, a = log q(φ), r = log q(−φ).
@compute @workgroup_size(workgroup_size)
fn cbf_symmetric_log_q(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = flat_index(gid, nwg, workgroup_size);
  if (b >= cf.n) { return; }
  let a = cbf_log_q_out[b];
  let r = cbf_log_q_other[b];
  cbf_log_q_out[b] = max(a, r) + log_positive(1.0 + exp(-abs(a - r))) - 0.6931471805599453;
}

// φ → −φ where uniform() of block 2^63 of the draw's stream is below ½: u = (v + ½)·2^-53 with
// v = w₀·2^21 + (w₁ >> 11) is below ½ exactly when w₀ < 2^31 (an integer test, as on the CPU).
@compute @workgroup_size(workgroup_size)
fn cbf_flip(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let V = cf.L * cf.L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * V) { return; }
  let stream = philox_stream_add(cf.stream, idx / V);
  let w = philox4x32_10(vec4u(0u, 0x80000000u, stream.x, stream.y), cf.key);
  if (w.x < 0x80000000u) { cbf_x[idx] = -cbf_x[idx]; }
}

// ---- the reverse-KL training step (native/lattice_flow.cc's ReverseKl with checkerboard_flow_backward) ----
// src/backend/lattice_train_webgpu.ts keeps every layer's input x_l (cbf_copy before cbf_couple
// updates x_{l+1} in place), the nets' hidden outputs and s, t; then from gy = ∂S/∂φ and
// ∂ℓ/∂ log q = 1 per configuration (the batch mean's 1/n is applied to the parameter gradient)
// it runs the layers in reverse: cbf_couple_backward, cbf_mask (the net input m·x_l again), the
// convs' backward (conv2d_circular.wgsl), cbf_add_frozen.

@group(0) @binding(8) var<storage, read_write> cbf_gy: array<f32>;    // [n, V]: ∂ℓ/∂(layer output), then ∂ℓ/∂(layer input)
@group(0) @binding(9) var<storage, read_write> cbf_gst: array<f32>;   // [n, 2, V]: ∂ℓ/∂(s, t) before tanh
@group(0) @binding(10) var<storage, read> cbf_g_in: array<f32>;       // [n, V]: ∂ℓ/∂(net input)

// y = x: the tape keeps the layer's input.
@compute @workgroup_size(workgroup_size)
fn cbf_copy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * cf.L * cf.L) { return; }
  cbf_y[idx] = cbf_x[idx];
}

// Through y = m·x + (1 − m)(x e^s + t) and the tanh of the net's output (tanh' = 1 − out²), with
// log q's −s at the active sites (∂ log q/∂s = −1): at an active site
//   ∂ℓ/∂s = (gy·x·e^s − 1)(1 − s²),  ∂ℓ/∂t = gy (1 − t²),  gy ← gy·e^s;
// frozen sites pass gy unchanged and give 0 to s and t. cbf_x holds the layer's input x_l.
@compute @workgroup_size(workgroup_size)
fn cbf_couple_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let V = cf.L * cf.L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * V) { return; }
  let i = idx % V;
  let b = idx / V;
  let si = 2u * V * b + i;
  if (cbf_frozen(cf.layer, i / cf.L, i % cf.L)) {
    cbf_gst[si] = 0.0;
    cbf_gst[si + V] = 0.0;
    return;
  }
  let s = cbf_st[si];
  let t = cbf_st[si + V];
  let es = exp(s);
  let gy = cbf_gy[idx];
  cbf_gst[si] = (gy * cbf_x[idx] * es - 1.0) * (1.0 - s * s);
  cbf_gst[si + V] = gy * (1.0 - t * t);
  cbf_gy[idx] = gy * es;
}

// The net saw m·x: the frozen sites receive its input gradient.
@compute @workgroup_size(workgroup_size)
fn cbf_add_frozen(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let V = cf.L * cf.L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cf.n * V) { return; }
  let i = idx % V;
  if (cbf_frozen(cf.layer, i / cf.L, i % cf.L)) { cbf_gy[idx] = cbf_gy[idx] + cbf_g_in[idx]; }
}
