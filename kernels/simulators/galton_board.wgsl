// galton_board in WGSL, mirroring kernels/simulators/galton_board.h (x only; the gold values stay
// on the CPU): decision l compares the l-th uniform() of the row's stream (words 2l, 2l + 1, so
// blocks 0-9) with the turn probability t = (1 − s_l)/2 + s_l σ(±10 θ g_n). The position is an
// integer and agrees exactly unless some u lies within t's f32 rounding (~1e-7) of t: then the
// turn, and the rest of the walk, can differ (a float tie; the op's tolerance allows a few rows).
// #include "sim_row.wgsl"

// s_l = sin(π l / 19) for l = 0..9 (s_l = s_{19−l}), galton_row_weight's table rounded to f32.
const GALTON_ROW_WEIGHTS = array<f32, 10>(0.0, 0.1645945902807339, 0.3246994692046835, 0.47594739303707356,
  0.6142127126896678, 0.7357239106731316, 0.8371664782625285, 0.9157733266550574, 0.9694002659393304,
  0.9965844930066698);

@compute @workgroup_size(workgroup_size)
fn galton_board(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  let theta0 = theta[i];
  // σ(+10|θ| g_k) and σ(−10|θ| g_k), k = |position − 15| = 0..10 (galton_sigmoids)
  var sigma_pos: array<f32, 11>;
  var sigma_neg: array<f32, 11>;
  for (var k = 0u; k <= 10u; k++) {
    let e = exp(-10.0 * abs(theta0) * (2.0 * f32(k) / 30.0));
    sigma_pos[k] = 1.0 / (1.0 + e);
    sigma_neg[k] = e / (1.0 + e);
  }
  var position = 15i;
  var w = vec4u();
  for (var l = 0u; l < 20u; l++) {
    if (l % 2u == 0u) { w = row_block(i, l / 2u); }
    let hi = select(w.z, w.x, l % 2u == 0u);
    let lo = select(w.w, w.y, l % 2u == 0u);
    let u = u64_to_open01_f32(hi, lo);
    let s = GALTON_ROW_WEIGHTS[min(l, 19u - l)];
    let d = position - 15i;
    let k = u32(abs(d));
    // left: σ(z), z = 10 θ g_n, which is σ(+10|θ| g_k) when z ≥ 0 (θ and d of one sign)
    let t = 0.5 * (1.0 - s) + s * select(sigma_neg[k], sigma_pos[k], (theta0 >= 0.0) == (d >= 0i));
    let left = select(0i, 1i, u < t);
    position = select(position - left, position + 1i - left, l % 2u == 0u);
  }
  x[i] = f32(position);
}
