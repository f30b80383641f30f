// What the batched lattice kernels share: one workgroup per configuration sums one value per
// site (kernels/lattice/phi4.h's and u1.h's sums over x, the flow's log q) by a tree in
// workgroup memory, and elementwise kernels over [n, C, V] take a flat index from a 2-D dispatch
// (at most 65 535 workgroups per dimension). The CPU sums in site order in double; a tree of f32
// partial sums loses at most ~log2(V) roundings of the sum of |terms| instead of V.

const CONFIG_WG: u32 = 64u;  // invocations per configuration (the workgroup of the per-configuration kernels)

var<workgroup> config_partial: array<f32, CONFIG_WG>;

// Σ over the workgroup of each invocation's `v`; every invocation gets the total. Call from
// uniform control flow (it has barriers).
fn config_sum(lid: u32, v: f32) -> f32 {
  config_partial[lid] = v;
  workgroupBarrier();
  for (var half = CONFIG_WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) { config_partial[lid] = config_partial[lid] + config_partial[lid + half]; }
    workgroupBarrier();
  }
  let total = config_partial[0];
  workgroupBarrier();  // the next call may overwrite config_partial
  return total;
}

// The element of a 2-D dispatch of `wg_size`-wide workgroups: rows of nwg.x workgroups.
fn flat_index(gid: vec3u, nwg: vec3u, wg_size: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg_size;
}

// i mod L for i in [−L, 2L): no % on negative numbers (conv2d_circular.h's wrap_index).
fn wrap_site(i: i32, L: i32) -> i32 {
  return select(select(i, i - L, i >= L), i + L, i < 0);
}
