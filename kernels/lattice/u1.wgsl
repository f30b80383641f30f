// The WGSL mirror of kernels/lattice/u1.h, batched: one workgroup per configuration θ [2V]
// (θ_μ(x₀, x₁) at μ·V + x₀·L + x₁), its invocations striding over the sites.
//   P(x) = θ₀(x) + θ₁(x + ê₀) − θ₀(x + ê₁) − θ₁(x)                              (u1_plaquettes)
//   S = −β Σ_x cos P(x),  ∂S/∂θ₀(x) = β [sin P(x) − sin P(x − ê₁)],
//                         ∂S/∂θ₁(x) = β [sin P(x − ê₀) − sin P(x)]                (u1_action_grad)
//   Q = round((1/2π) Σ_x wrap(P(x))), wrap into [−π, π)                          (u1_topological_charge)
// In f32, with common/angle.wgsl's sin, cos and wrap (not WGSL's built-ins, guaranteed only to 2^-11).
// Sums over x are trees of f32 partial sums (config_sum.wgsl).
// #include "../common/angle.wgsl"
// #include "config_sum.wgsl"

struct U1Params {
  n: u32,       // configurations in this launch (one workgroup each)
  L: u32,
  beta: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> up: U1Params;
@group(0) @binding(1) var<storage, read> u1_theta: array<f32>;          // [n, 2V]
@group(0) @binding(2) var<storage, read_write> u1_s: array<f32>;        // [n]
@group(0) @binding(3) var<storage, read_write> u1_grad: array<f32>;     // [n, 2V]
@group(0) @binding(4) var<storage, read_write> u1_q: array<f32>;        // [n]

// P at site (x0, x1) of the configuration starting at `base`.
fn u1_plaquette(base: u32, L: u32, x0: u32, x1: u32) -> f32 {
  let V = L * L;
  let x0n = select(x0 + 1u, 0u, x0 + 1u == L);
  let x1n = select(x1 + 1u, 0u, x1 + 1u == L);
  return u1_theta[base + x0 * L + x1] + u1_theta[base + V + x0n * L + x1] - u1_theta[base + x0 * L + x1n] - u1_theta[base + V + x0 * L + x1];
}

// Reduces the invocations' −Σ cos P and Σ wrap(P) and stores configuration b's S and Q.
fn u1_store_action_charge(b: u32, lid: u32, cos_sum: f32, wrap_sum: f32) {
  let s = config_sum(lid, cos_sum);
  let w = config_sum(lid, wrap_sum);
  if (lid == 0u) {
    u1_s[b] = up.beta * s;
    u1_q[b] = round(w / TWO_PI);  // may be −0: the host adds +0 (a +0.0 here can be folded away)
  }
}

// S, ∂S/∂θ and Q of every configuration.
@compute @workgroup_size(CONFIG_WG)
fn u1_action_grad_charge(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.x;
  let L = up.L;
  let V = L * L;
  let base = 2u * V * b;
  var cos_sum = 0.0;
  var wrap_sum = 0.0;
  for (var i = lid.x; i < V; i += CONFIG_WG) {
    let x0 = i / L;
    let x1 = i % L;
    let x0p = select(x0 - 1u, L - 1u, x0 == 0u);
    let x1p = select(x1 - 1u, L - 1u, x1 == 0u);
    let p = u1_plaquette(base, L, x0, x1);
    let here = sincos_angle(p);
    cos_sum -= here.y;
    wrap_sum += wrap_pi(p);
    u1_grad[base + i] = up.beta * (here.x - sincos_angle(u1_plaquette(base, L, x0, x1p)).x);
    u1_grad[base + V + i] = up.beta * (sincos_angle(u1_plaquette(base, L, x0p, x1)).x - here.x);
  }
  u1_store_action_charge(b, lid.x, cos_sum, wrap_sum);
}

// S and Q of every configuration (no gradient): what the flow sampler records.
@compute @workgroup_size(CONFIG_WG)
fn u1_observables(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.x;
  let L = up.L;
  let V = L * L;
  let base = 2u * V * b;
  var cos_sum = 0.0;
  var wrap_sum = 0.0;
  for (var i = lid.x; i < V; i += CONFIG_WG) {
    let p = u1_plaquette(base, L, i / L, i % L);
    cos_sum -= sincos_angle(p).y;
    wrap_sum += wrap_pi(p);
  }
  u1_store_action_charge(b, lid.x, cos_sum, wrap_sum);
}
