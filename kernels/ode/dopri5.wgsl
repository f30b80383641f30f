// Dormand–Prince 5(4) in WGSL, mirroring dopri5_solve of kernels/ode/dopri5.h for 2-component
// systems (sir, lotka_volterra): the same stages, error norm, PI step-size controller, starting
// step, dense output and failure rules, but in f32. The step sequence therefore differs from the
// CPU's (double) one, and a tolerance far below the f32 resolution cannot be met: callers pass an
// rtol suited to f32 and the op table states the measured difference from the CPU.
// The including file defines
//   const ODE_TIMES: u32                     number of output times
//   fn ode_rhs(t: f32, y: vec2f) -> vec2f    the right-hand side (its parameters in private vars)
//   fn ode_output_time(j: u32) -> f32        the output times, non-decreasing, ≥ 0
// and dopri5_solve fills ode_solution[0..ODE_TIMES) and returns a status (ODE_SUCCESS, ...).

const ODE_SUCCESS = 0u;
const ODE_NON_FINITE = 1u;
const ODE_STEP_SIZE_UNDERFLOW = 2u;
const ODE_TOO_MANY_STEPS = 3u;

var<private> ode_solution: array<vec2f, ODE_TIMES>;

const DP_C2 = 1.0 / 5.0;
const DP_C3 = 3.0 / 10.0;
const DP_C4 = 4.0 / 5.0;
const DP_C5 = 8.0 / 9.0;
const DP_A21 = 1.0 / 5.0;
const DP_A31 = 3.0 / 40.0;
const DP_A32 = 9.0 / 40.0;
const DP_A41 = 44.0 / 45.0;
const DP_A42 = -56.0 / 15.0;
const DP_A43 = 32.0 / 9.0;
const DP_A51 = 19372.0 / 6561.0;
const DP_A52 = -25360.0 / 2187.0;
const DP_A53 = 64448.0 / 6561.0;
const DP_A54 = -212.0 / 729.0;
const DP_A61 = 9017.0 / 3168.0;
const DP_A62 = -355.0 / 33.0;
const DP_A63 = 46732.0 / 5247.0;
const DP_A64 = 49.0 / 176.0;
const DP_A65 = -5103.0 / 18656.0;
const DP_B1 = 35.0 / 384.0;
const DP_B3 = 500.0 / 1113.0;
const DP_B4 = 125.0 / 192.0;
const DP_B5 = -2187.0 / 6784.0;
const DP_B6 = 11.0 / 84.0;
const DP_E1 = 71.0 / 57600.0;
const DP_E3 = -71.0 / 16695.0;
const DP_E4 = 71.0 / 1920.0;
const DP_E5 = -17253.0 / 339200.0;
const DP_E6 = 22.0 / 525.0;
const DP_E7 = -1.0 / 40.0;
const DP_D1 = -12715105075.0 / 11282082432.0;
const DP_D3 = 87487479700.0 / 32700410799.0;
const DP_D4 = -10690763975.0 / 1880347072.0;
const DP_D5 = 701980252875.0 / 199316789632.0;
const DP_D6 = -1453857185.0 / 822651844.0;
const DP_D7 = 69997945.0 / 29380423.0;
const DP_SAFETY = 0.9;
const DP_GROW_MIN = 0.2;
const DP_GROW_MAX = 10.0;
const DP_BETA = 0.04;
const DP_EXPO = 0.2 - 0.75 * 0.04;
const DP_LOG2_MIN_ERR_PREV = -13.287712379549449;  // log2(1e-4)
const DP_EPSILON = 1.1920928955078125e-7;  // unit roundoff of f32 (2^-23), the CPU's is double's
const DP_TINY = 1e-30;  // the CPU's 1e-300 floors, inside f32's normal range

// (y / sc)² summed over the components, divided by 2: the squared RMS norm.
fn dp_norm2(v: vec2f, sc: vec2f) -> f32 {
  let q = v / sc;
  return 0.5 * dot(q, q);
}

