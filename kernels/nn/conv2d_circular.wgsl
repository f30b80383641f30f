// The WGSL mirror of kernels/nn/conv2d_circular.h's forward (with conv_net_circular.h's
// activations fused) and backward (end of this file), batched over configurations:
// x [n, c_in, L, L] → y [n, c_out, L, L],
//   y[o, i, j] = act(b[o] + Σ_c Σ_{a,d ∈ [−r, r]} w[o, c, a+r, d+r] · x[c, (i+a) mod L, (j+d) mod L])
// four output channels per invocation, each output's terms added in the header's order (bias,
// then c, a, d) in f32; K ≤ 15, as the native code checks. act: 0 none, 1 LeakyReLU(0.01)
// (conv_net_forward's hidden layers), 2 tanh (the φ⁴ flow's s and t, checkerboard_flow.h's
// cbf_net_forward).
// #include "../lattice/config_sum.wgsl"

override workgroup_size: u32 = 64u;

struct ConvParams {
  n: u32,       // configurations
  L: u32,
  c_in: u32,
  c_out: u32,
  K: u32,       // odd kernel extent
  act: u32,
  w_off: u32,   // offset of the weights [c_out, c_in, K, K] in conv_params; the biases follow
  scale: f32,   // conv2d_circular_backward_params: the factor of the batch's summed gradient
}

@group(0) @binding(0) var<uniform> cp: ConvParams;
@group(0) @binding(1) var<storage, read> conv_params: array<f32>;
@group(0) @binding(2) var<storage, read> conv_x: array<f32>;
@group(0) @binding(3) var<storage, read_write> conv_y: array<f32>;

// tanh(v) = sign(v)(1 − e^{−2|v|})/(1 + e^{−2|v|}): finite for every v (a built-in tanh computed as
// sinh/cosh may overflow to NaN).
fn conv_tanh(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

// One invocation per (configuration, site, group of 4 output channels): each gathered input
// serves four outputs. Each output's sum keeps the header's order.
const CONV_OUT_TILE: u32 = 4u;

@compute @workgroup_size(workgroup_size)
fn conv2d_circular(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = cp.L;
  let V = L * L;
  let tiles = (cp.c_out + CONV_OUT_TILE - 1u) / CONV_OUT_TILE;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cp.n * tiles * V) { return; }
  let p = idx % V;
  let o0 = ((idx / V) % tiles) * CONV_OUT_TILE;
  let b = idx / (V * tiles);
  let i = i32(p / L);
  let j = i32(p % L);
  let Li = i32(L);
  let r = i32(cp.K / 2u);
  let KK = cp.K * cp.K;
  // the wrapped rows (times L) and columns of the kernel's taps, once per invocation (no division in the loop)
  var rows: array<u32, 15>;
  var cols: array<u32, 15>;
  for (var a = -r; a <= r; a++) {
    rows[a + r] = u32(wrap_site(i + a % Li, Li)) * L;
    cols[a + r] = u32(wrap_site(j + a % Li, Li));
  }
  // outputs o0 .. o0 + 3; those past c_out read channel c_out − 1's weights and are not stored
  let o = min(vec4u(o0, o0 + 1u, o0 + 2u, o0 + 3u), vec4u(cp.c_out - 1u));
  let bias = cp.w_off + cp.c_out * cp.c_in * KK;
  var acc = vec4f(conv_params[bias + o.x], conv_params[bias + o.y], conv_params[bias + o.z], conv_params[bias + o.w]);
  let stride = cp.c_in * KK;  // weights between consecutive output channels
  for (var c = 0u; c < cp.c_in; c++) {
    let plane = (b * cp.c_in + c) * V;
    var wk = cp.w_off + c * KK;
    for (var a = 0u; a < cp.K; a++) {
      let row = plane + rows[a];
      for (var d = 0u; d < cp.K; d++) {
        let xv = conv_x[row + cols[d]];
        acc += vec4f(conv_params[wk + o.x * stride], conv_params[wk + o.y * stride], conv_params[wk + o.z * stride], conv_params[wk + o.w * stride]) * xv;
        wk++;
      }
    }
  }
  for (var t = 0u; t < CONV_OUT_TILE; t++) {
    if (o0 + t >= cp.c_out) { break; }
    var v = acc[t];
    if (cp.act == 1u) {
      v = select(0.01 * v, v, v > 0.0);
    } else if (cp.act == 2u) {
      v = conv_tanh(v);
    }
    conv_y[(b * cp.c_out + o0 + t) * V + p] = v;
  }
}

