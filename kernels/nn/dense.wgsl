// Dense layers, their gradients and Adam in WGSL, mirroring kernels/nn/dense.h (dense_forward,
// dense_backward, the activations), kernels/nn/loss.h (bce_with_logits, mse) and
// kernels/nn/adam.h (adam_step) in f32. Matrices are row-major slices of flat buffers at the
// element offsets given in the uniforms, so one parameter buffer holds a whole MLP
// (kernels/nn/mlp.h layout: per layer W [out, in] then b [out]).
//
// gemm: C[M, N] = op(A) · op(B), with op(A)[i, k] = A[k·M + i] when TRANS_A (A stored [K, M]) else
// A[i·K + k], and op(B)[k, j] = B[j·K + k] when TRANS_B (B stored [N, K]) else B[k·N + j]:
//   forward   Z = X · Wᵀ          M = rows, N = out, K = in,   TRANS_B, EPILOGUE 1: + b, act
//   backward  dX = dZ · W          M = rows, N = in,  K = out
//             dW = dZᵀ · X         M = out,  N = in,  K = rows, TRANS_A
// Tiled through workgroup memory (TILE × TILE threads, each one element of C); the K-sum runs in
// tile order, not the CPU's, so results agree with the CPU to f32 rounding of a K-term sum.
// #include "../common/logistic.wgsl"

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override EPILOGUE: u32 = 0u;    // 0: store C; 1: C + bias then the activation (and Z kept for SiLU)
override ACTIVATION: u32 = 0u;  // kernels/nn/dense.h Activation: 0 identity, 1 relu, 2 tanh, 3 elu, 4 silu
const TILE: u32 = 16u;

struct GemmParams {
  m: u32,
  n: u32,
  k: u32,
  a_off: u32,
  b_off: u32,
  c_off: u32,
  bias_off: u32,  // EPILOGUE 1: bias in `b` (the parameter buffer) at this offset
  pre_off: u32,   // EPILOGUE 1 with silu: Z written to `c` at this offset
}

// exp(z) − 1 with its relative accuracy kept near 0 (WGSL has no expm1).
fn expm1_f32(z: f32) -> f32 {
  if (abs(z) < 1e-3) { return z * (1.0 + z * (0.5 + z * (1.0 / 6.0))); }
  return exp(z) - 1.0;
}

// tanh from exp(−2|z|) ≤ 1: the builtin may overflow through exp(2z) on some drivers.
fn tanh_f32(z: f32) -> f32 {
  let e = exp(-2.0 * abs(z));
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, z >= 0.0);
}

fn activate(act: u32, z: f32) -> f32 {
  switch (act) {
    case 1u: { return max(z, 0.0); }
    case 2u: { return tanh_f32(z); }
    case 3u: { return select(expm1_f32(z), z, z > 0.0); }
    case 4u: { return z * logistic_f32(z); }
    default: { return z; }
  }
}

// d act / dz from the output y (and z for SiLU), as activation_derivative in dense.h.
fn activation_derivative(act: u32, z: f32, y: f32) -> f32 {
  switch (act) {
    case 1u: { return select(0.0, 1.0, y > 0.0); }
    case 2u: { return 1.0 - y * y; }
    case 3u: { return select(y + 1.0, 1.0, y > 0.0); }
    case 4u: {
      let s = logistic_f32(z);
      return s * (1.0 + z * (1.0 - s));
    }
    default: { return 1.0; }
  }
}

@group(0) @binding(0) var<uniform> gp: GemmParams;
@group(0) @binding(1) var<storage, read> gemm_a: array<f32>;
@group(0) @binding(2) var<storage, read> gemm_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> gemm_c: array<f32>;

var<workgroup> tile_a: array<array<f32, TILE>, TILE>;  // [row i][k]
var<workgroup> tile_b: array<array<f32, TILE>, TILE>;  // [k][col j]

fn load_a(i: u32, k: u32) -> f32 {
  if (i >= gp.m || k >= gp.k) { return 0.0; }
  if (TRANS_A) { return gemm_a[gp.a_off + k * gp.m + i]; }
  return gemm_a[gp.a_off + i * gp.k + k];
}

fn load_b(k: u32, j: u32) -> f32 {
  if (k >= gp.k || j >= gp.n) { return 0.0; }
  if (TRANS_B) { return gemm_b[gp.b_off + j * gp.k + k]; }
  return gemm_b[gp.b_off + k * gp.n + j];
}

@compute @workgroup_size(TILE, TILE)
fn gemm(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = wg.y * TILE + lid.y;  // row of C
  let j = wg.x * TILE + lid.x;  // column of C
  var acc = 0.0;
  let tiles = (gp.k + TILE - 1u) / TILE;
  for (var t = 0u; t < tiles; t++) {
    let k0 = t * TILE;
    tile_a[lid.y][lid.x] = load_a(i, k0 + lid.x);
    tile_b[lid.y][lid.x] = load_b(k0 + lid.y, j);
    workgroupBarrier();
    for (var kk = 0u; kk < TILE; kk++) {
      acc += tile_a[lid.y][kk] * tile_b[kk][lid.x];
    }
    workgroupBarrier();
  }
  if (i >= gp.m || j >= gp.n) { return; }
  let at = i * gp.n + j;
  if (EPILOGUE == 1u) {
    let z = acc + gemm_b[gp.bias_off + j];
    if (ACTIVATION == 4u) { gemm_c[gp.pre_off + at] = z; }
    gemm_c[gp.c_off + at] = activate(ACTIVATION, z);
  } else {
    gemm_c[gp.c_off + at] = acc;
  }
}

// ---- elementwise and reductions (workgroup_size threads along x) ----
override workgroup_size: u32 = 64u;

