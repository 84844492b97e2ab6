// lookalike: exact search at memory bandwidth over a FAISS IndexFlat's own storage, and a compact
// exact index (8-bit or fp16 codes) for large catalogs. Copied into faiss-node's src/ by
// scripts/setup-faiss.mjs and included by the patched faiss.cc.
//
// Exact path (IndexFlat, L2): the dot products q.x come from OpenBLAS (cblas_sgemv for one query,
// cblas_sgemm for several) straight over index.codes (no copy); approx = |q|^2 + |x|^2 - 2 q.x with
// the norms |x|^2 cached per position. Every item whose approx distance is within the rounding
// bound of the k-th one is then re-scored with faiss::fvec_L2sqr, the function IndexFlatL2's own
// one-query search uses, and ordered by (distance, position) as FAISS's heaps order ties. So the
// ids and distances are those of IndexFlatL2::search for a single query.
//
// Compact path (LookalikeCompact): codes are scanned with an AVX2 kernel (int8 or fp16 widened in
// registers only; a scalar fallback when the CPU lacks AVX2/FMA/F16C, chosen at run time) and the
// approximate top k comes back; the caller re-ranks it with the exact fp32 vectors.
#pragma once

#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/impl/FaissAssert.h>
#include <faiss/utils/distances.h>
#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

extern "C"
{
  // OpenBLAS's CBLAS (declared here so that no particular cblas.h layout is needed).
  void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float *a, int lda, const float *x, int incx,
                   float beta, float *y, int incy);
  void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc);
}

namespace lookalike
{
using idx_t = int64_t;
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

inline bool allowed_at(const uint8_t *bits, idx_t j) { return bits == nullptr || ((bits[j >> 3] >> (j & 7)) & 1); }

// ---- per-position squared norms of an IndexFlat's vectors ---------------------------------------

struct Norms
{
  std::vector<float> v;
  size_t valid = 0; // v[0, valid) are right for the current storage

