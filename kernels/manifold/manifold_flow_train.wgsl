// Reverse-KL training of the flows on Tᴰ and Sᴰ in WGSL (f32): the steps of
// kernels/manifold/flow.h's flow_reverse_kl_chunk that manifold_flow.wgsl's forward pass lacks —
// the target (targets.h's target_log_density), the loss terms and the state gradient at the
// flow's output (flow_point_grad_to_state, sphere_log_area_factor), and per layer the backward
// of the elementwise transforms (segment_spline_backward with rq_bin_partials,
// circle_mixture_backward, circle_spline_backward; elem_backward) and of the conditioner's
// features (layer_conditioner_backward). The conditioners' MLP backward, gradient clipping and
// Adam are kernels/nn/dense.wgsl's; src/backend/manifold_train_webgpu.ts records a step:
//   mf_base; per layer mf_save (its input state), mf_features + MLP, mf_forward;
//   mf_target; per layer from the last: mf_elem_backward, then the MLP backward and
//   mf_features_backward (or the rows' sum of the constants' gradients); clip; Adam.
// Loss L = scale Σ_r (log q − log p̃), scale = 1 / batch (mp.loss_scale). One invocation per row.
// Rezende et al., "Normalizing flows on tori and spheres", arXiv:2002.02428.
// #include "manifold_flow.wgsl"

@group(0) @binding(5) var<storage, read_write> mf_g: array<f32>;      // dL/d state [n, C]
@group(0) @binding(6) var<storage, read_write> mf_dp: array<f32>;     // dL/d element params [n, n_active · per_element]
@group(0) @binding(7) var<storage, read_write> mf_terms: array<f32>;  // log q [n] then log p̃ [n]

// ---- targets.h ----

// log Σ_i exp(e_i) over the first n of e, e overwritten by the softmax weights (log_sum_exp_weights).
fn mf_log_sum_exp_weights(n: u32, e: ptr<function, array<f32, 4>>) -> f32 {
  var m = (*e)[0];
  for (var i = 1u; i < n; i++) { m = max(m, (*e)[i]); }
  var s = 0.0;
  for (var i = 0u; i < n; i++) {
    (*e)[i] = exp((*e)[i] - m);
    s += (*e)[i];
  }
  for (var i = 0u; i < n; i++) { (*e)[i] /= s; }
  return m + log_positive(s);
}

// target_log_density: log p̃ at v (angles, or x ∈ ℝ^{D+1}) and its gradient into g.
fn mf_target_log_density(kind: u32, v: array<f32, 17>, g: ptr<function, array<f32, 17>>) -> f32 {
  var e: array<f32, 4>;
  switch (kind) {
    case 0u: {  // torus-unimodal
      let a = sincos_angle(v[0] - 4.18);
      let b = sincos_angle(v[1] - 5.96);
      (*g)[0] = -a.x;
      (*g)[1] = -b.x;
      return a.y + b.y;
    }
    case 1u: {  // torus-multimodal
      var ca = array<f32, 3>(0.21, 1.89, 3.77);
      var cb = array<f32, 3>(2.85, 6.18, 1.56);
      var sa: array<f32, 3>;
      var sb: array<f32, 3>;
      for (var i = 0u; i < 3u; i++) {
        let a = sincos_angle(v[0] - ca[i]);
        let b = sincos_angle(v[1] - cb[i]);
        sa[i] = a.x;
        sb[i] = b.x;
        e[i] = a.y + b.y;
      }
      let lse = mf_log_sum_exp_weights(3u, &e) - log_positive(3.0);
      (*g)[0] = 0.0;
      (*g)[1] = 0.0;
      for (var i = 0u; i < 3u; i++) {
        (*g)[0] -= e[i] * sa[i];
        (*g)[1] -= e[i] * sb[i];
      }
      return lse;
    }
    case 2u: {  // torus-correlated
      let u = sincos_angle(v[0] + v[1] - 1.94);
      (*g)[0] = -u.x;
      (*g)[1] = -u.x;
      return u.y;
    }
    case 3u: {  // sphere-vmf4
      var lat = array<f32, 4>(0.7, -1.0, 0.6, -0.7);
      var lon = array<f32, 4>(1.5, 1.0, 0.5, 4.0);
      var mu: array<vec3f, 4>;
      for (var k = 0u; k < 4u; k++) {
        let a = sincos_angle(lat[k]);
        let b = sincos_angle(lon[k]);
        mu[k] = vec3f(a.y * b.y, a.y * b.x, a.x);
        e[k] = 10.0 * (mu[k].x * v[0] + mu[k].y * v[1] + mu[k].z * v[2]);
      }
      let lse = mf_log_sum_exp_weights(4u, &e);
      for (var j = 0u; j < 3u; j++) {
        (*g)[j] = 0.0;
        for (var k = 0u; k < 4u; k++) { (*g)[j] += 10.0 * e[k] * mu[k][j]; }
      }
      return lse;
    }
    default: {  // sphere3-vmf4
      var n = array<vec4f, 4>(vec4f(1.0, 0.0, 0.0, 0.0), vec4f(-0.2, 0.9, 0.3, -0.2), vec4f(0.1, -0.4, 0.8, 0.4),
                              vec4f(-0.5, -0.3, -0.4, 0.7));
      var nu: array<vec4f, 4>;
      for (var k = 0u; k < 4u; k++) {
        let c = n[k];
        nu[k] = c / sqrt(c.x * c.x + c.y * c.y + c.z * c.z + c.w * c.w);
        e[k] = 0.0;
        for (var j = 0u; j < 4u; j++) { e[k] += 10.0 * nu[k][j] * v[j]; }
      }
      let lse = mf_log_sum_exp_weights(4u, &e);
      for (var j = 0u; j < 4u; j++) {
        (*g)[j] = 0.0;
        for (var k = 0u; k < 4u; k++) { (*g)[j] += 10.0 * e[k] * nu[k][j]; }
      }
      return lse;
    }
  }
}

