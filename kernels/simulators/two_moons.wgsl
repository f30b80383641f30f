// two_moons in WGSL, mirroring kernels/simulators/two_moons.h: the same draws from block 0 of the
// row's stream (word 0: the angle's uniform; words 1-3: one Box–Muller pair, first variate used).
// #include "sim_row.wgsl"

// (sin, cos) of a = π (u − ½), u = u32_to_open01(w): a / 2π = (w + ½ − 2^31)·2^-33 turns, reduced
// in integers to k quarter turns (2^31 units) and a remainder in [−2^30, 2^30].
fn sincos_centered_half_turn(w: u32) -> vec2f {
  let d = bitcast<i32>(w ^ 0x80000000u);  // w − 2^31
  var k = 0u;
  var r = d;
  if (d >= 0x40000000i) {
    k = 1u;
    r = d - 0x7fffffffi - 1i;
  } else if (d < -0x40000000i) {
    k = 3u;
    r = d + 0x7fffffffi + 1i;
  }
  return sincos_quadrant((f32(r) + 0.5) * 7.314590396335798e-10, k);  // 2π / 2^33
}

@compute @workgroup_size(workgroup_size)
fn two_moons(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  let w = row_block(i, 0u);
  let r = 0.1 + 0.01 * std_normal_pair_words(w.y, w.z, w.w).x;
  let a = sincos_centered_half_turn(w.x);
  let t0 = theta[2u * i];
  let t1 = theta[2u * i + 1u];
  let inv_sqrt2 = 0.7071067811865476;
  x[2u * i] = r * a.y + 0.25 - abs(t0 + t1) * inv_sqrt2;
  x[2u * i + 1u] = r * a.x + (t1 - t0) * inv_sqrt2;
}
