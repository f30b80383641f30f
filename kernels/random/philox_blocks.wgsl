// Entry point over kernels/random/philox.wgsl (mirrors PhiloxStream's blocks in philox.h).
// #include "philox.wgsl"

// Blocks of a PhiloxStream (philox.h): block b of (seed, stream) is philox4x32_10 of the counter
// (b mod 2^32, b div 2^32, stream lo, stream hi) under the key (seed lo, seed hi).
struct PhiloxParams {
  key: vec2u,
  stream: vec2u,
  first_block: vec2u,  // (lo, hi)
  blocks: u32,
}

@group(0) @binding(0) var<uniform> params: PhiloxParams;
@group(0) @binding(1) var<storage, read_write> out: array<vec4u>;

override workgroup_size: u32 = 64u;

@compute @workgroup_size(workgroup_size)
fn philox_blocks(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.blocks) { return; }
  let lo = params.first_block.x + i;
  let hi = params.first_block.y + select(0u, 1u, lo < i);  // carry of the 64-bit block index
  out[i] = philox4x32_10(vec4u(lo, hi, params.stream.x, params.stream.y), params.key);
}