// ---- the output of the flow: loss terms and the state gradient ----

// After the forward pass (mf_acc = log A(c₀) − Σ log|det|): log q and log p̃ of each row into
// mf_terms, and mf_g = ∂L/∂(final state): the target's gradient −scale ∇ log p̃ chained from the
// point to the state (flow_point_grad_to_state), plus log q's −log A(c) (sphere_log_area_factor).
@compute @workgroup_size(workgroup_size)
fn mf_target(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let o = r * mp.coords;
  mf_terms[r] = mp.base_log_density + mf_acc[r] - mf_log_area(o);
  // flow_state_to_point, keeping P_{k+1} (prod_above) for the chain rule
  var x: array<f32, 17>;
  var prod_above: array<f32, 18>;
  var gx: array<f32, 17>;
  if (mp.space == 0u) {
    for (var d = 0u; d < mp.dim; d++) { x[d] = mf_state[o + d]; }
  } else {
    var prod = 1.0;
    for (var k = mp.dim; k >= 2u; k--) {
      let z = mf_state[o + mp.dim - k];
      prod_above[k] = prod;
      x[k] = prod * z;
      prod *= sqrt(max((1.0 - z) * (1.0 + z), 0.0));
    }
    let sc = sincos_angle(mf_state[o + mp.dim - 1u]);
    x[0] = prod * sc.y;
    x[1] = prod * sc.x;
  }
  mf_terms[mp.n + r] = mf_target_log_density(mp.target_kind, x, &gx);
  let w = select(mp.dim, mp.dim + 1u, mp.space == 1u);
  for (var d = 0u; d < w; d++) { gx[d] *= -mp.loss_scale; }
  if (mp.space == 0u) {
    for (var d = 0u; d < mp.dim; d++) { mf_g[o + d] = gx[d]; }
    return;
  }
  // ∂/∂z_k = P_{k+1} gx_k − z_k/(1 − z_k²) Σ_{i<k} x_i gx_i, ∂/∂φ = x_0 gx_1 − x_1 gx_0
  var below = x[0] * gx[0] + x[1] * gx[1];
  for (var k = 2u; k <= mp.dim; k++) {
    let z = mf_state[o + mp.dim - k];
    let rho2 = (1.0 - z) * (1.0 + z);
    mf_g[o + mp.dim - k] = prod_above[k] * gx[k] + select(0.0, -z / rho2 * below, rho2 > 0.0);
    below += x[k] * gx[k];
  }
  mf_g[o + mp.dim - 1u] = x[0] * gx[1] - x[1] * gx[0];
  // log q has −log A(c): d/dz_k of −Σ m log(1 − z²) (floored at 1e-30) times scale
  for (var k = 3u; k <= mp.dim; k++) {
    let z = mf_state[o + mp.dim - k];
    let one_m_z2 = max((1.0 - z) * (1.0 + z), 1e-30);
    mf_g[o + mp.dim - k] += -mp.loss_scale * -2.0 * (0.5 * f32(k - 2u)) * z / one_m_z2;
  }
}

