// gaussian_mixture in WGSL, mirroring kernels/simulators/gaussian_mixture.h: the mixture index is
// sample_bernoulli(0.5) on words 0-1 (uniform() < ½ exactly when word 0 < 2^31, an integer
// test, so the index always agrees with the CPU), then one Box–Muller pair on words 2-4.
// #include "sim_row.wgsl"

@compute @workgroup_size(workgroup_size)
fn gaussian_mixture(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  let a = row_block(i, 0u);
  let b = row_block(i, 1u);
  let sd = select(1.0, 0.1, a.x < 0x80000000u);
  let z = std_normal_pair_words(a.z, a.w, b.x);
  x[2u * i] = theta[2u * i] + sd * z.x;
  x[2u * i + 1u] = theta[2u * i + 1u] + sd * z.y;
}