  void sync(const faiss::IndexFlatCodes &ix)
  {
    const size_t n = static_cast<size_t>(ix.ntotal), d = static_cast<size_t>(ix.d);
    if (valid > n)
      valid = n;
    if (v.size() != n)
    {
      if (v.capacity() < n)
        v.reserve(std::max(n, ix.codes.capacity() / ix.code_size));
      v.resize(n);
    }
    const float *x = reinterpret_cast<const float *>(ix.codes.data());
    for (size_t i = valid; i < n; i++)
      v[i] = faiss::fvec_norm_L2sqr(x + i * d, d);
    valid = n;
  }
  // Mirrors removeSwapLast's move of position `last` into `p` (then storage shrinks to `last`).
  void moved(size_t p, size_t last)
  {
    if (p != last)
    {
      if (last < valid)
        v[p] = v[last];
      else if (p < valid)
        valid = p;
    }
    if (valid > last)
      valid = last;
  }
  void invalidate() { valid = 0; }
};

// ---- selection ----------------------------------------------------------------------------------

struct Hit
{
  float d;
  idx_t i;
};
inline bool hit_less(const Hit &a, const Hit &b) { return a.d < b.d || (a.d == b.d && a.i < b.i); }

// Top k of (value, position) over allowed positions, ascending; fewer when fewer are allowed.
inline void top_k(const float *vals, idx_t n, const uint8_t *bits, idx_t k, std::vector<Hit> &heap)
{
  heap.clear();
  for (idx_t j = 0; j < n; j++)
  {
    if (!allowed_at(bits, j))
      continue;
    Hit h{vals[j], j};
    if (static_cast<idx_t>(heap.size()) < k)
    {
      heap.push_back(h);
      std::push_heap(heap.begin(), heap.end(), hit_less);
    }
    else if (hit_less(h, heap.front()))
    {
      std::pop_heap(heap.begin(), heap.end(), hit_less);
      heap.back() = h;
      std::push_heap(heap.begin(), heap.end(), hit_less);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), hit_less);
}

inline void write_out(const std::vector<Hit> &hits, idx_t k, float *dist, idx_t *lab)
{
  for (idx_t m = 0; m < k; m++)
  {
    if (m < static_cast<idx_t>(hits.size()))
    {
      dist[m] = hits[m].d;
      lab[m] = hits[m].i;
    }
    else
    {
      dist[m] = FLT_MAX; // as FAISS pads
      lab[m] = -1;
    }
  }
}

inline idx_t count_allowed(const uint8_t *bits, idx_t n)
{
  if (bits == nullptr)
    return n;
  idx_t c = 0;
  for (idx_t j = 0; j < n; j++)
    c += allowed_at(bits, j);
  return c;
}

// ---- exact search over an IndexFlat (L2) --------------------------------------------------------

// Relative rounding bound of approx = |q|^2 + |x|^2 - 2 q.x against fvec_L2sqr, generous for d up
// to 64k: float sums of d terms err by well under d * 2^-24 * (|q|^2 + |x|^2) in practice.
inline float approx_slack(float qn, float xn_max, idx_t d)
{
  const float rel = std::max(1e-5f, static_cast<float>(d) * 1.2e-7f);
  return 2.f * rel * (qn + xn_max) + 1e-30f;
}

inline void exact_search(const faiss::IndexFlatCodes &ix, Norms &norms, idx_t nq, const float *q, idx_t k,
                         const uint8_t *bits, float *dist, idx_t *lab)
{
  const idx_t n = ix.ntotal, d = ix.d;
  const float *xb = reinterpret_cast<const float *>(ix.codes.data());
  const idx_t allowed = count_allowed(bits, n);
  std::vector<Hit> hits;
  // Few allowed positions: score them exactly, directly.
  if (allowed * 16 <= n || n <= 64)
  {
    for (idx_t qi = 0; qi < nq; qi++)
    {
      hits.clear();
      for (idx_t j = 0; j < n; j++)
        if (allowed_at(bits, j))
          hits.push_back({faiss::fvec_L2sqr(q + qi * d, xb + j * d, d), j});
      std::sort(hits.begin(), hits.end(), hit_less);
      if (static_cast<idx_t>(hits.size()) > k)
        hits.resize(k);
      write_out(hits, k, dist + qi * k, lab + qi * k);
    }
    return;
  }
  norms.sync(ix);
  const float *xn = norms.v.data();
  float xn_max = 0;
  for (idx_t j = 0; j < n; j++)
    xn_max = std::max(xn_max, xn[j]);
  // Queries per BLAS call: one row of approx distances per query, at most ~64 MB of them.
  const idx_t group = std::max<idx_t>(1, std::min<idx_t>(nq, (64 << 20) / (4 * n)));
  std::vector<float> dots(static_cast<size_t>(group * n));
  std::vector<Hit> cand;
  for (idx_t q0 = 0; q0 < nq; q0 += group)
  {
    const idx_t g = std::min(group, nq - q0);
    if (g == 1)
      cblas_sgemv(kRowMajor, kNoTrans, n, d, -2.f, xb, d, q + q0 * d, 1, 0.f, dots.data(), 1);
    else
      cblas_sgemm(kRowMajor, kNoTrans, kTrans, g, n, d, -2.f, q + q0 * d, d, xb, d, 0.f, dots.data(), n);
    for (idx_t t = 0; t < g; t++)
    {
      const idx_t qi = q0 + t;
      const float *qv = q + qi * d;
      const float qn = faiss::fvec_norm_L2sqr(qv, d);
      float *row = dots.data() + t * n;
      for (idx_t j = 0; j < n; j++)
        row[j] += qn + xn[j];
      top_k(row, n, bits, std::min(k, allowed), hits);
      // Everything that may be in the exact top k: approx within twice the bound of the k-th.
      const float limit = hits.back().d + 2.f * approx_slack(qn, xn_max, d);
      cand.clear();
      for (idx_t j = 0; j < n; j++)
        if (row[j] <= limit && allowed_at(bits, j))
          cand.push_back({faiss::fvec_L2sqr(qv, xb + j * d, d), j});
      std::sort(cand.begin(), cand.end(), hit_less);
      if (static_cast<idx_t>(cand.size()) > k)
        cand.resize(k);
      write_out(cand, k, dist + qi * k, lab + qi * k);
    }
  }
}

// The memory-bandwidth limit the exact path is measured against: one sgemv over the storage.
inline float raw_sgemv(const faiss::IndexFlatCodes &ix, const float *q)
{
  const idx_t n = ix.ntotal, d = ix.d;
  std::vector<float> dots(static_cast<size_t>(n));
  cblas_sgemv(kRowMajor, kNoTrans, n, d, 1.f, reinterpret_cast<const float *>(ix.codes.data()), d, q, 1, 0.f,
              dots.data(), 1);
  return n > 0 ? dots[0] : 0.f;
}

// ---- fp16 conversions (F. Giesen's round-to-nearest-even routines) ------------------------------

inline uint16_t float_to_half(float f)
{
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint16_t o;
  if (x >= 0x47800000u)
    o = x > 0x7f800000u ? 0x7e00 : 0x7c00;
  else if (x < 0x38800000u)
  {
    const uint32_t magic_u = 126u << 23;
    float fx, magic;
    std::memcpy(&fx, &x, 4);
    std::memcpy(&magic, &magic_u, 4);
    fx += magic;
    uint32_t u;
    std::memcpy(&u, &fx, 4);
    o = static_cast<uint16_t>(u - magic_u);
  }
  else
  {
    const uint32_t mant_odd = (x >> 13) & 1;
    x += (static_cast<uint32_t>(15 - 127) << 23) + 0xfff;
    x += mant_odd;
    o = static_cast<uint16_t>(x >> 13);
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

inline float half_to_float(uint16_t h)
{
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = (h & 0x7fffu) << 13;
  const uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  float f;
  if (exp == shifted_exp)
    o += (128u - 16u) << 23;
  else if (exp == 0)
  {
    o += 1u << 23;
    std::memcpy(&f, &o, 4);
    const uint32_t magic_u = 113u << 23;
    float magic;
    std::memcpy(&magic, &magic_u, 4);
    f -= magic;
    std::memcpy(&o, &f, 4);
  }
  o |= (h & 0x8000u) << 16;
  std::memcpy(&f, &o, 4);
  return f;
}

// ---- dot-product kernels: fp32 query x int8 / fp16 codes ----------------------------------------

inline float dot_i8_scalar(const float *q, const int8_t *c, size_t d)
{
  float s = 0;
  for (size_t j = 0; j < d; j++)
    s += q[j] * static_cast<float>(c[j]);
  return s;
}

inline float dot_f16_scalar(const float *q, const uint16_t *c, size_t d)
{
  float s = 0;
  for (size_t j = 0; j < d; j++)
    s += q[j] * half_to_float(c[j]);
  return s;
}

__attribute__((target("avx2,fma"))) inline float hsum_avx(__m256 v)
{
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline float dot_i8_avx2(const float *q, const int8_t *c, size_t d)
{
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 32 <= d; j += 32)
  {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(c + j));
    const __m128i lo = _mm256_castsi256_si128(raw), hi = _mm256_extracti128_si256(raw, 1);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))),
                         a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 16), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 24), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))),
                         a3);
  }
  float s = hsum_avx(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; j < d; j++)
    s += q[j] * static_cast<float>(c[j]);
  return s;
}