// The layer's input state (mf_state) into mf_io [n, C] before its forward transforms it in place.
@compute @workgroup_size(workgroup_size)
fn mf_save(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  for (var c = 0u; c < mp.coords; c++) { mf_io[r * mp.coords + c] = mf_state[r * mp.coords + c]; }
}

// ---- the elementwise transforms' backward: dL/dx returned, dL/dparams into mf_dp[q ..] ----

// segment_spline_backward (with rq_bin_partials): the chain through ξ = (v − x_k)/w_k,
// s = h_k/w_k, the two softmax partitions and the softplus derivatives.
fn seg_backward(p: u32, q: u32, center: f32, half: f32, periodic: bool, x: f32, g_y: f32, g_l: f32) -> f32 {
  let K = mp.bins;
  let count = select(3u * K + 1u, 3u * K, periodic);
  for (var j = 0u; j < count; j++) { mf_dp[q + j] = 0.0; }
  let v = clamp(x - center, -half, half);
  let b = seg_find_bin(p, half, periodic, v, false);
  let xi = clamp((v - b.x0) / b.w, 0.0, 1.0);
  let s = b.h / b.w;
  let t = xi * (1.0 - xi);
  let e = b.d1 + b.d0 - 2.0 * s;
  let one_m = 1.0 - xi;
  let one_m2xi = 1.0 - 2.0 * xi;
  let den = s + e * t;
  let num = s * xi * xi + b.d0 * t;
  let slope = b.d1 * xi * xi + 2.0 * s * t + b.d0 * one_m * one_m;
  let den2 = den * den;
  let dden_dxi = e * one_m2xi;
  let dden_ds = 1.0 - 2.0 * t;
  let y_xi = b.h * ((2.0 * s * xi + b.d0 * one_m2xi) * den - num * dden_dxi) / den2;
  let y_s = b.h * (xi * xi * den - num * dden_ds) / den2;
  let y_h = num / den;
  let y_d0 = b.h * t * (den - num) / den2;
  let y_d1 = -b.h * num * t / den2;
  let dslope_dxi = 2.0 * b.d1 * xi + 2.0 * s * one_m2xi - 2.0 * b.d0 * one_m;
  let l_xi = dslope_dxi / slope - 2.0 * dden_dxi / den;
  let l_s = 2.0 / s + 2.0 * t / slope - 2.0 * dden_ds / den;
  let l_d0 = one_m * one_m / slope - 2.0 * t / den;
  let l_d1 = xi * xi / slope - 2.0 * t / den;
  let g_xi = g_y * y_xi + g_l * l_xi;
  let g_s = g_y * y_s + g_l * l_s;
  let g_x0 = -g_xi / b.w;
  let g_w = -(g_xi * xi + g_s * s) / b.w;
  let g_y0 = g_y;
  let g_h = g_y * y_h + g_s / b.w;
  // softmax: dL/du_j = p_j (dL/dp_j − Σ_i p_i dL/dp_i), dL/dp_j = scale (g_size [j = k] + g_lo [j < k])
  let sw = seg_stats(p);
  let sh = seg_stats(p + K);
  let scale_w = 2.0 * half * (1.0 - f32(K) * mp.min_w);
  let scale_h = 2.0 * half * (1.0 - f32(K) * mp.min_h);
  var mass_w = 0.0;
  var mass_h = 0.0;
  for (var j = 0u; j < b.k; j++) {
    mass_w += exp(mf_ep[p + j] - sw.x) / sw.y;
    mass_h += exp(mf_ep[p + K + j] - sh.x) / sh.y;
  }
  let pw_k = exp(mf_ep[p + b.k] - sw.x) / sw.y;
  let ph_k = exp(mf_ep[p + K + b.k] - sh.x) / sh.y;
  let dot_w = scale_w * (g_w * pw_k + g_x0 * mass_w);
  let dot_h = scale_h * (g_h * ph_k + g_y0 * mass_h);
  for (var j = 0u; j < K; j++) {
    let dpw = scale_w * select(select(0.0, g_x0, j < b.k), g_w, j == b.k);
    let dph = scale_h * select(select(0.0, g_y0, j < b.k), g_h, j == b.k);
    mf_dp[q + j] = exp(mf_ep[p + j] - sw.x) / sw.y * (dpw - dot_w);
    mf_dp[q + K + j] = exp(mf_ep[p + K + j] - sh.x) / sh.y * (dph - dot_h);
  }
  let i0 = 2u * K + b.k;
  let i1 = 2u * K + select(b.k + 1u, 0u, periodic && b.k + 1u == K);
  mf_dp[q + i0] += (g_y * y_d0 + g_l * l_d0) * logistic_f32(mf_ep[p + i0]);
  mf_dp[q + i1] += (g_y * y_d1 + g_l * l_d1) * logistic_f32(mf_ep[p + i1]);
  return g_xi / b.w;
}

