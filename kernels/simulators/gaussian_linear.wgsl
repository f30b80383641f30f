// gaussian_linear (both gaussian_linear tasks) in WGSL, mirroring
// kernels/simulators/gaussian_linear.h: x = θ + √0.1·z, z from five Box–Muller pairs on words
// 0-14 of the row's stream (blocks 0-3), the CPU's order.
// #include "sim_row.wgsl"

@compute @workgroup_size(workgroup_size)
fn gaussian_linear(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  let a = row_block(i, 0u);
  let b = row_block(i, 1u);
  let c = row_block(i, 2u);
  let d = row_block(i, 3u);
  let z = array<vec2f, 5>(
    std_normal_pair_words(a.x, a.y, a.z),
    std_normal_pair_words(a.w, b.x, b.y),
    std_normal_pair_words(b.z, b.w, c.x),
    std_normal_pair_words(c.y, c.z, c.w),
    std_normal_pair_words(d.x, d.y, d.z));
  let sd = 0.31622776601683794;  // √0.1
  for (var p = 0u; p < 5u; p++) {
    let j = 10u * i + 2u * p;
    x[j] = theta[j] + sd * z[p].x;
    x[j + 1u] = theta[j + 1u] + sd * z[p].y;
  }
}
