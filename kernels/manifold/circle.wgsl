// The WGSL mirror (f32) of kernels/manifold/circle.h's half-angle map and mixture components, one
// definition for the manifold flows (manifold_flow.wgsl) and the U(1) gauge flow
// (lattice/gauge_flow.wgsl); the mixtures over them read their parameters where each kernel
// keeps them. The math is in circle.h's header comment:
//   half_angle_lift:  T̃_α(u) = 2 atan2(α sin(v/2), cos(v/2)) + 2πn, v = u − 2πn in [−π, π);
//   NCP component:    g(θ) = T̃_α(θ), α = m_α + softplus(u);
//   Möbius component: g(θ) = T̃_α(θ − ψ) − T̃_α(−ψ), ω = 0.99 u/(1 + |u|) = r e^{iψ},
//                     α = (1 + r)/(1 − r), g'(θ) = (1 − |ω|²)/|e^{iθ} − ω|².
// Rezende et al., arXiv:2002.02428; Kanwar et al., arXiv:2003.06413.
// #include "../common/angle.wgsl"
// #include "../common/logistic.wgsl"

const MOEBIUS_RADIUS: f32 = 0.99;  // circle.h kMoebiusRadius

// vecmath.h's softplus: log(1 + e^u) without overflow.
fn softplus_f32(u: f32) -> f32 {
  return max(u, 0.0) + log_positive(1.0 + exp(-abs(u)));
}

fn half_angle_lift(alpha: f32, u: f32) -> f32 {
  let n = floor((u + PI) / TWO_PI);
  let sc = sincos_angle(0.5 * minus_turns(u, n));
  return 2.0 * atan2_f32(alpha * sc.x, sc.y) + n * TWO_PI;
}

// circle.h's NcpComponent or MoebiusComponent from its unconstrained parameters
// (NCP: ψ = 0, ω unused).
struct CircleComponent {
  moebius: bool,
  alpha: f32,
  psi: f32,
  wx: f32,
  wy: f32,
  one_m_r2: f32,  // 1 − |ω|²
}

fn ncp_component(u: f32, min_alpha: f32) -> CircleComponent {
  var c: CircleComponent;
  c.alpha = min_alpha + softplus_f32(u);
  return c;
}

fn moebius_component(ux: f32, uy: f32) -> CircleComponent {
  var c: CircleComponent;
  c.moebius = true;
  let n = sqrt(ux * ux + uy * uy);
  let scale = MOEBIUS_RADIUS / (1.0 + n);
  c.wx = scale * ux;
  c.wy = scale * uy;
  let r = scale * n;
  c.one_m_r2 = (1.0 - r) * (1.0 + r);
  c.alpha = (1.0 + r) / (1.0 - r);
  c.psi = atan2_f32(c.wy, c.wx);
  return c;
}

// g(θ).
fn circle_component_value(c: CircleComponent, theta: f32) -> f32 {
  if (!c.moebius) { return half_angle_lift(c.alpha, theta); }
  return half_angle_lift(c.alpha, theta - c.psi) - half_angle_lift(c.alpha, -c.psi);
}

// g⁻¹(s): T̃_{1/α}(s), or ψ + T̃_{1/α}(s + T̃_α(−ψ)).
fn circle_component_inverse(c: CircleComponent, s: f32) -> f32 {
  if (!c.moebius) { return half_angle_lift(1.0 / c.alpha, s); }
  return c.psi + half_angle_lift(1.0 / c.alpha, s + half_angle_lift(c.alpha, -c.psi));
}

// g'(θ): α / (cos²(θ/2) + α² sin²(θ/2)), or (1 − |ω|²)/|e^{iθ} − ω|².
fn circle_component_slope(c: CircleComponent, theta: f32) -> f32 {
  if (!c.moebius) {
    let sc = sincos_angle(0.5 * theta);
    return c.alpha / (sc.y * sc.y + c.alpha * c.alpha * sc.x * sc.x);
  }
  let sc = sincos_angle(theta);
  let ax = sc.y - c.wx;
  let ay = sc.x - c.wy;
  return c.one_m_r2 / (ax * ax + ay * ay);
}

// The partials of a component (circle.h NcpComponent::partials, MoebiusComponent::partials) at θ
// from its unconstrained parameters (ux; or ux, uy for Möbius): d g'/dθ, d g/du and d g'/du
// (the second entry is 0 for NCP). Möbius gradients in Cartesian ω chained through
// ∂ω_i/∂u_j = 0.99/(1 + |u|) (δ_ij − e_i e_j |u|/(1 + |u|)), e = u/|u|.
struct ComponentPartials {
  dslope_dtheta: f32,
  dvalue_du: vec2f,
  dslope_du: vec2f,
}

fn circle_component_partials(c: CircleComponent, ux: f32, uy: f32, theta: f32) -> ComponentPartials {
  var r: ComponentPartials;
  if (!c.moebius) {
    let sc = sincos_angle(0.5 * theta);
    let d = sc.y * sc.y + c.alpha * c.alpha * sc.x * sc.x;
    let slope = c.alpha / d;
    let dalpha_du = logistic_f32(ux);
    r.dslope_dtheta = -slope * (c.alpha * c.alpha - 1.0) * sc.x * sc.y / d;
    r.dvalue_du = vec2f(2.0 * sc.x * sc.y / d * dalpha_du, 0.0);
    r.dslope_du = vec2f((1.0 / d - 2.0 * c.alpha * c.alpha * sc.x * sc.x / (d * d)) * dalpha_du, 0.0);
    return r;
  }
  let n = sqrt(ux * ux + uy * uy);
  let scale = MOEBIUS_RADIUS / (1.0 + n);
  let ex = select(0.0, ux / n, n > 0.0);
  let ey = select(0.0, uy / n, n > 0.0);
  let t = n / (1.0 + n);
  let j00 = scale * (1.0 - ex * ex * t);
  let j01 = -scale * ex * ey * t;
  let j11 = scale * (1.0 - ey * ey * t);
  let z = sincos_angle(theta);  // (sin θ, cos θ)
  let ax = z.y - c.wx;
  let ay = z.x - c.wy;
  let n2 = ax * ax + ay * ay;
  let bx = 1.0 - c.wx;
  let n20 = bx * bx + c.wy * c.wy;  // |1 − ω|², at θ = 0
  let slope = c.one_m_r2 / n2;
  r.dslope_dtheta = slope * 2.0 * (c.wy * z.y - c.wx * z.x) / n2;
  let dv_dwx = 2.0 * ay / n2 + 2.0 * c.wy / n20;
  let dv_dwy = -2.0 * ax / n2 + 2.0 * bx / n20;
  let ds_dwx = slope * (-2.0 * c.wx / c.one_m_r2 + 2.0 * ax / n2);
  let ds_dwy = slope * (-2.0 * c.wy / c.one_m_r2 + 2.0 * ay / n2);
  r.dvalue_du = vec2f(dv_dwx * j00 + dv_dwy * j01, dv_dwx * j01 + dv_dwy * j11);
  r.dslope_du = vec2f(ds_dwx * j00 + ds_dwy * j01, ds_dwx * j01 + ds_dwy * j11);
  return r;
}
