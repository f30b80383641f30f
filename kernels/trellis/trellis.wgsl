// The trellis's level-synchronous passes in WGSL: mirrors kernels/trellis/trellis.h (inside pass:
// log Z and the MAP of every set; marginal pass: P(C) of every cluster) with the split energies ψ
// of kernels/trellis/energies.h (GinkgoEnergy::psi_general, GaussianLinkageEnergy::psi).
//
// One workgroup per set of the level being computed; its lanes share the set's splits in
// contiguous runs and combine their partial results in workgroup memory. Sets are bitmasks; the
// per-set features (Ginkgo: t = m², s = √t, the leaf-child term; Gaussian: the means) come from
// the host, computed in double by the CPU kernel (native trellisTable) and rounded to f32 once.
//
// Precision (WGSL has f32 only; docs/backends.md states the accuracy measured against the CPU):
// - log-sum-exp is online per lane, rescaled by the running maximum, so no term overflows; the
//   sum of the rescaled terms is Kahan-compensated, so its error does not grow with the number
//   of splits (up to 2^21 for one set);
// - -inf (no hierarchy, or a split that is not allowed) is carried as NEG (-3e38), never as an
//   infinity: WGSL implementations may assume that no infinities occur.

override workgroup_size: u32 = 64u;
override energy: u32 = 0u;  // 0: Ginkgo, 1: Gaussian centroid linkage

const NEG: f32 = -3.0e38;
const IS_NEG: f32 = -1.0e38;  // values below this stand for -inf
const LOG_HALF: f32 = -0.6931471805599453;
const LOG_FOUR_PI: f32 = 2.5310242469692900;
const TRUNCATION: f32 = 0.999;  // kGinkgoTruncation
const MAX_WG: u32 = 256u;

struct LevelParams {
  count: u32,   // sets in this level
  offset: u32,  // their first index in `sets`
  full: u32,    // the mask of all N leaves
  n_sets: u32,  // 2^N (the table's column stride)
}

// Ginkgo: [λ, C(λ), C(λ) + log λ, λ_root, C(λ_root), C(λ_root) + log λ_root, t_cut, 0];
// Gaussian: [1 / (2σ²), 0, ...].
struct EnergyParams {
  a: vec4<f32>,
  b: vec4<f32>,
}

@group(0) @binding(0) var<uniform> level: LevelParams;
@group(0) @binding(1) var<uniform> ep: EnergyParams;
@group(0) @binding(2) var<storage, read> sets: array<u32>;
@group(0) @binding(3) var<storage, read> tab: array<f32>;
@group(0) @binding(4) var<storage, read_write> zmap: array<f32>;  // [2^N][2]: log Z, MAP energy
@group(0) @binding(5) var<storage, read_write> map_left: array<u32>;
@group(0) @binding(6) var<storage, read_write> marg: array<f32>;  // marginal pass only

var<workgroup> w_max: array<f32, MAX_WG>;
var<workgroup> w_sum: array<f32, MAX_WG>;
var<workgroup> w_best: array<f32, MAX_WG>;
var<workgroup> w_arg: array<u32, MAX_WG>;

fn col(c: u32, s: u32) -> f32 { return tab[c * level.n_sets + s]; }
fn log_z(s: u32) -> f32 { return zmap[2u * s]; }
fn map_e(s: u32) -> f32 { return zmap[2u * s + 1u]; }

// The bits of j deposited on the set bits of mask (pdep).
fn deposit(j: u32, mask: u32) -> u32 {
  var r = mask;
  var out = 0u;
  var k = 0u;
  loop {
    if (r == 0u) { break; }
    let b = r & (~r + 1u);
    if (((j >> k) & 1u) != 0u) { out |= b; }
    r ^= b;
    k += 1u;
  }
  return out;
}

fn splittable(p: u32) -> bool {
  if (energy == 0u) { return col(0u, p) > ep.b.z; }
  return true;
}

// ψ(a, b) with parent p = a | b (NEG where the split is not allowed). Ginkgo: psi_general of
// kernels/trellis/energies.h, any child may be a leaf; call for a splittable parent only.
fn psi(a: u32, b: u32, p: u32) -> f32 {
  if (energy == 1u) {
    var d2 = 0.0;
    for (var k = 0u; k < 4u; k++) {
      let d = col(k, a) - col(k, b);
      d2 += d * d;
    }
    return -d2 * ep.a.x;
  }
  let root = p == level.full;
  let lam = select(ep.a.x, ep.a.w, root);
  let c = select(ep.a.y, ep.b.x, root);
  let cl = select(ep.a.z, ep.b.y, root);
  let t_cut = ep.b.z;
  let tA = col(0u, a);
  let tB = col(0u, b);
  let tP = col(0u, p);
  let sA = col(1u, a);
  let sB = col(1u, b);
  let sP = col(1u, p);
  let t_max = TRUNCATION * tP;
  if (!(tA >= 0.0 && tB >= 0.0 && tA < t_max && tB < t_max && !(sA + sB > sP))) { return NEG; }
  let ltP = log(tP);
  let leafP = col(2u, p);
  let leafA = tA <= t_cut;
  let leafB = tB <= t_cut;
  let dA = sP - sA;
  let dB = sP - sB;
  let TA = dA * dA;
  let TB = dB * dB;
  let g1A = select(cl - ltP - lam * tA / tP, leafP, leafA);
  let g1B = select(cl - ltP - lam * tB / tP, leafP, leafB);
  let rA = min(TA, t_cut) / TA;
  let rB = min(TB, t_cut) / TB;
  let g2B = select(cl - log(TA) - lam * tB / TA, c + log(1.0 - exp(-lam * rA)), leafB);
  let g2A = select(cl - log(TB) - lam * tA / TB, c + log(1.0 - exp(-lam * rB)), leafA);
  let x = LOG_HALF + g1A + g2B;
  let y = LOG_HALF + g1B + g2A;
  let hi = max(x, y);
  let lo = min(x, y);
  return hi + log(1.0 + exp(lo - hi)) - LOG_FOUR_PI;
}

