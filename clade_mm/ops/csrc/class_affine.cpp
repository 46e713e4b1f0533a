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

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("clade_forward", &clade_forward,
        "(x - mean) * invstd * gamma[labels] + beta[labels], fused", py::arg("x"),
        py::arg("labels"), py::arg("gamma"), py::arg("beta"), py::arg("mean"),
        py::arg("invstd"));
  m.def("clade_backward", &clade_backward, "gradients of clade_forward: (x, gamma, beta)",
        py::arg("grad"), py::arg("x"), py::arg("labels"), py::arg("gamma"), py::arg("mean"),
        py::arg("invstd"), py::arg("batch_stats"), py::arg("need_grad_x"));
}
