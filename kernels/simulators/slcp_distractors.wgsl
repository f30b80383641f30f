// slcp_distractors in WGSL, mirroring kernels/simulators/slcp_distractors.h, with the same draws:
// the 8 SLCP values (blocks 0-2), 46 Box–Muller pairs for z (sample_std_normal_fill: consecutive
// word triples from block 3), the component k (sample_categorical: one uniform()), then
// g ~ Gamma(ν_k / 2) (Marsaglia–Tsang, a data-dependent number of draws), and
//   n = loc_k + L_k (z / √(2g / ν_k)),   x_c = concat(slcp, n)[perm_c].
// f32 throughout (double on the CPU). The categorical pick and the gamma sampler's accept tests
// are float comparisons: a draw within f32 rounding of a boundary can go the other way (a float
// tie, a different row); the op's tolerance allows a few such rows.
// #include "slcp.wgsl"

// The noise mixture, as src/backend/simulator_tables.ts lays it out (f32):
//   [0, 20) probs, [20, 40) ν, [40, 140) the permutation, [140, 1980) loc [20][92] and from
//   1980 the lower triangles L_k, packed by rows (row i: i + 1 values from i(i + 1)/2), 4278 each.
@group(1) @binding(0) var<storage, read> mixture: array<f32>;

const SD_COMPONENTS = 20u;
const SD_NOISE_DIM = 92u;
const SD_X_DIM = 100u;
const SD_DF = 20u;
const SD_PERMUTATION = 40u;
const SD_LOC = 140u;
const SD_TRIL = 1980u;
const SD_TRIL_SIZE = 4278u;  // 92·93/2

@compute @workgroup_size(workgroup_size)
fn slcp_distractors(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  var v: array<f32, 100>;
  let head = slcp_draw(i);
  for (var j = 0u; j < 8u; j++) { v[j] = head[j]; }
  var r = row_stream(i);
  r.block = 3u;  // slcp_draw took 12 words: blocks 0-2
  var z: array<f32, 92>;
  for (var p = 0u; p < SD_NOISE_DIM / 2u; p++) {
    let w0 = stream_next_u32(&r);
    let w1 = stream_next_u32(&r);
    let w2 = stream_next_u32(&r);
    let pair = std_normal_pair_words(w0, w1, w2);
    z[2u * p] = pair.x;
    z[2u * p + 1u] = pair.y;
  }
  // sample_categorical over probs: the last positive weight absorbs round-off
  var total = 0.0;
  for (var c = 0u; c < SD_COMPONENTS; c++) { total += mixture[c]; }
  var u = stream_uniform(&r).x * total;
  var k = 0u;
  var last = 0u;
  var found = false;
  for (var c = 0u; c < SD_COMPONENTS; c++) {
    let w = mixture[c];
    if (!(w > 0.0)) { continue; }
    if (u < w) {
      k = c;
      found = true;
      break;
    }
    u -= w;
    last = c;
  }
  if (!found) { k = last; }
  let df = mixture[SD_DF + k];
  // sample_std_gamma(ν/2) is marsaglia_tsang_gamma for ν/2 ≥ 1 (ν ≥ 2 is checked on upload)
  let inv_scale = 1.0 / sqrt(2.0 * marsaglia_tsang_gamma(&r, 0.5 * df) / df);  // 1/√(χ²_ν/ν)
  let loc = SD_LOC + SD_NOISE_DIM * k;
  let tril = SD_TRIL + SD_TRIL_SIZE * k;
  for (var row = 0u; row < SD_NOISE_DIM; row++) {
    let start = tril + row * (row + 1u) / 2u;
    var acc = 0.0;
    for (var j = 0u; j <= row; j++) { acc += mixture[start + j] * (z[j] * inv_scale); }
    v[8u + row] = mixture[loc + row] + acc;
  }
  for (var c = 0u; c < SD_X_DIM; c++) {
    x[SD_X_DIM * i + c] = v[u32(mixture[SD_PERMUTATION + c])];
  }
}
