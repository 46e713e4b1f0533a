// Fused CPU kernels for class-adaptive normalization (CLADE after a parameter-free norm).
//
// Eager PyTorch materialises gamma[label] and beta[label] as two (N, C, H, W) maps before the
// multiply-add. Here the class-wise tables are read in place: the modulation costs one pass
// over the features, and its backward two, as a BatchNorm's affine step and backward do.
//
// Shapes: x, grad (N, C, *spatial) float32, P pixels per map; labels (N, *spatial) int64;
// gamma, beta (K, C) float32; mean, invstd (S, C) float32 with S = 1 (batch statistics or
// running averages shared by the batch) or S = N (instance norm).
//
//   forward:  out = (x - mean) * invstd * gamma[label] + beta[label]
//   backward: grad_gamma, grad_beta, and grad_x, which with batch statistics includes the
//             statistics' dependence on x (the usual BatchNorm backward, with g * gamma[label]
//             in place of g * gamma).
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

// Label maps are piecewise constant. A run is a stretch of one label in a map's pixel order;
// found once per call and shared by every channel, runs turn the per-channel loops into plain
// multiply-adds and sums over contiguous memory, which the compiler vectorises.
struct Run {
  int64_t begin, end, label;
};

std::vector<std::vector<Run>> find_runs(const torch::Tensor& labels, int64_t n, int64_t p) {
  const int64_t* lab = labels.data_ptr<int64_t>();
  std::vector<std::vector<Run>> runs(n);
  for (int64_t ni = 0; ni < n; ++ni) {
    const int64_t* row = lab + ni * p;
    int64_t start = 0;
    for (int64_t pi = 1; pi <= p; ++pi) {
      if (pi == p || row[pi] != row[start]) {
        runs[ni].push_back({start, pi, row[start]});
        start = pi;
      }
    }
  }
  return runs;
}

struct Shapes {
  int64_t n, c, p, k, s;
};

Shapes check(const torch::Tensor& x, const torch::Tensor& labels, const torch::Tensor& gamma,
             const torch::Tensor& mean, const torch::Tensor& invstd) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() >= 3 &&
                  x.is_contiguous(),
              "x must be a contiguous float32 CPU tensor (N, C, ...)");
  const int64_t n = x.size(0), c = x.size(1), p = x.numel() / (n * c);
  TORCH_CHECK(labels.scalar_type() == at::kLong && labels.is_contiguous() &&
                  labels.size(0) == n && labels.numel() == n * p,
              "labels must be contiguous int64 (N, ...) with one id per pixel of x");
  TORCH_CHECK(gamma.scalar_type() == at::kFloat && gamma.is_contiguous() && gamma.dim() == 2 &&
                  gamma.size(1) == c,
              "gamma must be a contiguous float32 (K, C) table");
  const int64_t s = mean.size(0);
  TORCH_CHECK(mean.is_contiguous() && invstd.is_contiguous() && mean.dim() == 2 &&
                  mean.sizes() == invstd.sizes() && mean.size(1) == c && (s == 1 || s == n) &&
                  mean.scalar_type() == at::kFloat && invstd.scalar_type() == at::kFloat,
              "mean and invstd must be contiguous float32 (1 or N, C)");
  return {n, c, p, gamma.size(0), s};
}

}  // namespace

