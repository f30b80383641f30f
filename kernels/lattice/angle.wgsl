// Angle functions of the U(1) kernels in f32, to a few ulp: WGSL guarantees its built-in sin and
// cos only to 2^-11 absolute and atan2 only to 4096 ulp, so they are evaluated here.
//   sincos_angle: x = k·π/2 + r, |r| ≤ π/4, with π/2 in three f32 parts so k·part is exact for
//                 |k| < 2^8 (|x| up to ~400), then samplers.wgsl's series (sincos_quadrant);
//   wrap_pi:      into [−π, π) (u1.h's u1_wrap); wrap_2pi: into [0, 2π) (circle.h's wrap_angle);
//   atan2_right:  atan2(y, x) for x ≥ 0 (the half-angle map's case, circle.h's half_angle_lift),
//                 reduced to |t| ≤ tan(π/8) and a series to t^17 (truncation < 5e-9);
//   softplus_f32: vecmath.h's softplus.
// #include "../random/samplers.wgsl"

fn sincos_angle(x: f32) -> vec2f {
  let k = round(x * 0.6366197723675814);  // 2/π
  let r = ((x - k * 1.5703125) - k * 4.837512969970703e-4) - k * 7.549789954891882e-8;
  return sincos_quadrant(r, u32(i32(k)));
}

fn wrap_pi(a: f32) -> f32 {
  return a - TWO_PI * floor((a + 3.141592653589793) / TWO_PI);
}

fn wrap_2pi(a: f32) -> f32 {
  let w = a - TWO_PI * floor(a / TWO_PI);
  return select(0.0, w, w < TWO_PI && w >= 0.0);  // a value just below a multiple of 2π may round up to 2π: the same point
}

// atan t for |t| ≤ tan(π/8) = 0.41421.
fn atan_small(t: f32) -> f32 {
  let t2 = t * t;
  return t * (1.0 + t2 * (-0.3333333333333333 + t2 * (0.2 + t2 * (-0.14285714285714285 + t2 * (0.1111111111111111
    + t2 * (-0.09090909090909091 + t2 * (0.07692307692307693 + t2 * (-0.06666666666666667 + t2 * 0.058823529411764705))))))));
}

// atan t for t ≥ 0: t > 1 by π/2 − atan(1/t), then t > tan(π/8) by π/4 + atan((t − 1)/(t + 1)).
fn atan_nonneg(t: f32) -> f32 {
  let big = t > 1.0;
  let u = select(t, 1.0 / t, big);
  let mid = u > 0.41421356237309503;
  let a = select(atan_small(u), 0.7853981633974483 + atan_small((u - 1.0) / (u + 1.0)), mid);
  return select(a, 1.5707963267948966 - a, big);
}

// atan2(y, x) for x ≥ 0 (and not both 0): in [−π/2, π/2].
fn atan2_right(y: f32, x: f32) -> f32 {
  let a = select(1.5707963267948966, atan_nonneg(abs(y) / x), x > 0.0);
  return select(a, -a, y < 0.0);
}

fn softplus_f32(u: f32) -> f32 {
  return max(u, 0.0) + log_positive(1.0 + exp(-abs(u)));
}
