// The WGSL mirror of kernels/lattice/gauge_flow.h's forward pass (gauge_flow_forward) with the
// sampler's base draws (native/lattice_flow.cc, U1FlowModel::Draw: Haar-uniform links), batched
// over configurations θ [n, 2V]. src/backend/lattice_webgpu.ts records one layer as
//   gf_net_input (plaquettes; cos P, sin P of the frozen ones) → conv2d_circular.wgsl × (depth + 1)
//   (LeakyReLU, …, none: the NCP mixture's 2K + 1 parameters per plaquette) → gf_couple
// and the sample as gf_base, the layers in order, gf_log_q. The inverse pass (gauge_flow_inverse, op
// lattice.u1_flow_log_prob) runs the layers in reverse with gf_couple_inverse in place of gf_couple
// (ld starts at 0: gf_inverse_start), then gf_log_q. The NCP mixture with its rotation is
// kernels/manifold/circle.h's (circle_mixture_forward with NcpComponent), in f32 with
// manifold/circle.wgsl's component and common/angle.wgsl's sin, cos and wraps. −log f'(P) is kept
// per site and summed at the end: log q = −2V log 2π − Σ_l Σ log f'.
// #include "../manifold/circle.wgsl"
// #include "config_sum.wgsl"

override workgroup_size: u32 = 64u;

struct GfParams {
  n: u32,           // configurations in this launch
  L: u32,           // a multiple of 4
  layer: u32,       // gf_net_input, gf_couple: the coupling layer l
  components: u32,  // K: NCP components (2K + 1 circle parameters per plaquette)
  key: vec2u,       // gf_base: the seed
  stream: vec2u,    // gf_base: configuration b draws from Philox stream `stream` + b
}

@group(0) @binding(0) var<uniform> gp: GfParams;
@group(0) @binding(1) var<storage, read_write> gf_x: array<f32>;     // [n, 2V]: links, updated layer by layer
@group(0) @binding(2) var<storage, read_write> gf_ld: array<f32>;    // [n, V]: −Σ_l log f' per plaquette site
@group(0) @binding(3) var<storage, read_write> gf_plaq: array<f32>;  // [n, V]: the layer's plaquettes
@group(0) @binding(4) var<storage, read_write> gf_in: array<f32>;    // [n, 2, V]: the net input
@group(0) @binding(5) var<storage, read> gf_out: array<f32>;         // [n, 2K + 1, V]: the net output
@group(0) @binding(6) var<storage, read_write> gf_log_q_out: array<f32>;  // [n]

const MIN_ALPHA: f32 = 0.01;  // kGaugeFlowMinAlpha

// μ = l mod 2, off = (l / 2) mod 4; stripe (c − off) mod 4 with c = x₁ for μ = 0, x₀ for μ = 1 (gf_stripe).
fn gf_stripe(layer: u32, x0: u32, x1: u32) -> u32 {
  let c = select(x0, x1, (layer & 1u) == 0u);
  return (c + 4u - ((layer >> 1u) & 3u)) & 3u;
}

// Haar-uniform links 2π·uniform(): link k takes words 2k, 2k + 1, so block j holds links 2j, 2j + 1.
// One invocation per (configuration, block); ld starts at 0.
@compute @workgroup_size(workgroup_size)
fn gf_base(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let V = gp.L * gp.L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * V) { return; }  // V blocks per configuration (2V links)
  let b = idx / V;
  let j = idx % V;
  let w = philox_stream_block(gp.key, philox_stream_add(gp.stream, b), j);
  gf_x[2u * V * b + 2u * j] = TWO_PI * u64_to_open01_f32(w.x, w.y);
  gf_x[2u * V * b + 2u * j + 1u] = TWO_PI * u64_to_open01_f32(w.z, w.w);
  gf_ld[V * b + j] = 0.0;
}