// circle_mixture_backward: f = Σ ρ_k g_k, ∂L/∂ρ_k = g_y g_k + g_l g_k'/f', whose ρ-mean is g_y f + g_l.
fn mix_backward(p: u32, q: u32, x: f32, g_y: f32, g_l: f32) -> f32 {
  let K = mp.components;
  let w = mix_width();
  let theta = wrap_angle(x);
  let fd = mix_eval(p, theta);
  let st = mix_stats(p);
  let mean = g_y * fd.x + g_l;
  var d2f = 0.0;
  for (var k = 0u; k < K; k++) {
    let cp = p + K + k * w;
    let c = mix_component(cp);
    let rho = exp(mf_ep[p + k] - st.x) / st.y;
    let pa = circle_component_partials(c, mf_ep[cp], select(0.0, mf_ep[cp + 1u], w == 2u), theta);
    d2f += rho * pa.dslope_dtheta;
    mf_dp[q + k] = rho * (g_y * circle_component_value(c, theta) + g_l * circle_component_slope(c, theta) / fd.y - mean);
    for (var j = 0u; j < w; j++) { mf_dp[q + K + k * w + j] = rho * (g_y * pa.dvalue_du[j] + g_l * pa.dslope_du[j] / fd.y); }
  }
  mf_dp[q + K * (1u + w)] = g_y;
  return g_y * fd.y + g_l * d2f / fd.y;
}

// elem_backward of the layer's transform at x (element parameters at mf_ep[p ..]).
fn elem_backward(p: u32, q: u32, x: f32, g_y: f32, g_l: f32) -> f32 {
  if (mp.interval == 1u) { return seg_backward(p, q, 0.0, 1.0, false, x, g_y, g_l); }
  if (mp.circle_kind != 0u) { return mix_backward(p, q, x, g_y, g_l); }
  let gx = seg_backward(p, q, PI, PI, true, wrap_angle(x), g_y, g_l);
  mf_dp[q + 3u * mp.bins] = g_y;  // the rotation φ
  return gx;
}

// One layer of flow_reverse_kl_chunk's backward on its active coordinates, from the layer's input
// state (mf_state, saved by mf_save): mf_g[a] ← dL/dx_a, mf_dp ← dL/d element params
// (g_l = dL/d log|dy/dx| = −scale: log q has −Σ log|det|).
@compute @workgroup_size(workgroup_size)
fn mf_elem_backward(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  let stride = mp.n_active * mp.per_element;
  for (var j = 0u; j < mp.n_active; j++) {
    let i = r * mp.coords + mf_nibble(mp.active_idx, j);
    mf_g[i] = elem_backward(mp.ep_base + r * mp.ep_stride + j * mp.per_element, r * stride + j * mp.per_element, mf_state[i], mf_g[i],
                            -mp.loss_scale);
  }
}

// layer_conditioner_backward's features: dL/d features (mf_io [n, F], from the MLP's backward)
// added to the conditioning coordinates of mf_g: −sin θ, cos θ per angle, 1 per height.
@compute @workgroup_size(workgroup_size)
fn mf_features_backward(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= mp.n) { return; }
  var j = r * mp.feat_width;
  for (var k = 0u; k < mp.n_cond; k++) {
    let c = mf_nibble(mp.cond, k);
    let i = r * mp.coords + c;
    if (mf_is_angle(c)) {
      let sc = sincos_angle(mf_state[i]);
      mf_g[i] += -sc.x * mf_io[j] + sc.y * mf_io[j + 1u];
      j += 2u;
    } else {
      mf_g[i] += mf_io[j];
      j += 1u;
    }
  }
}
