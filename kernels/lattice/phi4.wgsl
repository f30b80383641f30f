// The WGSL mirror of kernels/lattice/phi4.h, batched: one workgroup per configuration φ [L·L]
// (site (x₀, x₁) at x₀·L + x₁), its invocations striding over the sites.
//   S(φ) = Σ_x [ (4 + m²) φ_x² + λ φ_x⁴ − 2 φ_x (φ_{x+ê₀} + φ_{x+ê₁}) ]        (phi4_action)
//   ∂S/∂φ_x = 2 (4 + m²) φ_x + 4 λ φ_x³ − 2 Σ_μ (φ_{x+μ} + φ_{x−μ})            (phi4_action_grad)
//   M = Σ_x φ_x                                                              (phi4_magnetization)
// The per-site terms and the gradient are the header's expressions in f32; the sums over x are
// trees of f32 partial sums (config_sum.wgsl) where the CPU adds in site order in double.
// #include "config_sum.wgsl"

struct Phi4Params {
  n: u32,       // configurations in this launch (one workgroup each)
  L: u32,
  m2: f32,
  lambda: f32,
}

@group(0) @binding(0) var<uniform> pp: Phi4Params;
@group(0) @binding(1) var<storage, read> phi4_phi: array<f32>;          // [n, V]
@group(0) @binding(2) var<storage, read_write> phi4_s: array<f32>;      // [n]
@group(0) @binding(3) var<storage, read_write> phi4_grad: array<f32>;   // [n, V]
@group(0) @binding(4) var<storage, read_write> phi4_m: array<f32>;      // [n]

// Site x's term of S: (4 + m²) φ² + λ φ⁴ − 2 φ Σ_μ φ(x + μ̂), with `forward` = Σ_μ φ(x + μ̂).
fn phi4_site_action(f: f32, forward: f32, diag: f32) -> f32 {
  let f2 = f * f;
  return diag * f2 + pp.lambda * f2 * f2 - 2.0 * f * forward;
}

// S and ∂S/∂φ of every configuration (phi4_action_grad).
@compute @workgroup_size(CONFIG_WG)
fn phi4_action_grad(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.x;
  let L = pp.L;
  let V = L * L;
  let base = b * V;
  let diag = 4.0 + pp.m2;
  var s = 0.0;
  for (var i = lid.x; i < V; i += CONFIG_WG) {
    let x0 = i / L;
    let x1 = i % L;
    let x0n = select(x0 + 1u, 0u, x0 + 1u == L);
    let x1n = select(x1 + 1u, 0u, x1 + 1u == L);
    let x0p = select(x0 - 1u, L - 1u, x0 == 0u);
    let x1p = select(x1 - 1u, L - 1u, x1 == 0u);
    let f = phi4_phi[base + i];
    let f2 = f * f;
    let up = phi4_phi[base + x0n * L + x1] + phi4_phi[base + x0 * L + x1n];
    let down = phi4_phi[base + x0p * L + x1] + phi4_phi[base + x0 * L + x1p];
    s += phi4_site_action(f, up, diag);
    phi4_grad[base + i] = 2.0 * diag * f + 4.0 * pp.lambda * f2 * f - 2.0 * (up + down);
  }
  let total = config_sum(lid.x, s);
  if (lid.x == 0u) { phi4_s[b] = total; }
}

// S (phi4_action) and M (phi4_magnetization) of every configuration: what the flow sampler records.
@compute @workgroup_size(CONFIG_WG)
fn phi4_observables(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.x;
  let L = pp.L;
  let V = L * L;
  let base = b * V;
  let diag = 4.0 + pp.m2;
  var s = 0.0;
  var m = 0.0;
  for (var i = lid.x; i < V; i += CONFIG_WG) {
    let x0 = i / L;
    let x1 = i % L;
    let x0n = select(x0 + 1u, 0u, x0 + 1u == L);
    let x1n = select(x1 + 1u, 0u, x1 + 1u == L);
    let f = phi4_phi[base + i];
    s += phi4_site_action(f, phi4_phi[base + x0n * L + x1] + phi4_phi[base + x0 * L + x1n], diag);
    m += f;
  }
  let total_s = config_sum(lid.x, s);
  let total_m = config_sum(lid.x, m);
  if (lid.x == 0u) {
    phi4_s[b] = total_s;
    phi4_m[b] = total_m;
  }
}
