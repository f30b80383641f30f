// lotka_volterra in WGSL, mirroring kernels/simulators/lotka_volterra.h: du/dt = αu − βuv,
// dv/dt = −γv + δuv from (30, 1), observed at t_k = 2.1 k (k = 0..9), then
// x_j = LogNormal(log clamp(s_j, 1e-10, 1e4), 0.1) with the CPU's normals (sample_std_normal from
// the start of the row's stream; the solve draws nothing).
// f32 changes how the ODE is best solved. Trajectories dip to 1e-40 and below, under f32's normal
// range, where a linear-space f32 state loses every digit; so the state here is (log u, log v):
//   d log u/dt = α − βv,   d log v/dt = δu − γ,
// the same solution, with pure absolute control on the logs (LV_TOL), which is the CPU's pure
// relative control on (u, v). Dormand–Prince in f32 (kernels/ode/dopri5.wgsl) cannot reach the
// CPU's rtol 5e-9 (f32 rounding accumulates over the steps to ~1e-4 relative); the op table
// states the measured difference.
// #include "sim_row.wgsl"
// #include "../ode/dopri5.wgsl"

const ODE_TIMES = 10u;
const LV_TOL = 1e-6;  // absolute on log u, log v; below it f32 rounding dominates (measured)
const LV_MAX_STEPS = 100000u;
const LV_LOG_CLAMP_LOW = -23.025850929940457;  // log 1e-10
const LV_LOG_CLAMP_HIGH = 9.210340371976184;  // log 1e4

var<private> lv_theta: vec4f;  // (α, β, γ, δ)

fn ode_rhs(t: f32, log_w: vec2f) -> vec2f {
  let w = exp(log_w);  // e^{log u} may underflow to 0 where δu is negligible against γ anyway
  return vec2f(lv_theta.x - lv_theta.y * w.y, lv_theta.w * w.x - lv_theta.z);
}

fn ode_output_time(j: u32) -> f32 {
  return f32(21u * j) / 10.0;
}

@compute @workgroup_size(workgroup_size)
fn lotka_volterra(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  lv_theta = vec4f(theta[4u * i], theta[4u * i + 1u], theta[4u * i + 2u], theta[4u * i + 3u]);
  let status = dopri5_solve(vec2f(log(30.0), 0.0), 0.0, LV_TOL, LV_MAX_STEPS);
  if (status != ODE_SUCCESS) {
    for (var j = 0u; j < 2u * ODE_TIMES; j++) { x[20u * i + j] = sampler_nan(); }
    return;
  }
  var r = row_stream(i);
  // s = (u(t_0..t_9), v(t_0..t_9)), clamped in log space; x = c·e^{0.1 z}, the same value as
  // e^{log c + 0.1 z} without the large argument's exp error
  for (var j = 0u; j < 2u * ODE_TIMES; j++) {
    var log_s: f32;
    if (j < ODE_TIMES) {
      log_s = ode_solution[j].x;
    } else {
      log_s = ode_solution[j - ODE_TIMES].y;
    }
    let c = exp(clamp(log_s, LV_LOG_CLAMP_LOW, LV_LOG_CLAMP_HIGH));
    x[20u * i + j] = c * exp(0.1 * sample_std_normal(&r));
  }
}