// Running log-sum-exp of one lane: Σ e^{v} = e^{m} (s + comp-corrected), Kahan-compensated.
struct Lse {
  m: f32,
  s: f32,
  comp: f32,
}

fn lse_add(acc: ptr<function, Lse>, v: f32) {
  if (v > (*acc).m) {
    let f = exp((*acc).m - v);
    (*acc).s *= f;
    (*acc).comp *= f;
    (*acc).m = v;
    let y = 1.0 - (*acc).comp;
    let t = (*acc).s + y;
    (*acc).comp = (t - (*acc).s) - y;
    (*acc).s = t;
  } else {
    let y = exp(v - (*acc).m) - (*acc).comp;
    let t = (*acc).s + y;
    (*acc).comp = (t - (*acc).s) - y;
    (*acc).s = t;
  }
}

fn set_index(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return wg.x + wg.y * nwg.x; }

// Inside pass for the sets of one size: log Z(S) = log Σ e^{ψ(A, B) + log Z(A) + log Z(B)} and
// the MAP over the splits (A, B) of S, A holding S's lowest leaf (B = pdep(j, rest), j = 1..2^|rest| - 1).
@compute @workgroup_size(workgroup_size)
fn inside(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lane: u32) {
  let idx = set_index(wg, nwg);
  let live = idx < level.count;
  var s = 0u;
  if (live) { s = sets[level.offset + idx]; }
  let low = s & (~s + 1u);
  let rest = s ^ low;
  let total = (1u << countOneBits(rest)) - 1u;
  var acc = Lse(NEG, 0.0, 0.0);
  var best = NEG;
  var arg = 0u;
  if (live && splittable(s)) {
    let chunk = (total + workgroup_size - 1u) / workgroup_size;
    let j0 = 1u + lane * chunk;
    let j1 = min(total, j0 + chunk - 1u);
    if (j0 <= total) {
      var b = deposit(j0, rest);
      for (var j = j0; j <= j1; j++) {
        let a = s ^ b;
        let za = log_z(a);
        let zb = log_z(b);
        if (za > IS_NEG && zb > IS_NEG) {
          let p = psi(a, b, s);
          if (p > IS_NEG) {
            lse_add(&acc, p + za + zb);
            let e = p + map_e(a) + map_e(b);
            if (e > best) {
              best = e;
              arg = a;
            }
          }
        }
        b = (b - rest) & rest;
      }
    }
  }
  w_max[lane] = acc.m;
  w_sum[lane] = acc.s - acc.comp;
  w_best[lane] = best;
  w_arg[lane] = arg;
  workgroupBarrier();
  for (var stride = workgroup_size / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      let m1 = w_max[lane];
      let m2 = w_max[lane + stride];
      let m = max(m1, m2);
      if (m > IS_NEG) {
        w_sum[lane] = w_sum[lane] * exp(m1 - m) + w_sum[lane + stride] * exp(m2 - m);
      }
      w_max[lane] = m;
      // ties: the lower lane, i.e. the earlier split, as the CPU's strict > keeps the first
      if (w_best[lane + stride] > w_best[lane]) {
        w_best[lane] = w_best[lane + stride];
        w_arg[lane] = w_arg[lane + stride];
      }
    }
    workgroupBarrier();
  }
  if (live && lane == 0u) {
    let m = w_max[0];
    zmap[2u * s] = select(NEG, m + log(w_sum[0]), m > IS_NEG);
    zmap[2u * s + 1u] = w_best[0];
    map_left[s] = w_arg[0];
  }
}

// Marginal pass for the clusters of one size (parents' marginals done):
// P(C) = Σ_{∅ ≠ D ⊆ full \ C} P(C ∪ D) e^{ψ(C, D) + log Z(C) + log Z(D) - log Z(C ∪ D)}.
@compute @workgroup_size(workgroup_size)
fn marginal(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lane: u32) {
  let idx = set_index(wg, nwg);
  let live = idx < level.count;
  var cset = 0u;
  if (live) { cset = sets[level.offset + idx]; }
  let comp_set = level.full ^ cset;
  let total = (1u << countOneBits(comp_set)) - 1u;
  var sum = 0.0;
  var comp = 0.0;
  let zc = log_z(cset);
  if (live && zc > IS_NEG) {
    let chunk = (total + workgroup_size - 1u) / workgroup_size;
    let j0 = 1u + lane * chunk;
    let j1 = min(total, j0 + chunk - 1u);
    if (j0 <= total) {
      var d = deposit(j0, comp_set);
      for (var j = j0; j <= j1; j++) {
        let p = cset | d;
        let zd = log_z(d);
        let mp = marg[p];
        if (zd > IS_NEG && mp > 0.0 && splittable(p)) {
          let e = psi(cset, d, p);
          if (e > IS_NEG) {
            let y = mp * exp(e + zc + zd - log_z(p)) - comp;
            let t = sum + y;
            comp = (t - sum) - y;
            sum = t;
          }
        }
        d = (d - comp_set) & comp_set;
      }
    }
  }
  w_sum[lane] = sum - comp;
  workgroupBarrier();
  for (var stride = workgroup_size / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { w_sum[lane] += w_sum[lane + stride]; }
    workgroupBarrier();
  }
  if (live && lane == 0u) { marg[cset] = w_sum[0]; }
}
