// The residual classifier of neural ratio estimation in WGSL, mirroring kernels/nn/resnet.h and
// kernels/nn/residual.h (ReLU, the NRE classifier's activation: native/ratio_trainer.cc ResNetOf),
// kernels/nn/ratio_embedding.h's ratio_gather_pairs and ratio_scatter_feature_grad, and kernels/nn/ratio_loss.h (ratio_loss and
// its gradient, every variant) in f32. The dense layers are kernels/nn/dense.wgsl's tiled
// products (src/backend/resnet_webgpu.ts records them): block b's two layers are the MLP
// [H, H, H] of dense.wgsl on its parameters W1, b1, W2, b2 (mlp.h's layout); this file holds the
// elementwise steps around them:
//   residual_act            A0 = relu(X)                                 (residual_forward)
//   residual_add            Y = X + T, T = Y1 · W2ᵀ + b2                  (residual_forward)
//   residual_input_backward dX = dY + dA0 ⊙ relu'(X)                      (residual_backward)
//   ratio_gather            input row p = [z(θ)[pair θ row], z(x)[pair x row]] (or e_φ(z(x)) rows)
//   ratio_scatter_features  d_feat[i] = Σ_{p : pair x row = i} dI_p[D ..] (an embedding's output gradient)
//   ratio_loss_rows         per batch row: the loss term and ∂loss/∂logits (ratio_loss)
//   ratio_balance           BNRE: the balance penalty's gradient (one workgroup, a batch sum)
// #include "../common/logistic.wgsl"

override workgroup_size: u32 = 64u;

struct ResParams {
  count: u32,      // elements (act, add, input backward); pairs (gather); batch rows (loss)
  in_dim: u32,     // gather: D + C
  theta_dim: u32,  // gather: D
  first: u32,      // gather: the first pair of this batch in `res_pairs`; scatter: A, pairs per x row
  kind: u32,       // loss: 0 NRE-A, 1 NRE-B, 2 NRE-C, 3 BNRE (ratio_loss.h RatioLoss)
  classes: u32,    // loss: K
  log_gamma: f32,  // NRE-C: log γ
  log_k: f32,      // NRE-C: log K
  p0: f32,         // NRE-C: 1 / (1 + γ)
  pj: f32,         // NRE-C: γ / (1 + γ)
  lambda: f32,     // BNRE: λ
  _pad: u32,
}

@group(0) @binding(0) var<uniform> rp: ResParams;
@group(0) @binding(1) var<storage, read> res_a: array<f32>;
@group(0) @binding(2) var<storage, read> res_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> res_out: array<f32>;
@group(0) @binding(4) var<storage, read> res_pairs: array<u32>;   // gather: [θ row, x row] per pair
@group(0) @binding(5) var<storage, read_write> res_terms: array<f32>;  // loss: per row [term, Σσ]

// A0 = relu(X): res_a = X, res_out = A0.
@compute @workgroup_size(workgroup_size)
fn residual_act(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= rp.count) { return; }
  res_out[e] = max(res_a[e], 0.0);
}

// Y = X + T: res_a = X (the block's input), res_b = T (its second layer's output), res_out = Y.
@compute @workgroup_size(workgroup_size)
fn residual_add(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= rp.count) { return; }
  res_out[e] = res_b[e] + res_a[e];
}

// dX = dY + dA0 ⊙ relu'(X), relu' from A0 = relu(X) as activation_backward_row (1 where A0 > 0):
// res_a = A0, res_b = dA0, res_out = dY on entry and dX on exit.
@compute @workgroup_size(workgroup_size)
fn residual_input_backward(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= rp.count) { return; }
  let d = select(0.0, res_b[e], res_a[e] > 0.0);
  res_out[e] = res_out[e] + d;
}

// ratio_gather_pairs: row p of the classifier's input [pairs, D + C] from z(θ) rows (res_a [*, D])
// and z(x) rows (res_b [*, C]); pair p of the batch is res_pairs[2 (first + p)] (θ row) and
// res_pairs[2 (first + p) + 1] (x row).
@compute @workgroup_size(workgroup_size)
fn ratio_gather(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= rp.count * rp.in_dim) { return; }
  let p = e / rp.in_dim;
  let j = e % rp.in_dim;
  let q = 2u * (rp.first + p);
  let D = rp.theta_dim;
  let C = rp.in_dim - D;
  if (j < D) {
    res_out[e] = res_a[res_pairs[q] * D + j];
  } else {
    res_out[e] = res_b[res_pairs[q + 1u] * C + (j - D)];
  }
}

// ratio_scatter_feature_grad in ratio_loss's layout (pair p scores x row ⌊p / A⌋): d_feat [n, E]
// (res_out, count = n · E) from the classifier's input gradient res_a [n · A, D + E]; row i sums
// its A pairs in pair order, as the CPU's loop over p adds them to a zeroed d_feat.
@compute @workgroup_size(workgroup_size)
fn ratio_scatter_features(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= rp.count) { return; }
  let E = rp.in_dim - rp.theta_dim;
  let i = e / E;
  let j = e % E;
  var s = 0.0;
  for (var a = 0u; a < rp.first; a++) { s += res_a[(i * rp.first + a) * rp.in_dim + rp.theta_dim + j]; }
  res_out[e] = s;
}