torch::Tensor clade_forward(const torch::Tensor& x, const torch::Tensor& labels,
                            const torch::Tensor& gamma, const torch::Tensor& beta,
                            const torch::Tensor& mean, const torch::Tensor& invstd) {
  const Shapes d = check(x, labels, gamma, mean, invstd);
  TORCH_CHECK(beta.sizes() == gamma.sizes() && beta.is_contiguous() &&
                  beta.scalar_type() == at::kFloat,
              "beta must be a contiguous float32 table shaped like gamma");
  const auto runs = find_runs(labels, d.n, d.p);
  auto out = torch::empty_like(x);
  const float* x_ptr = x.data_ptr<float>();
  const float* g_ptr = gamma.data_ptr<float>();
  const float* b_ptr = beta.data_ptr<float>();
  const float* m_ptr = mean.data_ptr<float>();
  const float* i_ptr = invstd.data_ptr<float>();
  float* o_ptr = out.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(d.p, 1));
  at::parallel_for(0, d.n * d.c, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t ni = task / d.c, ci = task % d.c;
      const int64_t stat = (d.s == 1 ? 0 : ni) * d.c + ci;
      const float mu = m_ptr[stat], inv = i_ptr[stat];
      const float* __restrict__ x_row = x_ptr + task * d.p;
      float* __restrict__ o_row = o_ptr + task * d.p;
      for (const Run& run : runs[ni]) {
        const float scale = inv * g_ptr[run.label * d.c + ci];
        const float shift = b_ptr[run.label * d.c + ci] - mu * scale;
        for (int64_t pi = run.begin; pi < run.end; ++pi) {
          o_row[pi] = x_row[pi] * scale + shift;
        }
      }
    }
  });
  return out;
}

std::vector<torch::Tensor> clade_backward(const torch::Tensor& grad, const torch::Tensor& x,
                                          const torch::Tensor& labels,
                                          const torch::Tensor& gamma, const torch::Tensor& mean,
                                          const torch::Tensor& invstd, bool batch_stats,
                                          bool need_grad_x) {
  const Shapes d = check(x, labels, gamma, mean, invstd);
  TORCH_CHECK(grad.sizes() == x.sizes() && grad.is_contiguous() &&
                  grad.scalar_type() == at::kFloat,
              "grad must be contiguous float32 shaped like x");
  const auto runs = find_runs(labels, d.n, d.p);
  auto grad_gamma = torch::zeros({d.k, d.c}, gamma.options());
  auto grad_beta = torch::zeros({d.k, d.c}, gamma.options());
  auto grad_x = need_grad_x ? torch::empty_like(x) : torch::Tensor();
  const float* g_ptr = grad.data_ptr<float>();
  const float* x_ptr = x.data_ptr<float>();
  const float* gam_ptr = gamma.data_ptr<float>();
  const float* m_ptr = mean.data_ptr<float>();
  const float* i_ptr = invstd.data_ptr<float>();
  float* gg_ptr = grad_gamma.data_ptr<float>();
  float* gb_ptr = grad_beta.data_ptr<float>();
  float* gx_ptr = need_grad_x ? grad_x.data_ptr<float>() : nullptr;
  // Elements behind one statistic: the whole batch for batch norm, one map for instance norm.
  const double count = static_cast<double>(d.p) * (d.s == 1 ? d.n : 1);

  // One task owns one channel across the batch: its columns of the parameter gradients and
  // its statistics are written by nobody else.
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(d.p * d.n, 1));
  at::parallel_for(0, d.c, grain, [&](int64_t begin, int64_t end) {
    std::vector<double> sum_g(d.k), sum_gxhat(d.k), m1(d.s), m2(d.s);
    for (int64_t ci = begin; ci < end; ++ci) {
      std::fill(sum_g.begin(), sum_g.end(), 0.0);
      std::fill(sum_gxhat.begin(), sum_gxhat.end(), 0.0);
      std::fill(m1.begin(), m1.end(), 0.0);
      std::fill(m2.begin(), m2.end(), 0.0);
      // Pass 1: per class, sums of g and g * x_hat; per statistic, the sums of g_hat and
      // g_hat * x_hat (g_hat = g * gamma[label]) that BatchNorm's backward needs.
      for (int64_t ni = 0; ni < d.n; ++ni) {
        const int64_t si = d.s == 1 ? 0 : ni;
        const float mu = m_ptr[si * d.c + ci], inv = i_ptr[si * d.c + ci];
        const float* __restrict__ g_row = g_ptr + (ni * d.c + ci) * d.p;
        const float* __restrict__ x_row = x_ptr + (ni * d.c + ci) * d.p;
        for (const Run& run : runs[ni]) {
          float sg = 0.f, sgx = 0.f;
#pragma omp simd reduction(+ : sg, sgx)
          for (int64_t pi = run.begin; pi < run.end; ++pi) {
            sg += g_row[pi];
            sgx += g_row[pi] * x_row[pi];
          }
          const double gxhat = inv * (static_cast<double>(sgx) - mu * static_cast<double>(sg));
          const double gam = gam_ptr[run.label * d.c + ci];
          sum_g[run.label] += sg;
          sum_gxhat[run.label] += gxhat;
          m1[si] += gam * sg;
          m2[si] += gam * gxhat;
        }
      }
      for (int64_t ki = 0; ki < d.k; ++ki) {
        gg_ptr[ki * d.c + ci] = static_cast<float>(sum_gxhat[ki]);
        gb_ptr[ki * d.c + ci] = static_cast<float>(sum_g[ki]);
      }
      if (!need_grad_x) continue;
      // Pass 2: grad_x = invstd * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)), or
      // invstd * g_hat when the statistics do not depend on x, written as g * a + x * q + r.
      for (int64_t ni = 0; ni < d.n; ++ni) {
        const int64_t si = d.s == 1 ? 0 : ni;
        const float mu = m_ptr[si * d.c + ci], inv = i_ptr[si * d.c + ci];
        float q = 0.f, r = 0.f;
        if (batch_stats) {
          const double mean_g = m1[si] / count, mean_gx = m2[si] / count;
          q = static_cast<float>(-inv * inv * mean_gx);
          r = static_cast<float>(-inv * mean_g + inv * inv * mean_gx * mu);
        }
        const float* __restrict__ g_row = g_ptr + (ni * d.c + ci) * d.p;
        const float* __restrict__ x_row = x_ptr + (ni * d.c + ci) * d.p;
        float* __restrict__ o_row = gx_ptr + (ni * d.c + ci) * d.p;
        for (const Run& run : runs[ni]) {
          const float a = inv * gam_ptr[run.label * d.c + ci];
          for (int64_t pi = run.begin; pi < run.end; ++pi) {
            o_row[pi] = g_row[pi] * a + x_row[pi] * q + r;
          }
        }
      }
    }
  });
  return {grad_x, grad_gamma, grad_beta};
}

