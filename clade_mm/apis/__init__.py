from .config import add_cfg_options, load_config, positive_int
from .inferencer import SemanticSynthesizer
from .onnx_export import export_generator, verify_onnx

__all__ = ['SemanticSynthesizer', 'add_cfg_options', 'export_generator', 'load_config',
           'positive_int', 'verify_onnx']