__attribute__((target("avx2,fma,f16c"))) inline float dot_f16_avx2(const float *q, const uint16_t *c, size_t d)
{
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 32 <= d; j += 32)
  {
    const __m128i *p = reinterpret_cast<const __m128i *>(c + j);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_cvtph_ps(_mm_loadu_si128(p)), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), _mm256_cvtph_ps(_mm_loadu_si128(p + 1)), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 16), _mm256_cvtph_ps(_mm_loadu_si128(p + 2)), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 24), _mm256_cvtph_ps(_mm_loadu_si128(p + 3)), a3);
  }
  float s = hsum_avx(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; j < d; j++)
    s += q[j] * half_to_float(c[j]);
  return s;
}

inline bool cpu_has_avx2_fma()
{
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
inline bool cpu_has_f16c()
{
  static const bool ok = cpu_has_avx2_fma() && __builtin_cpu_supports("f16c");
  return ok;
}

// ---- the compact index --------------------------------------------------------------------------

// Codes per vector. bits 8: [float scale][float |x^|^2][int8 c[d]], x^ = scale * c, scale =
// max|x_j| / 127 (per vector, symmetric: no training, any distribution, incremental adds).
// bits 16: [float |x^|^2][fp16 h[d]]. Search returns approximate squared L2 against x^.
struct LookalikeCompact : faiss::IndexFlatCodes
{
  int bits = 8;
  bool simd = true; // use the AVX2 kernels when the CPU has them (tests turn it off)

  LookalikeCompact(idx_t d, int b)
      : faiss::IndexFlatCodes(b == 8 ? static_cast<size_t>(d) + 8 : 2 * static_cast<size_t>(d) + 4, d,
                              faiss::METRIC_L2),
        bits(b)
  {
    if (b != 8 && b != 16)
      throw std::invalid_argument("LookalikeCompact: bits must be 8 or 16");
    is_trained = true;
  }

  void sa_encode(idx_t n, const float *x, uint8_t *bytes) const override
  {
    const size_t dd = static_cast<size_t>(d);
    for (idx_t i = 0; i < n; i++)
    {
      const float *v = x + i * dd;
      uint8_t *out = bytes + i * code_size;
      if (bits == 8)
      {
        float mx = 0;
        for (size_t j = 0; j < dd; j++)
          mx = std::max(mx, std::fabs(v[j]));
        const float scale = mx > 0 ? mx / 127.f : 1.f;
        int8_t *c = reinterpret_cast<int8_t *>(out + 8);
        double norm = 0;
        for (size_t j = 0; j < dd; j++)
        {
          const long r = std::lround(v[j] / scale);
          c[j] = static_cast<int8_t>(std::max(-127L, std::min(127L, r)));
          const double xh = static_cast<double>(scale) * c[j];
          norm += xh * xh;
        }
        const float nf = static_cast<float>(norm);
        std::memcpy(out, &scale, 4);
        std::memcpy(out + 4, &nf, 4);
      }
      else
      {
        uint16_t *h = reinterpret_cast<uint16_t *>(out + 4);
        double norm = 0;
        for (size_t j = 0; j < dd; j++)
        {
          h[j] = float_to_half(v[j]);
          const double xh = half_to_float(h[j]);
          norm += xh * xh;
        }
        const float nf = static_cast<float>(norm);
        std::memcpy(out, &nf, 4);
      }
    }
  }

  void sa_decode(idx_t n, const uint8_t *bytes, float *x) const override
  {
    const size_t dd = static_cast<size_t>(d);
    for (idx_t i = 0; i < n; i++)
    {
      const uint8_t *in = bytes + i * code_size;
      float *v = x + i * dd;
      if (bits == 8)
      {
        float scale;
        std::memcpy(&scale, in, 4);
        const int8_t *c = reinterpret_cast<const int8_t *>(in + 8);
        for (size_t j = 0; j < dd; j++)
          v[j] = scale * c[j];
      }
      else
      {
        const uint16_t *h = reinterpret_cast<const uint16_t *>(in + 4);
        for (size_t j = 0; j < dd; j++)
          v[j] = half_to_float(h[j]);
      }
    }
  }

  // Approximate |q - x^|^2 of one code.
  float approx(const float *qv, float qn, const uint8_t *code) const
  {
    const size_t dd = static_cast<size_t>(d);
    float nx;
    if (bits == 8)
    {
      float scale;
      std::memcpy(&scale, code, 4);
      std::memcpy(&nx, code + 4, 4);
      const int8_t *c = reinterpret_cast<const int8_t *>(code + 8);
      const float dot = simd && cpu_has_avx2_fma() ? dot_i8_avx2(qv, c, dd) : dot_i8_scalar(qv, c, dd);
      return qn + nx - 2.f * scale * dot;
    }
    std::memcpy(&nx, code, 4);
    const uint16_t *h = reinterpret_cast<const uint16_t *>(code + 4);
    const float dot = simd && cpu_has_f16c() ? dot_f16_avx2(qv, h, dd) : dot_f16_scalar(qv, h, dd);
    return qn + nx - 2.f * dot;
  }

  // Approximate top k per query over allowed positions (bits may be null), ascending by
  // (approx distance, position). Codes are read once per block of vectors for all queries.
  void scan(idx_t nq, const float *q, idx_t k, const uint8_t *allow, float *dist, idx_t *lab) const
  {
    const idx_t n = ntotal;
    std::vector<float> qn(static_cast<size_t>(nq));
    for (idx_t i = 0; i < nq; i++)
      qn[i] = faiss::fvec_norm_L2sqr(q + i * d, d);
    std::vector<std::vector<Hit>> heaps(static_cast<size_t>(nq));
    const idx_t block = 256;
    for (idx_t j0 = 0; j0 < n; j0 += block)
    {
      const idx_t j1 = std::min(n, j0 + block);
      for (idx_t qi = 0; qi < nq; qi++)
      {
        auto &heap = heaps[qi];
        for (idx_t j = j0; j < j1; j++)
        {
          if (!allowed_at(allow, j))
            continue;
          Hit h{approx(q + qi * d, qn[qi], codes.data() + j * code_size), j};
          if (static_cast<idx_t>(heap.size()) < k)
          {
            heap.push_back(h);
            std::push_heap(heap.begin(), heap.end(), hit_less);
          }
          else if (hit_less(h, heap.front()))
          {
            std::pop_heap(heap.begin(), heap.end(), hit_less);
            heap.back() = h;
            std::push_heap(heap.begin(), heap.end(), hit_less);
          }
        }
      }
    }
    for (idx_t qi = 0; qi < nq; qi++)
    {
      std::sort_heap(heaps[qi].begin(), heaps[qi].end(), hit_less);
      write_out(heaps[qi], k, dist + qi * k, lab + qi * k);
    }
  }

  void search(idx_t n, const float *x, idx_t k, float *distances, idx_t *labels,
              const faiss::SearchParameters * = nullptr) const override
  {
    scan(n, x, k, nullptr, distances, labels);
  }
};

// Serialization of a LookalikeCompact (FAISS's write_index does not know it).
constexpr char kCompactMagic[8] = {'L', 'K', 'C', 'M', 'P', 'v', '0', '1'};
constexpr size_t kCompactHeader = 8 + 4 + 4 + 8 + 8;

inline bool is_compact_buffer(const uint8_t *p, size_t n)
{
  return n >= kCompactHeader && std::memcmp(p, kCompactMagic, 8) == 0;
}

inline size_t compact_bytes(const LookalikeCompact &c) { return kCompactHeader + c.codes.size(); }

inline void write_compact(const LookalikeCompact &c, uint8_t *out)
{
  const uint32_t bits = static_cast<uint32_t>(c.bits), pad = 0;
  const int64_t d = c.d, n = c.ntotal;
  std::memcpy(out, kCompactMagic, 8);
  std::memcpy(out + 8, &bits, 4);
  std::memcpy(out + 12, &pad, 4);
  std::memcpy(out + 16, &d, 8);
  std::memcpy(out + 24, &n, 8);
  if (!c.codes.empty())
    std::memcpy(out + kCompactHeader, c.codes.data(), c.codes.size());
}

inline LookalikeCompact *read_compact(const uint8_t *p, size_t size)
{
  uint32_t bits;
  int64_t d, n;
  std::memcpy(&bits, p + 8, 4);
  std::memcpy(&d, p + 16, 8);
  std::memcpy(&n, p + 24, 8);
  if ((bits != 8 && bits != 16) || d < 1 || d > (1 << 16) || n < 0)
    throw std::runtime_error("compact index: bad header");
  auto *c = new LookalikeCompact(d, static_cast<int>(bits));
  if (size != kCompactHeader + static_cast<size_t>(n) * c->code_size)
  {
    delete c;
    throw std::runtime_error("compact index: truncated");
  }
  c->codes.assign(p + kCompactHeader, p + size);
  c->ntotal = n;
  return c;
}
} // namespace lookalike
