// sample_uniform_fill and sample_std_normal_fill (kernels/random/samplers.h) from a fresh stream,
// one invocation per group of whole Philox blocks: value i is the same draw as on the CPU.
// #include "samplers.wgsl"

struct FillParams {
  key: vec2u,
  stream: vec2u,
  n: u32,  // values
}

@group(0) @binding(0) var<uniform> params: FillParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

override workgroup_size: u32 = 64u;

// Block b holds uniforms 2b and 2b + 1.
@compute @workgroup_size(workgroup_size)
fn uniform_fill(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (2u * b >= params.n) { return; }
  let w = philox_stream_block(params.key, params.stream, b);
  out[2u * b] = u64_to_open01_f32(w.x, w.y);
  if (2u * b + 1u < params.n) { out[2u * b + 1u] = u64_to_open01_f32(w.z, w.w); }
}

// A pair takes three words, so blocks 3j, 3j + 1, 3j + 2 hold pairs 4j .. 4j + 3 (normals 8j .. 8j + 7).
@compute @workgroup_size(workgroup_size)
fn normal_fill(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let first = 8u * j;
  if (first >= params.n) { return; }
  let a = philox_stream_block(params.key, params.stream, 3u * j);
  let b = philox_stream_block(params.key, params.stream, 3u * j + 1u);
  let c = philox_stream_block(params.key, params.stream, 3u * j + 2u);
  let z = array<vec2f, 4>(
    std_normal_pair_words(a.x, a.y, a.z),
    std_normal_pair_words(a.w, b.x, b.y),
    std_normal_pair_words(b.z, b.w, c.x),
    std_normal_pair_words(c.y, c.z, c.w));
  for (var p = 0u; p < 4u; p++) {
    let i = first + 2u * p;
    if (i < params.n) { out[i] = z[p].x; }
    if (i + 1u < params.n) { out[i + 1u] = z[p].y; }
  }
}
