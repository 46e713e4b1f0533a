"""Fused kernels behind the layers (compiled at install; the layers fall back to eager)."""
