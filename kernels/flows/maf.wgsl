// The conditional MAF's elementwise steps in WGSL, mirroring kernels/flows/maf.h (maf_log_prob,
// maf_sample, maf_sample_base) with the affine element of kernels/flows/affine.h. The MADEs are
// plain MLPs here: made.h keeps masked weights exactly zero, so its forward is the dense stack of
// kernels/nn/dense.wgsl on the stored parameters (src/backend/flow_webgpu.ts records both).
// Rows are [n, W] inputs with W = D + C: the layer's variables, then the context.
// #include "../random/samplers.wgsl"

override workgroup_size: u32 = 64u;

struct MafParams {
  n: u32,
  dim: u32,        // D
  context: u32,    // C
  ctx_stride: u32, // C, or 0: one context row for every row
  last: u32,       // forward: 1 at the last layer (u = z, unreversed, plus the base density)
  d0: u32,         // inverse: the variables [d0, d1) this pass completes; reverse: 1 to reverse
  d1: u32,
  scale_bound: f32,  // affine.h's c
  key: vec2u,        // sampling: the seed
  first_row: u32,    // sampling: row r draws from Philox stream first_row + r
  _pad: u32,
}

@group(0) @binding(0) var<uniform> mp: MafParams;
@group(0) @binding(1) var<storage, read> maf_src: array<f32>;    // θ, z or the layer input
@group(0) @binding(2) var<storage, read> maf_made: array<f32>;   // MADE outputs [n, D, 2]
@group(0) @binding(3) var<storage, read_write> maf_dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> maf_log_q: array<f32>;

const LOG_SQRT_2PI: f32 = 0.9189385332046727;

// affine_log_scale: s = c u / sqrt(c² + u²), scaled by max(|u|, c) so nothing overflows.
fn affine_log_scale(u: f32, c: f32) -> f32 {
  let au = abs(u);
  let large = au > c;
  let uu = select(u / c, sign(u), large);
  let cc = select(1.0, c / au, large);
  return c * uu / sqrt(cc * cc + uu * uu);
}

// Copies θ [n, D] (maf_src) and the context (maf_made, [n or 1, C]) into the rows of maf_dst
// [n, W]; log q starts at 0.
@compute @workgroup_size(workgroup_size)
fn maf_fill(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let W = mp.dim + mp.context;
  for (var d = 0u; d < mp.dim; d++) { maf_dst[r * W + d] = maf_src[r * mp.dim + d]; }
  for (var c = 0u; c < mp.context; c++) { maf_dst[r * W + mp.dim + c] = maf_made[r * mp.ctx_stride + c]; }
  maf_log_q[r] = 0.0;
}

// One layer of maf_log_prob: z_d = affine_forward(a_d; MADE_d) for the rows of maf_src [n, W];
// log q += Σ_d s_d. Not last: z goes reversed into columns 0..D of the next input rows (maf_dst
// [n, W], context already there). Last: u = z into maf_dst [n, D], and log q += log N(u; 0, I).
@compute @workgroup_size(workgroup_size)
fn maf_affine_forward(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let W = D + mp.context;
  var lq = maf_log_q[r];
  var sq = 0.0;
  for (var d = 0u; d < D; d++) {
    let p = (r * D + d) * 2u;
    let s = affine_log_scale(maf_made[p], mp.scale_bound);
    let y = maf_src[r * W + d] * exp(s) + maf_made[p + 1u];
    lq += s;
    if (mp.last != 0u) {
      maf_dst[r * D + d] = y;
      sq += y * y;
    } else {
      maf_dst[r * W + (D - 1u - d)] = y;
    }
  }
  if (mp.last != 0u) { lq += -0.5 * sq - f32(D) * LOG_SQRT_2PI; }
  maf_log_q[r] = lq;
}

// maf_sample_base: row r draws D standard normals from Philox stream first_row + r, pair j from
// block j (sample_std_normal's two 53-bit uniforms; the angle from the top word of the second,
// 2^-32 of a turn from the CPU's), into maf_dst [n, D]; log q = log N(u; 0, I).
@compute @workgroup_size(workgroup_size)
fn maf_base(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let stream = philox_stream_add(vec2u(0u, 0u), mp.first_row + r);
  var sq = 0.0;
  for (var j = 0u; 2u * j < D; j++) {
    let w = philox_stream_block(mp.key, stream, j);
    let z = std_normal_pair_words(w.x, w.y, w.z);
    maf_dst[r * D + 2u * j] = z.x;
    sq += z.x * z.x;
    if (2u * j + 1u < D) {
      maf_dst[r * D + 2u * j + 1u] = z.y;
      sq += z.y * z.y;
    }
  }
  maf_log_q[r] = -0.5 * sq - f32(D) * LOG_SQRT_2PI;
}

// Zeroes the variables (columns 0..D) of the input rows maf_dst [n, W], and copies the context
// (maf_made, [n or 1, C]) into the rest.
@compute @workgroup_size(workgroup_size)
fn maf_zero_vars(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let W = mp.dim + mp.context;
  for (var d = 0u; d < mp.dim; d++) { maf_dst[r * W + d] = 0.0; }
  for (var c = 0u; c < mp.context; c++) { maf_dst[r * W + mp.dim + c] = maf_made[r * mp.ctx_stride + c]; }
}

// One inverse pass of maf_sample: a_d = affine_inverse(z_d; MADE_d) = (z_d − t) e^{−s} for d in
// [d0, d1), written into the input rows maf_dst [n, W] (the next pass sees them); log q −= −s.
@compute @workgroup_size(workgroup_size)
fn maf_affine_inverse(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let W = D + mp.context;
  var lq = maf_log_q[r];
  for (var d = mp.d0; d < mp.d1; d++) {
    let p = (r * D + d) * 2u;
    let s = affine_log_scale(maf_made[p], mp.scale_bound);
    maf_dst[r * W + d] = (maf_src[r * D + d] - maf_made[p + 1u]) * exp(-s);
    lq += s;
  }
  maf_log_q[r] = lq;
}

// z_k = reverse(a_k) for k ≥ 1 (d0 = 1), a_0 = θ unreversed (d0 = 0): maf_src [n, W] → maf_dst [n, D].
@compute @workgroup_size(workgroup_size)
fn maf_take(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let D = mp.dim;
  let W = D + mp.context;
  for (var d = 0u; d < D; d++) {
    let src_col = select(d, D - 1u - d, mp.d0 != 0u);
    maf_dst[r * D + d] = maf_src[r * W + src_col];
  }
}
