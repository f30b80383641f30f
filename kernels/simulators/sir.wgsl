// sir in WGSL, mirroring kernels/simulators/sir.h: dS/dt = −β S I / N, dI/dt = β S I / N − γ I
// from (N − 1, 1), N = 10⁶, observed at t_k = 17 k (k = 0..9), x_k ~ Binomial(1000, I(t_k) / N)
// with the CPU's draws (sample_binomial in order from the start of the row's stream; the solve
// draws nothing). Dormand–Prince in f32 (kernels/ode/dopri5.wgsl) with pure relative control at
// SIR_RTOL instead of the CPU's 1e-8, which f32 cannot resolve; I stays within f32's range
// (1e-13 to 1e6 persons), so the state is (S, I) as on the CPU. An f32 I(t_k) a little off moves
// p, and a count can then come out one apart, or a BTRS round be decided the other way; the op
// table states the measured agreement.
// #include "sim_row.wgsl"
// #include "../ode/dopri5.wgsl"

const ODE_TIMES = 10u;
const SIR_POPULATION = 1e6;
const SIR_RTOL = 1e-6;
const SIR_ATOL = 1e-30;  // the CPU's pure relative control (1e-20), inside f32's range
const SIR_MAX_STEPS = 100000u;

var<private> sir_rates: vec2f;  // (β / N, γ)

fn ode_rhs(t: f32, u: vec2f) -> vec2f {
  let infection = sir_rates.x * u.x * u.y;
  return vec2f(-infection, infection - sir_rates.y * u.y);
}

fn ode_output_time(j: u32) -> f32 {
  return 17.0 * f32(j);
}

@compute @workgroup_size(workgroup_size)
fn sir(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  sir_rates = vec2f(theta[2u * i] / SIR_POPULATION, theta[2u * i + 1u]);
  let status = dopri5_solve(vec2f(SIR_POPULATION - 1.0, 1.0), SIR_RTOL, SIR_ATOL, SIR_MAX_STEPS);
  if (status != ODE_SUCCESS) {
    for (var j = 0u; j < ODE_TIMES; j++) { x[ODE_TIMES * i + j] = sampler_nan(); }
    return;
  }
  var r = row_stream(i);
  for (var j = 0u; j < ODE_TIMES; j++) {
    let p = clamp(ode_solution[j].y / SIR_POPULATION, 0.0, 1.0);
    x[ODE_TIMES * i + j] = sample_binomial(&r, 1000.0, p);
  }
}
