from .inferencer import SemanticSynthesizer
from .onnx_export import export_generator, verify_onnx

__all__ = ['SemanticSynthesizer', 'export_generator', 'verify_onnx']