fn dopri5_solve(y0: vec2f, rtol: f32, atol: f32, max_steps: u32) -> u32 {
  var t = 0.0;
  var y = y0;
  var k1 = ode_rhs(t, y);
  var next_out = 0u;
  while (next_out < ODE_TIMES && ode_output_time(next_out) <= t) {
    ode_solution[next_out] = y;
    next_out++;
  }
  let t_end = ode_output_time(ODE_TIMES - 1u);
  let h_max = t_end - t;
  if (!(t < t_end)) { return ODE_SUCCESS; }

  // Starting step (HNW §II.4), as on the CPU
  let sc0 = atol + rtol * abs(y);
  let d0 = sqrt(dp_norm2(y, sc0));
  let d1 = sqrt(dp_norm2(k1, sc0));
  let h0 = min(select(0.01 * d0 / d1, 1e-6, d0 < 1e-5 || d1 < 1e-5), h_max);
  let f1 = ode_rhs(t + h0, y + h0 * k1);
  let d2 = sqrt(dp_norm2((f1 - k1) / h0, sc0));
  let dmax = max(d1, d2);
  let h1 = select(pow(0.01 / dmax, 0.2), max(h0 * 1e-3, 1e-6), dmax <= 1e-15);
  var h = min(min(100.0 * h0, h1), h_max);
  if (!(h > 0.0 && h <= h_max)) { return ODE_NON_FINITE; }

  var log2_err_prev = DP_LOG2_MIN_ERR_PREV;
  var after_reject = false;
  for (var steps = 1u; steps <= max_steps; steps++) {
    let last = t + 1.01 * h >= t_end;
    let hs = select(h, t_end - t, last);
    let t_new = select(t + hs, t_end, last);
    let k2 = ode_rhs(t + DP_C2 * hs, y + (hs * DP_A21) * k1);
    let k3 = ode_rhs(t + DP_C3 * hs, y + (hs * DP_A31) * k1 + (hs * DP_A32) * k2);
    let k4 = ode_rhs(t + DP_C4 * hs, y + (hs * DP_A41) * k1 + (hs * DP_A42) * k2 + (hs * DP_A43) * k3);
    let k5 = ode_rhs(t + DP_C5 * hs, y + (hs * DP_A51) * k1 + (hs * DP_A52) * k2 + (hs * DP_A53) * k3 + (hs * DP_A54) * k4);
    let k6 = ode_rhs(t_new, y + (hs * DP_A61) * k1 + (hs * DP_A62) * k2 + (hs * DP_A63) * k3 + (hs * DP_A64) * k4 +
                               (hs * DP_A65) * k5);
    let y_new = y + (hs * DP_B1) * k1 + (hs * DP_B3) * k3 + (hs * DP_B4) * k4 + (hs * DP_B5) * k5 + (hs * DP_B6) * k6;
    let k7 = ode_rhs(t_new, y_new);
    let e = (hs * DP_E1) * k1 + (hs * DP_E3) * k3 + (hs * DP_E4) * k4 + (hs * DP_E5) * k5 + (hs * DP_E6) * k6 + (hs * DP_E7) * k7;
    let e2 = dp_norm2(e, atol + rtol * max(abs(y), abs(y_new)));

    let finite_err = e2 <= 3.4028234663852886e38;
    let accept = e2 <= 1.0;
    let log2_err = 0.5 * log2(max(select(1.0, e2, finite_err), DP_TINY));
    var g = DP_SAFETY * exp2(-DP_EXPO * log2_err + select(0.0, DP_BETA * log2_err_prev, accept));
    g = clamp(g, DP_GROW_MIN, DP_GROW_MAX);
    g = select(DP_GROW_MIN, g, finite_err);
    if (after_reject || !accept) { g = min(g, 1.0); }
    let h_next = min(hs * g, h_max);

    if (accept) {
      // outputs in (t, t_new] from the step's dense output
      if (next_out < ODE_TIMES && ode_output_time(next_out) <= t_new) {
        let r5 = hs * (DP_D1 * k1 + DP_D3 * k3 + DP_D4 * k4 + DP_D5 * k5 + DP_D6 * k6 + DP_D7 * k7);
        while (next_out < ODE_TIMES && ode_output_time(next_out) <= t_new) {
          let to = ode_output_time(next_out);
          if (to == t_new) {
            ode_solution[next_out] = y_new;
          } else {
            let th = (to - t) / hs;
            let th1 = 1.0 - th;
            let r2 = y_new - y;
            let r3 = hs * k1 - r2;
            let r4 = r2 - hs * k7 - r3;
            ode_solution[next_out] = y + th * (r2 + th1 * (r3 + th * (r4 + th1 * r5)));
          }
          next_out++;
        }
      }
      y = y_new;
      k1 = k7;
      t = t_new;
      log2_err_prev = max(log2_err, DP_LOG2_MIN_ERR_PREV);
    }
    after_reject = !accept;
    h = h_next;
    if (accept && last) { return ODE_SUCCESS; }
    if (!(0.1 * h_next > abs(t) * DP_EPSILON) || !(h_next > DP_TINY)) {
      return select(ODE_NON_FINITE, ODE_STEP_SIZE_UNDERFLOW, finite_err);
    }
  }
  return ODE_TOO_MANY_STEPS;
}