// P(x) = θ₀(x) + θ₁(x + ê₀) − θ₀(x + ê₁) − θ₁(x) and the net input cos P, sin P at the frozen
// plaquettes (stripes 1, 2), 0 elsewhere (gf_net_forward).
@compute @workgroup_size(workgroup_size)
fn gf_net_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = gp.L;
  let V = L * L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * V) { return; }
  let b = idx / V;
  let i = idx % V;
  let x0 = i / L;
  let x1 = i % L;
  let x0n = select(x0 + 1u, 0u, x0 + 1u == L);
  let x1n = select(x1 + 1u, 0u, x1 + 1u == L);
  let t = 2u * V * b;
  let p = gf_x[t + i] + gf_x[t + V + x0n * L + x1] - gf_x[t + x0 * L + x1n] - gf_x[t + V + i];
  gf_plaq[idx] = p;
  let d = gf_stripe(gp.layer, x0, x1);
  let frozen = d == 1u || d == 2u;
  let sc = sincos_angle(p);
  gf_in[2u * V * b + i] = select(0.0, sc.y, frozen);
  gf_in[2u * V * b + V + i] = select(0.0, sc.x, frozen);
}

// The softmax of the site's K mixture logits (channels c, c + V, …): their max and Σ e^{u − max}.
fn gf_mixture_stats(c: u32, K: u32, V: u32) -> vec2f {
  var max_u = gf_out[c];
  for (var k = 1u; k < K; k++) { max_u = max(max_u, gf_out[c + k * V]); }
  var sum_e = 0.0;
  for (var k = 0u; k < K; k++) { sum_e += exp(gf_out[c + k * V] - max_u); }
  return vec2f(max_u, sum_e);
}

// f(θ) = Σ_k ρ_k g_k(θ) and f'(θ) of the site's NCP mixture before its rotation (circle_mixture_eval).
fn gf_mixture_eval(c: u32, K: u32, V: u32, st: vec2f, theta: f32) -> vec2f {
  var f = 0.0;
  var df = 0.0;
  for (var k = 0u; k < K; k++) {
    let rho = exp(gf_out[c + k * V] - st.x) / st.y;
    let ncp = ncp_component(gf_out[c + (K + k) * V], MIN_ALPHA);
    f += rho * circle_component_value(ncp, theta);
    df += rho * circle_component_slope(ncp, theta);
  }
  return vec2f(f, df);
}

// The active plaquettes (stripe 0): P' = wrap(f(P) + φ) by the site's NCP mixture, the active link
// θ_μ(x) ← wrap(θ_μ(x) + σ_μ (P' − P)), σ_0 = +1, σ_1 = −1, and ld −= log f'(P) (gauge_flow_forward).
@compute @workgroup_size(workgroup_size)
fn gf_couple(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = gp.L;
  let V = L * L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * V) { return; }
  let b = idx / V;
  let i = idx % V;
  if (gf_stripe(gp.layer, i / L, i % L) != 0u) { return; }
  let K = gp.components;
  let c = (2u * K + 1u) * V * b + i;  // channel j of this site: c + j·V
  let p = gf_plaq[idx];
  let e = gf_mixture_eval(c, K, V, gf_mixture_stats(c, K, V), wrap_angle(p));  // f(P), f'(P)
  let pn = wrap_angle(e.x + gf_out[c + 2u * K * V]);
  let a = 2u * V * b + (gp.layer & 1u) * V + i;
  let sign = select(-1.0, 1.0, (gp.layer & 1u) == 0u);
  gf_x[a] = wrap_angle(gf_x[a] + sign * (pn - p));
  gf_ld[idx] = gf_ld[idx] - log_positive(e.y);
}

// Starts the inverse pass of given links: ld = 0. One invocation per (configuration, plaquette).
@compute @workgroup_size(workgroup_size)
fn gf_inverse_start(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * gp.L * gp.L) { return; }
  gf_ld[idx] = 0.0;
}

const GF_EPSILON: f32 = 1.1920928955078125e-7;  // f32's machine epsilon