// ---------------------------------------------------------------------------------------------
// Inference: the statistics are the running averages, so the norm and CLADE's modulation fold
// into one class-wise affine map, and CLADE-ICPE adds two per-pixel factors:
//
//   CLADE:       out = x * scale[label] + shift[label]
//   CLADE-ICPE:  out = (x * scale[label] + shift[label]) * fg + bias[label] * fb,
//                fg = 1 + wg . (dy, dx) + bg,  fb = 1 + wb . (dy, dx) + bb  (its 1x1 convs)
//
// x and out are float32 or bfloat16, laid out NCHW or channels-last (the layout of the fastest
// convolutions on many CPUs); tables, positions and every product are float32, so bfloat16
// rounds once, on the store. The loops are compiled for several instruction sets and the
// widest one the CPU reports runs (target_clones), as the wheel is built for any x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CLADE_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLADE_CPU_CLONES
#endif

namespace {

inline float load(float v) { return v; }
inline float load(at::BFloat16 v) {
  uint32_t bits = static_cast<uint32_t>(v.x) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline void store(float* dst, float v) { *dst = v; }
inline void store(at::BFloat16* dst, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  // Round to nearest even, as at::BFloat16 does, in integer operations that vectorise.
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  dst->x = static_cast<uint16_t>((bits & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : rounded);
}

struct EvalArgs {
  int64_t c, p;                        // channels, pixels per map
  const int64_t* labels;               // (N * P)
  const float *scale, *shift, *bias;   // (K, C); bias only with positions
  const float* position;               // (N, 2, P) or null
  float wg0, wg1, bg, wb0, wb1, bb;    // ICPE's two 1x1 convs
};

// Pixels [begin, end) of a channels-last map: each pixel's channels are contiguous, and so
// are the rows of the tables.
template <typename T, bool kPosition>
CLADE_CPU_CLONES void eval_pixels(const T* __restrict__ x, T* __restrict__ out,
                                  const EvalArgs& a, int64_t begin, int64_t end) {
  const int64_t c = a.c;
  for (int64_t pix = begin; pix < end; ++pix) {
    const int64_t row = a.labels[pix] * c;
    const float* __restrict__ scale = a.scale + row;
    const float* __restrict__ shift = a.shift + row;
    const T* __restrict__ xp = x + pix * c;
    T* __restrict__ op = out + pix * c;
    if (kPosition) {
      const int64_t ni = pix / a.p, pi = pix % a.p;
      const float dy = a.position[(2 * ni) * a.p + pi], dx = a.position[(2 * ni + 1) * a.p + pi];
      const float fg = 1.f + a.wg0 * dy + a.wg1 * dx + a.bg;
      const float fb = 1.f + a.wb0 * dy + a.wb1 * dx + a.bb;
      const float* __restrict__ bias = a.bias + row;
      for (int64_t ci = 0; ci < c; ++ci) {
        store(op + ci, (load(xp[ci]) * scale[ci] + shift[ci]) * fg + bias[ci] * fb);
      }
    } else {
      for (int64_t ci = 0; ci < c; ++ci) store(op + ci, load(xp[ci]) * scale[ci] + shift[ci]);
    }
  }
}

// Maps [begin, end) of (sample, channel) of an NCHW map, along the label runs of its sample.
template <typename T, bool kPosition>
CLADE_CPU_CLONES void eval_maps(const T* __restrict__ x, T* __restrict__ out,
                                const EvalArgs& a, const std::vector<std::vector<Run>>& runs,
                                int64_t begin, int64_t end) {
  for (int64_t task = begin; task < end; ++task) {
    const int64_t ni = task / a.c, ci = task % a.c;
    const T* __restrict__ x_row = x + task * a.p;
    T* __restrict__ o_row = out + task * a.p;
    const float* __restrict__ dy = kPosition ? a.position + 2 * ni * a.p : nullptr;
    const float* __restrict__ dx = kPosition ? dy + a.p : nullptr;
    for (const Run& run : runs[ni]) {
      const float s = a.scale[run.label * a.c + ci], b = a.shift[run.label * a.c + ci];
      if (kPosition) {
        const float bias = a.bias[run.label * a.c + ci];
        for (int64_t pi = run.begin; pi < run.end; ++pi) {
          const float fg = 1.f + a.wg0 * dy[pi] + a.wg1 * dx[pi] + a.bg;
          const float fb = 1.f + a.wb0 * dy[pi] + a.wb1 * dx[pi] + a.bb;
          store(o_row + pi, (load(x_row[pi]) * s + b) * fg + bias * fb);
        }
      } else {
        for (int64_t pi = run.begin; pi < run.end; ++pi) {
          store(o_row + pi, load(x_row[pi]) * s + b);
        }
      }
    }
  }
}

template <typename T, bool kPosition>
void eval_run(const torch::Tensor& x, torch::Tensor& out, const torch::Tensor& labels,
              const EvalArgs& a, bool channels_last, int64_t n) {
  const T* x_ptr = x.data_ptr<T>();
  T* o_ptr = out.data_ptr<T>();
  if (channels_last) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(a.c, 1));
    at::parallel_for(0, n * a.p, grain, [&](int64_t begin, int64_t end) {
      eval_pixels<T, kPosition>(x_ptr, o_ptr, a, begin, end);
    });
  } else {
    const auto runs = find_runs(labels, n, a.p);
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(a.p, 1));
    at::parallel_for(0, n * a.c, grain, [&](int64_t begin, int64_t end) {
      eval_maps<T, kPosition>(x_ptr, o_ptr, a, runs, begin, end);
    });
  }
}