// log(1 + e) to full relative accuracy for small e (WGSL has no log1p): log(u) · e / (u − 1).
fn log1p_f32(e: f32) -> f32 {
  let u = 1.0 + e;
  if (u == 1.0) { return e; }
  return log(u) * e / (u - 1.0);
}

// softplus(z) = max(z, 0) + log1p(exp(−|z|)), as ratio_loss.h.
fn softplus(z: f32) -> f32 {
  return max(z, 0.0) + log1p_f32(exp(-abs(z)));
}

// LSE over logits res_a[base + k] (+ shift), k < count, with the extra term exp(extra) when
// has_extra; as ratio_lse.
fn lse(base: u32, count: u32, shift: f32, has_extra: bool, extra: f32) -> f32 {
  var m = select(res_a[base] + shift, extra, has_extra);
  for (var k = 0u; k < count; k++) { m = max(m, res_a[base + k] + shift); }
  var s = select(0.0, exp(extra - m), has_extra);
  for (var k = 0u; k < count; k++) { s += exp(res_a[base + k] + shift - m); }
  return m + log(s);
}

// Row i of the batch (rp.count rows, logits res_a [n, A]): ∂loss/∂z into res_out [n, A] and the
// row's term into res_terms[2i] (the host sums them in double: the loss is Σ / 2n for NRE-A and
// BNRE, Σ / n for NRE-B, −Σ / n for NRE-C), and, for NRE-A and BNRE, σ(z_i0) + σ(z_i1) into
// res_terms[2i + 1] (BNRE's balance).
@compute @workgroup_size(workgroup_size)
fn ratio_loss_rows(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= rp.count) { return; }
  let inv_n = 1.0 / f32(rp.count);
  if (rp.kind == 0u || rp.kind == 3u) {
    let zj = res_a[2u * i];
    let zm = res_a[2u * i + 1u];
    res_terms[2u * i] = softplus(-zj) + softplus(zm);
    res_terms[2u * i + 1u] = logistic_f32(zj) + logistic_f32(zm);
    res_out[2u * i] = (logistic_f32(zj) - 1.0) * inv_n / 2.0;
    res_out[2u * i + 1u] = logistic_f32(zm) * inv_n / 2.0;
    return;
  }
  let K = rp.classes;
  if (rp.kind == 1u) {
    let base = i * K;
    let l = lse(base, K, 0.0, false, 0.0);
    res_terms[2u * i] = l - res_a[base];
    res_terms[2u * i + 1u] = 0.0;
    for (var k = 0u; k < K; k++) { res_out[base + k] = exp(res_a[base + k] - l) * inv_n; }
    res_out[base] -= inv_n;
    return;
  }
  // NRE-C on log γ + z: the joint set [0, K), then the marginal set [K, 2K)
  let base = i * 2u * K;
  let lj = lse(base, K, rp.log_gamma, true, rp.log_k);
  let lm = lse(base + K, K, rp.log_gamma, true, rp.log_k);
  let lp_j = rp.log_gamma + res_a[base] - lj;
  let lp_m = rp.log_k - lm;
  res_terms[2u * i] = rp.p0 * lp_m + rp.pj * lp_j;
  res_terms[2u * i + 1u] = 0.0;
  for (var k = 0u; k < K; k++) {
    res_out[base + k] = exp(rp.log_gamma + res_a[base + k] - lj) * (rp.pj * inv_n);
    res_out[base + K + k] = exp(rp.log_gamma + res_a[base + K + k] - lm) * (rp.p0 * inv_n);
  }
  res_out[base] -= rp.pj * inv_n;
}

// BNRE after ratio_loss_rows (one workgroup): b = mean_i (σ(z_i0) + σ(z_i1)) − 1 from res_terms,
// then ∂/∂z_k += λ · 2b · σ(z_k)(1 − σ(z_k)) / n for every logit (res_a the logits, res_out the
// gradient), as ratio_loss.h.
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn ratio_balance(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var i = lid.x; i < rp.count; i += 64u) { s += res_terms[2u * i + 1u]; }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var half = 32u; half > 0u; half >>= 1u) {
    if (lid.x < half) { partial[lid.x] += partial[lid.x + half]; }
    workgroupBarrier();
  }
  let inv_n = 1.0 / f32(rp.count);
  let b = partial[0] * inv_n - 1.0;
  for (var k = lid.x; k < 2u * rp.count; k += 64u) {
    let sk = logistic_f32(res_a[k]);
    res_out[k] += rp.lambda * 2.0 * b * sk * (1.0 - sk) * inv_n;
  }
}