// ---- backward (conv2d_circular_backward, conv_net_backward), from gy = ∂ℓ/∂y [n, c_out, L, L] ----

@group(0) @binding(4) var<storage, read> conv_gy: array<f32>;
@group(0) @binding(5) var<storage, read_write> conv_gx: array<f32>;    // [n, c_in, L, L]
@group(0) @binding(6) var<storage, read_write> conv_grad: array<f32>;  // the flat parameter gradient

//   ∂ℓ/∂x[c, i, j] = Σ_o Σ_{a,d} w[o, c, a+r, d+r] · gy[o, (i−a) mod L, (j−d) mod L]
// and, with act 1, times the LeakyReLU derivative of the layer below: x (conv_x) is that layer's
// output, which has its input's sign (conv_net_backward). One invocation per (configuration, c, site).
@compute @workgroup_size(workgroup_size)
fn conv2d_circular_backward_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let L = cp.L;
  let V = L * L;
  let idx = flat_index(gid, nwg, workgroup_size);
  if (idx >= cp.n * cp.c_in * V) { return; }
  let p = idx % V;
  let c = (idx / V) % cp.c_in;
  let b = idx / (V * cp.c_in);
  let Li = i32(L);
  let r = i32(cp.K / 2u);
  let KK = cp.K * cp.K;
  var rows: array<u32, 15>;
  var cols: array<u32, 15>;
  for (var a = -r; a <= r; a++) {
    rows[a + r] = u32(wrap_site(i32(p / L) - a % Li, Li)) * L;
    cols[a + r] = u32(wrap_site(i32(p % L) - a % Li, Li));
  }
  var acc = 0.0;
  for (var o = 0u; o < cp.c_out; o++) {
    let plane = (b * cp.c_out + o) * V;
    var wk = cp.w_off + (o * cp.c_in + c) * KK;
    for (var a = 0u; a < cp.K; a++) {
      for (var d = 0u; d < cp.K; d++) {
        acc += conv_params[wk] * conv_gy[plane + rows[a] + cols[d]];
        wk++;
      }
    }
  }
  if (cp.act == 1u && !(conv_x[idx] > 0.0)) { acc *= 0.01; }
  conv_gx[idx] = acc;
}

//   ∂ℓ/∂w[o, c, a+r, d+r] = scale · Σ_b Σ_{i,j} gy[b, o, i, j] · x[b, c, (i+a) mod L, (j+d) mod L]
//   ∂ℓ/∂b[o]             = scale · Σ_b Σ_{i,j} gy[b, o, i, j]
// written (not accumulated) at the conv's place in conv_grad (w_off: its weights, then its biases).
// One workgroup per parameter (a 2-D grid), its CONFIG_WG invocations striding over the n·V terms
// and adding their partial sums by config_sum's tree (the CPU sums per configuration in double).
@compute @workgroup_size(CONFIG_WG)
fn conv2d_circular_backward_params(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                                   @builtin(local_invocation_id) lid: vec3u) {
  let L = cp.L;
  let V = L * L;
  let KK = cp.K * cp.K;
  let weights = cp.c_out * cp.c_in * KK;
  let e = wg.x + wg.y * nwg.x;  // uniform over the workgroup
  if (e >= weights + cp.c_out) { return; }
  var s = 0.0;
  if (e >= weights) {
    let o = e - weights;
    for (var t = lid.x; t < cp.n * V; t += CONFIG_WG) {
      s += conv_gy[((t / V) * cp.c_out + o) * V + t % V];
    }
  } else {
    let o = e / (cp.c_in * KK);
    let c = (e / KK) % cp.c_in;
    let k = e % KK;
    let Li = i32(L);
    let r = i32(cp.K / 2u);
    let a = i32(k / cp.K) - r;
    let d = i32(k % cp.K) - r;
    for (var t = lid.x; t < cp.n * V; t += CONFIG_WG) {
      let b = t / V;
      let p = t % V;
      let src = u32(wrap_site(i32(p / L) + a % Li, Li)) * L + u32(wrap_site(i32(p % L) + d % Li, Li));
      s += conv_gy[(b * cp.c_out + o) * V + p] * conv_x[(b * cp.c_in + c) * V + src];
    }
  }
  let total = config_sum(lid.x, s);
  if (lid.x == 0u) { conv_grad[cp.w_off + e] = cp.scale * total; }
}