struct EltParams {
  count: u32,  // elements (activation_backward, loss, adam) or columns (column_sums)
  rows: u32,   // column_sums: rows to sum
  y_off: u32,  // activation_backward: y in `elt_a` at this offset
  pre_off: u32,  // activation_backward, silu: Z in `elt_a` at this offset
  out_off: u32,  // column_sums: db in `elt_out` at this offset
  kind: u32,     // loss: 0 bce_with_logits, 1 mse
  scale: f32,    // loss: 1 / count (torch's mean reduction)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> ep: EltParams;
@group(0) @binding(1) var<storage, read> elt_a: array<f32>;
@group(0) @binding(2) var<storage, read> elt_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> elt_out: array<f32>;

// dZ = dY ⊙ act'(Z, Y): elt_a holds the layer's Y (and Z for SiLU), elt_b dY; dZ to elt_out.
@compute @workgroup_size(workgroup_size)
fn activation_backward(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= ep.count) { return; }
  var z = 0.0;
  if (ACTIVATION == 4u) { z = elt_a[ep.pre_off + e]; }
  elt_out[e] = elt_b[e] * activation_derivative(ACTIVATION, z, elt_a[ep.y_off + e]);
}

// db[j] = Σ_r dZ[r, j] (elt_a = dZ [rows, count]) into elt_out at out_off, rows summed in order.
@compute @workgroup_size(workgroup_size)
fn column_sums(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= ep.count) { return; }
  var s = 0.0;
  for (var r = 0u; r < ep.rows; r++) { s += elt_a[r * ep.count + j]; }
  elt_out[ep.out_off + j] = s;
}

// scikit-learn's L2 penalty on the weights (not the biases) of a batch of nb rows, layer by layer:
// ∂/∂W += (alpha / nb) W, i.e. elt_out[out_off + e] += scale · elt_a[y_off + e] for e < count
// (elt_a the parameters, elt_out the gradients).
@compute @workgroup_size(workgroup_size)
fn add_scaled(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= ep.count) { return; }
  elt_out[ep.out_off + e] += ep.scale * elt_a[ep.y_off + e];
}

// Σ elt_a[y_off + e]², e < count, into elt_out[out_off]: one workgroup, strided partial sums then a
// tree in workgroup memory (the penalty's value; the host adds the layers in double).
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn sum_squares(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var e = lid.x; e < ep.count; e += 64u) {
    let v = elt_a[ep.y_off + e];
    s += v * v;
  }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var half = 32u; half > 0u; half >>= 1u) {
    if (lid.x < half) { partial[lid.x] += partial[lid.x + half]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { elt_out[ep.out_off] = partial[0]; }
}

// elt_out[e] *= elt_a[e], e < count: a MADE's gradient times its mask (kernels/nn/made.h keeps
// masked weights exactly 0, so their gradient must be 0 too).
@compute @workgroup_size(workgroup_size)
fn mask_multiply(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= ep.count) { return; }
  elt_out[e] *= elt_a[e];
}

// clip_grad_norm of adam.h on the device: elt_a[0] holds ‖g‖² (sum_squares); when ‖g‖ > scale
// (the maximum norm) the gradient elt_out [count] is scaled by scale / ‖g‖. No host round trip.
@compute @workgroup_size(workgroup_size)
fn clip_by_norm(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= ep.count) { return; }
  let norm = sqrt(elt_a[0]);
  if (norm > ep.scale) { elt_out[e] *= ep.scale / norm; }
}

// The loss terms and their gradient, as bce_with_logits / mse in loss.h: elt_a the network's output
// at y_off, elt_b the targets; elt_out[e] = ∂loss/∂output (mean reduction), elt_out[count + e] the
// e-th term of the sum (the host sums them in double and scales by 1 / count).
@compute @workgroup_size(workgroup_size)
fn loss_terms(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= ep.count) { return; }
  let z = elt_a[ep.y_off + e];
  let t = elt_b[e];
  if (ep.kind == 0u) {
    elt_out[ep.count + e] = max(z, 0.0) - z * t + log(1.0 + exp(-abs(z)));
    elt_out[e] = (logistic_f32(z) - t) * ep.scale;
  } else {
    let d = z - t;
    elt_out[ep.count + e] = d * d;
    elt_out[e] = 2.0 * d * ep.scale;
  }
}

// One Adam / AdamW step over the flat parameters (adam_step in adam.h): the bias corrections are
// computed by the host in double and passed rounded, as adam.h rounds them to T.
struct AdamParams {
  count: u32,
  decoupled: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  step_size: f32,    // lr / (1 − β1^t)
  bias2_sqrt: f32,   // sqrt(1 − β2^t)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> ap: AdamParams;
@group(0) @binding(1) var<storage, read> adam_grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> adam_theta: array<f32>;
@group(0) @binding(3) var<storage, read_write> adam_moments: array<f32>;  // m [count] then v [count]

@compute @workgroup_size(workgroup_size)
fn adam(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= ap.count) { return; }
  var g = adam_grad[i];
  var th = adam_theta[i];
  if (ap.decoupled != 0u) { th *= 1.0 - ap.lr * ap.weight_decay; } else { g += ap.weight_decay * th; }
  let m = ap.beta1 * adam_moments[i] + (1.0 - ap.beta1) * g;
  let v = ap.beta2 * adam_moments[ap.count + i] + (1.0 - ap.beta2) * g * g;
  adam_moments[i] = m;
  adam_moments[ap.count + i] = v;
  adam_theta[i] = th - ap.step_size * (m / (sqrt(v) / ap.bias2_sqrt + ap.eps));
}