// One layer of gauge_flow_inverse at the active plaquettes: P = f⁻¹(wrap(P' − φ)) by
// circle_mixture_inverse's safeguarded Newton (from the ρ-weighted mean of the components'
// closed-form inverses, bracket [lo, hi], stopping at 2ε·2π in f32), the active link
// θ_μ(x) ← wrap(θ_μ(x) − σ_μ (P' − P)), and ld += −log f'(P). gf_plaq holds P' (gf_net_input of
// the layer's output: the frozen plaquettes, and so the net, are the same on both sides).
@compute @workgroup_size(workgroup_size)
fn gf_couple_inverse(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = gp.L;
  let V = L * L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * V) { return; }
  let b = idx / V;
  let i = idx % V;
  if (gf_stripe(gp.layer, i / L, i % L) != 0u) { return; }
  let K = gp.components;
  let c = (2u * K + 1u) * V * b + i;
  let pn = gf_plaq[idx];
  let goal = wrap_angle(pn - gf_out[c + 2u * K * V]);
  let tol = 2.0 * GF_EPSILON * TWO_PI;
  let st = gf_mixture_stats(c, K, V);
  var theta = 0.0;
  for (var k = 0u; k < K; k++) {
    let rho = exp(gf_out[c + k * V] - st.x) / st.y;
    theta += rho * circle_component_inverse(ncp_component(gf_out[c + (K + k) * V], MIN_ALPHA), goal);
  }
  if (!(theta > 0.0 && theta < TWO_PI)) { theta = goal; }
  var lo = 0.0;
  var hi: f32 = TWO_PI;
  for (var it = 0; it < 200; it++) {
    let e = gf_mixture_eval(c, K, V, st, theta);
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
  let a = 2u * V * b + (gp.layer & 1u) * V + i;
  let sign = select(-1.0, 1.0, (gp.layer & 1u) == 0u);
  gf_x[a] = wrap_angle(gf_x[a] - sign * (pn - theta));
  gf_ld[idx] = gf_ld[idx] - log_positive(gf_mixture_eval(c, K, V, st, theta).y);
}

// log q = −2V log 2π + Σ_x ld[x]. One workgroup per configuration.
@compute @workgroup_size(CONFIG_WG)
fn gf_log_q(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.x;
  let V = gp.L * gp.L;
  var s = 0.0;
  for (var i = lid.x; i < V; i += CONFIG_WG) { s += gf_ld[b * V + i]; }
  let total = config_sum(lid.x, s);
  if (lid.x == 0u) { gf_log_q_out[b] = total - f32(2u * V) * 1.8378770664093453; }  // log 2π
}

// ---- the reverse-KL training step (native/lattice_flow.cc's ReverseKl with gauge_flow_backward) ----
// src/backend/lattice_train_webgpu.ts keeps every layer's input links (gf_copy before gf_couple
// updates the next buffer in place), the nets' hidden outputs and outputs; then from gy = ∂S/∂θ'
// and ∂ℓ/∂ log q = 1 per configuration (the batch mean's 1/n is applied to the parameter
// gradient) it runs the layers in reverse: gf_net_input (the layer's plaquettes and net input
// again), gf_couple_backward, the convs' backward (conv2d_circular.wgsl), gf_add_frozen, gf_scatter.

@group(0) @binding(7) var<storage, read_write> gf_gy: array<f32>;    // [n, 2V]: ∂ℓ/∂(layer output links), then ∂ℓ/∂(input links)
@group(0) @binding(8) var<storage, read_write> gf_gp: array<f32>;    // [n, V]: ∂ℓ/∂P of the layer's plaquettes
@group(0) @binding(9) var<storage, read_write> gf_gnet: array<f32>;  // [n, 2K + 1, V]: ∂ℓ/∂(net output)
@group(0) @binding(10) var<storage, read> gf_g_in: array<f32>;       // [n, 2, V]: ∂ℓ/∂(net input)
@group(0) @binding(11) var<storage, read_write> gf_y: array<f32>;    // [n, 2V]: gf_copy's destination

// y = x: the tape keeps the layer's input links. One invocation per link.
@compute @workgroup_size(workgroup_size)
fn gf_copy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= 2u * gp.n * gp.L * gp.L) { return; }
  gf_y[idx] = gf_x[idx];
}

