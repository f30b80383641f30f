// The logistic sigmoid 1 / (1 + e^{−z}) = softplus'(z) in f32, one definition for the WGSL kernels
// (nn/dense.wgsl, nn/resnet.wgsl, flows/maf.wgsl, manifold/circle.wgsl). kernels/common/vecmath.h's
// logistic is the C++ it mirrors (there branch-free through expm1; the two agree to a few ulp).
// exp has a non-positive argument only, so neither branch overflows.

fn logistic_f32(z: f32) -> f32 {
  let e = exp(-abs(z));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
}
