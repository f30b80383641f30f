// The WGSL side of sim_row.h and of RunRows (native/simulators/registry.h): one invocation per
// row; row i draws from Philox stream (stream offset + i), blocks 0, 1, ... in order, the words a
// PhiloxStream(seed, stream offset + i) hands out on the CPU. θ arrives as f32 (the host rounds
// it), as do the design variables (in the uniform block); x leaves as f32, as on the CPU. Each
// simulator's .wgsl includes this file and adds its entry.
// #include "../random/samplers.wgsl"

struct SimParams {
  key: vec2u,
  stream_offset: vec2u,
  n: u32,  // rows
  design: vec4f,  // the design variables shared by all rows (SimRow::design), f32; unused ones 0
}

@group(0) @binding(0) var<uniform> params: SimParams;
@group(0) @binding(1) var<storage, read> theta: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

override workgroup_size: u32 = 64u;

// Block b of row i's stream.
fn row_block(i: u32, b: u32) -> vec4u {
  return philox_stream_block(params.key, philox_stream_add(params.stream_offset, i), b);
}

// Row i's stream as a PhiloxStream, for kernels whose draws depend on the data (rejection samplers).
fn row_stream(i: u32) -> PhiloxStream {
  return philox_stream(params.key, philox_stream_add(params.stream_offset, i));
}