template <typename T>
void eval_dispatch(const torch::Tensor& x, torch::Tensor& out, const torch::Tensor& labels,
                   const EvalArgs& a, bool channels_last, int64_t n) {
  a.position ? eval_run<T, true>(x, out, labels, a, channels_last, n)
             : eval_run<T, false>(x, out, labels, a, channels_last, n);
}

}  // namespace

torch::Tensor class_affine_eval(const torch::Tensor& x, const torch::Tensor& labels,
                                const torch::Tensor& scale, const torch::Tensor& shift,
                                const c10::optional<torch::Tensor>& bias,
                                const c10::optional<torch::Tensor>& position,
                                const c10::optional<torch::Tensor>& position_weights) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 4 &&
                  (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16),
              "x must be a float32 or bfloat16 CPU tensor (N, C, H, W)");
  const bool channels_last = !x.is_contiguous() &&
                             x.is_contiguous(at::MemoryFormat::ChannelsLast);
  TORCH_CHECK(channels_last || x.is_contiguous(), "x must be contiguous, NCHW or channels-last");
  const int64_t n = x.size(0), c = x.size(1), p = x.size(2) * x.size(3);
  TORCH_CHECK(labels.scalar_type() == at::kLong && labels.is_contiguous() &&
                  labels.numel() == n * p,
              "labels must be contiguous int64 (N, H, W) with one id per pixel of x");
  auto table_ok = [&](const torch::Tensor& table) {
    return table.scalar_type() == at::kFloat && table.is_contiguous() && table.dim() == 2 &&
           table.size(1) == c && table.size(0) == scale.size(0);
  };
  TORCH_CHECK(table_ok(scale) && table_ok(shift), "scale and shift must be float32 (K, C)");
  EvalArgs a{c, p, labels.data_ptr<int64_t>(), scale.data_ptr<float>(), shift.data_ptr<float>(),
             nullptr, nullptr, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (position.has_value()) {
    TORCH_CHECK(bias.has_value() && table_ok(*bias) && position_weights.has_value(),
                "positions need bias (K, C) and position_weights");
    TORCH_CHECK(position->scalar_type() == at::kFloat && position->is_contiguous() &&
                    position->numel() == 2 * n * p,
                "position must be contiguous float32 (N, 2, H, W)");
    const auto w = position_weights->to(at::kFloat).contiguous();
    TORCH_CHECK(w.numel() == 6, "position_weights must hold (wg_dy, wg_dx, bg, wb_dy, wb_dx, bb)");
    const float* wp = w.data_ptr<float>();
    a.bias = bias->data_ptr<float>();
    a.position = position->data_ptr<float>();
    a.wg0 = wp[0], a.wg1 = wp[1], a.bg = wp[2], a.wb0 = wp[3], a.wb1 = wp[4], a.bb = wp[5];
  }
  auto out = torch::empty_like(x);  // keeps x's memory format
  if (x.scalar_type() == at::kFloat) {
    eval_dispatch<float>(x, out, labels, a, channels_last, n);
  } else {
    eval_dispatch<at::BFloat16>(x, out, labels, a, channels_last, n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CLADE-ICPE's intra-class positional map (clade_mm.layers.layout.icpe_map, whose vectorised
// form is the reference): for each 8-connected component of each class, every pixel's offset
// from the component's centroid, divided per axis by the component's largest absolute offset
// plus eps. Union-find over one raster pass, then per-component sums; the sums of integer
// coordinates are exact in double, so the result equals the reference's bit for bit.
namespace {

int32_t find_root(std::vector<int32_t>& parent, int32_t i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];  // path halving
    i = parent[i];
  }
  return i;
}

void unite(std::vector<int32_t>& parent, int32_t a, int32_t b) {
  a = find_root(parent, a);
  b = find_root(parent, b);
  if (a != b) parent[std::max(a, b)] = std::min(a, b);
}

}  // namespace

torch::Tensor icpe_map(const torch::Tensor& labels, double eps) {
  TORCH_CHECK(labels.device().is_cpu() && labels.scalar_type() == at::kLong &&
                  labels.dim() == 3 && labels.is_contiguous(),
              "labels must be a contiguous int64 CPU tensor (N, H, W)");
  const int64_t n = labels.size(0), h = labels.size(1), w = labels.size(2), p = h * w;
  TORCH_CHECK(p < (int64_t{1} << 31), "label map too large for the positional map");
  auto out = torch::empty({n, 2, h, w}, labels.options().dtype(at::kFloat));
  const int64_t* lab_all = labels.data_ptr<int64_t>();
  float* out_all = out.data_ptr<float>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> parent(p);
    for (int64_t ni = begin; ni < end; ++ni) {
      const int64_t* lab = lab_all + ni * p;
      for (int64_t i = 0; i < p; ++i) parent[i] = static_cast<int32_t>(i);
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          const int64_t i = y * w + x;
          // The neighbours a raster scan has already visited: left, and the row above.
          if (x > 0 && lab[i - 1] == lab[i]) unite(parent, i, i - 1);
          if (y > 0) {
            for (int64_t dx = -1; dx <= 1; ++dx) {
              const int64_t xx = x + dx;
              if (xx >= 0 && xx < w && lab[i - w + dx] == lab[i]) unite(parent, i, i - w + dx);
            }
          }
        }
      }
      std::vector<double> count(p, 0.0), sum_y(p, 0.0), sum_x(p, 0.0);
      for (int64_t i = 0; i < p; ++i) {
        const int32_t r = find_root(parent, i);
        parent[i] = r;
        count[r] += 1.0;
        sum_y[r] += static_cast<double>(i / w);
        sum_x[r] += static_cast<double>(i % w);
      }
      for (int64_t i = 0; i < p; ++i) {
        if (count[i] > 0) {
          sum_y[i] /= count[i];  // now the centroid
          sum_x[i] /= count[i];
        }
      }
      std::vector<double> extent_y(p, 0.0), extent_x(p, 0.0);
      for (int64_t i = 0; i < p; ++i) {
        const int32_t r = parent[i];
        extent_y[r] = std::max(extent_y[r], std::abs(static_cast<double>(i / w) - sum_y[r]));
        extent_x[r] = std::max(extent_x[r], std::abs(static_cast<double>(i % w) - sum_x[r]));
      }
      float* dy = out_all + ni * 2 * p;
      float* dx = dy + p;
      for (int64_t i = 0; i < p; ++i) {
        const int32_t r = parent[i];
        dy[i] = static_cast<float>((static_cast<double>(i / w) - sum_y[r]) / (extent_y[r] + eps));
        dx[i] = static_cast<float>((static_cast<double>(i % w) - sum_x[r]) / (extent_x[r] + eps));
      }
    }
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("clade_forward", &clade_forward,
        "(x - mean) * invstd * gamma[labels] + beta[labels], fused", py::arg("x"),
        py::arg("labels"), py::arg("gamma"), py::arg("beta"), py::arg("mean"),
        py::arg("invstd"));
  m.def("clade_backward", &clade_backward, "gradients of clade_forward: (x, gamma, beta)",
        py::arg("grad"), py::arg("x"), py::arg("labels"), py::arg("gamma"), py::arg("mean"),
        py::arg("invstd"), py::arg("batch_stats"), py::arg("need_grad_x"));
  m.def("class_affine_eval", &class_affine_eval,
        "x * scale[labels] + shift[labels] (with CLADE-ICPE's positional factors), for "
        "inference, float32 or bfloat16, NCHW or channels-last",
        py::arg("x"), py::arg("labels"), py::arg("scale"), py::arg("shift"), py::arg("bias"),
        py::arg("position"), py::arg("position_weights"));
  m.def("icpe_map", &icpe_map,
        "(N, 2, H, W) offsets of each pixel from its 8-connected class component's centroid, "
        "per axis divided by the component's largest absolute offset plus eps",
        py::arg("labels"), py::arg("eps"));
}
