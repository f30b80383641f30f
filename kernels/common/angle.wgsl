// Functions of an angle in f32 for the WGSL kernels, to a few ulp, one definition for every family
// (the manifold flows, the U(1) action and flow). WGSL guarantees its built-in sin and cos only to
// 2⁻¹¹ absolute and atan2 only to 4096 ulp, so they are evaluated here. The double C++ they mirror:
//   sincos_angle: std::sin, std::cos of any f32 angle;
//   wrap_angle:   kernels/manifold/circle.h's wrap_angle, into [0, 2π);
//   wrap_pi:      kernels/lattice/u1.h's u1_wrap, into [−π, π);
//   atan2_f32:    std::atan2, in (−π, π], 0 at the origin.
// Whole turns are removed with 2π in two parts (TWO_PI_HI has 8 significant bits, so k·TWO_PI_HI
// is exact for |k| < 2¹⁶), so a wrap adds no error of 2π's rounding to f32. Measured against
// double in test/wgsl_angle.test.ts (errors stated there).
// #include "../random/samplers.wgsl"

const PI: f32 = 3.141592653589793;
const HALF_PI: f32 = 1.5707963267948966;
const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = 0.0019353071795864769;  // 2π − TWO_PI_HI
const TWO_PI_BELOW: f32 = 6.283185005187988;  // the largest f32 below 2π (the f32 nearest 2π lies above it)

// a − k·2π.
fn minus_turns(a: f32, k: f32) -> f32 {
  return (a - k * TWO_PI_HI) - k * TWO_PI_LO;
}

// (sin a, cos a): k = round(a / (π/2)) quarter turns removed by Cody–Waite (π/2 in three parts,
// the first two with few bits, so k · part is exact for |k| < 2¹⁰), then samplers.wgsl's
// quadrant series.
fn sincos_angle(a: f32) -> vec2f {
  let k = round(a * 0.6366197723675814);
  let r = ((a - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8;
  return sincos_quadrant(r, bitcast<u32>(i32(k)));
}

// a modulo 2π in [0, 2π). Within a few ulp of a multiple of 2π the quotient a / 2π may round to
// the neighbouring whole number, leaving w a few ulp outside [0, 2π): one turn less or more,
// taken from a again (one rounding), brings it back. What still lies past the largest f32 below
// 2π is the point 0 (as is a NaN).
fn wrap_angle(a: f32) -> f32 {
  let k = floor(a / TWO_PI);
  var w = minus_turns(a, k);
  if (w < 0.0) {
    w = minus_turns(a, k - 1.0);
  } else if (w > TWO_PI_BELOW) {
    w = minus_turns(a, k + 1.0);
  }
  return select(0.0, w, w >= 0.0 && w <= TWO_PI_BELOW);
}

// a modulo 2π in [−π, π) (u1_wrap; a value within rounding of ±π may land at either end).
fn wrap_pi(a: f32) -> f32 {
  return minus_turns(a, floor((a + PI) / TWO_PI));
}

// atan t for t in [0, 1]: t > tan(π/8) is moved to (t − 1)/(t + 1) with π/4 added; |s| ≤ 0.4143,
// series to s²¹ (truncation < 2e-9).
fn atan_unit(t: f32) -> f32 {
  var s = t;
  var off = 0.0;
  if (t > 0.41421356) {
    s = (t - 1.0) / (t + 1.0);
    off = 0.7853981633974483;
  }
  let z = s * s;
  let p = 1.0 + z * (-0.3333333333333333 + z * (0.2 + z * (-0.14285714285714285 + z * (0.1111111111111111 + z * (-0.09090909090909091
    + z * (0.07692307692307693 + z * (-0.06666666666666667 + z * (0.058823529411764705 + z * (-0.05263157894736842 + z * 0.047619047619047616)))))))));
  return off + s * p;
}

// atan2(y, x) in (−π, π], 0 at the origin (std::atan2(+0, +0)); one division, of the smaller
// magnitude by the larger.
fn atan2_f32(y: f32, x: f32) -> f32 {
  let ax = abs(x);
  let ay = abs(y);
  if (ax == 0.0 && ay == 0.0) { return 0.0; }
  var a: f32;
  if (ay <= ax) { a = atan_unit(ay / ax); } else { a = HALF_PI - atan_unit(ax / ay); }
  if (x < 0.0) { a = PI - a; }
  return select(a, -a, y < 0.0);
}
