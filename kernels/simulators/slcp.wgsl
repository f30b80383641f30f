// slcp in WGSL, mirroring kernels/simulators/slcp.h: four draws m + L (z0, z1) from Box–Muller pairs
// on words 0-11 (blocks 0-2). In f32, L11² = s2² + ε − L10² would cancel as |ρ| → 1, so it is formed
// as s2²·((1 − ρ²) s1² + ε) / (s1² + ε) + ε, the same value, with 1 − ρ² = 4e / (1 + e)², e = e^−2|θ5|.
// #include "sim_row.wgsl"

// The 8 SLCP values of row i (slcp_draw), from blocks 0-2 of its stream.
fn slcp_draw(i: u32) -> array<f32, 8> {
  let eps = 1e-6;
  let m0 = theta[5u * i];
  let m1 = theta[5u * i + 1u];
  let s1 = theta[5u * i + 2u] * theta[5u * i + 2u];
  let s2 = theta[5u * i + 3u] * theta[5u * i + 3u];
  let y = theta[5u * i + 4u];
  let e = exp(-2.0 * abs(y));
  let rho = sign(y) * (1.0 - e) / (1.0 + e);
  let one_minus_rho2 = 4.0 * e / ((1.0 + e) * (1.0 + e));
  let v1 = s1 * s1 + eps;
  let l00 = sqrt(v1);
  let l10 = rho * s1 * s2 / l00;
  let l11 = sqrt(s2 * s2 * ((one_minus_rho2 * s1 * s1 + eps) / v1) + eps);
  let a = row_block(i, 0u);
  let b = row_block(i, 1u);
  let c = row_block(i, 2u);
  let z = array<vec2f, 4>(
    std_normal_pair_words(a.x, a.y, a.z),
    std_normal_pair_words(a.w, b.x, b.y),
    std_normal_pair_words(b.z, b.w, c.x),
    std_normal_pair_words(c.y, c.z, c.w));
  var out: array<f32, 8>;
  for (var k = 0u; k < 4u; k++) {
    out[2u * k] = m0 + l00 * z[k].x;
    out[2u * k + 1u] = m1 + (l10 * z[k].x + l11 * z[k].y);
  }
  return out;
}

@compute @workgroup_size(workgroup_size)
fn slcp(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  let v = slcp_draw(i);
  for (var j = 0u; j < 8u; j++) { x[8u * i + j] = v[j]; }
}
