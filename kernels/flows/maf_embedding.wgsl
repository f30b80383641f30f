// The steps around a conditional MAF's embedding network in WGSL, mirroring
// kernels/flows/maf_embedding.h (maf_embed, maf_embedded_nll_backward): the context of the MAF is
// e_φ(x), an MLP (kernels/nn/mlp.h: ReLU after every hidden layer, identity output) trained jointly
// with the flow. The MLP's forward and backward are kernels/nn/dense.wgsl's tiled products
// (src/backend/flow_train_webgpu.ts records them); this file holds what connects it to the flow:
//   embedding_gather            the batch's x rows: row r = x[rows[first_row + r]]           [n, X]
//   embedding_rows              layer 0's input rows [θ[rows[first_row + r]], e_φ(x)_r], log q = 0
//   embedding_context_backward  g_ctx += the context columns of a MADE's input gradient
//                               (maf_nll_backward's g_ctx, summed over the layers K − 1 .. 0)
// After the flow's backward, mlp_backward takes g_ctx down to φ (dense.wgsl's backward).

override workgroup_size: u32 = 64u;

struct EmbedParams {
  n: u32,          // batch rows
  dim: u32,        // D: θ's width
  context: u32,    // C: the embedding's output width, the flow's context
  x_width: u32,    // X: the embedding's input width
  first_row: u32,  // the batch's first entry of emb_rows
  accumulate: u32, // embedding_context_backward: 0 at the first layer visited (overwrite), 1 after
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> ep: EmbedParams;
@group(0) @binding(1) var<storage, read> emb_a: array<f32>;       // x rows, θ rows, or a MADE's input gradient
@group(0) @binding(2) var<storage, read> emb_b: array<f32>;       // the embedding's output [n, C]
@group(0) @binding(3) var<storage, read_write> emb_dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> emb_log_q: array<f32>;
@group(0) @binding(5) var<storage, read> emb_rows: array<u32>;    // row indices of the data

// emb_dst [n, X]: row r is x row emb_rows[first_row + r] of emb_a [*, X].
@compute @workgroup_size(workgroup_size)
fn embedding_gather(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= ep.n * ep.x_width) { return; }
  let r = e / ep.x_width;
  let j = e % ep.x_width;
  emb_dst[e] = emb_a[emb_rows[ep.first_row + r] * ep.x_width + j];
}

// Layer 0's input rows emb_dst [n, D + C]: θ row emb_rows[first_row + r] of emb_a [*, D], then the
// embedding of the batch's row r (emb_b [n, C]); log q starts at 0.
@compute @workgroup_size(workgroup_size)
fn embedding_rows(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= ep.n) { return; }
  let D = ep.dim;
  let W = D + ep.context;
  let i = emb_rows[ep.first_row + r];
  for (var d = 0u; d < D; d++) { emb_dst[r * W + d] = emb_a[i * D + d]; }
  for (var c = 0u; c < ep.context; c++) { emb_dst[r * W + D + c] = emb_b[r * ep.context + c]; }
  emb_log_q[r] = 0.0;
}

// g_ctx (emb_dst [n, C]) += the context columns D .. D + C of MADE_k's input gradient (emb_a
// [n, D + C]); the first layer visited (k = K − 1) overwrites.
@compute @workgroup_size(workgroup_size)
fn embedding_context_backward(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= ep.n * ep.context) { return; }
  let r = e / ep.context;
  let c = e % ep.context;
  let g = emb_a[r * (ep.dim + ep.context) + ep.dim + c];
  emb_dst[e] = select(g, emb_dst[e] + g, ep.accumulate != 0u);
}
