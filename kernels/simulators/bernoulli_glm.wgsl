// bernoulli_glm and bernoulli_glm_raw in WGSL, mirroring kernels/simulators/bernoulli_glm.h:
// ψ = X β (X: ones, then the stimulus delayed by 0..8 bins), y_t = [u_t < σ(ψ_t)] with u_t the t-th
// uniform() of the row's stream (sample_uniform_fill from block 0: bin t takes words 2t, 2t + 1).
// ψ and σ are f32 here (double on the CPU), so a spike differs only where u_t lies within ~1e-7 of
// σ(ψ_t) (a float tie; the op's tolerance allows a few rows). The sufficient statistics Xᵀ y are
// sums of float32 stimulus values, exact in double on the CPU and then rounded to f32; here they
// are summed in two parts whose f32 sums are exact (data/bernoulli_glm_design.wgsl), added once:
// the same bits, in any order of summation.
// #include "sim_row.wgsl"
// #include "data/bernoulli_glm_design.wgsl"

const GLM_STEPS = 100u;
const GLM_LAGS = 9u;  // features 1..9: the stimulus delayed by 0..8 bins

var<private> spikes: array<f32, 100>;

// spikes[t] = y_t ∈ {0, 1} for row i (bernoulli_glm_spikes).
fn bernoulli_glm_spikes(i: u32) {
  var w = vec4u();
  for (var t = 0u; t < GLM_STEPS; t++) {
    // ψ_t in the CPU's order: offset, then lag 0..8 (zero before the stimulus starts)
    var psi = theta[10u * i];
    for (var l = 0u; l < GLM_LAGS && l <= t; l++) {
      psi += BERNOULLI_GLM_STIMULUS[t - l] * theta[10u * i + 1u + l];
    }
    if (t % 2u == 0u) { w = row_block(i, t / 2u); }
    let u = select(u64_to_open01_f32(w.z, w.w), u64_to_open01_f32(w.x, w.y), t % 2u == 0u);
    // e^-ψ capped at e^88 (< f32 max): p stays a number, ≈ 6e-39 < every u
    let p = 1.0 / (1.0 + exp(min(-psi, 88.0)));
    spikes[t] = select(0.0, 1.0, u < p);
  }
}

@compute @workgroup_size(workgroup_size)
fn bernoulli_glm(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  bernoulli_glm_spikes(i);
  var count = 0.0;
  for (var t = 0u; t < GLM_STEPS; t++) { count += spikes[t]; }
  x[10u * i] = count;  // an integer ≤ 100: exact
  for (var l = 0u; l < GLM_LAGS; l++) {
    var hi = 0.0;
    var lo = 0.0;
    for (var t = l; t < GLM_STEPS; t++) {
      hi += spikes[t] * BERNOULLI_GLM_STIMULUS_HI[t - l];
      lo += spikes[t] * BERNOULLI_GLM_STIMULUS_LO[t - l];
    }
    x[10u * i + 1u + l] = hi + lo;
  }
}

@compute @workgroup_size(workgroup_size)
fn bernoulli_glm_raw(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  bernoulli_glm_spikes(i);
  for (var t = 0u; t < GLM_STEPS; t++) { x[GLM_STEPS * i + t] = spikes[t]; }
}
