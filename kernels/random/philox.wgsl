// Philox4x32-10 (Salmon et al., SC'11), the WGSL mirror of kernels/random/philox.h: the same
// rounds, constants and key schedule, so the integer stream is bit-identical to the CPU's.
// WGSL has no 64-bit integers: the 32×32 → 64-bit product is assembled from 16-bit halves.

fn philox_mulhilo(a: u32, b: u32) -> vec2u {  // (hi, lo) of a·b
  let a_lo = a & 0xffffu; let a_hi = a >> 16u;
  let b_lo = b & 0xffffu; let b_hi = b >> 16u;
  let ll = a_lo * b_lo;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let hh = a_hi * b_hi;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);  // < 3·2^16: no overflow
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  let lo = (mid << 16u) | (ll & 0xffffu);
  return vec2u(hi, lo);
}

fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0; round < 10; round++) {
    let p0 = philox_mulhilo(0xD2511F53u, c.x);
    let p1 = philox_mulhilo(0xCD9E8D57u, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// Block `block` (< 2^32) of the stream (seed = key, stream): the counter PhiloxStream uses.
fn philox_stream_block(key: vec2u, stream: vec2u, block: u32) -> vec4u {
  return philox4x32_10(vec4u(block, 0u, stream.x, stream.y), key);
}

// stream + i as a 64-bit (lo, hi) pair: row i of a batch uses stream (stream offset + i).
fn philox_stream_add(stream: vec2u, i: u32) -> vec2u {
  let lo = stream.x + i;
  return vec2u(lo, stream.y + select(0u, 1u, lo < i));
}

// PhiloxStream's sequential draws (philox.h): draw j is word j % 4 of block j / 4 of the stream
// (key, stream). Blocks stay below 2^32 here (a kernel's rows draw a few hundred words each).
struct PhiloxStream {
  key: vec2u,
  stream: vec2u,
  block: u32,  // next block index
  buf: vec4u,
  used: u32,  // words of buf consumed (4 = empty)
  has_spare_normal: bool,
  spare_normal: f32,
}

fn philox_stream(key: vec2u, stream: vec2u) -> PhiloxStream {
  return PhiloxStream(key, stream, 0u, vec4u(), 4u, false, 0.0);
}

fn stream_next_u32(r: ptr<function, PhiloxStream>) -> u32 {
  if ((*r).used == 4u) {
    (*r).buf = philox_stream_block((*r).key, (*r).stream, (*r).block);
    (*r).block += 1u;
    (*r).used = 0u;
  }
  let w = (*r).buf[(*r).used];
  (*r).used += 1u;
  return w;
}

// The two words of one uniform() draw: (hi, lo).
fn stream_uniform_words(r: ptr<function, PhiloxStream>) -> vec2u {
  let hi = stream_next_u32(r);
  let lo = stream_next_u32(r);
  return vec2u(hi, lo);
}
