from .inferencer import SemanticSynthesizer

__all__ = ['SemanticSynthesizer']