// At an active plaquette (circle_mixture_backward of the NCP mixture with g_y = σ·gy(active link),
// g_l = ∂ℓ/∂ log f' = −1): with f = Σ ρ_k g_k, mean = g_y f + g_l,
//   ∂ℓ/∂(logit k) = ρ_k (g_y g_k + g_l g_k'/f' − mean),  ∂ℓ/∂u_k = ρ_k (g_y ∂g_k/∂u + g_l ∂g_k'/∂u / f'),
//   ∂ℓ/∂φ = g_y,  ∂ℓ/∂P = g_y f' + g_l f''/f' − g_y (the last term: θ' moves by σ(P' − P));
// elsewhere the net output's gradient and ∂ℓ/∂P start at 0. The active link's gy passes unchanged.
@compute @workgroup_size(workgroup_size)
fn gf_couple_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = gp.L;
  let V = L * L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * V) { return; }
  let b = idx / V;
  let i = idx % V;
  let K = gp.components;
  let c = (2u * K + 1u) * V * b + i;
  if (gf_stripe(gp.layer, i / L, i % L) != 0u) {
    for (var j = 0u; j < 2u * K + 1u; j++) { gf_gnet[c + j * V] = 0.0; }
    gf_gp[idx] = 0.0;
    return;
  }
  let a = 2u * V * b + (gp.layer & 1u) * V + i;
  let sign = select(-1.0, 1.0, (gp.layer & 1u) == 0u);
  let g_y = sign * gf_gy[a];
  let g_l = -1.0;
  let theta = wrap_angle(gf_plaq[idx]);
  let st = gf_mixture_stats(c, K, V);
  let e = gf_mixture_eval(c, K, V, st, theta);
  let mean = g_y * e.x + g_l;
  var d2f = 0.0;
  for (var k = 0u; k < K; k++) {
    let rho = exp(gf_out[c + k * V] - st.x) / st.y;
    let u = gf_out[c + (K + k) * V];
    let ncp = ncp_component(u, MIN_ALPHA);
    let d = circle_component_partials(ncp, u, 0.0, theta);
    d2f += rho * d.dslope_dtheta;
    gf_gnet[c + k * V] = rho * (g_y * circle_component_value(ncp, theta) + g_l * circle_component_slope(ncp, theta) / e.y - mean);
    gf_gnet[c + (K + k) * V] = rho * (g_y * d.dvalue_du.x + g_l * d.dslope_du.x / e.y);
  }
  gf_gnet[c + 2u * K * V] = g_y;
  gf_gp[idx] = g_y * e.y + g_l * d2f / e.y - g_y;
}

// The frozen plaquettes' net input (cos P, sin P) passes its gradient to P.
@compute @workgroup_size(workgroup_size)
fn gf_add_frozen(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = gp.L;
  let V = L * L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * V) { return; }
  let b = idx / V;
  let i = idx % V;
  let d = gf_stripe(gp.layer, i / L, i % L);
  if (d != 1u && d != 2u) { return; }
  let t = 2u * V * b;
  gf_gp[idx] = gf_gp[idx] + gf_g_in[t + V + i] * gf_in[t + i] - gf_g_in[t + i] * gf_in[t + V + i];
}

// P(x) = θ₀(x) + θ₁(x + ê₀) − θ₀(x + ê₁) − θ₁(x), so gy₀(x) += gP(x) − gP(x − ê₁) and
// gy₁(x) += gP(x − ê₀) − gP(x). One invocation per (configuration, site): its two links.
@compute @workgroup_size(workgroup_size)
fn gf_scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = gp.L;
  let V = L * L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= gp.n * V) { return; }
  let b = idx / V;
  let i = idx % V;
  let x0 = i / L;
  let x1 = i % L;
  let x0p = select(x0 - 1u, L - 1u, x0 == 0u);
  let x1p = select(x1 - 1u, L - 1u, x1 == 0u);
  let g = gf_gp[idx];
  let t = 2u * V * b;
  gf_gy[t + i] = gf_gy[t + i] + (g - gf_gp[b * V + x0 * L + x1p]);
  gf_gy[t + V + i] = gf_gy[t + V + i] + (gf_gp[b * V + x0p * L + x1] - g);
}
